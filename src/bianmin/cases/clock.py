"""The case clock: the one place that says a case's deadlines and how much time is left.

Time limits are working days (core.workdays) counted from the day after acceptance: day 1 is the
first working day after `accepted_on`. Periods of 补正 and 特别程序 do not count: a stop from day S
to resumption on day R takes the working days in (S, R] off the clock, so the next counted day is
the first working day after R. An approved extension adds working days.

States of a running case (T4), the one definition every page, list, alert, notice, KPI, API and
export uses — `running_state()` for one deadline, `overdue_q()` / `warning_q()` / `attention_q()` for
querysets (derived from the same two constants, so SQL and Python cannot drift):
- 超期 (overdue) from the day AFTER the promised deadline, whether or not that day is a working day:
  the time limit has run out at the end of the deadline day;
- 预警 (warning) while not overdue and WARNING_DAYS working days or fewer are left
  (`workdays_between(on, deadline) <= WARNING_DAYS`, the deadline day itself included);
- 正常 otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import F, Q

from bianmin.core import workdays

from .models import Case, CaseStatus

WARNING_DAYS = 2  # 预警: this many working days or fewer left


class State:
    NOT_STARTED = "not_started"   # not accepted yet
    ON_TIME = "on_time"
    WARNING = "warning"
    OVERDUE = "overdue"
    PAUSED = "paused"             # 补正 or 特别程序
    FINISHED = "finished"         # decided within the promised time
    FINISHED_LATE = "finished_late"


LABELS = {
    State.NOT_STARTED: "未开始计时", State.ON_TIME: "正常", State.WARNING: "预警", State.OVERDUE: "超期",
    State.PAUSED: "暂停计时", State.FINISHED: "按时办结", State.FINISHED_LATE: "超期办结",
}


@dataclass(frozen=True)
class Clock:
    state: str
    promised_deadline: date | None
    statutory_deadline: date | None
    remaining: int | None        # working days left to the promised deadline (negative: overdue)
    provisional: bool = False    # the calendar of a year on the way is not published yet

    @property
    def label(self) -> str:
        return LABELS[self.state]


def today() -> date:
    """Today in Asia/Shanghai (`core.workdays.today`, the one definition)."""
    return workdays.today()


def running_state(promised: date, on: date) -> str:
    """T4: the state of a running clock (in review, not paused) whose promised deadline is `promised`."""
    if on > promised:
        return State.OVERDUE
    return State.WARNING if workdays.workdays_between(on, promised) <= WARNING_DAYS else State.ON_TIME


def warning_limit(on: date) -> date:
    """T4: the first deadline NOT in the warning window on `on`: a deadline d is 预警 or 超期 exactly
    when d < warning_limit(on) (d has WARNING_DAYS working days or fewer left, or has passed)."""
    return workdays.add_workdays(on, WARNING_DAYS + 1)


def running_q(prefix: str = "") -> Q:
    """Cases whose clock runs (in review, not paused): the only ones that can be 预警 or 超期.
    Matches the partial index case_running_deadline. `prefix`: a relation path such as "case__"."""
    return Q(**{f"{prefix}status": CaseStatus.IN_REVIEW, f"{prefix}stopped_on__isnull": True})


def overdue_q(on: date, prefix: str = "") -> Q:
    """T4 超期 in SQL: running and the deadline day is over (`running_state` == OVERDUE)."""
    return running_q(prefix) & Q(**{f"{prefix}promised_deadline__lt": on})


def warning_q(on: date, prefix: str = "") -> Q:
    """T4 预警 in SQL: running, the deadline not passed, WARNING_DAYS working days or fewer left."""
    return running_q(prefix) & Q(**{f"{prefix}promised_deadline__gte": on,
                                    f"{prefix}promised_deadline__lt": warning_limit(on)})


def attention_q(on: date, prefix: str = "") -> Q:
    """预警 or 超期 in SQL (one index range: the alert job's candidates)."""
    return running_q(prefix) & Q(**{f"{prefix}promised_deadline__lt": warning_limit(on)})


def finished_late(decided_on: date, promised: date) -> bool:
    """超期办结: decided after the promised deadline day (T7)."""
    return decided_on > promised


def finished_late_q(prefix: str = "") -> Q:
    """Decided cases finished late, in SQL (`finished_late`)."""
    return Q(**{f"{prefix}decided_on__gt": F(f"{prefix}promised_deadline")})


def finished_on_time_q(prefix: str = "") -> Q:
    """Decided cases finished within the promised time, in SQL (not `finished_late`)."""
    return Q(**{f"{prefix}decided_on__lte": F(f"{prefix}promised_deadline")})


def running(promised: date, on: date) -> Clock:
    """The clock of a running case with this promised deadline on `on` (lists that hold only the
    deadline: alert cards, notices). Same state as `clock()` gives the case itself."""
    return Clock(running_state(promised, on), promised, None, workdays.workdays_between(on, promised))


def days_overdue(promised: date, on: date) -> int:
    """Working days past the deadline on `on` (0 before it, and on the days off right after it)."""
    return max(0, workdays.workdays_between(promised, on))


def deadlines(case: Case) -> tuple[date | None, date | None, bool]:
    """(promised, statutory, provisional) for an accepted case, with closed stops and extensions."""
    if case.accepted_on is None:
        return None, None, False
    extra = case.extension_days + case.stopped_days
    promised = workdays.add_workdays_detail(case.accepted_on, case.item.promised_days + extra)
    statutory = workdays.add_workdays_detail(case.accepted_on, case.item.statutory_days + extra)
    return promised.date, statutory.date, promised.provisional or statutory.provisional


def refresh(case: Case) -> None:
    """Store the deadlines on the case (services call this whenever the clock changes)."""
    case.promised_deadline, case.statutory_deadline, _ = deadlines(case)


def clock(case: Case, on: date | None = None) -> Clock:
    on = on or today()
    if case.accepted_on is None:  # drafts, applications awaiting acceptance or 补正 before it, rejections
        return Clock(State.NOT_STARTED, None, None, None)
    promised, statutory = case.promised_deadline, case.statutory_deadline
    provisional = False
    if promised is None:
        promised, statutory, provisional = deadlines(case)
    if case.decided_on is not None:
        late = finished_late(case.decided_on, promised)
        return Clock(State.FINISHED_LATE if late else State.FINISHED, promised, statutory, None, provisional)
    if case.status == CaseStatus.WITHDRAWN:
        return Clock(State.FINISHED, promised, statutory, None, provisional)
    if case.stopped_on is not None:
        return Clock(State.PAUSED, promised, statutory, workdays.workdays_between(case.stopped_on, promised), provisional)
    left = workdays.workdays_between(on, promised)
    return Clock(running_state(promised, on), promised, statutory, left, provisional)
