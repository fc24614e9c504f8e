"""Deadline alerts: yellow and red cards on hand-built deadlines in the real 2026 calendar, who is told,
idempotency, resolution, the console page and `bianmin tick`."""

from datetime import date

import pytest

from bianmin.cases import clock, services
from bianmin.cases.models import Message
from bianmin.core import workdays
from bianmin.org.models import Role
from bianmin.supervision.alerts.services import run_alerts
from bianmin.supervision.models import Alert
from tests.conftest import make_staff


@pytest.fixture
def item(make_item):
    return make_item(audience="both", statutory_days=20, promised_days=5)


@pytest.fixture
def accept(people, item, monkeypatch):
    """accept(day) -> a case accepted on that day, waiting for the market regulator's reviewer."""
    today = [None]
    monkeypatch.setattr(workdays, "today", lambda: today[0])

    def _accept(day: date, applicant="citizen"):
        today[0] = day
        user = people[f"{applicant}_user"]
        case = services.submit_application(applicant=people[applicant], item=item, actor=user,
                                           materials={m.pk: {"at_window": True} for m in item.materials.all()})
        return services.accept_case(case, actor=people["clerk"].user)

    _accept.set_today = lambda d: today.__setitem__(0, d)
    return _accept


def inbox(user):
    return list(Message.objects.filter(recipient=user, kind__startswith="alert_").order_by("id"))


def test_warning_window_counts_working_days_not_calendar_days(db):
    # From Thu 2026-11-05, two working days are Fri 11-06 and Mon 11-09; Tue 11-10 has three left.
    assert clock.warning_limit(date(2026, 11, 5)) == date(2026, 11, 10)
    # National Day: from Wed 09-30 the next working days are 10-08, 10-09 and Sat 10-10 (make-up day).
    assert clock.warning_limit(date(2026, 9, 30)) == date(2026, 10, 10)


def test_yellow_then_red_on_a_monday_deadline(accept, people, staff):
    case = accept(date(2026, 11, 2))  # Mon; 5 working days -> Mon 2026-11-09, after a weekend
    assert case.promised_deadline == date(2026, 11, 9)

    # Wed 11-04: Thu, Fri, Mon left = 3 -> no card
    assert run_alerts(date(2026, 11, 4))["alerts_yellow"] == 0
    assert not Alert.objects.exists()

    # Thu 11-05: Fri and Mon left = 2 -> yellow
    done = run_alerts(date(2026, 11, 5))
    assert (done["alerts_yellow"], done["alerts_red"]) == (1, 0)
    yellow = Alert.objects.get()
    assert (yellow.level, yellow.deadline, yellow.raised_on, yellow.department_id) == (
        "yellow", date(2026, 11, 9), date(2026, 11, 5), case.department_id)

    # Sat 11-07 and Mon 11-09 (the deadline itself, 0 left): still the one yellow card
    assert run_alerts(date(2026, 11, 7))["alerts_yellow"] == 0
    assert run_alerts(date(2026, 11, 9))["alerts_red"] == 0

    # Tue 11-10: a working day past the deadline -> red, and the yellow card is resolved (superseded)
    done = run_alerts(date(2026, 11, 10))
    assert (done["alerts_red"], done["alerts_resolved"]) == (1, 1)
    red = Alert.objects.get(level="red")
    assert red.resolved_at is None
    yellow.refresh_from_db()
    assert yellow.resolved_at is not None


def test_the_national_day_holiday_is_not_counted(accept):
    case = accept(date(2026, 9, 28))  # deadline Sat 2026-10-10, a make-up working day
    assert case.promised_deadline == date(2026, 10, 10)
    # On 10-01 (holiday) 10 calendar days remain but three working days: 10-08, 10-09, 10-10.
    assert run_alerts(date(2026, 10, 1))["alerts_yellow"] == 0
    # On Thu 10-08: 10-09 and 10-10 left -> yellow
    assert run_alerts(date(2026, 10, 8))["alerts_yellow"] == 1
    # Sun 10-11: the day after the Saturday deadline, a day off -> red all the same (issue 10: the
    # time limit ran out at the end of 10-10, whether or not the next day is a working day)
    assert run_alerts(date(2026, 10, 11))["alerts_red"] == 1
    # Mon 10-12: the card is already raised
    assert run_alerts(date(2026, 10, 12))["alerts_red"] == 0


def test_the_right_people_are_told(accept, people, staff, departments):
    other_head = make_staff("police_head", departments["police"], Role.APPROVER, is_head=True)
    accept(date(2026, 11, 2))
    run_alerts(date(2026, 11, 5))
    # yellow: the market regulator's reviewer (the open task's role, unassigned) and its head
    told = set(Message.objects.filter(kind="alert_yellow").values_list("recipient__username", flat=True))
    assert told == {"reviewer", "approver"}
    msg = inbox(people["reviewer"].user)[0]
    assert msg.title == "黄牌预警:1 件办件距承诺期限不足 2 个工作日"
    assert "承诺期限 2026-11-09" in msg.body and msg.case is not None
    assert "张三" not in msg.body  # the applicant is not named

    run_alerts(date(2026, 11, 10))
    told_red = set(Message.objects.filter(kind="alert_red").values_list("recipient__username", flat=True))
    assert told_red == {"reviewer", "approver", "supervisor"}  # escalated to the supervisor
    for nobody in (people["police_reviewer"], people["clerk"], other_head, staff["market_admin"]):
        assert not inbox(nobody.user)
    assert not Message.objects.filter(recipient=people["citizen_user"], kind__startswith="alert_").exists()


def test_an_assigned_task_tells_only_its_assignee(accept, people, departments):
    second = make_staff("reviewer2", departments["market"], Role.REVIEWER)
    case = accept(date(2026, 11, 2))
    case.tasks.update(assignee=second)
    run_alerts(date(2026, 11, 5))
    told = set(Message.objects.values_list("recipient__username", flat=True))
    assert told == {"reviewer2", "approver"}


def test_one_digest_per_person_for_many_cases(accept, people):
    for _ in range(3):
        accept(date(2026, 11, 2))
    run_alerts(date(2026, 11, 5))
    assert Alert.objects.count() == 3
    msgs = inbox(people["reviewer"].user)
    assert len(msgs) == 1
    assert msgs[0].title.startswith("黄牌预警:3 件") and msgs[0].case is None


def test_running_twice_changes_nothing_more(accept, people, staff):
    accept(date(2026, 11, 2))
    accept(date(2026, 11, 3))  # deadline Tue 11-10
    first = run_alerts(date(2026, 11, 10))  # one red (11-09), one yellow (11-10, 0 left)
    assert (first["alerts_red"], first["alerts_yellow"]) == (1, 1)
    counts = (Alert.objects.count(), Message.objects.count(), Alert.objects.filter(resolved_at__isnull=True).count())
    second = run_alerts(date(2026, 11, 10))
    assert second == {"alerts_yellow": 0, "alerts_red": 0, "alerts_resolved": 0, "alert_messages": 0}
    assert (Alert.objects.count(), Message.objects.count(), Alert.objects.filter(resolved_at__isnull=True).count()) == counts


def test_finished_and_extended_cases_are_resolved_paused_ones_kept(accept, people):
    decided = accept(date(2026, 11, 2))
    extended = accept(date(2026, 11, 2))
    paused = accept(date(2026, 11, 2))
    run_alerts(date(2026, 11, 5))
    assert Alert.objects.filter(resolved_at__isnull=True).count() == 3

    accept.set_today(date(2026, 11, 5))
    task = decided.tasks.get()
    services.complete_task(task, actor=people["reviewer"].user, opinion="符合条件")
    services.decide_case(decided, actor=people["approver"].user, approved=True, reasons="符合条件,准予许可")
    services.extend_deadline(extended, actor=people["approver"].user, days=5, reason="需要现场核查")  # -> 11-16
    m = paused.materials.first()
    services.request_supplement(paused, actor=people["reviewer"].user, missing_ids=[m.pk], note="请补充")

    done = run_alerts(date(2026, 11, 5))
    assert done["alerts_resolved"] == 2
    open_cases = set(Alert.objects.filter(resolved_at__isnull=True).values_list("case_id", flat=True))
    assert open_cases == {paused.pk}
    assert run_alerts(date(2026, 11, 5)) == {"alerts_yellow": 0, "alerts_red": 0, "alerts_resolved": 0, "alert_messages": 0}

    # the extension runs out: Thu 11-12 has Fri 13 and Mon 16 left -> the yellow card is reopened
    done = run_alerts(date(2026, 11, 12))
    assert done["alerts_yellow"] == 1
    reopened = Alert.objects.get(case=extended)
    assert (reopened.resolved_at, reopened.deadline, reopened.raised_on) == (None, date(2026, 11, 16), date(2026, 11, 12))


def test_alert_job_query_count_does_not_grow_with_cases(accept, django_assert_max_num_queries):
    for _ in range(6):
        accept(date(2026, 11, 2))
    with django_assert_max_num_queries(14):
        run_alerts(date(2026, 11, 10))


# ----------------------------------------------------------------------------- console page

def test_console_lists_cards_by_who_asks(client, accept, people, staff, departments, django_assert_max_num_queries):
    cases = [accept(date(2026, 11, 2)) for _ in range(3)]
    run_alerts(date(2026, 11, 10))
    accept.set_today(date(2026, 11, 10))
    police_head = make_staff("police_head", departments["police"], Role.APPROVER, is_head=True)

    client.force_login(people["reviewer"].user)
    with django_assert_max_num_queries(12):
        r = client.get("/console/supervision/alerts/")
    assert r.status_code == 200
    html = r.content.decode()
    for c in cases:
        assert c.number in html
    assert "红牌(超期)" in html and "已超 1 个工作日" in html

    client.force_login(police_head.user)
    html = client.get("/console/supervision/alerts/").content.decode()
    assert cases[0].number not in html and "没有未解除的预警" in html

    client.force_login(staff["supervisor"].user)
    r = client.get("/console/supervision/alerts/", {"level": "red", "department": departments["market"].pk})
    assert r.status_code == 200 and cases[0].number in r.content.decode()
    r = client.get("/console/supervision/alerts/", {"level": "yellow"})
    assert cases[0].number not in r.content.decode()
    for bad in ({"level": "purple"}, {"department": "x"}, {"department": "99999999999999999999"}, {"page": "abc"}):
        r = client.get("/console/supervision/alerts/", bad)
        assert r.status_code in (200, 400)


def test_console_alerts_need_staff(client, people):
    r = client.get("/console/supervision/alerts/")
    assert r.status_code == 302 and "/console/login/" in r["Location"]
    client.force_login(people["citizen_user"])
    assert client.get("/console/supervision/alerts/").status_code == 403
    assert client.get("/console/supervision/messages/").status_code == 403


def test_staff_inbox_shows_and_marks_alert_messages(client, accept, people, django_assert_max_num_queries):
    accept(date(2026, 11, 2))
    run_alerts(date(2026, 11, 5))
    accept(date(2026, 11, 3))
    run_alerts(date(2026, 11, 6))  # a second digest
    client.force_login(people["reviewer"].user)
    # marking the page read is the inbox service's (row lock, update, its audit entry): a fixed number of
    # queries whatever the number of messages
    with django_assert_max_num_queries(13):
        r = client.get("/console/supervision/messages/")
    assert r.status_code == 200 and "黄牌预警" in r.content.decode()
    assert 'href="/console/supervision/alerts/">查看预警督办' in r.content.decode()
    assert not Message.objects.filter(recipient=people["reviewer"].user, read_at__isnull=True).exists()


def test_tick_runs_alerts_and_prints(accept, capsys, monkeypatch):
    from bianmin import cli
    from bianmin.supervision import tasks

    accept(date(2026, 11, 2))
    accept.set_today(date(2026, 11, 10))
    assert tasks.tick()["alerts_red"] == 1
    assert tasks.tick()["alerts_red"] == 0
    monkeypatch.setattr(cli, "_setup", lambda *a, **k: None)
    cli.main(["tick"])
    out = capsys.readouterr().out
    assert "新红牌 0" in out and "重发待发通知" in out and "到期证照 0" in out
    assert tasks.tick_task.delay().get() is not None  # the Celery task runs inline without a broker


def test_beat_schedules_the_tick():
    from django.conf import settings

    from bianmin.celery import app
    from bianmin.supervision.tasks import tick_task

    entry = settings.CELERY_BEAT_SCHEDULE["supervision-tick"]
    assert entry == {"task": tick_task.name, "schedule": 600.0}
    assert app.tasks[tick_task.name].name == "bianmin.supervision.tasks.tick_task"  # registered with the app
