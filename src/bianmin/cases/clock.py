"""The case clock: the one place that says a case's deadlines and how much time is left.

Time limits are working days (core.workdays) counted from the day after acceptance: day 1 is the
first working day after `accepted_on`. Periods of 补正 and 特别程序 do not count: a stop from day S
to resumption on day R takes the working days in (S, R] off the clock, so the next counted day is
the first working day after R. An approved extension adds working days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils import timezone

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
    return timezone.localdate()


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
        late = case.decided_on > promised
        return Clock(State.FINISHED_LATE if late else State.FINISHED, promised, statutory, None, provisional)
    if case.status == CaseStatus.WITHDRAWN:
        return Clock(State.FINISHED, promised, statutory, None, provisional)
    if case.stopped_on is not None:
        return Clock(State.PAUSED, promised, statutory, workdays.workdays_between(case.stopped_on, promised), provisional)
    left = workdays.workdays_between(on, promised)
    state = State.OVERDUE if left < 0 else State.WARNING if left <= WARNING_DAYS else State.ON_TIME
    return Clock(state, promised, statutory, left, provisional)
