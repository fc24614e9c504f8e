"""Working days against the State Council's published 2025 and 2026 schedules, local overrides,
the provisional Monday–Friday fallback, and how fast an override edit is seen.

Expected values are worked out by hand in the comments (day 1 = first working day AFTER the start).
"""

from datetime import date, datetime, timedelta, timezone as dt_timezone

import chinese_calendar
import pytest
from django.core.cache import cache

from bianmin.core import workdays
from bianmin.core.models import AuditEntry, CalendarOverride
from bianmin.core.workdays import (
    DayInfo,
    WorkdayCount,
    WorkdayResult,
    add_workdays,
    add_workdays_detail,
    day_info,
    is_workday,
    workdays_between,
    workdays_between_detail,
)

D = date


@pytest.fixture(autouse=True)
def fresh_overrides():
    # Tests that bypass signals (QuerySet.update) must not leave their rows in the process copy.
    workdays.overrides_changed()
    yield
    workdays.overrides_changed()


@pytest.fixture
def package_without_2026(monkeypatch):
    """Pretend the package stops at 2025, as it will for the year after the last one it knows."""
    monkeypatch.setattr(workdays, "PACKAGE_YEARS", range(2004, 2026))


def off(d, reason="调整"):
    return CalendarOverride.objects.create(date=d, is_workday=False, reason=reason)


def on(d, reason="调整"):
    return CalendarOverride.objects.create(date=d, is_workday=True, reason=reason)


# --- the package itself, checked against the published notices ---------------------------------

# 国务院办公厅关于2026年部分节假日安排的通知: every day off and every weekend working day.
HOLIDAYS_2026 = {
    "元旦": [D(2026, 1, 1), D(2026, 1, 2), D(2026, 1, 3)],
    "春节": [D(2026, 2, d) for d in range(15, 24)],
    "清明": [D(2026, 4, 4), D(2026, 4, 5), D(2026, 4, 6)],
    "劳动节": [D(2026, 5, d) for d in range(1, 6)],
    "端午": [D(2026, 6, 19), D(2026, 6, 20), D(2026, 6, 21)],
    "中秋": [D(2026, 9, 25), D(2026, 9, 26), D(2026, 9, 27)],
    "国庆节": [D(2026, 10, d) for d in range(1, 8)],
}
MAKEUP_2026 = [D(2026, 1, 4), D(2026, 2, 14), D(2026, 2, 28), D(2026, 5, 9), D(2026, 9, 20), D(2026, 10, 10)]
HOLIDAYS_2025 = (
    [D(2025, 1, 1)] + [D(2025, 1, d) for d in range(28, 32)] + [D(2025, 2, d) for d in range(1, 5)]
    + [D(2025, 4, 4), D(2025, 4, 5), D(2025, 4, 6)] + [D(2025, 5, d) for d in range(1, 6)]
    + [D(2025, 5, 31), D(2025, 6, 1), D(2025, 6, 2)] + [D(2025, 10, d) for d in range(1, 9)]
)
MAKEUP_2025 = [D(2025, 1, 26), D(2025, 2, 8), D(2025, 4, 27), D(2025, 9, 28), D(2025, 10, 11)]


def weekend_workdays(year):
    return sorted(d for d in chinese_calendar.workdays if d.year == year and d.weekday() >= 5)


def weekday_holidays(year):
    return sorted(d for d in chinese_calendar.holidays if d.year == year and d.weekday() < 5)


def test_package_matches_published_2025_and_2026():
    assert weekend_workdays(2025) == MAKEUP_2025
    assert weekend_workdays(2026) == MAKEUP_2026
    assert weekday_holidays(2025) == sorted(d for d in HOLIDAYS_2025 if d.weekday() < 5)
    all_2026 = sorted(d for days in HOLIDAYS_2026.values() for d in days)
    assert weekday_holidays(2026) == [d for d in all_2026 if d.weekday() < 5]
    assert sorted(d for d in chinese_calendar.holidays if d.year == 2026) == all_2026


@pytest.mark.parametrize("name, d", [(n, d) for n, days in HOLIDAYS_2026.items() for d in days])
def test_2026_holidays_are_days_off_with_their_name(db, name, d):
    assert day_info(d) == DayInfo(False, False, f"{name}放假")


@pytest.mark.parametrize("d", MAKEUP_2026 + MAKEUP_2025)
def test_makeup_days_are_workdays(db, d):
    info = day_info(d)
    assert d.weekday() >= 5 and info.is_workday and not info.provisional
    assert info.reason.endswith("调休上班")


# --- 2025 --------------------------------------------------------------------------------------

def test_spring_festival_2025(db):
    # Off Tue 1-28 .. Tue 2-04; make-up Sun 1-26 and Sat 2-08.
    assert is_workday(D(2025, 1, 26)) and not is_workday(D(2025, 1, 25))
    assert not is_workday(D(2025, 1, 28)) and not is_workday(D(2025, 2, 4))
    assert is_workday(D(2025, 2, 5)) and is_workday(D(2025, 2, 8)) and not is_workday(D(2025, 2, 9))
    assert day_info(D(2025, 1, 29)).reason == "春节放假"
    assert day_info(D(2025, 1, 26)).reason == "春节调休上班"
    # From Fri 1-24: Sat 1-25 off, Sun 1-26 make-up = day 1.
    assert add_workdays(D(2025, 1, 24), 1) == D(2025, 1, 26)
    # Mon 1-27 = day 2; then 1-28..2-04 off, Wed 2-05 = day 3.
    assert add_workdays(D(2025, 1, 24), 2) == D(2025, 1, 27)
    assert add_workdays(D(2025, 1, 24), 3) == D(2025, 2, 5)
    # From Mon 1-27: 2-05 (1), 2-06 (2), 2-07 (3), Sat 2-08 make-up (4), Sun 2-09 off, Mon 2-10 (5).
    assert add_workdays(D(2025, 1, 27), 5) == D(2025, 2, 10)
    # (1-24, 2-10]: 1-26, 1-27, 2-05, 2-06, 2-07, 2-08, 2-10 = 7.
    assert workdays_between(D(2025, 1, 24), D(2025, 2, 10)) == 7


def test_labour_day_2025(db):
    # Off Thu 5-01 .. Mon 5-05; make-up Sun 4-27.
    assert add_workdays(D(2025, 4, 25), 1) == D(2025, 4, 27)  # Sat 4-26 off, Sun 4-27 works
    assert add_workdays(D(2025, 4, 30), 1) == D(2025, 5, 6)  # Wed; 5-01..5-05 off, Tue 5-06
    # 20 working days from Mon 4-21: 4-22..4-25 (4), Sun 4-27 (5), 4-28..4-30 (8),
    # 5-06..5-09 (12), 5-12..5-16 (17), 5-19, 5-20, 5-21 (20).
    assert add_workdays(D(2025, 4, 21), 20) == D(2025, 5, 21)
    assert workdays_between(D(2025, 4, 21), D(2025, 5, 21)) == 20


def test_national_day_and_mid_autumn_2025(db):
    # Off Wed 10-01 .. Wed 10-08 (10-06 is 中秋 in the package); make-up Sun 9-28 and Sat 10-11.
    assert day_info(D(2025, 10, 6)).reason == "中秋放假"
    assert add_workdays(D(2025, 9, 26), 1) == D(2025, 9, 28)  # Fri -> Sun make-up
    assert add_workdays(D(2025, 9, 30), 1) == D(2025, 10, 9)  # Tue -> Thu after the holiday
    assert add_workdays(D(2025, 9, 30), 3) == D(2025, 10, 11)  # 10-09, 10-10, Sat 10-11
    # (9-26, 10-12]: 9-28, 9-29, 9-30, 10-09, 10-10, 10-11 = 6 (Sun 10-12 off).
    assert workdays_between(D(2025, 9, 26), D(2025, 10, 12)) == 6


# --- 2026 --------------------------------------------------------------------------------------

def test_2026_schedule(db):
    # 元旦 Thu 1-01 .. Sat 1-03, make-up Sun 1-04: from Wed 2025-12-31, day 1 is Sun 1-04.
    assert add_workdays(D(2025, 12, 31), 1) == D(2026, 1, 4)
    # 春节 Sun 2-15 .. Mon 2-23, make-up Sat 2-14 and Sat 2-28.
    assert add_workdays(D(2026, 2, 13), 1) == D(2026, 2, 14)
    assert add_workdays(D(2026, 2, 13), 2) == D(2026, 2, 24)
    # (2-13, 2-28]: 2-14, 2-24, 2-25, 2-26, 2-27, 2-28 = 6.
    assert workdays_between(D(2026, 2, 13), D(2026, 2, 28)) == 6
    # 清明 Sat 4-04 .. Mon 4-06, no make-up: from Fri 4-03, day 1 is Tue 4-07.
    assert add_workdays(D(2026, 4, 3), 1) == D(2026, 4, 7)
    # 劳动节 Fri 5-01 .. Tue 5-05, make-up Sat 5-09: from Thu 4-30, 5-06, 5-07, 5-08, Sat 5-09.
    assert add_workdays(D(2026, 4, 30), 1) == D(2026, 5, 6)
    assert add_workdays(D(2026, 4, 30), 4) == D(2026, 5, 9)
    # 端午 Fri 6-19 .. Sun 6-21: from Thu 6-18, day 1 is Mon 6-22.
    assert add_workdays(D(2026, 6, 18), 1) == D(2026, 6, 22)
    # 中秋 Fri 9-25 .. Sun 9-27; 国庆 Thu 10-01 .. Wed 10-07; make-up Sun 9-20 and Sat 10-10.
    assert add_workdays(D(2026, 9, 18), 1) == D(2026, 9, 20)
    # (9-18, 10-11]: 9-20..9-24 (5), 9-28..9-30 (3), 10-08, 10-09, 10-10 (3) = 11.
    assert workdays_between(D(2026, 9, 18), D(2026, 10, 11)) == 11
    assert add_workdays(D(2026, 9, 18), 11) == D(2026, 10, 10)


# --- counting rule and negative spans ----------------------------------------------------------

def test_counting_rule(db):
    assert add_workdays(D(2025, 10, 1), 0) == D(2025, 10, 1)  # n = 0 is the start, even on a holiday
    assert add_workdays(D(2025, 3, 7), 1) == D(2025, 3, 10)  # Fri -> Mon
    assert workdays_between(D(2025, 3, 7), D(2025, 3, 7)) == 0
    assert workdays_between(D(2025, 3, 7), D(2025, 3, 10)) == 1  # Sat, Sun off; Mon counts
    assert workdays_between(D(2025, 3, 10), D(2025, 3, 11)) == 1  # a < d <= b: the end day counts


def test_negative_spans_mirror(db):
    assert workdays_between(D(2025, 2, 10), D(2025, 1, 24)) == -7
    # Back from Mon 2-10: Sat 2-08 (1), 2-07, 2-06, 2-05 (4), 2-04..1-28 off, Mon 1-27 (5).
    assert add_workdays(D(2025, 2, 10), -5) == D(2025, 1, 27)
    # Working days left until a deadline, negative once it has passed.
    deadline = D(2025, 5, 21)
    assert workdays_between(D(2025, 5, 19), deadline) == 2
    assert workdays_between(D(2025, 5, 23), deadline) == -2  # 5-22 and 5-23 overdue


def test_datetime_is_read_in_shanghai_time(db):
    # 2025-01-27 20:00 UTC is 2025-01-28 04:00 in Zhanjiang: the first day of the Spring Festival.
    assert not is_workday(datetime(2025, 1, 27, 20, 0, tzinfo=dt_timezone.utc))
    assert is_workday(datetime(2025, 1, 27, 20, 0))  # naive: its own date


# --- overrides ---------------------------------------------------------------------------------

def test_city_day_off(db):
    # A typhoon closes the offices on Wed 2025-09-24: a task due the next working day moves to Thu.
    assert add_workdays(D(2025, 9, 23), 1) == D(2025, 9, 24)
    off(D(2025, 9, 24), "台风停工")
    assert day_info(D(2025, 9, 24)) == DayInfo(False, False, "台风停工")
    assert add_workdays(D(2025, 9, 23), 1) == D(2025, 9, 25)
    assert workdays_between(D(2025, 9, 22), D(2025, 9, 26)) == 3


def test_override_wins_over_package(db):
    on(D(2025, 10, 8), "本地安排上班")  # a package holiday made a working day
    on(D(2025, 3, 1), "集中办理日")  # an ordinary Saturday
    assert add_workdays(D(2025, 9, 30), 1) == D(2025, 10, 8)
    assert add_workdays(D(2025, 2, 28), 1) == D(2025, 3, 1)
    assert day_info(D(2025, 10, 8), with_overrides=False).reason == "国庆节放假"


def test_unknown_year_falls_back_to_monday_to_friday(db):
    assert 2099 not in workdays.PACKAGE_YEARS
    # 2099-01-01 is a Thursday; nothing raises, everything is provisional.
    assert day_info(D(2099, 1, 1)).is_workday and day_info(D(2099, 1, 1)).provisional
    assert not is_workday(D(2099, 1, 3))  # Saturday
    assert add_workdays_detail(D(2099, 1, 1), 2) == WorkdayResult(D(2099, 1, 5), True)  # Fri, Mon
    assert workdays_between_detail(D(2099, 1, 1), D(2099, 1, 11)) == WorkdayCount(6, True)


def test_deadline_crossing_into_unknown_year_is_provisional(db, package_without_2026):
    # From Tue 2025-12-30: Wed 12-31 (1, known), Thu 2026-01-01 (2, really 元旦 but not yet known), Fri 1-02 (3).
    assert add_workdays_detail(D(2025, 12, 30), 1) == WorkdayResult(D(2025, 12, 31), False)
    assert add_workdays_detail(D(2025, 12, 30), 3) == WorkdayResult(D(2026, 1, 2), True)
    assert workdays_between_detail(D(2025, 12, 30), D(2026, 1, 2)).provisional


def test_unknown_year_entered_by_overrides(db, package_without_2026):
    # The admins enter the 2026 notice before the package has it: days off and make-up days.
    for name, days in HOLIDAYS_2026.items():
        for d in days:
            if d.weekday() < 5:
                off(d, f"{name}放假")
    for d in MAKEUP_2026:
        on(d, "调休上班")
    assert not day_info(D(2026, 3, 7)).provisional  # an ordinary Saturday of a year now known
    assert add_workdays_detail(D(2025, 12, 31), 1) == WorkdayResult(D(2026, 1, 4), False)
    assert add_workdays_detail(D(2026, 2, 13), 2) == WorkdayResult(D(2026, 2, 24), False)
    assert add_workdays_detail(D(2026, 9, 18), 11) == WorkdayResult(D(2026, 10, 10), False)
    # The whole year agrees with the package's own 2026 data.
    days = [D(2026, 1, 1) + timedelta(days=i) for i in range(365)]
    assert [is_workday(d) for d in days] == [chinese_calendar.is_workday(d) for d in days]


# --- freshness and cost ------------------------------------------------------------------------

def test_override_change_is_seen_at_once(db):
    start = D(2025, 9, 23)
    assert add_workdays(start, 1) == D(2025, 9, 24)
    o = off(D(2025, 9, 24), "台风停工")
    assert add_workdays(start, 1) == D(2025, 9, 25)
    o.date = D(2025, 9, 25)
    o.save()
    assert add_workdays(start, 1) == D(2025, 9, 24)
    assert add_workdays(start, 2) == D(2025, 9, 26)
    o.delete()
    assert add_workdays(start, 2) == D(2025, 9, 25)


def test_many_days_without_a_query_per_day(db, django_assert_max_num_queries):
    off(D(2025, 9, 24))
    with django_assert_max_num_queries(1):
        result = add_workdays_detail(D(2025, 1, 2), 300)
    # 300 working days on from 2025-01-02 land in 2026, all on the published schedules.
    assert result.date.year == 2026 and not result.provisional
    assert workdays_between(D(2025, 1, 2), result.date) == 300


@pytest.mark.django_db(transaction=True)
def test_processes_share_a_token(monkeypatch, django_assert_num_queries):
    # Committed data (no test transaction): this is how the web workers see it.
    monkeypatch.setattr(workdays, "CHECK_SECONDS", 3600)
    off(D(2025, 9, 24), "台风停工")
    assert add_workdays(D(2025, 9, 23), 1) == D(2025, 9, 25)
    with django_assert_num_queries(0):  # the process copy serves later calls
        assert add_workdays(D(2025, 9, 23), 1) == D(2025, 9, 25)
    # Another process edits the row: this process gets no signal, only the shared token changes.
    CalendarOverride.objects.filter(date=D(2025, 9, 24)).update(is_workday=True)
    cache.set(workdays._TOKEN_KEY, "changed-by-another-process", None)
    monkeypatch.setattr(workdays, "CHECK_SECONDS", 0)
    assert add_workdays(D(2025, 9, 23), 1) == D(2025, 9, 24)


@pytest.mark.django_db(transaction=True)
def test_rolled_back_edit_is_not_kept(monkeypatch):
    from django.db import transaction

    monkeypatch.setattr(workdays, "CHECK_SECONDS", 3600)
    with pytest.raises(RuntimeError), transaction.atomic():
        off(D(2025, 9, 24))
        assert add_workdays(D(2025, 9, 23), 1) == D(2025, 9, 25)  # seen inside its transaction
        raise RuntimeError("rolled back")
    assert add_workdays(D(2025, 9, 23), 1) == D(2025, 9, 24)


@pytest.mark.django_db(transaction=True)
def test_later_transactions_use_the_process_copy_again(monkeypatch, django_assert_max_num_queries):
    """An edit inside one transaction is read fresh only while that transaction lasts: the next
    transaction on the same connection (every service call is one) uses the process copy again."""
    from django.db import transaction

    monkeypatch.setattr(workdays, "CHECK_SECONDS", 3600)
    with transaction.atomic():
        off(D(2025, 9, 24))
    with transaction.atomic():
        assert add_workdays(D(2025, 9, 23), 1) == D(2025, 9, 25)  # loads the copy once
        with django_assert_max_num_queries(0):
            for _ in range(20):
                assert add_workdays(D(2025, 9, 23), 1) == D(2025, 9, 25)


# --- admin -------------------------------------------------------------------------------------

def test_override_admin(admin_client, admin_user):
    off(D(2025, 9, 24), "台风停工")
    page = admin_client.get("/admin/core/calendaroverride/?q=台风")
    assert page.status_code == 200
    assert "台风停工" in page.content.decode() and "星期三" in page.content.decode()
    response = admin_client.post("/admin/core/calendaroverride/add/", {"date": "2025-03-01", "is_workday": "on", "reason": "集中办理日"})
    assert response.status_code == 302
    assert CalendarOverride.objects.get(date=D(2025, 3, 1)).created_by == admin_user
    assert add_workdays(D(2025, 2, 28), 1) == D(2025, 3, 1)
    assert admin_client.get("/admin/core/calendaroverride/?date__year=2025").status_code == 200


def test_audit_admin_is_read_only(admin_client):
    from bianmin.core.audit import record

    entry = record("test.action", actor="tester", data={"说明": "只读"})
    assert admin_client.get("/admin/core/auditentry/").status_code == 200
    assert admin_client.get(f"/admin/core/auditentry/{entry.pk}/change/").status_code == 200
    assert admin_client.get("/admin/core/auditentry/add/").status_code == 403
    assert admin_client.post(f"/admin/core/auditentry/{entry.pk}/delete/").status_code == 403
    admin_client.post(f"/admin/core/auditentry/{entry.pk}/change/", {"action": "edited"})
    assert AuditEntry.objects.get(pk=entry.pk).action == "test.action"
