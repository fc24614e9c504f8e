"""Licence identifiers in the GB/T 36904 form and their check character (ISO/IEC 7064 MOD 37,36).

    1.2.156.3005.2.<type code>.<issuer USCC>.<serial>.<version>.<check character>

* type code: the national 证照类型代码, letters A-Z and digits (upper case);
* issuer USCC: the issuing department's unified social credit code (18 characters);
* serial: the issuer's running number, decimal, written with at least 8 digits (00000001);
* version: 1 for a first issue, +1 for each replacement (换发), decimal without leading zeros;
* check character: ISO/IEC 7064 MOD 37,36 over the identifier's characters BEFORE the check,
  with the dots removed — the fixed prefix included ("1215630052" + type code + USCC + serial +
  version). That is what the standard describes; covering the prefix costs nothing and means any
  single changed or swapped character anywhere in the identifier is caught.

MOD 37,36 is the hybrid system over the 36 characters 0-9 (values 0-9) and A-Z (10-35):
    p = 36; for each character c: p = (p + value(c)) mod 36, 0 taken as 36; p = 2p mod 37;
    check = (37 - p) mod 36, written with the same alphabet.
It detects every single substitution and every transposition of adjacent characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bianmin.core.errors import ValidationError

PREFIX = "1.2.156.3005.2"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
SERIAL_DIGITS = 8
MAX_LENGTH = 200  # the model's column

_TYPE_CODE = re.compile(r"[0-9A-Z]{1,40}")
_USCC = re.compile(r"[0-9A-Z]{18}")
_FORM = re.compile(
    r"1\.2\.156\.3005\.2\.(?P<type_code>[0-9A-Z]{1,40})\.(?P<issuer>[0-9A-Z]{18})"
    r"\.(?P<serial>[0-9]{1,18})\.(?P<version>[1-9][0-9]{0,4})\.(?P<check>[0-9A-Z])"
)


def check_character(body: str) -> str:
    """The MOD 37,36 check character of `body` (digits and upper-case letters only)."""
    p = 36
    for c in body:
        value = _VALUE.get(c)
        if value is None:
            raise ValueError(f"character {c!r} is not in 0-9A-Z")
        p = (p + value) % 36 or 36
        p = (p * 2) % 37
    return ALPHABET[(37 - p) % 36]


def _body(type_code: str, issuer_uscc: str, serial: str, version: str) -> str:
    return f"{PREFIX}.{type_code}.{issuer_uscc}.{serial}.{version}".replace(".", "")


def make_identifier(type_code: str, issuer_uscc: str, serial: int, version: int) -> str:
    """The identifier of a licence. Arguments come from the database, so a bad one is a programming error."""
    type_code = (type_code or "").upper()
    issuer_uscc = (issuer_uscc or "").upper()
    if not _TYPE_CODE.fullmatch(type_code):
        raise ValueError(f"type code {type_code!r} must be 1-40 letters or digits")
    if not _USCC.fullmatch(issuer_uscc):
        raise ValueError(f"issuer code {issuer_uscc!r} must be 18 letters or digits")
    if not (isinstance(serial, int) and 0 < serial < 10**18 and isinstance(version, int) and 0 < version < 100000):
        raise ValueError("serial and version must be positive integers")
    serial_text = f"{serial:0{SERIAL_DIGITS}d}"
    version_text = str(version)
    check = check_character(_body(type_code, issuer_uscc, serial_text, version_text))
    return f"{PREFIX}.{type_code}.{issuer_uscc}.{serial_text}.{version_text}.{check}"


@dataclass(frozen=True)
class Identifier:
    type_code: str
    issuer_uscc: str
    serial: int
    version: int
    check: str
    text: str  # the identifier as normalised (its serial written as it was)

    def __str__(self) -> str:
        return self.text


def normalise(s) -> str:
    """What people paste: surrounding whitespace dropped, full-width dots and letters made ASCII, upper case."""
    if not isinstance(s, str):
        return ""
    s = s.strip().replace("。", ".").replace("．", ".")
    s = s.translate({cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)})
    return "".join(s.split()).upper()


def parse_identifier(s) -> Identifier:
    """Parse and check an identifier; ValidationError(code="invalid_licence_identifier") if malformed or
    if its check character does not match (a mistyped or altered identifier)."""
    value = normalise(s)
    if not value:
        raise ValidationError("请填写证照标识。", code="invalid_licence_identifier", field="identifier")
    if len(value) > MAX_LENGTH:
        raise ValidationError("证照标识过长,请核对。", code="invalid_licence_identifier", field="identifier")
    m = _FORM.fullmatch(value)
    if m is None:
        raise ValidationError(
            "证照标识格式不正确,应为“1.2.156.3005.2.证照类型代码.颁发机构代码.流水号.版本号.校验位”。",
            code="invalid_licence_identifier", field="identifier",
        )
    expected = check_character(_body(m["type_code"], m["issuer"], m["serial"], m["version"]))
    if m["check"] != expected:
        raise ValidationError("证照标识校验位不符,请逐位核对(可能输入有误或标识被篡改)。",
                              code="invalid_licence_identifier", field="identifier")
    serial = int(m["serial"])
    if serial == 0:
        raise ValidationError("证照标识中的流水号不能为 0。", code="invalid_licence_identifier", field="identifier")
    return Identifier(m["type_code"], m["issuer"], serial, int(m["version"]), m["check"], value)
