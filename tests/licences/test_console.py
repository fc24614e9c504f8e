"""Console pages for licences: who sees which licences, revocation, the PDF, seals, query counts."""

import pytest
from django.test import Client

from bianmin.core.models import AuditEntry
from bianmin.licences import services
from bianmin.licences.models import Licence, LicenceStatus, LicenceUse, Seal
from bianmin.org.models import Role
from tests.conftest import make_staff
from tests.pdftext import pdf_text

BASE = "/console/licences/"


@pytest.fixture
def issued(licence_types, departments, holders):
    company, uscc = holders["company"]
    market = [services.issue_licence(licence_type=licence_types["spjyxkz"], holder_name=f"{company}{i}号店",
                                     holder_id_number=uscc, issuer=departments["market"]) for i in range(3)]
    civil = services.issue_licence(licence_type=licence_types["jhz"], holder_name=holders["person"][0],
                                   holder_id_number=holders["person"][1], issuer=departments["chikan_civil"])
    return {"market": market, "civil": civil}


@pytest.fixture
def market_approver(departments):
    return make_staff("m_approver", departments["market"], Role.APPROVER)


def _as(client, user):
    client.force_login(user)
    return client


def test_anonymous_goes_to_login_and_applicants_are_refused(client, issued, people):
    r = client.get(BASE)
    assert r.status_code == 302 and "/console/login/" in r["Location"]
    _as(client, people["citizen_user"])
    for url in (BASE, f"{BASE}{issued['market'][0].pk}/", f"{BASE}seals/", f"{BASE}import/"):
        assert client.get(url).status_code == 403, url


def test_staff_see_only_their_departments_licences(client, issued, staff):
    _as(client, staff["market_clerk"].user)
    html = client.get(BASE).content.decode()
    assert "湛江市海鲜餐饮有限公司0号店" in html and "张小三" not in html
    assert "共 3 张" in html
    civil = issued["civil"]
    assert client.get(f"{BASE}{civil.pk}/").status_code == 404  # another department's licence
    assert client.get(f"{BASE}{civil.pk}/pdf/").status_code == 404
    assert client.get(f"{BASE}99999999999999999999999/").status_code == 404
    _as(client, staff["supervisor"].user)
    html = client.get(BASE).content.decode()
    assert "共 4 张" in html and "张小三" in html


def test_search_and_filters(client, issued, staff):
    _as(client, staff["market_clerk"].user)
    first = issued["market"][0]
    html = client.get(BASE, {"q": first.number}).content.decode()
    assert "共 1 张" in html and first.number in html
    assert "共 1 张" in client.get(BASE, {"q": "湛江市海鲜餐饮有限公司2号店"}).content.decode()
    assert "共 3 张" in client.get(BASE, {"q": "湛江市海鲜"}).content.decode()  # the beginning of the name
    assert "共 1 张" in client.get(BASE, {"q": first.identifier}).content.decode()
    assert "共 3 张" in client.get(BASE, {"type": "spjyxkz", "status": "valid"}).content.decode()
    assert "共 0 张" in client.get(BASE, {"status": "revoked"}).content.decode()
    assert "共 0 张" in client.get(BASE, {"type": "jhz"}).content.decode()  # a type other departments issue
    assert client.get(BASE, {"q": "湛江\x00"}).status_code in (200, 400)  # a NUL (PostgreSQL refuses it): never a 500
    for bad in ({"status": "nonsense"}, {"type": "no_such_type"}, {"page": "abc"}, {"page": "-1"}):
        r = client.get(BASE, bad)
        html = r.content.decode()
        assert r.status_code == 400 and ("无效" in html or "页码" in html), bad


def test_list_has_no_n_plus_one(client, issued, staff, licence_types, departments, holders, django_assert_max_num_queries):
    for i in range(15):
        services.issue_licence(licence_type=licence_types["yyzz"], holder_name=f"公司{i}", holder_id_number=holders["company"][1],
                               issuer=departments["market"])
    _as(client, staff["market_clerk"].user)
    client.get(BASE)
    # session + user + staff (+ department for the heading), types, the page, the count
    with django_assert_max_num_queries(8):
        r = client.get(BASE)
    assert r.status_code == 200 and "共 18 张" in r.content.decode()


def test_detail_shows_the_licence_and_logs_the_use(client, issued, staff):
    licence = issued["market"][0]
    _as(client, staff["market_clerk"].user)
    html = client.get(f"{BASE}{licence.pk}/").content.decode()
    assert licence.identifier in html and "该证照真实有效" in html
    assert "注销证照" not in html  # a clerk may not revoke
    use = LicenceUse.objects.get(licence=licence)
    assert (use.via, use.department_id, use.user_id) == ("console", staff["market_clerk"].department_id, staff["market_clerk"].user_id)
    entry = AuditEntry.objects.get(action="licence.use")  # the read is in the audit log too
    assert (entry.actor, entry.object_id, entry.data["via"], entry.data["use"]) == (
        staff["market_clerk"].user.username, str(licence.pk), "console", use.pk)


def test_pdf_has_the_licence_text_and_verification_address(client, issued, staff):
    licence = issued["market"][0]
    _as(client, staff["market_clerk"].user)
    r = client.get(f"{BASE}{licence.pk}/pdf/")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf" and r.content.startswith(b"%PDF")
    text = pdf_text(r.content, "-raw")
    flat = "".join(text.split())
    assert "食品经营许可证" in flat and licence.number in flat and "湛江市市场监督管理局" in flat
    assert licence.identifier in flat
    assert f"http://testserver/licences/verify/{licence.identifier}/" in flat


def test_revoke_by_approver_takes_effect_at_once(client, issued, market_approver, staff):
    licence = issued["market"][1]
    _as(client, staff["market_clerk"].user)
    r = client.post(f"{BASE}{licence.pk}/revoke/", {"reason": "试图注销"})
    assert r.status_code == 403 and "决定人员" in r.content.decode()
    _as(client, market_approver.user)
    assert "注销证照" in client.get(f"{BASE}{licence.pk}/").content.decode()
    r = client.post(f"{BASE}{licence.pk}/revoke/", {"reason": ""})
    assert r.status_code == 400 and "注销原因" in r.content.decode()
    r = client.post(f"{BASE}{licence.pk}/revoke/", {"reason": "经营者申请注销"})
    assert r.status_code == 302
    licence.refresh_from_db()
    assert licence.status == LicenceStatus.REVOKED
    assert "已注销" in Client().get(f"/licences/verify/{licence.identifier}/").content.decode()
    other = issued["civil"]
    assert client.post(f"{BASE}{other.pk}/revoke/", {"reason": "x"}).status_code == 404


def test_revoke_needs_csrf(issued, market_approver):
    client = Client(enforce_csrf_checks=True)
    client.force_login(market_approver.user)
    licence = issued["market"][0]
    assert client.post(f"{BASE}{licence.pk}/revoke/", {"reason": "无令牌"}).status_code == 403
    licence.refresh_from_db()
    assert licence.status == LicenceStatus.VALID


def test_seals_page_and_rotation_by_admin_only(client, issued, staff, market_approver):
    _as(client, market_approver.user)
    html = client.get(f"{BASE}seals/").content.decode()
    seal = Seal.objects.get(department=market_approver.department)
    assert seal.public_key in html and "更换印章密钥" not in html
    assert client.post(f"{BASE}seals/rotate/", {"confirm": "1"}).status_code == 403
    _as(client, staff["admin"].user)
    r = client.post(f"{BASE}seals/rotate/", {"confirm": "1"})
    assert r.status_code == 302
    assert list(Seal.objects.filter(department=market_approver.department).values_list("version", flat=True)) == [2, 1]
    # licences signed by version 1 still verify
    assert all(services.verification(lic)["current"] for lic in Licence.objects.filter(issuer=market_approver.department))
    html = client.get(f"{BASE}seals/").content.decode()
    assert "第 2 版" in html and "使用中" in html and "已停用" in html


def test_a_persons_id_number_is_masked_on_the_detail_page(client, issued, departments, holders):
    clerk = make_staff("civil_clerk", departments["chikan_civil"], Role.CLERK)
    client.force_login(clerk.user)
    html = client.get(f"{BASE}{issued['civil'].pk}/").content.decode()
    number = holders["person"][1]
    assert number not in html and f"{number[:6]}********{number[-4:]}" in html
