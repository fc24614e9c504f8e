"""Applying online in a real browser: register with a resident ID, apply with a real PDF, see the case
on 我的办件 and its page; the same on a phone. Screenshots go to ./var/screenshots/ (apply-*.png,
my-cases-*.png) for a human to look at.

Data is created in each test through the services (live_server needs transactional_db).
"""

from __future__ import annotations

import re

import pytest

from bianmin.cases import services
from bianmin.cases.models import Case, CaseStatus
from bianmin.core.identities import resident_id_with_check
from tests.cases.test_files import tiny_pdf, tiny_png

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

from tests.e2e.conftest import NO_OVERFLOW_JS
ID_NUMBER = resident_id_with_check("44080219880808123")
PASSWORD = "Zhanjiang!2026"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "files"


@pytest.fixture
def item(make_item, halls):
    return make_item(audience="both", online_level=4, name="食品经营许可证核发", halls=[halls["city"].pk], materials=[
        {"name": "食品经营许可申请书", "form": "form", "description": "可在本页下载申请书模板,签字后扫描上传"},
        {"name": "营业执照", "pending_allowed": True},
        {"name": "经营场所使用证明(房产证或租赁合同)", "commitment_allowed": True},
        {"name": "其他补充材料", "required": False},
    ])


def _materials(item):
    return {m.name: m for m in item.materials.all()}


def _assert_no_horizontal_overflow(page, what):
    overflow = page.evaluate(NO_OVERFLOW_JS)
    assert overflow <= 0, f"{what}: page is {overflow}px wider than the screen"


def test_register_apply_and_follow_the_case(live_server, item, people, desktop, screenshots):
    page = desktop
    m = _materials(item)
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="登录/注册").click()
    page.wait_for_url("**/account/login/")
    page.get_by_role("link", name="实名注册").click()
    page.wait_for_url("**/account/register/")
    assert page.title() == "实名注册 - 湛江市政务服务网"

    # a wrong check digit first: the error is beside the field and in the summary
    page.get_by_label("姓名").fill("陈小明")
    page.get_by_label("居民身份证号码").fill(ID_NUMBER[:-1] + ("0" if ID_NUMBER[-1] != "0" else "1"))
    page.get_by_label("手机号码").fill("13812345678")
    page.get_by_label("设置密码").fill(PASSWORD)
    page.get_by_label("再次输入密码").fill(PASSWORD)
    page.get_by_role("button", name="提交注册").click()
    assert "居民身份证号码校验位不符" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("居民身份证号码").get_attribute("aria-invalid") == "true"
    page.screenshot(path=str(screenshots / "apply-register-error-desktop.png"), full_page=True)
    page.get_by_label("居民身份证号码").fill(ID_NUMBER)
    page.get_by_label("设置密码").fill(PASSWORD)
    page.get_by_label("再次输入密码").fill(PASSWORD)
    page.get_by_role("button", name="提交注册").click()
    # one answer whatever the number (issue 11), then log in with the password just set
    assert "注册信息已提交" in page.get_by_role("heading", level=1).inner_text()
    page.get_by_role("link", name="登录", exact=True).click()
    page.wait_for_url("**/account/login/")
    page.get_by_label("证件号码").fill(ID_NUMBER)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_server.url + "/my/")
    assert "还没有提交过申请" in page.locator("main").inner_text()
    assert "账号尚未实名核验" in page.locator("main").inner_text()

    # apply: nothing attached first, so the form explains what is missing
    page.goto(f"{live_server.url}/apply/{item.code}/")
    assert page.get_by_role("heading", level=1).inner_text() == "食品经营许可证核发"
    page.screenshot(path=str(screenshots / "apply-form-desktop.png"), full_page=True)
    page.get_by_role("button", name="提交申请").click()
    alert = page.get_by_role("alert")
    assert "以下必要材料尚未提交" in alert.inner_text()
    page.screenshot(path=str(screenshots / "apply-errors-desktop.png"), full_page=True)

    # attach real files, promise instead of one proof, and save a draft
    page.locator(f"#file-{m['食品经营许可申请书'].pk}").set_input_files(
        files=[{"name": "申请书.pdf", "mimeType": "application/pdf", "buffer": tiny_pdf("application")}])
    page.get_by_role("button", name="保存草稿").click()
    page.wait_for_url(re.compile(r"/apply/draft/\d+/$"))
    assert page.get_by_label("保留 申请书.pdf").is_checked()
    page.locator(f"#file-{m['营业执照'].pk}").set_input_files(
        files=[{"name": "营业执照.png", "mimeType": "image/png", "buffer": tiny_png()}])
    page.get_by_label(re.compile("以告知承诺代替此材料")).check()
    page.screenshot(path=str(screenshots / "apply-draft-desktop.png"), full_page=True)
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url(re.compile(r"/my/cases/[0-9-]+/submitted/$"))
    case = Case.objects.get()
    assert case.status == CaseStatus.SUBMITTED
    assert case.number in page.locator(".case-number").inner_text()
    page.screenshot(path=str(screenshots / "apply-submitted-desktop.png"), full_page=True)

    # the double submission of the same form (browser back, submit again) made no second case
    assert Case.objects.count() == 1

    # 我的办件
    page.get_by_role("link", name="返回我的办件").click()
    page.wait_for_url(live_server.url + "/my/")
    row = page.locator("table.case-table tbody tr")
    assert row.count() == 1
    assert case.number in row.inner_text() and "待受理" in row.inner_text()
    page.screenshot(path=str(screenshots / "my-cases-desktop.png"), full_page=True)

    # the window asks for a supplement; the applicant sees what is asked and answers it
    licence = case.materials.get(name="营业执照")
    services.request_supplement(case, actor=people["clerk"].user, missing_ids=[licence.pk], note="请上传加盖公章的彩色扫描件")
    page.reload()
    assert "需要您:" in page.locator("table.case-table").inner_text()
    page.screenshot(path=str(screenshots / "my-cases-asked-desktop.png"), full_page=True)
    page.get_by_role("link", name="去上传").click()
    page.wait_for_url(f"**/my/cases/{case.number}/#asked")
    assert page.get_by_role("heading", name="需要您办理").is_visible()
    page.screenshot(path=str(screenshots / "my-cases-detail-desktop.png"), full_page=True)
    page.get_by_label("补正:营业执照").set_input_files(
        files=[{"name": "营业执照(盖章).pdf", "mimeType": "application/pdf", "buffer": tiny_pdf("licence")}])
    page.get_by_role("button", name="提交补正材料").click()
    page.wait_for_url(f"**/my/cases/{case.number}/")
    assert "补正材料已提交" in page.locator(".messages").inner_text()
    case.refresh_from_db()
    assert case.status == CaseStatus.SUBMITTED
    timeline = page.locator(".timeline").inner_text()
    assert "一次性告知补正:营业执照" in timeline and "补正材料已提交" in timeline
    with page.expect_download() as info:
        page.get_by_role("link", name="营业执照(盖章).pdf").click()
    assert info.value.suggested_filename == "营业执照(盖章).pdf"
    page.screenshot(path=str(screenshots / "my-cases-detail-after-desktop.png"), full_page=True)


def test_phone_apply_and_my_cases(live_server, item, people, phone, screenshots):
    page = phone
    user = people["citizen_user"]
    user.username = people["citizen"].id_number
    user.set_password(PASSWORD)
    user.save()
    m = _materials(item)
    page.goto(f"{live_server.url}/apply/{item.code}/")
    page.wait_for_url(re.compile(r"/account/login/\?next="))
    _assert_no_horizontal_overflow(page, "login")
    page.screenshot(path=str(screenshots / "apply-login-phone.png"), full_page=True)
    page.get_by_label("证件号码").fill(people["citizen"].id_number)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"**/apply/{item.code}/")
    _assert_no_horizontal_overflow(page, "apply form")
    page.screenshot(path=str(screenshots / "apply-form-phone.png"), full_page=True)
    for name in ("食品经营许可申请书", "营业执照"):
        page.locator(f"#file-{m[name].pk}").set_input_files(
            files=[{"name": f"{name}.pdf", "mimeType": "application/pdf", "buffer": tiny_pdf(name.encode().hex()[:10])}])
    page.get_by_label(re.compile("以告知承诺代替此材料")).check()
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url(re.compile(r"/submitted/$"))
    _assert_no_horizontal_overflow(page, "submitted")
    page.screenshot(path=str(screenshots / "apply-submitted-phone.png"), full_page=True)
    case = Case.objects.get(applicant=people["citizen"])
    # a second, older case of the same applicant and one of someone else's
    services.submit_application(applicant=people["other"], item=item, actor=people["other_user"], materials={
        mm.pk: {"at_window": True} for mm in item.materials.all()})
    page.goto(live_server.url + "/my/")
    _assert_no_horizontal_overflow(page, "my cases")
    main = page.locator("main").inner_text()
    assert case.number in main and "共 1 件" in main
    page.screenshot(path=str(screenshots / "my-cases-phone.png"), full_page=True)
    page.get_by_role("link", name="食品经营许可证核发").click()
    page.wait_for_url(f"**/my/cases/{case.number}/")
    _assert_no_horizontal_overflow(page, "case page")
    page.screenshot(path=str(screenshots / "my-cases-detail-phone.png"), full_page=True)
    page.get_by_label("撤回原因(选填)").fill("信息填错,重新申请")
    page.get_by_role("button", name="撤回申请").click()
    page.wait_for_url(f"**/my/cases/{case.number}/")
    assert "申请已撤回" in page.locator(".messages").inner_text()
    case.refresh_from_db()
    assert case.status == CaseStatus.WITHDRAWN


def test_works_without_javascript(live_server, item, people, no_js, screenshots):
    page = no_js
    page.goto(live_server.url + "/account/login/")
    page.get_by_label("证件号码").fill(people["citizen"].id_number)
    page.get_by_label("密码").fill("wrong")
    page.get_by_role("button", name="登录").click()
    assert "证件号码或密码不正确" in page.get_by_role("alert").inner_text()
