"""超期 / 预警 / 正常 (T7): one rule, and every place that shows it agrees.

Issue 10: a case due Friday 2026-11-06 was, on Saturday, 预警 on its own clock, missing from the
public notice and counted on the dashboard. The rule: a running case is overdue from the day AFTER
its deadline day, whether or not that day is a working day; 预警 while 2 or fewer working days are
left. Each scenario below is checked on the case's clock, the applicant's API, the public notice,
the dashboard's figure (the KPI API), the dashboard's drill-down and the console's case filter.

2026 calendar (tests/core/test_workdays.py): 劳动节 off Fri 05-01 .. Tue 05-05, make-up Sat 05-09;
国庆 off Thu 10-01 .. Wed 10-07, make-up Sun 09-20 and Sat 10-10.
"""

import io
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from openpyxl import load_workbook

from bianmin.cases import clock
from bianmin.core import services as auth
from bianmin.cases.models import Applicant, Case, CaseStatus
from bianmin.core import workdays
from bianmin.core.identities import mask_case_number, resident_id_with_check
from bianmin.org.models import Role
from bianmin.supervision.kpis import selectors as kpis
from tests.conftest import make_staff

D = date


@pytest.fixture
def today(monkeypatch):
    day = [D(2026, 11, 2)]
    monkeypatch.setattr(workdays, "today", lambda: day[0])
    return day


@pytest.fixture
def world(db, departments, make_item, today):
    item = make_item(audience="both", promised_days=5, name="食品经营许可证核发")
    user = User.objects.create_user(username="applicant", password="Bianmin!2026")
    applicant = Applicant.objects.create(kind="person", name="王五", id_number=resident_id_with_check("44080219800101001"),
                                         user=user)
    supervisor = make_staff("supervisor", departments["market"], Role.SUPERVISOR)
    return {"item": item, "applicant": applicant, "user": user, "supervisor": supervisor.user}


NUMBER = "440800-20260901-000001"


def running_case(world, deadline: date, n: int) -> Case:
    return Case.objects.create(
        number=f"440800-20260901-{n:06d}", item=world["item"], item_version=1,
        department_id=world["item"].department_id, applicant=world["applicant"], channel="online",
        accepted_on=deadline - timedelta(days=14), promised_deadline=deadline, statutory_deadline=deadline + timedelta(days=20),
        status=CaseStatus.IN_REVIEW)


def bearer(user):
    return {"Authorization": f"Bearer {auth.issue_token(user, '测试')}"}


def everywhere(client, world, case: Case, on: date) -> dict:
    """What each place says about `case` on day `on`."""
    cache.clear()
    client.force_login(world["supervisor"])
    notice = client.get("/notices/overdue/").content.decode()
    kpi = client.get("/api/v1/supervision/kpis", headers=bearer(world["supervisor"])).json()
    overdue_count = {k["code"]: k for k in kpi["kpis"]}["overdue_count"]["value"]
    drill = kpis.cases_behind("overdue_count", kpis.Scope(), kpis.parse_period(), today=on)
    console_overdue = client.get("/console/cases/", {"clock": "overdue"}).content.decode()
    console_warning = client.get("/console/cases/", {"clock": "warning"}).content.decode()
    api = client.get(f"/api/v1/cases/{case.number}", headers=bearer(world["user"])).json()["clock"]
    export = client.get("/console/supervision/kpi/overdue_count/", {"export": "xlsx"})
    sheet = load_workbook(io.BytesIO(export.content), read_only=True).worksheets[0]
    exported = [dict(zip(rows[0], r)) for rows in [list(sheet.iter_rows(values_only=True))] for r in rows[1:]]
    return {
        "clock": clock.clock(case, on=on).state,
        "api": api["state"],
        "notice": mask_case_number(case.number) in notice,
        "dashboard": overdue_count,
        "drilldown": case in drill,
        "export": [(r["办件编号"], r["计时状态"]) for r in exported],
        "console_overdue": case.number in console_overdue,
        "console_warning": case.number in console_warning,
    }


OVERDUE = {"clock": "overdue", "api": "overdue", "notice": True, "dashboard": 1.0, "drilldown": True,
           "export": [(NUMBER, "超期")], "console_overdue": True, "console_warning": False}
WARNING = {"clock": "warning", "api": "warning", "notice": False, "dashboard": 0.0, "drilldown": False, "export": [],
           "console_overdue": False, "console_warning": True}
ON_TIME = {**WARNING, "clock": "on_time", "api": "on_time", "console_warning": False}


@pytest.mark.parametrize("deadline, on, expected, remaining", [
    # a Friday deadline: the deadline day itself is 预警 (0 working days left) ...
    (D(2026, 11, 6), D(2026, 11, 6), WARNING, 0),
    # ... Saturday and Sunday, days off, are already 超期 (the limit ran out on Friday night) ...
    (D(2026, 11, 6), D(2026, 11, 7), OVERDUE, 0),
    (D(2026, 11, 6), D(2026, 11, 8), OVERDUE, 0),
    # ... and Monday is one working day over.
    (D(2026, 11, 6), D(2026, 11, 9), OVERDUE, -1),
    # Thursday before it: Thu -> Fri is 1 working day left: 预警; Tuesday before: Wed, Thu, Fri = 3: 正常.
    (D(2026, 11, 6), D(2026, 11, 5), WARNING, 1),
    (D(2026, 11, 6), D(2026, 11, 3), ON_TIME, 3),
    # a Friday deadline seen on a make-up working Saturday (劳动节 调休): overdue by one working day.
    (D(2026, 5, 8), D(2026, 5, 9), OVERDUE, -1),
    # National Day: due Wed 09-30, seen on the holiday Thu 10-01: overdue, no working day past yet.
    (D(2026, 9, 30), D(2026, 10, 1), OVERDUE, 0),
    # due on the make-up Saturday 10-10: on Sun 09-27 six working days are left (09-28, 09-29, 09-30, 10-08,
    # 10-09, 10-10): 正常; on the holiday 10-05 three are left: 正常;
    (D(2026, 10, 10), D(2026, 9, 27), ON_TIME, 6),
    (D(2026, 10, 10), D(2026, 10, 5), ON_TIME, 3),
    # on Thu 10-08 two are left (10-09, 10-10): 预警; on Sun 10-11 it is over.
    (D(2026, 10, 10), D(2026, 10, 8), WARNING, 2),
    (D(2026, 10, 10), D(2026, 10, 11), OVERDUE, 0),
])
def test_every_place_agrees(client, world, today, deadline, on, expected, remaining):
    case = running_case(world, deadline, 1)
    today[0] = on
    assert clock.clock(case, on=on).remaining == remaining
    assert everywhere(client, world, case, on) == expected


def test_paused_and_finished_cases_are_neither(client, world, today):
    paused = running_case(world, D(2026, 11, 6), 1)
    Case.objects.filter(pk=paused.pk).update(status=CaseStatus.SUPPLEMENT, stopped_on=D(2026, 11, 4))
    paused.refresh_from_db()
    today[0] = D(2026, 11, 9)
    got = everywhere(client, world, paused, D(2026, 11, 9))
    assert (got["clock"], got["api"], got["notice"], got["dashboard"], got["export"], got["console_overdue"]) == (
        "paused", "paused", False, 0.0, [], False)


def test_the_queries_come_from_the_clock(world, today):
    """The Q expressions select exactly the cases whose clock says so, over a month of days."""
    cases = [running_case(world, D(2026, 9, 25) + timedelta(days=i), i) for i in range(20)]
    day = D(2026, 9, 20)
    while day <= D(2026, 10, 20):
        overdue = set(Case.objects.filter(clock.overdue_q(day)).values_list("pk", flat=True))
        warning = set(Case.objects.filter(clock.warning_q(day)).values_list("pk", flat=True))
        assert overdue == {c.pk for c in cases if clock.clock(c, on=day).state == clock.State.OVERDUE}, day
        assert warning == {c.pk for c in cases if clock.clock(c, on=day).state == clock.State.WARNING}, day
        day += timedelta(days=1)
