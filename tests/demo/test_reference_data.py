"""The Zhanjiang reference data: complete, valid, loadable twice without change, and its demo accounts work.

Loading takes a few seconds, so the data is loaded once for this module inside a transaction
that is rolled back at the end; each test runs in its own savepoint on top (the `db` fixture).
"""

import csv
import json

import pytest
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.test import Client
from stdnum.cn import uscc

from bianmin.catalog.models import (Bundle, BundleItem, CancelledProof, ItemKind, ItemVersion, Material, Proof,
                                    ServiceItem, Theme)
from bianmin.core.models import AuditEntry
from bianmin.demo import loader
from bianmin.org.models import Department, Hall, Level, Region, Role, Staff, Window

COUNTY_LEVEL = {
    "440802": "赤坎区", "440803": "霞山区", "440804": "坡头区", "440811": "麻章区", "440823": "遂溪县",
    "440825": "徐闻县", "440881": "廉江市", "440882": "雷州市", "440883": "吴川市",
}


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        with transaction.atomic():
            report = loader.load_reference_data()
            yield report
            transaction.set_rollback(True)


def _counts():
    models = [Region, Department, Department.absorbed.through, Hall, Window, Window.departments.through, Theme, Proof,
              CancelledProof, ServiceItem, ServiceItem.halls.through, ServiceItem.themes.through, Material,
              ItemVersion, Bundle, BundleItem, AuditEntry]
    return {m._meta.label: m.objects.count() for m in models}


def test_first_load_reports_what_it_created(loaded, db):
    assert loaded.created["items"] == loaded.totals["items"] >= 80
    assert loaded.created["regions"] == Region.objects.count()
    text = loaded.summary()
    assert text.startswith("参考数据:") and "事项" in text and "部门" in text
    assert loaded.seconds < 60  # the brief asks for ~10 s; this only guards against a pathological slowdown


def test_published_items_cover_all_kinds_and_themes(loaded, db):
    published = ServiceItem.objects.filter(status=ServiceItem.Status.PUBLISHED)
    assert published.count() >= 80
    assert set(published.values_list("kind", flat=True)) == set(ItemKind.values)
    assert Theme.objects.count() >= 14
    empty = [t.name for t in Theme.objects.all() if not t.items.filter(status=ServiceItem.Status.PUBLISHED).exists()]
    assert empty == []
    for level in (Level.CITY, Level.COUNTY, Level.TOWN):
        assert published.filter(level=level).exists(), level


def test_every_department_has_a_valid_uscc(loaded, db):
    departments = list(Department.objects.all())
    assert len(departments) >= 60
    bad = [(d.name, d.uscc) for d in departments if not uscc.is_valid(d.uscc)]
    assert bad == []
    # organs, public institutions and mass organisations registered by 机构编制 start with 1
    assert all(d.uscc[0] == "1" for d in departments)
    # the USCC carries the department's county-level region code
    assert all(d.uscc[2:8] == d.region_id[:6] for d in departments)


def test_items_have_materials_and_consistent_time_limits(loaded, db):
    items = ServiceItem.objects.prefetch_related("materials")
    for item in items:
        materials = list(item.materials.all())
        assert 2 <= len(materials) <= 8, item.name
        assert item.promised_days <= item.statutory_days, item.name
        assert not item.is_immediate or item.promised_days == 0, item.name
        assert 0 <= item.online_level <= 4
        assert item.code.startswith(item.basic_code + "-"), item.code
        assert item.department.uscc in item.code, item.code
        assert item.halls.exists(), f"{item.name} 没有可申办的大厅"
        assert item.fee_fen == 0 or item.fees != "不收费", item.name
    assert ServiceItem.objects.values("code").distinct().count() == ServiceItem.objects.count()
    # the 四办 mix is realistic, not uniform
    assert set(ServiceItem.objects.values_list("max_visits", flat=True)) >= {0, 1, 2}
    assert ServiceItem.objects.filter(online_level__lt=3).exists()
    assert ServiceItem.objects.filter(is_immediate=True).exists()


def test_every_material_proof_is_on_the_retained_list(loaded, db):
    proofs = Proof.objects.all()
    assert 10 <= proofs.count() <= 20
    assert all(p.legal_basis and p.requesting_unit and p.issuing_unit and p.guide for p in proofs)
    with_proof = Material.objects.filter(proof__isnull=False).select_related("proof")
    assert with_proof.exists()
    assert all(m.proof.is_retained for m in with_proof)
    cancelled = CancelledProof.objects.all()
    assert 15 <= cancelled.count() <= 25
    assert set(cancelled.values_list("reason", flat=True)) == set(CancelledProof.Reason.values)


def test_every_licence_code_the_catalog_names_is_a_registered_type(loaded, db):
    from bianmin.licences.models import LicenceType

    types = set(LicenceType.objects.values_list("code", flat=True))
    named = set(ServiceItem.objects.exclude(result_licence_type="").values_list("result_licence_type", flat=True))
    named |= set(Material.objects.exclude(satisfied_by="").values_list("satisfied_by", flat=True))
    assert {"yyzz", "jmsfz", "jhz", "bdcqzs"} <= named  # 营业执照, 居民身份证, 结婚证, 不动产权证书
    assert named <= types
    assert loaded.created["licence_types"] == len(types)


def test_regions_follow_the_divisions_file(loaded, db):
    with open(loader.DATA / "zhanjiang-divisions.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        code = row["code"] + "00" if len(row["code"]) == 4 else row["code"]
        region = Region.objects.get(code=code)
        assert region.name == row["name"] and region.level == row["level"]
    assert Region.objects.get(code="440800").name == "湛江市"
    for code, name in COUNTY_LEVEL.items():
        region = Region.objects.get(code=code)
        assert (region.name, region.level, region.parent_id) == (name, Level.COUNTY, "440800")
    zone = Region.objects.get(code=loader.DEVZONE_CODE)
    assert zone.name == "湛江经济技术开发区" and zone.is_management_zone and zone.level == Level.COUNTY
    # the 10 county-level divisions (9 + the development zone) each have a hall and the core departments
    for code in [*COUNTY_LEVEL, loader.DEVZONE_CODE]:
        assert Hall.objects.filter(region_id=code, level=Level.COUNTY, kind=Hall.Kind.HALL).exists(), code
        names = set(Department.objects.filter(region_id=code).values_list("name", flat=True))
        for suffix in ("民政局", "市场监督管理局", "人力资源和社会保障局", "行政服务中心"):
            assert any(n.endswith(suffix) for n in names), (code, suffix)
    villages = Region.objects.filter(level=Level.VILLAGE)
    assert 10 <= villages.count() <= 15
    assert all(len(v.code) == 12 and v.parent.level == Level.TOWN and v.code.startswith(v.parent_id) for v in villages)


def test_halls_windows_and_the_approval_bureau(loaded, db):
    city = Hall.objects.get(name="湛江市政务服务中心")
    kinds = set(city.windows.values_list("kind", flat=True))
    assert kinds == {Window.Kind.COMPREHENSIVE, Window.Kind.DEPARTMENT, Window.Kind.DELIVERY}
    assert city.windows.get(number="1").departments.count() >= 5
    for kind in (Hall.Kind.BANK, Hall.Kind.POST, Hall.Kind.KIOSK, Hall.Kind.STATION):
        assert Hall.objects.filter(kind=kind).exists(), kind
    towns_with_hall = set(Hall.objects.filter(level=Level.TOWN, kind=Hall.Kind.HALL).values_list("region_id", flat=True))
    assert {t[:6] for t in towns_with_hall} >= set(COUNTY_LEVEL)
    bureau = Department.objects.get(kind=Department.Kind.APPROVAL_BUREAU)
    absorbed = set(bureau.absorbed.all())
    assert len(absorbed) >= 2
    transferred = ServiceItem.objects.filter(department=bureau)
    assert transferred.exists()
    assert all(i.origin_department in absorbed for i in transferred)


def test_bundles_point_at_loaded_items(loaded, db):
    start = Bundle.objects.get(code="kaiban-qiye")
    assert start.target_days == 5
    assert start.items.count() >= 4
    for bundle in Bundle.objects.all():
        assert bundle.items.count() >= 2, bundle.code
    data = json.loads((loader.DATA / "bundles.json").read_text(encoding="utf-8"))
    assert BundleItem.objects.count() == sum(len(b["items"]) for b in data)


def test_second_load_creates_and_changes_nothing(loaded, db):
    before = _counts()
    item = ServiceItem.objects.order_by("id").first()
    stamp = (item.version, item.updated_at, item.published_at)
    report = loader.load_reference_data()
    assert not report.created_anything
    assert _counts() == before
    item.refresh_from_db()
    assert (item.version, item.updated_at, item.published_at) == stamp
    assert "无新增" in report.summary()


def test_demo_accounts_log_in(loaded, db):
    validate_password(loader.DEMO_PASSWORD)
    accounts = loader.ensure_demo_accounts()
    usernames = [u for u, _ in accounts]
    assert len(usernames) == len(set(usernames)) >= 8
    assert all(label for _, label in accounts)
    for username in usernames:
        assert Client().login(username=username, password=loader.DEMO_PASSWORD), username
    roles = set(Staff.objects.filter(user__username__in=usernames).values_list("role", flat=True))
    assert roles == set(Role.values)
    clerk = Staff.objects.get(user__username="clerk")
    assert clerk.hall.name == "湛江市政务服务中心" and clerk.window.kind == Window.Kind.COMPREHENSIVE
    assert Staff.objects.filter(is_chief_service_officer=True).count() == 1
    admin = Staff.objects.get(user__username="admin").user
    assert admin.is_superuser and admin.is_staff
    # running it again refreshes, never duplicates
    assert [u for u, _ in loader.ensure_demo_accounts()] == usernames
    assert Staff.objects.filter(user__username__in=usernames).count() == len(usernames)
