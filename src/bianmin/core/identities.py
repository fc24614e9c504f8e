"""Resident ID numbers (GB 11643) and unified social credit codes (GB 32100).

`validate_resident_id` and `validate_uscc` return the normalised value (whitespace removed, full-width
characters made half-width, letters upper-case) or raise `ValidationError` with a stable code:

    resident_id_required, resident_id_characters, resident_id_length, resident_id_area_code,
    resident_id_birth_date, resident_id_check_digit;
    uscc_required, uscc_length, uscc_characters, uscc_authority, uscc_category, uscc_check_character;
    identity_required, identity_length (from `validate_identity`, which accepts either).

python-stdnum supplies the check-digit arithmetic only. Its validators are too strict for us:
`ric.validate` rejects area codes missing from its table or not yet/no longer assigned in the birth
year (people keep the code of the place their number was first issued, e.g. 440824 海康县 for someone
born in 1970), and the 810000/820000/830000 of residence permits for Hong Kong, Macao and Taiwan
residents; `uscc.validate` rejects codes issued by authorities A, N and Y (letters in position 1).
"""

from __future__ import annotations

import re
from datetime import date
from typing import NoReturn

from stdnum.cn import ric, uscc

from .errors import ValidationError

RESIDENT_ID = "resident_id"
USCC = "uscc"

# Area code rule (first 6 digits): the first two must be a province of GB/T 2260 (the same set since
# 1997; 46 海南 since 1988, 50 重庆 since 1997) and the next two must not be 00 (no card carries a
# province-level code). The county part may be 00: prefecture-level cities without counties issue
# numbers like 441900 东莞, 442000 中山, 460400 儋州, 620200 嘉峪关. Any year's codes pass, retired
# ones included. Hong Kong, Macao and Taiwan residents' residence permits use exactly 810000,
# 820000 and 830000. 71 (台湾省) is left out: no number is issued with it.
_PROVINCES = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
              50, 51, 52, 53, 54, 61, 62, 63, 64, 65}
_PERMIT_AREAS = {"810000", "820000", "830000"}

# GB 32100: registration authority (position 1) and the category codes (position 2) each one uses.
# 9 其他 is also let through for 工商, which the standard does not list, so a rare real code is not refused.
_CATEGORIES = {
    "1": "1239",  # 机构编制: 机关, 事业单位, 中央编办直管群众团体, 其他
    "2": "19",  # 外交
    "3": "123459",  # 司法行政: 律师执业机构, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会
    "4": "19",  # 文化
    "5": "1239",  # 民政: 社会团体, 民办非企业单位, 基金会
    "6": "129",  # 旅游
    "7": "129",  # 宗教
    "8": "19",  # 工会
    "9": "1239",  # 工商(市场监管): 企业, 个体工商户, 农民专业合作社
    "A": "19",  # 中央军委改革和编制办公室
    "N": "1239",  # 农业: 组级, 村级, 乡镇级集体经济组织
    "Y": "1",  # 其他
}
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z

_FULL_TO_HALF = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}  # ０-９, Ａ-Ｚ, ｘ ... -> ASCII


def normalise(s) -> str:
    """Whitespace (also the full-width space) removed, full-width ASCII made half-width, upper case."""
    if s is None:
        return ""
    return "".join(str(s).translate(_FULL_TO_HALF).split()).upper()


def uscc_with_check(first17: str) -> str:
    """Complete 17 characters into a valid unified social credit code (for reference and test data)."""
    return first17 + uscc.calc_check_digit(first17)


def resident_id_with_check(first17: str) -> str:
    """Complete 17 digits into a resident ID number with its check digit (for test data)."""
    # stdnum's calc_check_digit takes the full 18 characters and ignores the last one.
    return first17 + ric.calc_check_digit(first17 + "0")


def _fail(message: str, code: str, field: str | None) -> NoReturn:
    raise ValidationError(message, code=code, field=field)


def validate_resident_id(s, field: str | None = None) -> str:
    value = normalise(s)
    if not value:
        _fail("请填写居民身份证号码。", "resident_id_required", field)
    if not re.fullmatch(r"\d*X?", value):
        _fail("居民身份证号码只能由数字组成,最后一位可以是字母X。", "resident_id_characters", field)
    if len(value) != 18:
        hint = "15位的旧号码已停用," if len(value) == 15 else ""
        _fail(f"居民身份证号码应为18位,您输入了{len(value)}位。{hint}请核对。", "resident_id_length", field)
    area = value[:6]
    if not (area in _PERMIT_AREAS or (int(area[:2]) in _PROVINCES and area[2:4] != "00")):
        _fail(f"居民身份证号码前6位“{area}”不是有效的行政区划代码,请核对。", "resident_id_area_code", field)
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        _fail(f"居民身份证号码中的出生日期“{value[6:14]}”不存在,请核对。", "resident_id_birth_date", field)
    if born.year < 1900:
        _fail("居民身份证号码中的出生日期早于1900年,请核对。", "resident_id_birth_date", field)
    if born > date.today():
        _fail("居民身份证号码中的出生日期晚于今天,请核对。", "resident_id_birth_date", field)
    if value[-1] != ric.calc_check_digit(value):
        _fail("居民身份证号码校验位不符,请逐位核对号码。", "resident_id_check_digit", field)
    return value


def validate_uscc(s, field: str | None = None) -> str:
    value = normalise(s)
    if not value:
        _fail("请填写统一社会信用代码。", "uscc_required", field)
    if len(value) != 18:
        _fail(f"统一社会信用代码应为18位,您输入了{len(value)}位,请核对。", "uscc_length", field)
    if any(c not in _USCC_ALPHABET for c in value):
        _fail("统一社会信用代码只能由数字和大写字母组成,且不含字母I、O、S、V、Z。", "uscc_characters", field)
    if value[0] not in _CATEGORIES:
        _fail(f"统一社会信用代码第1位“{value[0]}”不是有效的登记管理部门代码,请核对。", "uscc_authority", field)
    if value[1] not in _CATEGORIES[value[0]]:
        _fail(f"统一社会信用代码第2位“{value[1]}”不是有效的机构类别代码,请核对。", "uscc_category", field)
    if not value[2:8].isdigit():
        _fail("统一社会信用代码第3至8位(登记管理机关行政区划码)只能是数字。", "uscc_characters", field)
    if value[-1] != uscc.calc_check_digit(value[:17]):
        _fail("统一社会信用代码校验位不符,请逐位核对代码。", "uscc_check_character", field)
    return value


def validate_identity(s, field: str | None = None) -> tuple[str, str]:
    """Either kind, for entry points taking a person's or an organisation's number: (kind, normalised value).

    17 digits plus a digit or X are tried as a resident ID first (the rare number valid as both counts
    as an ID); if that fails and the value is no valid USCC either, the ID's error is raised."""
    value = normalise(s)
    if not value:
        _fail("请填写证件号码(居民身份证号码或统一社会信用代码)。", "identity_required", field)
    if re.fullmatch(r"\d{17}[\dX]", value):
        try:
            return RESIDENT_ID, validate_resident_id(value, field)
        except ValidationError as id_error:
            try:
                return USCC, validate_uscc(value, field)
            except ValidationError:
                raise id_error from None
    if len(value) != 18:
        _fail(f"证件号码应为18位(居民身份证号码或统一社会信用代码),您输入了{len(value)}位,请核对。", "identity_length", field)
    return USCC, validate_uscc(value, field)


def identity_kind(s) -> str:
    """"resident_id" or "uscc" for a valid number of either kind; raises ValidationError otherwise."""
    return validate_identity(s)[0]


def mask_resident_id(s) -> str:
    """For display: keep the first 6 (area) and last 4 digits, hide the birth date: 440802********1238.

    Does not validate; anything of 10 characters or fewer is hidden entirely."""
    value = normalise(s)
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(s) -> str:
    """For display and logs: a mobile number keeps its first 3 and last 4 digits, 138****5678; a shorter
    number keeps its last 2; anything else (letters, an address) is hidden. (Issue 11.7; helper h1 is
    gathering the masks here: keep one definition.)"""
    value = normalise(s)
    digits = value.lstrip("+")
    if not digits.isdigit():
        return "*" * len(value)
    if len(digits) >= 11:
        return value[: len(value) - 8] + "****" + value[-4:]
    return "*" * max(len(value) - 2, 0) + value[-2:]
