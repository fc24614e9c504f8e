"""Resident ID numbers (GB 11643) and unified social credit codes (GB 32100)."""

from stdnum.cn import ric, uscc


def uscc_with_check(first17: str) -> str:
    """Complete 17 characters into a valid unified social credit code (for reference and test data)."""
    return first17 + uscc.calc_check_digit(first17)


def resident_id_with_check(first17: str) -> str:
    """Complete 17 digits into a resident ID number with its check digit (for test data)."""
    return first17 + ric.calc_check_digit(first17)
