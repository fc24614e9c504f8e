"""The case console in a real browser: a clerk registers a walk-in application and accepts it, then a
reviewer completes the review task. Desktop and tablet (820x1180) screenshots go to ./var/screenshots/
(console-queue-*, console-case-*, console-tasks-*) for a human to look at.

Data is created through the services (live_server needs transactional_db)."""

from __future__ import annotations

import datetime
import re

import pytest

from bianmin.cases import clock, services
from bianmin.core import workdays
from bianmin.core.identities import resident_id_with_check

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Bianmin!2026"
from tests.e2e.conftest import NO_OVERFLOW_JS


@pytest.fixture
def item(make_item):
    return make_item(name="食品经营许可证核发", audience="both", statutory_days=20, promised_days=5, max_visits=1)


def _login(page, base, username, next_path):
    page.goto(f"{base}/console/login/?next={next_path}")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}{next_path}")


def _logout(page):
    page.goto(page.url.split("/console/")[0] + "/console/")
    page.get_by_role("button", name="退出登录").click()


def _no_overflow(page, what):
    overflow = page.evaluate(NO_OVERFLOW_JS)
    assert overflow <= 0, f"{what}: page is {overflow}px wider than the screen"


def _accepted_on(people, item, day, monkeypatch):
    """A case accepted on `day` (the clock's today patched for the call only)."""
    with monkeypatch.context() as m:
        m.setattr(clock, "today", lambda: day)
        case = services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                           materials={x.pk: {"at_window": True} for x in item.materials.all()})
        return services.accept_case(case, actor=people["clerk"].user)


def test_clerk_registers_and_accepts_then_reviewer_completes(live_server, people, item, desktop, tablet, phone, screenshots,
                                                             monkeypatch):
    base = live_server.url
    # two earlier cases in review: one past its promised deadline, one with a day left (预警)
    today = clock.today()
    _accepted_on(people, item, today - datetime.timedelta(days=30), monkeypatch)
    four_back = today
    while workdays.workdays_between(four_back, today) < 4:
        four_back -= datetime.timedelta(days=1)
    _accepted_on(people, item, four_back, monkeypatch)
    # an online application already waiting, so the queue shows more than the walk-in
    services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                materials={m.pk: {"at_window": True} for m in item.materials.all()})

    page = desktop
    _login(page, base, "clerk", "/console/cases/queue/")
    assert page.get_by_role("heading", level=1).inner_text() == "受理队列"
    assert "440802********" in page.locator("main").inner_text()  # the citizen's ID, masked
    assert page.locator("tbody tr").count() == 1  # the accepted cases have left the queue
    page.screenshot(path=str(screenshots / "console-queue-desktop.png"), full_page=True)

    # 窗口登记: find the item by name, choose it, register the applicant, check the originals
    page.get_by_role("link", name="窗口登记申请").first.click()
    page.get_by_label("事项名称或实施编码").fill("食品经营")
    page.get_by_role("button", name="查找事项").click()
    page.get_by_role("link", name="食品经营许可证核发").click()
    page.get_by_label("证件号码").fill(resident_id_with_check("44080219800101001"))
    page.get_by_label("姓名或名称").fill("王五")
    page.get_by_label("手机号码").fill("13900000000")
    # the first try leaves a required material out: the error summary names it
    first = item.materials.first()
    page.locator(f"#material_{first.pk}_none").check()
    with page.expect_navigation():
        page.get_by_role("button", name="提交申请").click()
    alert = page.get_by_role("alert")
    assert "以下必要材料尚未提交" in alert.inner_text()
    page.locator(f"#material_{first.pk}_at_window").check()
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url(re.compile(r".*/console/cases/440800-\d{8}-\d{6}/$"))
    number = page.url.rstrip("/").rsplit("/", 1)[1]
    assert "已登记王五的申请" in page.get_by_role("status").first.inner_text()
    assert page.get_by_role("heading", level=1).inner_text() == "食品经营许可证核发"
    page.screenshot(path=str(screenshots / "console-case-desktop-submitted.png"), full_page=True)

    # 受理 with the keyboard: the button is reachable and works with Enter
    page.get_by_role("button", name="受理", exact=True).focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "已受理" in page.get_by_role("status").first.inner_text()
    assert "审查中" in page.locator(".case-sub").inner_text()
    assert "正常" in page.locator(".case-facts").inner_text()
    page.screenshot(path=str(screenshots / "console-case-desktop.png"), full_page=True)

    tablet_page = tablet
    _login(tablet_page, base, "clerk", "/console/cases/queue/")
    _no_overflow(tablet_page, "queue on a tablet")
    tablet_page.screenshot(path=str(screenshots / "console-queue-tablet.png"), full_page=True)
    _logout(tablet_page)
    _logout(page)

    # the reviewer: my tasks, open the case, complete the review
    _login(page, base, "reviewer", "/console/cases/tasks/")
    assert number in page.locator("table").inner_text()
    rows = page.locator("tbody tr")
    assert rows.count() == 3
    assert "超期" in rows.nth(0).inner_text() and "row-overdue" in rows.nth(0).get_attribute("class")  # nearest deadline first
    assert "预警" in rows.nth(1).inner_text() and "剩 1 个工作日" in rows.nth(1).inner_text()
    page.screenshot(path=str(screenshots / "console-tasks-desktop.png"), full_page=True)
    _login(tablet_page, base, "reviewer", "/console/cases/tasks/")
    _no_overflow(tablet_page, "tasks on a tablet")
    tablet_page.screenshot(path=str(screenshots / "console-tasks-tablet.png"), full_page=True)

    tablet_page.get_by_role("link", name=number).click()
    with tablet_page.expect_navigation():
        tablet_page.get_by_role("button", name="完成审查").click()  # no opinion: the service says so
    assert "请填写审查意见" in tablet_page.get_by_role("alert").inner_text()
    tablet_page.get_by_label("审查意见").fill("材料齐全,符合法定条件")
    tablet_page.get_by_role("button", name="完成审查").click()
    tablet_page.wait_for_url(f"{base}/console/cases/{number}/")
    assert "审查意见已提交" in tablet_page.get_by_role("status").first.inner_text()
    assert "材料齐全,符合法定条件" in tablet_page.locator("#h-history + .console-timeline").inner_text()
    _no_overflow(tablet_page, "case page on a tablet")
    tablet_page.screenshot(path=str(screenshots / "console-case-tablet.png"), full_page=True)

    # and on a phone: the same case page, one column, nothing wider than the screen
    _login(phone, base, "reviewer", f"/console/cases/{number}/")
    _no_overflow(phone, "case page on a phone")
    phone.screenshot(path=str(screenshots / "console-case-phone.png"), full_page=True)
