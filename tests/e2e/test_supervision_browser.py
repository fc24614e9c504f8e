"""Browser tests of the public overdue notices and the 好差评 form on a 360 px phone, with screenshots in
./var/screenshots/ (notices-overdue-phone.png, rate-form-phone.png, rate-done-phone.png,
alerts-console-desktop.png) for a human to look at."""

from __future__ import annotations

from datetime import date

import pytest
from django.conf import settings as django_settings
from django.test import Client

from bianmin.cases import services
from bianmin.core import workdays
from bianmin.supervision.alerts.services import run_alerts
from bianmin.supervision.models import Rating
from tests.e2e.conftest import NO_OVERFLOW_JS, _page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE_360 = {"width": 360, "height": 780}


@pytest.fixture
def phone360(chromium):
    yield from _page(chromium, viewport=PHONE_360, device_scale_factor=2, is_mobile=True, has_touch=True)


@pytest.fixture
def today(monkeypatch):
    day = [date(2026, 11, 2)]
    monkeypatch.setattr(workdays, "today", lambda: day[0])
    return day


@pytest.fixture
def item(make_item):
    return make_item(audience="both", promised_days=5, name="食品经营许可证核发")


def _accept(people, item, today, day):
    today[0] = day
    case = services.submit_application(applicant=people["citizen"], item=item, actor=people["citizen_user"],
                                       materials={m.pk: {"at_window": True} for m in item.materials.all()})
    return services.accept_case(case, actor=people["clerk"].user)


def _login(page, live_server, user):
    """Give the browser the session of a user logged in through Django's test client."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME,
                               "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value, "url": live_server.url}])


def test_overdue_notices_on_a_phone(live_server, people, item, make_item, departments, today, phone360, screenshots):
    police_item = make_item(departments["police"], audience="both", promised_days=5, name="户口迁移审批")
    for _ in range(3):
        _accept(people, item, today, date(2026, 11, 2))
    _accept(people, police_item, today, date(2026, 11, 3))
    today[0] = date(2026, 11, 16)
    page = phone360
    page.goto(live_server.url + "/notices/overdue/")
    assert page.title() == "超时办结公告 - 湛江市政务服务网"
    assert page.get_by_role("heading", name="超时办结公告").is_visible()
    assert page.locator("table.notice-table tbody tr").count() == 4
    assert "张三" not in page.content()
    assert page.evaluate(NO_OVERFLOW_JS) <= 0, "the notice page is wider than a 360 px phone"
    page.screenshot(path=str(screenshots / "notices-overdue-phone.png"), full_page=True)
    page.get_by_role("link", name="湛江市公安局 1 件").click()
    page.wait_for_url("**department=*")
    assert page.locator("table.notice-table tbody tr").count() == 1


def test_rate_a_finished_case_on_a_phone(live_server, people, item, today, phone360, screenshots):
    case = _accept(people, item, today, date(2026, 11, 2))
    services.complete_task(case.tasks.get(), actor=people["reviewer"].user, opinion="符合条件")
    services.decide_case(case, actor=people["approver"].user, approved=True, reasons="符合条件,准予许可")
    page = phone360
    _login(page, live_server, people["citizen_user"])
    page.goto(f"{live_server.url}/my/cases/{case.number}/")
    page.get_by_role("link", name="评价", exact=True).click()
    page.wait_for_url(f"**/my/cases/{case.number}/rate/")
    assert page.get_by_role("heading", name="评价本次服务").is_visible()
    page.get_by_label("2 分 · 不满意").check()
    page.get_by_label("办事效率").check()
    page.get_by_label("意见建议(选填)").fill("等待时间较长,希望增加窗口。")
    assert page.evaluate(NO_OVERFLOW_JS) <= 0, "the rating form is wider than a 360 px phone"
    page.screenshot(path=str(screenshots / "rate-form-phone.png"), full_page=True)
    page.get_by_role("button", name="提交评价").click()
    page.wait_for_url(f"**/my/cases/{case.number}/")
    assert "感谢您的评价" in page.content()
    r = Rating.objects.get(case=case)
    assert (r.score, r.indicators, r.state) == (2, ["efficiency"], "pending")
    page.screenshot(path=str(screenshots / "rate-done-phone.png"), full_page=True)


def test_alerts_console_on_a_desktop(live_server, people, item, staff, today, desktop, screenshots):
    for day in (date(2026, 11, 2), date(2026, 11, 2), date(2026, 11, 4)):
        _accept(people, item, today, day)
    today[0] = date(2026, 11, 10)
    run_alerts(today[0])
    page = desktop
    _login(page, live_server, staff["supervisor"].user)
    page.goto(live_server.url + "/console/supervision/alerts/")
    assert page.get_by_role("heading", name="预警督办").is_visible()
    assert page.locator("tbody tr").count() == 3
    page.screenshot(path=str(screenshots / "alerts-console-desktop.png"), full_page=True)


def test_published_rating_figures_on_a_phone(live_server, people, item, today, phone360, screenshots):
    from bianmin.supervision.ratings import services as ratings

    for score in (5, 4, 1):
        case = _accept(people, item, today, date(2026, 11, 2))
        services.complete_task(case.tasks.get(), actor=people["reviewer"].user, opinion="符合条件")
        services.decide_case(case, actor=people["approver"].user, approved=True, reasons="符合条件,准予许可")
        ratings.rate_online(people["citizen_user"], case.number, score=score)
    page = phone360
    page.goto(live_server.url + "/ratings/")
    assert page.get_by_role("heading", name="政务服务好差评公示").is_visible()
    assert "33.3%" in page.content()  # 差评率: 1 of 3
    assert "张三" not in page.content()
    assert page.evaluate(NO_OVERFLOW_JS) <= 0, "the figures are wider than a 360 px phone"
    page.screenshot(path=str(screenshots / "ratings-stats-phone.png"), full_page=True)


def test_department_answers_a_bad_rating_in_the_console(live_server, people, item, today, desktop, screenshots):
    from bianmin.supervision.ratings import services as ratings

    case = _accept(people, item, today, date(2026, 11, 2))
    services.complete_task(case.tasks.get(), actor=people["reviewer"].user, opinion="符合条件")
    services.decide_case(case, actor=people["approver"].user, approved=True, reasons="符合条件,准予许可")
    rating = ratings.rate_online(people["citizen_user"], case.number, score=1, indicators=["attitude"], comment="窗口态度差")
    page = desktop
    _login(page, live_server, people["approver"].user)
    page.goto(live_server.url + "/console/supervision/ratings/")
    page.get_by_role("link", name="1 分 · 非常不满意").click()
    page.wait_for_url(f"**/console/supervision/ratings/{rating.pk}/")
    assert page.get_by_role("heading", name="答复整改").is_visible()
    assert page.get_by_role("heading", name="申诉恶意差评").is_visible()  # the head may appeal
    page.screenshot(path=str(screenshots / "rating-console-desktop.png"), full_page=True)
    page.get_by_label("整改答复(申请人可见)").fill("已对窗口人员批评教育并培训,感谢监督。")
    page.get_by_role("button", name="提交答复").click()
    page.wait_for_url(f"**/console/supervision/ratings/{rating.pk}/")
    assert "已答复,申请人将收到通知" in page.content()
    rating.refresh_from_db()
    assert rating.state == "rectified"
