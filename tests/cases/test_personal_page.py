"""The personal page (市民个人网页) and the enterprise page (企业专属网页): reminders, my licences and their
share links, who used them, my ratings; only ever the logged-in holder's own."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client

from bianmin.cases import clock, identity, services
from bianmin.core.identities import uscc_with_check
from bianmin.licences import services as licence_services
from bianmin.licences.models import LicenceType, LicenceUse, ShareLink

NEXT = {  # next_items.json: after 营业执照
    "seal": "44GG00201600-440800000000-000-114408000074855067-1-00",
    "invoice": "44GG00900100-440800000000-000-11440800007386997Y-1-00",
}


@pytest.fixture
def types(departments):
    jhz, _ = LicenceType.objects.get_or_create(code="jhz", defaults={"name": "结婚证", "type_code": "JHZ", "holder_kind": "person",
                                                                     "department": departments["chikan_civil"]})
    return {"yyzz": LicenceType.objects.get(code="yyzz"), "jmsfz": LicenceType.objects.get(code="jmsfz"), "jhz": jhz}


@pytest.fixture
def citizen(client, people):
    client.force_login(people["citizen_user"])
    return client


@pytest.fixture
def company(people):
    user = User.objects.create_user(username="company", password="Bianmin!2026")
    company = services.register_applicant(kind="legal_person", name="湛江市海鲜餐饮有限公司", id_number=uscc_with_check("91440800MA4W12345"),
                                       phone="13900000000", user=user, legal_representative="王五")
    return identity.mark_verified(applicant=company, method="window")  # a verified holder (issue 11)


def issue(applicant, licence_type, departments, **kw):
    return licence_services.issue_licence(licence_type=licence_type, holder_name=applicant.name, holder_id_number=applicant.id_number,
                                          issuer=departments["police"] if licence_type.holder_kind == "person" else departments["market"], **kw)


def test_person_home_reminds_of_an_expiring_licence_and_how_to_renew(citizen, people, types, departments, make_item):
    renew = make_item(department=departments["police"], name="居民身份证换领", audience="person")
    LicenceType.objects.filter(code="jmsfz").update(renewal_item_code=renew.code, renewal_hint="有效期满前三个月内可到任一派出所或网上预约换领")
    today = clock.today()
    issue(people["citizen"], types["jmsfz"], departments, issued_on=today - timedelta(days=3600), valid_until=today + timedelta(days=30))
    issue(people["other"], types["jmsfz"], departments, issued_on=today - timedelta(days=3600), valid_until=today + timedelta(days=10))
    html = citizen.get("/my/").content.decode()
    assert "市民个人网页" in html and "主动提醒" in html
    assert f"居民身份证将于 {(today + timedelta(days=30)):%Y年%-m月%-d日} 到期</strong>(还有 30 天)" in html
    assert "有效期满前三个月内可到任一派出所或网上预约换领" in html and f'href="/apply/{renew.code}/"' in html
    assert "还有 10 天" not in html  # someone else's licence


def test_a_licence_ending_later_or_long_term_is_no_reminder(citizen, people, types, departments):
    today = clock.today()
    issue(people["citizen"], types["jmsfz"], departments, valid_until=today + timedelta(days=91))
    issue(people["citizen"], types["jhz"], departments)  # long-term
    html = citizen.get("/my/").content.decode()
    assert "主动提醒" not in html and "到期" not in html


def test_enterprise_home_with_next_items_after_the_business_licence(client, company, types, departments, make_item):
    seal = make_item(code=NEXT["seal"], name="公章刻制备案", audience="legal_person", department=departments["police"])
    invoice = make_item(code=NEXT["invoice"], name="发票领用", audience="both", status="draft")  # not published: not offered
    issue(company, types["yyzz"], departments)
    client.force_login(company.user)
    html = client.get("/my/").content.decode()
    assert "企业专属网页" in html and "法定代表人" in html and "王五" in html and company.id_number in html
    assert "领取营业执照后,通常接着办" in html and f'href="/items/{seal.code}/"' in html and invoice.code not in html
    assert "银行开户" in html
    # once applied for, it is not offered again
    services.submit_application(applicant=company, item=seal, actor=company.user, materials={m.pk: {"at_window": True} for m in seal.materials.all()})
    html = client.get("/my/").content.decode()
    assert f'href="/items/{seal.code}/"' not in html


def test_a_case_waiting_for_a_supplement_is_a_reminder(citizen, people, make_item):
    item = make_item(audience="both")
    case = services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                       materials={m.pk: {"at_window": True} for m in item.materials.all()})
    services.request_supplement(case, actor=people["clerk"].user, missing_ids=[case.materials.get(name="营业执照").pk])
    html = citizen.get("/my/").content.decode()
    assert "有 1 件办件需要您处理" in html and f'href="/my/cases/{case.number}/#asked"' in html


def test_my_licences_pdf_and_nobody_elses(citizen, client, people, types, departments):
    mine = issue(people["citizen"], types["jhz"], departments, surface={"登记日期": "2020-05-20"})
    theirs = issue(people["other"], types["jhz"], departments)
    html = citizen.get("/my/licences/").content.decode()
    assert "我的证照" in html and mine.number in html and "登记日期" in html and theirs.number not in html
    r = citizen.get(f"/my/licences/{mine.identifier}/pdf/")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf" and r.content.startswith(b"%PDF-")
    for bad in (theirs.identifier, "x", "9" * 400):
        assert citizen.get(f"/my/licences/{bad}/pdf/").status_code == 404
    staff = Client()
    staff.force_login(people["clerk"].user)
    assert staff.get("/my/licences/").status_code == 403  # a staff member is not a holder
    assert staff.get(f"/my/licences/{mine.identifier}/pdf/").status_code == 403
    assert Client().get("/my/licences/").status_code == 302  # to the login page


def test_share_a_link_from_the_page_see_it_once_and_revoke_it(citizen, people, types, departments):
    lic = issue(people["citizen"], types["jhz"], departments)
    r = citizen.post("/my/licences/", {"licence": lic.identifier, "hours": "168", "fields": ["holder_name", "number"]})
    assert r.status_code == 302 and r["Location"] == "/my/licences/"
    link = ShareLink.objects.get()
    assert link.show_fields == ["holder_name", "number"]
    html = citizen.get("/my/licences/").content.decode()
    url = html.split('id="new-link-url" class="share-url" type="text" readonly value="')[1].split('"')[0]
    assert url.startswith("http://testserver/licences/shared/")
    assert "http://testserver/licences/shared/" not in citizen.get("/my/licences/").content.decode()  # shown once
    assert Client().get(url.removeprefix("http://testserver")).status_code == 200
    # another holder cannot revoke it
    other = Client()
    other.force_login(people["other_user"])
    assert other.post(f"/my/licences/share-links/{link.pk}/revoke/").status_code == 404
    assert citizen.post(f"/my/licences/share-links/{link.pk}/revoke/").status_code == 302
    assert Client().get(url.removeprefix("http://testserver")).status_code == 410


@pytest.mark.parametrize("form,message", [
    ({"hours": "0"}, "有效时长应在 1 小时到 30 天之间"),
    ({"hours": "x"}, "有效时长应为整数小时"),
    ({"hours": "24", "fields": ["password"]}, "不能展示字段“password”"),
])
def test_bad_share_forms_say_why_and_change_nothing(citizen, people, types, departments, form, message):
    lic = issue(people["citizen"], types["jhz"], departments)
    r = citizen.post("/my/licences/", {"licence": lic.identifier, **form})
    assert r.status_code == 400 and message in r.content.decode()
    assert not ShareLink.objects.exists()


def test_sharing_someone_elses_licence_is_not_found(citizen, people, types, departments):
    theirs = issue(people["other"], types["jhz"], departments)
    assert citizen.post("/my/licences/", {"licence": theirs.identifier, "hours": "1"}).status_code == 404
    assert not ShareLink.objects.exists()


def test_the_share_form_needs_csrf(people, types, departments):
    lic = issue(people["citizen"], types["jhz"], departments)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(people["citizen_user"])
    assert 'name="csrfmiddlewaretoken"' in strict.get("/my/licences/").content.decode()
    assert strict.post("/my/licences/", {"licence": lic.identifier, "hours": "1"}).status_code == 403
    assert not ShareLink.objects.exists()


def test_licence_uses_page_lists_mine_without_n_plus_one(citizen, people, types, departments, django_assert_max_num_queries):
    mine = issue(people["citizen"], types["jhz"], departments)
    theirs = issue(people["other"], types["jhz"], departments)
    LicenceUse.objects.bulk_create([LicenceUse(licence=mine, via=LicenceUse.Via.CASE, department=departments["market"],
                                               case_number=f"440800-20261126-{i:06d}", purpose="办理食品经营许可免提交") for i in range(25)])
    LicenceUse.objects.create(licence=theirs, via=LicenceUse.Via.CASE, department=departments["police"], case_number="440800-20261126-999999")
    with django_assert_max_num_queries(8):
        html = citizen.get("/my/licences/uses/").content.decode()
    assert "共 <strong>25</strong> 条" in html and "湛江市市场监督管理局" in html and "440800-20261126-999999" not in html
    assert "440800-20261126-000024" in html and "440800-20261126-000004" not in html  # 20 a page, newest first


def test_ratings_page_lists_mine_and_links_the_cases_to_rate(citizen, people, make_item):
    from bianmin.supervision.models import Rating

    item = make_item(audience="both")

    def decided():
        case = services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                           materials={m.pk: {"at_window": True} for m in item.materials.all()})
        case = services.accept_case(case, actor=people["clerk"].user)
        services.complete_task(case.tasks.get(), actor=people["reviewer"].user, opinion="符合条件")
        return services.decide_case(case, actor=people["approver"].user, approved=True, reasons="符合条件")

    rated, unrated = decided(), decided()
    Rating.objects.create(case=rated, applicant=people["citizen"], department=rated.department, score=2, comment="等候时间太长",
                          state=Rating.State.PENDING)
    html = citizen.get("/my/ratings/").content.decode()
    assert "不满意" in html and "等候时间太长" in html and "待整改" in html
    assert f'href="/my/cases/{unrated.number}/rate/"' in html and f'href="/my/cases/{rated.number}/rate/"' not in html
    assert "待评价</span>" in citizen.get("/my/").content.decode()


def test_home_reads_are_bounded(citizen, people, types, departments, make_item, django_assert_max_num_queries):
    for i in range(5):
        issue(people["citizen"], types["jhz"], departments, valid_until=clock.today() + timedelta(days=10 + i))
    item = make_item(audience="both")
    for _ in range(5):
        services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                    materials={m.pk: {"at_window": True} for m in item.materials.all()})
    with django_assert_max_num_queries(14):
        html = citizen.get("/my/").content.decode()
    assert html.count("结婚证将于") == 5
    with django_assert_max_num_queries(8):
        assert citizen.get("/my/licences/").status_code == 200


def test_next_items_data_names_items_of_the_demo_catalog_and_known_licence_types():
    import json
    from pathlib import Path

    from bianmin.cases.personal_views import next_items_rules

    data_dir = Path(services.__file__).resolve().parents[1] / "demo" / "data"
    items = [row for f in sorted(data_dir.glob("items_*.json")) for row in json.loads(f.read_text(encoding="utf-8"))]
    codes = {row["code"] for row in items}
    type_codes = {row["result_licence_type"] for row in items} | {m.get("satisfied_by") for row in items for m in row["materials"]}
    rules = next_items_rules()
    for key, rule in list(rules["by_licence_type"].items()) + list(rules["by_item"].items()):
        assert rule["title"] and set(rule["items"]) <= codes, key
    assert set(rules["by_licence_type"]) <= type_codes and set(rules["by_item"]) <= codes
