"""Case figures for the KPIs: decided cases (办结件) counted by month, department, hall level and channel.

Two sources give the same rows (`CaseRow`):
- `live_rows(start, end, ...)`: straight from the cases, one grouped query over the decision-date index;
- the precomputed `CaseStat` table, filled by `kpis.services.refresh_stats()` (the periodic job, `bianmin tick`).

`case_rows()` reads what the dashboard needs: the CaseStat months up to `StatRefresh.through` and,
live, the cases decided after it (today's always). Both are read in one SQL statement, so a refresh
committing in between cannot make a day count twice. See docs/supervision.md for what is kept how.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection
from django.db.models import Subquery

from bianmin.cases import clock
from bianmin.catalog.selectors import ONE_VISIT_MAX
from bianmin.core import workdays

from ..models import CaseStat, StatRefresh

NAME = "cases"
LOOKBACK_DAYS = 7          # a refresh recounts the months touching the last week: visits recorded after the decision
NEVER = date(1970, 1, 1)   # StatRefresh.through before any refresh
MAX_CALENDAR_DAYS = 20_000  # the working-day table sent with a query (≈ 55 years)
CALENDAR_LEAD_DAYS = 400    # …reaching this far before the first decision day, unless a case needs more


@dataclass
class CaseRow:
    month: date
    department_id: int
    hall_level: str
    channel: str
    decided: int = 0
    same_day: int = 0
    on_time: int = 0
    one_visit: int = 0
    workdays: int = 0


COUNTS = ("decided", "same_day", "on_time", "one_visit", "workdays")


def month_of(d: date) -> date:
    return d.replace(day=1)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _workday_index(first: date, last: date) -> list[tuple[date, int]]:
    """(day, working days in [first, day]) for every day: workdays_between(a, b) == idx[b] - idx[a]."""
    out, n, d = [], 0, first
    while d <= last:
        n += workdays.is_workday(d)
        out.append((d, n))
        d += timedelta(days=1)
    return out


def _merge(rows, into: dict | None = None) -> dict:
    """Sum rows into {(month, department, hall level, channel): CaseRow}."""
    into = {} if into is None else into
    for r in rows:
        key = (r.month, r.department_id, r.hall_level, r.channel)
        acc = into.get(key)
        if acc is None:
            into[key] = CaseRow(*key, **{c: getattr(r, c) for c in COUNTS})
        else:
            for c in COUNTS:
                setattr(acc, c, getattr(acc, c) + getattr(r, c))
    return into


def live_rows(start: date, end: date, department_ids=None) -> list[CaseRow]:
    """Decided cases with start <= decided_on <= end, counted straight from the cases table.

    same_day: accepted and decided on the same day (当场办结); on_time: decided_on <= the promised
    deadline (cases.clock's finished vs finished_late); one_visit: visit_count <= ONE_VISIT_MAX; workdays: the
    working days from acceptance to decision (core.workdays counting: (accepted_on, decided_on]).
    """
    if end < start or (department_ids is not None and not department_ids):
        return []
    # The working-day calendar goes along as a table. Most cases are accepted within a year of their
    # decision; a query that meets an earlier acceptance is run again with a calendar reaching it.
    first = start - timedelta(days=CALENDAR_LEAD_DAYS)
    rows, earliest = _count(start, end, department_ids, first)
    if earliest is not None:
        first = max(earliest, end - timedelta(days=MAX_CALENDAR_DAYS))
        rows, _ = _count(start, end, department_ids, first)
    by_month = _merge(CaseRow(month_of(_as_date(d)), dept, level, channel, int(n), int(s or 0), int(o or 0), int(v or 0), int(w or 0))
                      for d, dept, level, channel, n, s, o, v, w in rows)
    return list(by_month.values())


def _count(start: date, end: date, department_ids, first: date) -> tuple[list, date | None]:
    """(rows per day × department × hall level × channel, the earliest acceptance before `first` or None)."""
    calendar = _workday_index(first, end)
    cast = "CAST(%s AS date)" if connection.vendor == "postgresql" else "%s"
    values = ", ".join([f"({cast}, %s)"] * len(calendar))
    params: list = [p for d, i in calendar for p in (d, i)]
    where = "c.decided_on >= %s AND c.decided_on <= %s"
    params += [start, end]
    if department_ids is not None:
        ids = [int(x) for x in department_ids]
        where += f" AND c.department_id IN ({', '.join(['%s'] * len(ids))})"
        params += ids
    sql = f"""
        WITH cal(d, i) AS (VALUES {values})
        SELECT c.decided_on, c.department_id, COALESCE(h.level, ''), c.channel, COUNT(*),
               SUM(CASE WHEN c.accepted_on = c.decided_on THEN 1 ELSE 0 END),
               SUM(CASE WHEN c.decided_on <= c.promised_deadline THEN 1 ELSE 0 END),  -- clock.finished_on_time_q
               SUM(CASE WHEN c.visit_count <= {int(ONE_VISIT_MAX)} THEN 1 ELSE 0 END),
               SUM(COALESCE(cd.i - ca.i, 0)),
               MIN(CASE WHEN ca.i IS NULL THEN c.accepted_on END)
        FROM cases_case c
        LEFT JOIN org_hall h ON h.id = c.hall_id
        LEFT JOIN cal ca ON ca.d = c.accepted_on
        LEFT JOIN cal cd ON cd.d = c.decided_on
        WHERE {where}
        GROUP BY c.decided_on, c.department_id, COALESCE(h.level, ''), c.channel
    """
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    missing = [_as_date(r[-1]) for r in rows if r[-1] is not None]
    earliest = min(missing) if missing and min(missing) < first else None
    return [r[:-1] for r in rows], earliest


def case_rows(start: date, end: date, department_ids=None, *, today: date | None = None) -> tuple[list[CaseRow], date | None]:
    """The figures of cases decided in [start, end] (start: a month's first day) for the dashboard:
    CaseStat for the days up to the last refresh, the cases themselves after it. Returns (rows, through)."""
    today = today or clock.today()
    end = min(end, today)
    if end < start or (department_ids is not None and not department_ids):
        return [], None
    qs = CaseStat.objects.filter(month__gte=month_of(start), month__lte=end)
    if department_ids is not None:
        qs = qs.filter(department_id__in=list(department_ids))
    # `through` rides along in the same statement: one snapshot of CaseStat and StatRefresh.
    marker = StatRefresh.objects.filter(name=NAME).values("through")[:1]
    stored = list(qs.annotate(through=Subquery(marker)).values_list(
        "month", "department_id", "hall_level", "channel", *COUNTS, "through"))
    if stored:
        through = _as_date(stored[0][-1])
    else:
        through = StatRefresh.objects.filter(name=NAME).values_list("through", flat=True).first()
    if through is None or through == NEVER:
        through = None
    # Stored rows and live rows may share a key (the month of the last refresh): callers sum them.
    rows = [CaseRow(_as_date(r[0]), *r[1:-1]) for r in stored] if through else []
    live_from = start if through is None else max(start, through + timedelta(days=1))
    return rows + live_rows(live_from, end, department_ids), through


def totals(rows) -> CaseRow:
    rows = rows if isinstance(rows, list) else list(rows)
    return CaseRow(date.min, 0, "", "", *(sum(getattr(r, c) for r in rows) for c in COUNTS))


__all__ = ["CaseRow", "COUNTS", "case_rows", "live_rows", "totals", "month_of"]
