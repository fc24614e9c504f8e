"""Deadline alerts (效能预警): a 黄牌 when a running case has two working days or fewer left, a 红牌
once it is overdue (`cases.clock`'s warning and overdue states).

`run_alerts()` is the periodic job (`bianmin tick`, Celery beat). It is set-based so that 100,000
open cases take seconds:

- candidates are the cases under review (clock running) whose stored promised deadline falls before
  the first date that is NOT yet in the warning window — one range scan of the index
  (status, promised_deadline); cases further from their deadline are never read;
- the clock state is computed once per distinct deadline (every running case with the same stored
  deadline has the same state), by `cases.clock.clock` itself;
- new alerts are inserted with one bulk insert (ignore_conflicts: the (case, level) unique
  constraint is the last guard), and each person concerned gets ONE digest message per level per
  run, not one per case.

Rules:
- a card is raised once per case and level. A card whose case is finished, withdrawn, back on time
  (an extension) or — for a yellow card — turned red, is resolved (resolved_at). A resolved card
  whose case qualifies again is reopened and announced again.
- cases whose clock is paused (补正, 特别程序) keep their cards as they are: their deadline moves
  when the clock restarts, and the next run after that decides.
- who is told: the responsible reviewers (the active review task's assignee, or, unassigned, every
  staff member of the task's department with the task's role) and the head of the case's
  department (Staff.is_head); red cards also go to every supervisor (督办).

Idempotent: a second run on the same day finds every card already raised and changes nothing.
Two runs at once are serialised (an advisory lock on PostgreSQL, the write lock on SQLite).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.db import connection, transaction
from django.utils import timezone

from bianmin.cases import clock
from bianmin.cases.models import Case, CaseStatus, Message, ReviewTask
from bianmin.core import audit
from bianmin.org.models import Role, Staff

from ..models import Alert

BATCH = 5000
DIGEST_LINES = 30  # cases named in one digest message; the rest are counted
_PG_LOCK_KEY = 0x616C65727473  # "alerts"
LEVEL_TITLES = {Alert.Level.YELLOW: "黄牌预警", Alert.Level.RED: "红牌督办"}


LEVEL_OF_STATE = {clock.State.WARNING: Alert.Level.YELLOW, clock.State.OVERDUE: Alert.Level.RED}


def _running_candidates(today: date) -> dict[int, tuple[int, date, str]]:
    """{case_id: (department_id, deadline, level)} for every running case that deserves a card."""
    rows = (Case.objects.filter(clock.attention_q(today))
            .order_by().values_list("id", "department_id", "promised_deadline").iterator(chunk_size=BATCH))
    levels: dict[date, str | None] = {}
    out: dict[int, tuple[int, date, str]] = {}
    for case_id, dept_id, deadline in rows:
        if deadline not in levels:
            levels[deadline] = LEVEL_OF_STATE.get(clock.running_state(deadline, today))
        level = levels[deadline]
        if level:
            out[case_id] = (dept_id, deadline, level)
    return out


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])


def run_alerts(today: date | None = None) -> dict[str, int]:
    """One round: raise, reopen and resolve cards; notify. Returns counts by kind."""
    today = today or clock.today()
    now = timezone.now()
    with transaction.atomic():
        _lock()
        wanted = _running_candidates(today)
        # Every card of a case under review or of a case that still has an open card: the only ones
        # this run may create, reopen or resolve.
        existing: dict[tuple[int, str], tuple[int, bool]] = {}
        open_rows = []
        fields = ("id", "case_id", "level", "resolved_at", "case__status")
        for qs in (Alert.objects.filter(case__status=CaseStatus.IN_REVIEW),
                   Alert.objects.filter(resolved_at__isnull=True).exclude(case__status=CaseStatus.IN_REVIEW)):
            for alert_id, case_id, level, resolved_at, status in qs.order_by().values_list(*fields).iterator(chunk_size=BATCH):
                existing[(case_id, level)] = (alert_id, resolved_at is None)
                if resolved_at is None:
                    open_rows.append((alert_id, case_id, level, status))

        new: list[tuple[int, str, int, date]] = []  # (case_id, level, department_id, deadline)
        reopen: list[tuple[int, int]] = []  # (alert_id, case_id)
        announced: list[tuple[int, str]] = []  # (case_id, level) newly raised or reopened
        for case_id, (dept_id, deadline, level) in wanted.items():
            found = existing.get((case_id, level))
            if found is None:
                new.append((case_id, level, dept_id, deadline))
            elif not found[1]:
                reopen.append((found[0], case_id))
            else:
                continue
            announced.append((case_id, level))

        paused = (CaseStatus.SUPPLEMENT, CaseStatus.SUSPENDED)
        resolve = [alert_id for alert_id, case_id, level, status in open_rows
                   if status not in paused and (wanted.get(case_id) or (None, None, None))[2] != level]

        _insert(new, today, now)
        for alert_id, case_id in reopen:  # rare: a case back in the window after an extension ran out
            Alert.objects.filter(pk=alert_id).update(resolved_at=None, raised_on=today, deadline=wanted[case_id][1])
        for i in range(0, len(resolve), BATCH):
            Alert.objects.filter(pk__in=resolve[i:i + BATCH], resolved_at__isnull=True).update(resolved_at=now)

        messages = _notify(announced, wanted, today) if announced else 0
        done = {
            "alerts_yellow": sum(1 for _, level in announced if level == Alert.Level.YELLOW),
            "alerts_red": sum(1 for _, level in announced if level == Alert.Level.RED),
            "alerts_resolved": len(resolve),
            "alert_messages": messages,
        }
        if announced or resolve:
            audit.record("supervision.alerts", actor="system", object_type="supervision.alert", data={"on": today, **done})
    return done


def _insert(rows: list[tuple[int, str, int, date]], today: date, now) -> None:
    """New cards in one statement. On PostgreSQL the rows travel as four arrays (unnest): building
    50,000 model instances for bulk_create would take most of the job's time. ON CONFLICT DO NOTHING
    (ignore_conflicts) leaves the (case, level) constraint the last guard."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        table = Alert._meta.db_table
        columns = list(zip(*rows))
        with connection.cursor() as cur:
            for i in range(0, len(rows), 50_000):
                part = [list(col[i:i + 50_000]) for col in columns]
                cur.execute(
                    f"INSERT INTO {table} (case_id, level, department_id, deadline, raised_on, created_at) "
                    "SELECT c, l, d, dl, %s, %s FROM unnest(%s::bigint[], %s::varchar[], %s::bigint[], %s::date[]) AS u(c, l, d, dl) "
                    "ON CONFLICT DO NOTHING", [today, now, *part])
        return
    Alert.objects.bulk_create([Alert(case_id=c, level=lv, department_id=d, deadline=dl, raised_on=today, created_at=now)
                               for c, lv, d, dl in rows], batch_size=BATCH, ignore_conflicts=True)


# ----------------------------------------------------------------------------- who is told

def _notify(announced: list[tuple[int, str]], wanted: dict, today: date) -> int:
    """One digest message per recipient and level; returns the number of messages written."""
    case_ids = {case_id for case_id, _ in announced}
    # The open review tasks of those cases: an index range on the stored due date, filtered here.
    tasks: dict[int, list[tuple[int, str, int | None]]] = defaultdict(list)
    for case_id, dept_id, role, assignee_id in (
            ReviewTask.objects.filter(state=ReviewTask.State.ACTIVE, due__lt=clock.warning_limit(today))
            .order_by().values_list("case_id", "department_id", "role", "assignee_id").iterator(chunk_size=BATCH)):
        if case_id in case_ids:
            tasks[case_id].append((dept_id, role, assignee_id))

    staff_rows = list(Staff.objects.filter(user__is_active=True).values_list("id", "user_id", "department_id", "role", "is_head"))
    user_of = {sid: uid for sid, uid, _, _, _ in staff_rows}
    by_dept_role: dict[tuple[int, str], list[int]] = defaultdict(list)
    heads: dict[int, list[int]] = defaultdict(list)
    supervisors = []
    for _, uid, dept_id, role, is_head in staff_rows:
        by_dept_role[(dept_id, role)].append(uid)
        if is_head:
            heads[dept_id].append(uid)
        if role == Role.SUPERVISOR:
            supervisors.append(uid)

    inbox: dict[tuple[int, str], list[int]] = defaultdict(list)  # (user_id, level) -> case ids
    for case_id, level in announced:
        dept_id = wanted[case_id][0]
        users: set[int] = set(heads.get(dept_id, ()))
        for task_dept, role, assignee_id in tasks.get(case_id, ()):
            if assignee_id and assignee_id in user_of:
                users.add(user_of[assignee_id])
            else:
                users.update(by_dept_role.get((task_dept, role), ()))
        if level == Alert.Level.RED:
            users.update(supervisors)
        for uid in users:
            inbox[(uid, level)].append(case_id)
    if not inbox:
        return 0

    for ids in inbox.values():
        ids.sort(key=lambda cid: (wanted[cid][1], cid))  # the longest overdue first
    needed = {cid for ids in inbox.values() for cid in ids[:DIGEST_LINES]}
    facts = {}
    for chunk in _chunks(sorted(needed), BATCH):
        facts.update({r[0]: r[1:] for r in Case.objects.filter(pk__in=chunk).values_list("id", "number", "item__name", "department__name")})
    rows = []
    for (uid, level), ids in inbox.items():
        what = "已超过承诺期限" if level == Alert.Level.RED else f"距承诺期限不足 {clock.WARNING_DAYS} 个工作日"
        lines = [f"{facts[cid][0]} {facts[cid][1]}({facts[cid][2]},承诺期限 {wanted[cid][1]:%Y-%m-%d})" for cid in ids[:DIGEST_LINES]]
        more = f"\n……另有 {len(ids) - DIGEST_LINES} 件,请在“预警督办”中查看。" if len(ids) > DIGEST_LINES else ""
        body = (f"以下 {len(ids)} 件办件{what},请抓紧办理:\n" + "\n".join(lines) + more
                + "\n(效能监督系统自动发出,查看:/console/supervision/alerts/)")
        rows.append(Message(recipient_id=uid, case_id=ids[0] if len(ids) == 1 else None, kind=f"alert_{level}",
                            title=f"{LEVEL_TITLES[level]}:{len(ids)} 件办件{what}"[:100], body=body))
    Message.objects.bulk_create(rows, batch_size=BATCH)
    return len(rows)


def _chunks(seq, n):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


