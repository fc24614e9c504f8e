"""Shared fixtures: a small hand-built organisation and a factory for catalog items.

Every test runs on the database DATABASE_URL names (SQLite by default, PostgreSQL in CI's second run).
"""

import itertools

import pytest
from django.contrib.auth.models import User

from bianmin.catalog import services as catalog_services
from bianmin.org.models import Department, Hall, Level, Region, Role, Staff
from bianmin.core.identities import uscc_with_check
from tests.openapi_check import _api_responses_match_openapi  # noqa: F401  (every API response checked against the OpenAPI document)

_seq = itertools.count(1)


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """PBKDF2 costs ~0.3 s a password by design; tests create many users. Production keeps PBKDF2."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache (Redis in CI's PostgreSQL run, memory otherwise)."""
    from django.core.cache import cache

    from bianmin.core import workdays

    cache.clear()
    # The process copy of the calendar overrides belongs to the cache just cleared: drop it too, or the
    # first check after CHECK_SECONDS (mid-test) would find no token and reload (one query more).
    workdays._snapshot = None


@pytest.fixture(autouse=True)
def audit_checkpoints(settings, tmp_path_factory):
    """Each test has its own store for the audit log's checkpoints (core.audit), so that one written by
    one test (`bianmin tick`) is never read by another. Returns the checkpoints' folder."""
    location = tmp_path_factory.mktemp("audit")
    settings.STORAGES = {**settings.STORAGES, "audit-test": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                             "OPTIONS": {"location": str(location)}}}
    settings.AUDIT_CHECKPOINT_STORAGE = "audit-test"
    return location / "audit-checkpoints"


@pytest.fixture
def regions(db):
    city = Region.objects.create(code="440800", name="湛江市", level=Level.CITY)
    chikan = Region.objects.create(code="440802", name="赤坎区", level=Level.COUNTY, parent=city)
    xiashan = Region.objects.create(code="440803", name="霞山区", level=Level.COUNTY, parent=city)
    town = Region.objects.create(code="440802001", name="中华街道", level=Level.TOWN, parent=chikan)
    return {"city": city, "chikan": chikan, "xiashan": xiashan, "town": town}


def make_department(name, region, level=Level.CITY, kind=Department.Kind.DEPARTMENT):
    n = next(_seq)
    return Department.objects.create(name=name, short_name=name[-6:], uscc=uscc_with_check(f"1144080000{n:07d}"), region=region, level=level, kind=kind)


# Licence types the test items name (Material.satisfied_by, ServiceItem.result_licence_type must be registered types).
LICENCE_TYPES = [("yyzz", "营业执照", "legal_person", "market"), ("sfz", "居民身份证", "person", "police"),
                 ("jmsfz", "居民身份证", "person", "police"), ("spjyxkz", "食品经营许可证", "legal_person", "market")]


@pytest.fixture
def departments(regions):
    from bianmin.licences.models import LicenceType

    depts = {
        "market": make_department("湛江市市场监督管理局", regions["city"]),
        "police": make_department("湛江市公安局", regions["city"]),
        "chikan_civil": make_department("湛江市赤坎区民政局", regions["chikan"], Level.COUNTY),
    }
    for code, name, holder_kind, dept in LICENCE_TYPES:
        LicenceType.objects.get_or_create(code=code, defaults={"name": name, "type_code": code.upper(), "holder_kind": holder_kind,
                                                              "department": depts[dept]})
    return depts


@pytest.fixture
def halls(regions):
    return {
        "city": Hall.objects.create(name="湛江市政务服务中心", region=regions["city"], level=Level.CITY),
        "town": Hall.objects.create(name="中华街道便民服务中心", region=regions["town"], level=Level.TOWN),
    }


def make_staff(username, department, role, **extra):
    user = User.objects.create_user(username=username, password="Bianmin!2026")
    return Staff.objects.create(user=user, name=username, department=department, role=role, **extra)


@pytest.fixture
def staff(departments):
    return {
        "market_admin": make_staff("market_admin", departments["market"], Role.CATALOG_ADMIN),
        "police_admin": make_staff("police_admin", departments["police"], Role.CATALOG_ADMIN),
        "market_clerk": make_staff("market_clerk", departments["market"], Role.CLERK),
        "supervisor": make_staff("supervisor", departments["market"], Role.SUPERVISOR),
        "admin": make_staff("sysadmin", departments["market"], Role.ADMIN),
    }


def item_data(department, **overrides):
    """A valid item as save_item takes it; override any field."""
    n = next(_seq)
    data = {
        "name": "食品经营许可证核发",
        "basic_code": "11440800MB2C91",
        "code": f"11440800MB2C91-440800000000-{n:03d}",
        "kind": "licensing",
        "legal_basis": "《中华人民共和国食品安全法》第三十五条",
        "department": department,
        "conditions": "申请人具有与经营的食品品种、数量相适应的经营场所。",
        "route": "申请、受理、审查、决定、送达",
        "statutory_days": 20,
        "promised_days": 5,
        "audience": "legal_person",
        "level": department.level,
        "online_level": 4,
        "nearby_levels": "city,county",
        "max_visits": 0,
        "materials": [
            {"name": "食品经营许可申请书", "form": "form"},
            {"name": "营业执照", "satisfied_by": "yyzz"},
            {"name": "食品安全管理制度文本", "required": True, "pending_allowed": True},
        ],
        "status": "published",
    }
    data.update(overrides)
    return data


@pytest.fixture
def make_item(departments):
    def _make(department=None, **overrides):
        return catalog_services.save_item(item_data(department or departments["market"], **overrides))

    return _make


@pytest.fixture
def people(departments, halls):
    """The actors of a case: an applicant with an account, a clerk at a comprehensive window of the
    city hall, a reviewer and an approver of the market regulator, and a reviewer of the police."""
    from bianmin.cases import services as case_services
    from bianmin.core.identities import resident_id_with_check
    from bianmin.org.models import Window

    window = Window.objects.create(hall=halls["city"], number="1", name="综合窗口", kind=Window.Kind.COMPREHENSIVE)
    citizen_user = User.objects.create_user(username="citizen", password="Bianmin!2026")
    citizen = case_services.register_applicant(kind="person", name="张三", id_number=resident_id_with_check("44080219900101123"),
                                               phone="13800000000", user=citizen_user)
    other_user = User.objects.create_user(username="other", password="Bianmin!2026")
    other = case_services.register_applicant(kind="person", name="李四", id_number=resident_id_with_check("44080319850505002"),
                                             phone="13700000000", user=other_user)
    from bianmin.cases import identity

    for applicant in (citizen, other):  # their accounts were checked at a window (issue 11: verified holders)
        identity.mark_verified(applicant=applicant, method="window")
    market = departments["market"]
    return {
        "citizen": citizen, "citizen_user": citizen_user, "other": other, "other_user": other_user,
        "clerk": make_staff("clerk", market, Role.CLERK, hall=halls["city"], window=window),
        "reviewer": make_staff("reviewer", market, Role.REVIEWER),
        "approver": make_staff("approver", market, Role.APPROVER, is_head=True),
        "police_reviewer": make_staff("police_reviewer", departments["police"], Role.REVIEWER),
        "window": window,
    }
