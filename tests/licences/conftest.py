"""Licence types and holders shared by the licence tests."""

import pytest

from bianmin.core.identities import resident_id_with_check, uscc_with_check
from bianmin.licences.models import LicenceType


def _type(code, **fields):
    # the shared `departments` fixture may already have registered some codes the catalog test items use
    return LicenceType.objects.update_or_create(code=code, defaults=fields)[0]


@pytest.fixture
def licence_types(departments):
    return {
        "spjyxkz": _type("spjyxkz", name="食品经营许可证", type_code="11100000000013127D001",
                         holder_kind=LicenceType.HolderKind.LEGAL_PERSON, department=departments["market"], validity_years=5),
        "yyzz": _type("yyzz", name="营业执照", type_code="11100000000013127D002",
                      holder_kind=LicenceType.HolderKind.LEGAL_PERSON, department=departments["market"], validity_years=None),
        "jhz": _type("jhz", name="结婚证", type_code="11100000000013338W005",
                     holder_kind=LicenceType.HolderKind.PERSON, department=departments["chikan_civil"], validity_years=None),
    }


@pytest.fixture
def holders():
    return {
        "company": ("湛江市海鲜餐饮有限公司", uscc_with_check("91440800MA4W12345")),
        "person": ("张小三", resident_id_with_check("44080219900101123")),
    }
