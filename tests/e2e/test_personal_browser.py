"""The enterprise page (企业专属网页) in a real browser: reminders, licences, sharing a verification link
and opening it as someone else; on a desktop and on a 360 px phone. Screenshots: var/screenshots/personal-*.png."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User

from bianmin.cases import clock, identity, services
from bianmin.core.identities import uscc_with_check
from bianmin.licences import services as licence_services
from bianmin.licences.models import LicenceType, LicenceUse
from tests.e2e.conftest import NO_OVERFLOW_JS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Zhanjiang!2026"
SEAL = "44GG00201600-440800000000-000-114408000074855067-1-00"
INVOICE = "44GG00900100-440800000000-000-11440800007386997Y-1-00"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "files"


@pytest.fixture
def company(people, departments, make_item):
    uscc = uscc_with_check("91440800MA4W12345")
    user = User.objects.create_user(username=uscc, password=PASSWORD)
    company = services.register_applicant(kind="legal_person", name="湛江市海鲜餐饮有限公司", id_number=uscc, phone="13900000000",
                                          user=user, legal_representative="王五")
    identity.mark_verified(applicant=company, method="window")  # a verified holder sees its licences (issue 11)
    market = departments["market"]
    renew = make_item(name="食品经营许可延续", audience="legal_person")
    LicenceType.objects.filter(code="spjyxkz").update(renewal_item_code=renew.code,
                                                      renewal_hint="有效期届满 30 个工作日前申请延续,可全程网办。")
    today = clock.today()
    licence_services.issue_licence(licence_type="yyzz", holder_name=company.name, holder_id_number=uscc, issuer=market,
                                   surface={"类型": "有限责任公司", "法定代表人": "王五", "注册资本": "100 万元"})
    food = licence_services.issue_licence(licence_type="spjyxkz", holder_name=company.name, holder_id_number=uscc, issuer=market,
                                          issued_on=today - timedelta(days=1800), valid_until=today + timedelta(days=45))
    LicenceUse.objects.create(licence=food, via=LicenceUse.Via.CASE, department=market, case_number="440800-20261120-000007",
                              purpose="办理“食品经营许可变更”免提交")
    make_item(code=SEAL, name="公章刻制备案", audience="legal_person", department=departments["police"])
    make_item(code=INVOICE, name="发票领用", audience="both")
    item = make_item(name="户外广告设置许可", audience="legal_person")
    case = services.submit_application(applicant=company, item=item, actor=user, materials={m.pk: {"at_window": True} for m in item.materials.all()})
    services.request_supplement(case, actor=people["clerk"].user, missing_ids=[case.materials.first().pk], note="请上传盖章件")
    return company


def _login(page, base, company):
    page.goto(base + "/account/login/?next=/my/")
    page.get_by_label("证件号码").fill(company.id_number)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(base + "/my/")


def test_enterprise_page_and_sharing_on_a_desktop(live_server, company, desktop, screenshots):
    page = desktop
    _login(page, live_server.url, company)
    main = page.locator("main").inner_text()
    assert "企业专属网页" in main and "王五" in main
    assert "食品经营许可证将于" in main and "还有 45 天" in main and "有 1 件办件需要您处理" in main
    assert "领取营业执照后,通常接着办" in main and "公章刻制备案" in main and "发票领用" in main
    page.screenshot(path=str(screenshots / "personal-enterprise-desktop.png"), full_page=True)

    page.get_by_role("link", name="企业证照").first.click()
    page.wait_for_url("**/my/licences/")
    card = page.locator(".licence-card", has_text="营业执照")
    card.locator("summary").click()
    card.get_by_label("有效时长").select_option("168")
    card.get_by_label("证照编号").check()
    card.get_by_role("button", name=re.compile("生成链接")).click()
    page.wait_for_url("**/my/licences/")
    url = page.locator("#new-link-url").input_value()
    assert "/licences/shared/" in url
    page.screenshot(path=str(screenshots / "personal-licences-desktop.png"), full_page=True)

    page.goto(url)
    shared = page.locator("main").inner_text()
    assert "真实有效" in shared and "湛江市海鲜餐饮有限公司" in shared and company.id_number not in shared
    page.screenshot(path=str(screenshots / "personal-shared-link-desktop.png"), full_page=True)


def test_enterprise_page_on_a_360px_phone(live_server, company, chromium, screenshots):
    context = chromium.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 360, "height": 780},
                                   device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        _login(page, live_server.url, company)
        assert page.evaluate(NO_OVERFLOW_JS) <= 0, "the personal page scrolls sideways at 360 px"
        page.screenshot(path=str(screenshots / "personal-enterprise-phone.png"), full_page=True)
        page.goto(live_server.url + "/my/licences/")
        assert page.evaluate(NO_OVERFLOW_JS) <= 0, "my licences scrolls sideways at 360 px"
        page.screenshot(path=str(screenshots / "personal-licences-phone.png"), full_page=True)
        page.goto(live_server.url + "/my/licences/uses/")
        assert "办理“食品经营许可变更”免提交" in page.locator("main").inner_text()
        assert page.evaluate(NO_OVERFLOW_JS) <= 0, "licence uses scroll sideways at 360 px"
        page.screenshot(path=str(screenshots / "personal-uses-phone.png"), full_page=True)
    finally:
        context.close()
