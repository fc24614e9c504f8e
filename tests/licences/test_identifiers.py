"""Licence identifiers (GB/T 36904) and their ISO/IEC 7064 MOD 37,36 check character, worked by hand.

The rule: p = 36; for each character of value v (0-9 -> 0-9, A-Z -> 10-35): p = (p + v) mod 36, a 0 taken as 36;
p = 2p mod 37. The check character has the value (37 - p) mod 36.
"""

import random

import pytest
from stdnum.iso7064 import mod_37_36

from bianmin.core.errors import ValidationError
from bianmin.licences.identifiers import check_character, make_identifier, parse_identifier


@pytest.mark.parametrize("body, expected", [
    # "0": (36+0) mod 36 = 0 -> 36; 2*36 mod 37 = 35; (37-35) mod 36 = 2 -> "2"
    ("0", "2"),
    # "A" (10): (36+10) mod 36 = 10; 20; (37-20) = 17 -> "H"
    ("A", "H"),
    # "1": 1 -> 2; "2": (2+2) = 4 -> 8; (37-8) = 29 -> "T"
    ("12", "T"),
    # "Z" (35): 35 -> 70 mod 37 = 33; "9": (33+9) mod 36 = 6 -> 12; (37-12) = 25 -> "P"
    ("Z9", "P"),
    # the fixed prefix 1.2.156.3005.2 without dots, "1215630052":
    # 1: 1->2; 2: 4->8; 1: 9->18; 5: 23->9; 6: 15->30; 3: 33->29; 0: 29->21; 0: 21->5; 5: 10->20; 2: 22->7;
    # (37-7) = 30 -> "U"
    ("1215630052", "U"),
])
def test_check_character_worked_examples(body, expected):
    assert check_character(body) == expected


def test_check_character_agrees_with_an_independent_implementation():
    rng = random.Random(7)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for _ in range(500):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60)))
        assert check_character(body) == mod_37_36.calc_check_digit(body)


def test_check_character_refuses_other_characters():
    with pytest.raises(ValueError):
        check_character("ab")


USCC = "11440800007217744T"


def test_identifier_form_and_round_trip():
    ident = make_identifier("JYXK", USCC, 12, 1)
    # The check covers every character before it, dots removed: the prefix's state 7 (above), then
    # J(19): (7+19)=26 -> 52 mod 37 = 15, and so on; the independent implementation confirms the end.
    body = "1215630052" + "JYXK" + USCC + "00000012" + "1"
    assert ident == f"1.2.156.3005.2.JYXK.{USCC}.00000012.1.{mod_37_36.calc_check_digit(body)}"
    parsed = parse_identifier(ident)
    assert (parsed.type_code, parsed.issuer_uscc, parsed.serial, parsed.version) == ("JYXK", USCC, 12, 1)
    assert str(parsed) == ident


def test_pasted_identifier_is_normalised():
    ident = make_identifier("JYXK", USCC, 3, 2)
    pasted = "  " + ident.lower().replace(".", "。", 1) + "\n"
    assert parse_identifier(pasted).text == ident


def test_every_single_character_change_is_caught():
    ident = make_identifier("JYXK", USCC, 12, 1)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for i, c in enumerate(ident):
        if c == "." or i < len("1.2.156.3005.2."):
            continue
        for other in random.Random(i).sample(alphabet, 5):
            if other == c:
                continue
            altered = ident[:i] + other + ident[i + 1:]
            with pytest.raises(ValidationError) as exc:
                parse_identifier(altered)
            assert exc.value.code == "invalid_licence_identifier"


@pytest.mark.parametrize("bad", [
    "", None, 123, "1.2.156.3005.2", "abc", "1.2.156.3005.2.JYXK.11440800007217744T.00000012.1",
    "1.2.156.3005.3.JYXK.11440800007217744T.00000012.1.X", "1.2.156.3005.2.JY-X.11440800007217744T.1.1.X",
    "1.2.156.3005.2.JYXK.114408.1.1.X", "1.2.156.3005.2.JYXK.11440800007217744T.1.0.X", "x" * 5000,
    "1.2.156.3005.2.JYXK.11440800007217744T.00000012.1.Y\x00",
])
def test_malformed_identifiers_are_refused_in_chinese(bad):
    with pytest.raises(ValidationError) as exc:
        parse_identifier(bad)
    assert exc.value.code == "invalid_licence_identifier"
    assert "证照标识" in exc.value.message


def test_wrong_check_character_is_refused():
    ident = make_identifier("JYXK", USCC, 12, 1)
    wrong = ident[:-1] + ("0" if ident[-1] != "0" else "1")
    with pytest.raises(ValidationError) as exc:
        parse_identifier(wrong)
    assert "校验位" in exc.value.message
