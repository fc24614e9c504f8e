"""The plan tracker in a real browser: a responsible unit reports progress with the keyboard, a supervisor
reads the list and the one-page report. Screenshots go to ./var/screenshots/ (plan-list-*, plan-task-*,
plan-report-*) for a human to look at.

Data is created through the services (live_server needs transactional_db)."""

from __future__ import annotations

import pytest

from bianmin.org.models import Department, Level, Role
from bianmin.supervision.tracker import services as tracker
from bianmin.supervision.models import PlanTask
from tests.conftest import make_department, make_staff
from tests.e2e.conftest import NO_OVERFLOW_JS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Bianmin!2026"


def _login(page, base, username, next_path):
    page.goto(f"{base}/console/login/?next={next_path}")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}{next_path}")


def _no_overflow(page, what):
    overflow = page.evaluate(NO_OVERFLOW_JS)
    assert overflow <= 0, f"{what}: page is {overflow}px wider than the screen"


def test_unit_reports_and_supervisor_reads_the_report(live_server, departments, regions, staff, make_item, desktop, phone,
                                                      screenshots):
    base = live_server.url
    zs = make_department("湛江市政务服务数据管理局", regions["city"])
    make_department("湛江市司法局", regions["city"])
    make_department("湛江市赤坎区人民政府", regions["chikan"], Level.COUNTY, kind=Department.Kind.GOVERNMENT)
    for level in (4, 4, 3, 1):  # 网上可办率 3/4 = 75%
        make_item(online_level=level, audience="both", nearby_levels="city,county,town")
    tracker.load_plan_tasks()
    zs_staff = make_staff("zs_staff", zs, Role.REVIEWER)
    tasks = {t.number: t for t in PlanTask.objects.all()}
    for n in (5, 6, 14, 15):
        tracker.report_progress(tasks[n], zs_staff, 100, "已完成(测试数据)", True)
    tracker.report_progress(tasks[16], zs_staff, 80, "电子证照库已建成", False)
    tracker.report_progress(tasks[20], zs_staff, 70, "持续推进", False)

    # the 政数局's staff reports on task 10 with the keyboard
    page = desktop
    _login(page, base, "zs_staff", "/console/supervision/plan/10/")
    assert page.get_by_role("heading", level=1).inner_text() == "10. 完善综合窗口政务服务模式"
    page.get_by_label("完成进度(%)").fill("60")
    page.get_by_label("进展情况").fill("综合窗口已覆盖市民服务中心全部进驻部门")
    page.get_by_label("进展情况").press("Tab")
    page.keyboard.press("Space")  # checks 任务已全部完成 — with 60%, the service refuses
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "完成进度应为 100%" in page.get_by_role("alert").inner_text()
    page.get_by_label("任务已全部完成").uncheck()
    with page.expect_navigation():
        page.get_by_role("button", name="报送").click()
    assert "已报送任务 10 的进展" in page.get_by_role("status").first.inner_text()
    assert "综合窗口已覆盖市民服务中心全部进驻部门" in page.locator("#reports").inner_text()
    page.screenshot(path=str(screenshots / "plan-task-desktop.png"), full_page=True)
    page.goto(f"{base}/console/")
    page.get_by_role("button", name="退出登录").click()

    _login(page, base, "supervisor", "/console/supervision/plan/")
    assert page.get_by_role("heading", level=1).inner_text() == "改革任务分解"
    assert page.locator("tbody tr").count() == 30
    row2 = page.locator("tbody tr").nth(1).inner_text()
    assert "网上可办率" in row2 and "75%" in row2
    page.screenshot(path=str(screenshots / "plan-list-desktop.png"), full_page=True)
    page.get_by_role("link", name="进展报告").click()
    assert "任务进展情况" in page.get_by_role("heading", level=1).inner_text()
    page.screenshot(path=str(screenshots / "plan-report-desktop.png"), full_page=True)
    page.emulate_media(media="print")
    page.screenshot(path=str(screenshots / "plan-report-print.png"), full_page=True)
    page.emulate_media(media="screen")

    _login(phone, base, "supervisor", "/console/supervision/plan/")
    _no_overflow(phone, "plan list on a phone")
    phone.screenshot(path=str(screenshots / "plan-list-phone.png"), full_page=True)
    phone.screenshot(path=str(screenshots / "plan-list-phone-top.png"))
    phone.goto(f"{base}/console/supervision/plan/2/")
    _no_overflow(phone, "plan task on a phone")
    phone.screenshot(path=str(screenshots / "plan-task-phone-top.png"))
    phone.goto(f"{base}/console/supervision/plan/report/")
    _no_overflow(phone, "plan report on a phone")
    phone.screenshot(path=str(screenshots / "plan-report-phone.png"), full_page=True)
    phone.screenshot(path=str(screenshots / "plan-report-phone-top.png"))
    phone.set_viewport_size({"width": 360, "height": 780})  # the narrowest phone the project supports
    for path in ("/console/supervision/plan/", "/console/supervision/plan/1/", "/console/supervision/plan/report/"):
        phone.goto(f"{base}{path}")
        _no_overflow(phone, f"{path} at 360 px")
