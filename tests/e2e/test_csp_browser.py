"""Pages under the Content-Security-Policy in a real browser (issue 11, point 2): no violation is
reported on the public pages, the logins, the admin, the API docs, the catalog console (its stylesheet,
once inline) and the plan tracker (its progress bars and print button, once inline style and handler);
and the policy is really enforced: a script injected inline does not run and is reported."""

from __future__ import annotations

import pytest

from bianmin.org.models import Role
from bianmin.supervision.tracker import services as tracker
from bianmin.supervision.models import PlanTask
from tests.conftest import make_department, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Bianmin!2026"
# Playwright's init scripts run outside the page's policy: they record what the policy blocks, and
# stand in for the print dialog a headless browser cannot show.
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + e.sourceFile + ':' + e.lineNumber);
});
window.__printed = 0;
window.print = function () { window.__printed += 1; };
"""


@pytest.fixture
def page(desktop):
    desktop.add_init_script(WATCH)
    messages = []
    desktop.on("console", lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None)
    desktop.csp_console = messages
    return desktop


def _violations(page) -> list[str]:
    return page.evaluate("() => window.__csp") + page.csp_console


def _login(page, base, username, next_path):
    page.goto(f"{base}/console/login/?next={next_path}")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}{next_path}")


def test_public_pages_logins_admin_and_api_docs_have_no_violation(live_server, page, staff):
    base = live_server.url
    for path, heading in (("/", None), ("/proofs/", None), ("/account/login/", "登录"), ("/account/register/", None),
                          ("/console/login/", "工作人员登录"), ("/admin/login/", None)):
        response = page.goto(base + path)
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        if heading:
            assert heading in page.get_by_role("heading", level=1).inner_text()
        page.wait_for_load_state("load")
        assert _violations(page) == [], path
    page.goto(base + "/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info", timeout=15_000)  # the docs are drawn by their own script
    assert _violations(page) == [], "/api/v1/docs"


def test_consoles_work_under_the_policy(live_server, page, regions, departments, staff, make_item):
    base = live_server.url
    zs = make_department("湛江市政务服务数据管理局", regions["city"])
    make_item(online_level=4, audience="both", nearby_levels="city,county,town")
    tracker.load_plan_tasks()
    tracker.report_progress(PlanTask.objects.get(number=16), make_staff("zs_staff", zs, Role.REVIEWER), 80, "电子证照库已建成", False)

    _login(page, base, "market_admin", "/console/catalog/")
    # the catalog console's layout now comes from a stylesheet: its sub-navigation is a flex row
    assert page.locator(".console .subnav").first.evaluate("e => getComputedStyle(e).display") == "flex"
    assert _violations(page) == []
    page.goto(f"{base}/console/")
    page.get_by_role("button", name="退出登录").click()

    _login(page, base, "supervisor", "/console/supervision/plan/")
    bars = page.locator("progress.plan-bar")
    assert bars.count() == 1  # the one task with a report
    assert bars.first.get_attribute("value") == "80" and bars.first.evaluate("e => e.getBoundingClientRect().width") == 64
    page.goto(f"{base}/console/supervision/plan/report/")
    page.get_by_role("button", name="打印").click()  # the handler moved from onclick= to site.js
    assert page.evaluate("() => window.__printed") == 1
    assert _violations(page) == []


def test_the_policy_is_enforced(live_server, page, db):
    page.goto(live_server.url + "/")
    ran = page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';
                                   document.body.appendChild(s); return window.__ran === 1; }""")
    assert ran is False
    page.wait_for_function("() => window.__csp.length > 0")
    assert _violations(page)[0].startswith("script-src-elem inline")
