"""The supervisors' KPI dashboard in a real browser, on a desktop and on a 360 px phone: the figures,
the SVG charts, a drill-down, no sideways scrolling. Screenshots: var/screenshots/dashboard-desktop.png, dashboard-drilldown-desktop.png,
dashboard-phone-360.png.
Data: test_kpis' hand-built `world` (today Tue 2026-11-10)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.e2e.conftest import NO_OVERFLOW_JS
from tests.supervision.test_kpis import world  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Bianmin!2026"


def _login(page, base, username, next_path):
    page.goto(f"{base}/console/login/?next={quote(next_path)}")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}{next_path}")


def test_supervisor_reads_the_dashboard(live_server, world, staff, desktop, chromium, screenshots):  # noqa: F811
    base = live_server.url
    path = "/console/supervision/?from=2026-09&to=2026-10"
    _login(desktop, base, "supervisor", path)
    assert desktop.get_by_role("heading", level=1).inner_text().startswith("效能监督指标看板")
    row = desktop.locator("table.dash-kpis").get_by_role("row", name="网上可办率")
    assert "62.5%" in row.inner_text() and "差 37.5 个百分点" in row.inner_text()
    charts = desktop.locator("svg.chart[role=img]")
    assert charts.count() >= 4
    assert desktop.locator("svg.chart title").first.text_content().startswith("全市办件按月走势")
    desktop.screenshot(path=str(screenshots / "dashboard-desktop.png"), full_page=True)

    # drill down from the on-time rate to the late case
    desktop.get_by_role("link", name="按时办结率:未达标办件").click()
    desktop.wait_for_url("**/kpi/on_time_rate/**")
    assert world["cases"]["D"].number in desktop.locator("table.data-table").inner_text()
    assert "共 1 件办件" in desktop.content()
    desktop.screenshot(path=str(screenshots / "dashboard-drilldown-desktop.png"), full_page=True)

    # a 360 px phone: the same page without sideways scrolling
    context = chromium.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 360, "height": 740},
                                   device_scale_factor=2, is_mobile=True, has_touch=True)
    try:
        phone = context.new_page()
        _login(phone, base, "supervisor", path)
        assert phone.evaluate(NO_OVERFLOW_JS) <= 0
        box = phone.locator("svg.chart").first.bounding_box()
        assert box["width"] <= 360
        phone.screenshot(path=str(screenshots / "dashboard-phone-360.png"), full_page=True)
    finally:
        context.close()
