"""Resident ID numbers and unified social credit codes: normalisation, each kind of mistake, masking."""

from datetime import date

import pytest
from stdnum.cn import ric, uscc

from bianmin.core.errors import ValidationError
from bianmin.core.identities import (
    identity_kind,
    mask_case_number,
    mask_id_number,
    mask_licence_number,
    mask_person_name,
    mask_phone,
    mask_resident_id,
    scrub,
    resident_id_with_check,
    uscc_with_check,
    validate_identity,
    validate_resident_id,
    validate_uscc,
)

# 440802 赤坎区, born 1990-01-01, sequence 123: the check digit is 8 (computed by the helper below).
ID = "440802199001011238"


def error_of(fn, value):
    with pytest.raises(ValidationError) as info:
        fn(value)
    return info.value


# --- resident ID -------------------------------------------------------------------------------

def test_helper_computes_gb11643_check_digit():
    # The example printed in GB 11643-1999 itself.
    assert resident_id_with_check("11010519491231002") == "11010519491231002X"
    assert resident_id_with_check("44080219900101123") == ID
    assert ric.is_valid(ID)


@pytest.mark.parametrize("raw", [
    ID,
    " 440802 19900101 1238 ",
    "４４０８０２１９９００１０１１２３８",  # full-width digits
    "440802\u300019900101\u30001238",  # full-width spaces
])
def test_valid_id_is_normalised(raw):
    assert validate_resident_id(raw) == ID


@pytest.mark.parametrize("raw", ["11010519491231002x", "11010519491231002ｘ", "11010519491231002Ｘ"])
def test_lowercase_and_fullwidth_x(raw):
    assert validate_resident_id(raw) == "11010519491231002X"


@pytest.mark.parametrize("raw", ["", "   ", None, "\u3000"])
def test_id_empty(raw):
    assert error_of(validate_resident_id, raw).code == "resident_id_required"


def test_id_wrong_length_says_how_many():
    e = error_of(validate_resident_id, ID[:17])
    assert e.code == "resident_id_length"
    assert "17位" in e.message and "18位" in e.message


def test_id_old_15_digit_number():
    e = error_of(validate_resident_id, "440802900101123")
    assert e.code == "resident_id_length" and "15位" in e.message


@pytest.mark.parametrize("raw", ["44080219900101123A", "4408X2199001011238", "440802-19900101-1238", "44O802199001011238"])
def test_id_illegal_characters(raw):
    assert error_of(validate_resident_id, raw).code == "resident_id_characters"


@pytest.mark.parametrize("birth", [
    "19900230",  # 30 February
    "19901301",  # month 13
    "18991231",  # before 1900
    f"{date.today().year + 1}0101",  # in the future
])
def test_id_birth_date(birth):
    e = error_of(validate_resident_id, resident_id_with_check(f"440802{birth}123"))
    assert e.code == "resident_id_birth_date"


@pytest.mark.parametrize("area", [
    "990802",  # 99 is no province
    "720000",  # 72 neither
    "440000",  # a province's own code is on no card
    "440002",  # city part 00
    "710000",  # 台湾省 in GB/T 2260, but Taiwan residents' permits use 830000
    "810101",  # Hong Kong permits carry exactly 810000
])
def test_id_invalid_area_code(area):
    e = error_of(validate_resident_id, resident_id_with_check(f"{area}19900101123"))
    assert e.code == "resident_id_area_code"
    assert area in e.message


@pytest.mark.parametrize("first17", [
    "44082419700101123",  # 海康县 (1983–1994, now 雷州市): born 1970, before the code existed
    "44082119800101123",  # 吴川县 (1983–1994, now 吴川市)
    "81000019900101123",  # Hong Kong resident's residence permit
])
def test_area_codes_stdnum_rejects_are_accepted(first17):
    number = resident_id_with_check(first17)
    assert not ric.is_valid(number)  # stdnum checks its table and the code's years against the birth year
    assert validate_resident_id(number) == number


@pytest.mark.parametrize("first17", [
    "44190019900101123",  # 东莞市: a prefecture-level city without counties, county part 00
    "44200019900101123",  # 中山市
    "82000019900101123",  # Macao
    "83000019900101123",  # Taiwan
    "50010119900101123",  # 重庆
    "65010219900101123",  # 乌鲁木齐
])
def test_other_accepted_area_codes(first17):
    number = resident_id_with_check(first17)
    assert validate_resident_id(number) == number


def test_id_wrong_check_digit_does_not_reveal_it():
    e = error_of(validate_resident_id, ID[:17] + "7")
    assert e.code == "resident_id_check_digit"
    assert not any(c.isdigit() or c == "X" for c in e.message)


def test_id_field_and_status_carried():
    with pytest.raises(ValidationError) as info:
        validate_resident_id("123", field="id_number")
    assert info.value.field == "id_number" and info.value.status == 400
    assert info.value.as_dict()["code"] == "resident_id_length"


# --- USCC --------------------------------------------------------------------------------------

def test_known_uscc_and_normalisation():
    assert validate_uscc("91110000600037341L") == "91110000600037341L"
    assert validate_uscc(" 91110000600037341l ") == "91110000600037341L"
    assert validate_uscc("９１１１００００６０００３７３４１Ｌ") == "91110000600037341L"


@pytest.mark.parametrize("first17", [
    "Y1440800MA4X00001",  # Y 其他
    "N2440800MA4X00001",  # N 农业: 村级集体经济组织
    "A1100000MA4X00001",  # A 中央军委改革和编制办公室
])
def test_uscc_starting_with_letter(first17):
    code = uscc_with_check(first17)
    assert not uscc.is_valid(code)  # stdnum wants digits in positions 1-8
    assert validate_uscc(code) == code
    assert validate_uscc(code.lower()) == code


@pytest.mark.parametrize("first17", ["11440800007100001", "51440800MJ0000001", "91440800MA4X00001", "12100000400012345"])
def test_uscc_common_authorities(first17):
    code = uscc_with_check(first17)
    assert validate_uscc(code) == code


@pytest.mark.parametrize("raw, code", [
    ("", "uscc_required"),
    (None, "uscc_required"),
    ("91110000600037341", "uscc_length"),
    ("91110000600037341LL", "uscc_length"),
    ("91110000I00037341L", "uscc_characters"),  # I is not in the alphabet
    ("91110000O00037341L", "uscc_characters"),
    ("91110000S00037341L", "uscc_characters"),
    ("9111000060003734#L", "uscc_characters"),
    ("91A10000600037341L", "uscc_characters"),  # region code must be digits
    ("B1110000600037341L", "uscc_authority"),  # B is in the alphabet, but no registration authority
    ("01110000600037341L", "uscc_authority"),
    ("90110000600037341L", "uscc_category"),
    ("94110000600037341L", "uscc_category"),  # 工商 has categories 1, 2, 3 only
    ("Y2110000600037341L", "uscc_category"),  # Y 其他 always uses 1
    ("91110000600037341K", "uscc_check_character"),
])
def test_uscc_mistakes(raw, code):
    assert error_of(validate_uscc, raw).code == code


def test_uscc_length_message_and_check_not_revealed():
    assert "17位" in error_of(validate_uscc, "91110000600037341").message
    e = error_of(validate_uscc, "91110000600037341K")
    assert "L" not in e.message


# --- either kind, masking ----------------------------------------------------------------------

def test_identity_kind():
    assert identity_kind(ID) == "resident_id"
    assert identity_kind("11010519491231002x") == "resident_id"
    assert identity_kind("91110000600037341L") == "uscc"
    assert validate_identity("Y1440800MA4X00001C") == ("uscc", "Y1440800MA4X00001C")
    # All digits, shaped like an ID: 91 is no province, but it is a valid USCC.
    assert validate_identity("914408001234567830") == ("uscc", "914408001234567830")
    # 11 44 is a plausible area, but "0007" is no birth year: a USCC of 机构编制/机关.
    assert validate_identity("114408000071000061") == ("uscc", "114408000071000061")


@pytest.mark.parametrize("raw, code", [
    ("", "identity_required"),
    ("4408021990010112", "identity_length"),
    (ID[:17] + "7", "resident_id_check_digit"),  # ID-shaped: the ID's error is the helpful one
    # No 30 February; read as a USCC its check character happens to fit, but 文化 has no category 4.
    ("440802199002301230", "resident_id_birth_date"),
    ("91110000600037341K", "uscc_check_character"),
])
def test_identity_errors(raw, code):
    assert error_of(validate_identity, raw).code == code


def test_mask_resident_id():
    assert mask_resident_id(ID) == "440802********1238"
    assert mask_resident_id("１１０１０５１９４９１２３１００２ｘ") == "110105********002X"
    assert mask_resident_id("12345") == "*****"
    assert mask_resident_id(None) == ""


def test_a_uscc_is_masked_like_an_id_number():
    # one masking for both kinds (the console showed a USCC whole, the API masked it, sharing kept 8)
    assert mask_id_number("91440800MA4W000019") == "914408********0019"
    assert mask_id_number(ID) == mask_resident_id(ID) == "440802********1238"


@pytest.mark.parametrize("phone, masked", [("13800138000", "138****8000"), ("0759-3333333", "075****3333"),
                                           ("1234567", "*******"), ("", ""), (None, "")])
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked


def test_mask_case_number():
    assert mask_case_number("440800-20260928-000123") == "440800-2026****0123"
    assert mask_case_number("") == mask_case_number(None) == "****"


def test_mask_licence_number():
    assert mask_licence_number("粤0802食经2026000123") == "粤08" + "*" * 10 + "0123"  # 17 characters: 3 + 10 + 4
    assert mask_licence_number("A1234") == "A****"


@pytest.mark.parametrize("name, masked", [("张三", "张*"), ("张小三", "张*三"), ("欧阳小明", "欧**明"), ("王", "*"), ("", "")])
def test_mask_person_name(name, masked):
    assert mask_person_name(name) == masked
    assert mask_person_name("湛江市某某有限公司", organisation=True) == "湛江市某某有限公司"


def test_scrub_masks_id_numbers_in_free_text_only():
    assert scrub("身份证 440802199001011238 与代码 91440800MA4W000019") == "身份证 440802********1238 与代码 914408********0019"
    assert scrub("快递单号 SF1234567890,电话 13800000000") == "快递单号 SF1234567890,电话 13800000000"
    assert scrub(None) == ""
