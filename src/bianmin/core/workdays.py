"""Working days: statutory time limits (办理时限) are counted in working days.

A day is classified by, in order:
1. a `CalendarOverride` row (admins' local exceptions, or a year's schedule entered early) — it wins;
2. the State Council schedule in the `chinesecalendar` package (holidays and 调休 make-up days);
3. for a year neither covers: Monday–Friday, marked *provisional*. Nothing here raises for a date.
A year the package does not cover counts as published (not provisional) once it has at least one
override: enter such a year's whole schedule at once (its holidays and its make-up days).

Counting: day 1 is the first working day AFTER the start, so `add_workdays(start, 0) == start` and
`workdays_between(a, b)` counts working days d with a < d <= b. Negative spans mirror: for b < a
it returns minus the count of working days in (b, a], and `add_workdays(start, -n)` steps back to
the n-th working day before start. So `workdays_between(a, add_workdays(a, n)) == n` for n >= 0,
and `workdays_between(today, deadline)` is the working days left (negative once overdue).

Overrides are read once into a per-process dict and shared by all calls. Freshness: saving or
deleting a `CalendarOverride` (model save/delete, the admin) drops this process's copy at once
and, on commit, changes a token in Django's cache that every process compares at most once per
`CHECK_SECONDS`. `QuerySet.update()` and `bulk_create()` send no signals: call `overrides_changed()`
after them. Without REDIS_URL the cache is per process, so other processes only follow when a
shared cache is configured.
"""

from __future__ import annotations

import time
import uuid
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

import chinese_calendar
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_migrate, post_save
from django.utils import timezone

from .models import CalendarOverride

SHANGHAI = ZoneInfo("Asia/Shanghai")


def today() -> date:
    """Today's date in Asia/Shanghai, whatever the server's or the request's time zone: the day that
    deadlines, working days, validity and "as of" figures are judged on. The one definition
    (`cases.clock.today` and the apps' `today()` call it); tests move the day by patching it."""
    return timezone.now().astimezone(SHANGHAI).date()

CHECK_SECONDS = 1.0  # how often a process compares its copy with the shared token
_TOKEN_KEY = "bianmin:workdays:overrides-token"
_DIRTY = "bianmin_overrides_dirty"  # on a DB connection: the outermost atomic block holding uncommitted override edits

# The package raises NotImplementedError outside these years; look its dicts up directly instead of
# calling is_workday(), which also recomputes min/max over all its dates on every call.
_PACKAGE_HOLIDAYS, _PACKAGE_WORKDAYS = chinese_calendar.holidays, chinese_calendar.workdays  # date -> English name
PACKAGE_YEARS = range(min(_PACKAGE_HOLIDAYS).year, max(_PACKAGE_HOLIDAYS).year + 1)


class DayInfo(NamedTuple):
    is_workday: bool
    provisional: bool  # True when only the Monday–Friday fallback decided
    reason: str  # Chinese, for tooltips and the admin: "春节放假", "春节调休上班", "周末", an override's reason


class WorkdayResult(NamedTuple):
    date: date
    provisional: bool  # some day counted over was provisional: the date may still move


class WorkdayCount(NamedTuple):
    count: int
    provisional: bool


class _Overrides(NamedTuple):
    token: str | None
    days: dict  # date -> (is_workday, reason)
    years: frozenset  # years having at least one override


_EMPTY = _Overrides(None, {}, frozenset())
_snapshot: _Overrides | None = None  # this process's copy; replaced whole, so threads need no lock
_checked_at = 0.0


def _load(token: str | None) -> _Overrides:
    days = {d: (w, r) for d, w, r in CalendarOverride.objects.values_list("date", "is_workday", "reason")}
    return _Overrides(token, days, frozenset(d.year for d in days))


def _shared_token() -> str | None:
    try:
        token = cache.get(_TOKEN_KEY)
        if token is None:  # first use, evicted, or cache restarted: agree on a new token
            cache.add(_TOKEN_KEY, uuid.uuid4().hex, None)
            token = cache.get(_TOKEN_KEY)
        return token
    except Exception:  # a cache outage must not break deadline display: reload at each check instead
        return None


def _overrides() -> _Overrides:
    global _snapshot, _checked_at
    conn = transaction.get_connection()
    dirty = getattr(conn, _DIRTY, None)
    if dirty is not None:
        if conn.in_atomic_block and conn.atomic_blocks and conn.atomic_blocks[0] is dirty:
            # This transaction changed overrides and may roll back: read them, but never share them.
            return _load(None)
        # that transaction is over (committed or rolled back), even if another one has begun since
        setattr(conn, _DIRTY, None)
    now = time.monotonic()
    snap = _snapshot
    if snap is not None and now - _checked_at < CHECK_SECONDS:
        return snap
    token = _shared_token()  # read before the rows, so a concurrent change is at worst re-read later
    if snap is None or token is None or snap.token != token:
        snap = _snapshot = _load(token)
    _checked_at = now
    return snap


def overrides_changed() -> None:
    """Make every process re-read the overrides (called on commit of any override save or delete)."""
    global _snapshot
    _snapshot = None
    try:
        cache.set(_TOKEN_KEY, uuid.uuid4().hex, None)
    except Exception:
        pass  # other processes then catch up when the cache is back


def _on_override_change(sender, using=None, **kwargs):
    global _snapshot
    conn = transaction.get_connection(using)
    if conn.in_atomic_block:
        setattr(conn, _DIRTY, conn.atomic_blocks[0])  # the outermost block: the transaction it belongs to
    _snapshot = None
    transaction.on_commit(overrides_changed, using=using)


def _on_flush(**kwargs):
    global _snapshot
    _snapshot = None  # `flush` (and TransactionTestCase teardown) empties tables without delete signals


post_save.connect(_on_override_change, sender=CalendarOverride, dispatch_uid="workdays_override_saved")
post_delete.connect(_on_override_change, sender=CalendarOverride, dispatch_uid="workdays_override_deleted")
post_migrate.connect(_on_flush, dispatch_uid="workdays_flush")


def _as_date(d: date) -> date:
    if isinstance(d, datetime):
        return d.astimezone(SHANGHAI).date() if timezone.is_aware(d) else d.date()
    return d


def _holiday_name(english: str) -> str:
    try:
        return chinese_calendar.Holiday(english).chinese
    except ValueError:
        return english


def _flags(d: date, ov: _Overrides) -> tuple[bool, bool]:
    """(is_workday, provisional): the hot path of the counting loops, same order as `_classify`."""
    hit = ov.days.get(d)
    if hit is not None:
        return hit[0], False
    if d.year in PACKAGE_YEARS:
        if d in _PACKAGE_WORKDAYS:
            return True, False
        return d.weekday() < 5 and d not in _PACKAGE_HOLIDAYS, False
    return d.weekday() < 5, d.year not in ov.years


def _classify(d: date, ov: _Overrides) -> DayInfo:
    hit = ov.days.get(d)
    if hit is not None:
        return DayInfo(hit[0], False, hit[1])
    weekend = d.weekday() >= 5
    if d.year in PACKAGE_YEARS:
        if name := _PACKAGE_WORKDAYS.get(d):
            return DayInfo(True, False, f"{_holiday_name(name)}调休上班")
        if name := _PACKAGE_HOLIDAYS.get(d):
            return DayInfo(False, False, f"{_holiday_name(name)}放假")
        return DayInfo(not weekend, False, "周末" if weekend else "工作日")
    if d.year in ov.years:
        return DayInfo(not weekend, False, "周末" if weekend else "工作日")
    note = f"{d.year}年放假安排尚未公布,暂按周一至周五计"
    return DayInfo(not weekend, True, f"周末({note})" if weekend else f"工作日({note})")


def day_info(d: date, *, with_overrides: bool = True) -> DayInfo:
    """Whether d is a working day, whether that is provisional, and why (`with_overrides=False`: the national schedule alone)."""
    return _classify(_as_date(d), _overrides() if with_overrides else _EMPTY)


def is_workday(d: date) -> bool:
    return day_info(d).is_workday


def add_workdays_detail(start: date, n: int) -> WorkdayResult:
    """The n-th working day after start (before it if n < 0); start itself if n == 0."""
    ov = _overrides()  # one lookup for the whole walk, not one per day
    step = 1 if n >= 0 else -1
    d, left, provisional = _as_date(start), abs(n), False
    while left:
        d += timedelta(days=step)
        workday, unsure = _flags(d, ov)
        provisional = provisional or unsure
        left -= workday
    return WorkdayResult(d, provisional)


def add_workdays(start: date, n: int) -> date:
    return add_workdays_detail(start, n).date


def workdays_between_detail(a: date, b: date) -> WorkdayCount:
    """Working days d with a < d <= b; for b < a, minus the count over (b, a]."""
    a, b = _as_date(a), _as_date(b)
    sign = 1
    if b < a:
        a, b, sign = b, a, -1
    ov = _overrides()
    count, provisional, d = 0, False, a
    while d < b:
        d += timedelta(days=1)
        workday, unsure = _flags(d, ov)
        count += workday
        provisional = provisional or unsure
    return WorkdayCount(sign * count, provisional)


def workdays_between(a: date, b: date) -> int:
    return workdays_between_detail(a, b).count
