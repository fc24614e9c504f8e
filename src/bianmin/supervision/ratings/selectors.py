"""好差评 reads: who sees which ratings, which score is a 差评, and the published figures."""

from __future__ import annotations

from datetime import date

from django.db.models import Count, Q

from bianmin.core import workdays
from bianmin.org.models import Staff

from ..models import Rating

BAD_SCORES = (1, 2)


def is_bad_score(score: int) -> bool:
    """T29 差评: a score of 1 or 2 (of 5) must be answered and rectified; the one definition."""
    return score in BAD_SCORES


def bad_q() -> Q:
    """The ratings that are 差评, for querysets (`is_bad_score` in SQL)."""
    return Q(score__in=BAD_SCORES)


def visible_ratings(staff: Staff):
    """Supervisors and admins see every department's ratings; everyone else their department's."""
    qs = Rating.objects.all()
    return qs if staff.sees_all_departments else qs.filter(department_id=staff.department_id)


def overdue_q(on: date) -> Q:
    """`is_overdue` in SQL."""
    return Q(state=Rating.State.PENDING, rectify_due__lt=on)


def is_overdue(rating: Rating, on: date | None = None) -> bool:
    """A 差评 still waiting for its answer after the due date (flagged in the console)."""
    return rating.state == Rating.State.PENDING and rating.rectify_due is not None and rating.rectify_due < (on or workdays.today())


def pct(rate: float | None) -> str:
    """0.125 -> '12.5%'; no base -> '—'."""
    return "—" if rate is None else f"{rate * 100:.1f}".rstrip("0").rstrip(".") + "%"


def _counts(rows) -> dict:
    total = rows["total"]
    bad = sum(rows[f"s{n}"] for n in BAD_SCORES)
    answered = rows["on_time"] + rows["late"]
    due_cases = answered + rows["overdue"]
    out = {
        "total": total, "scores": [rows[f"s{n}"] for n in (5, 4, 3, 2, 1)], "bad": bad,
        "bad_rate": (bad / total) if total else None,
        "satisfied_rate": ((rows["s5"] + rows["s4"] + rows["s3"]) / total) if total else None,
        "rectified": answered, "on_time": rows["on_time"], "late": rows["late"], "overdue": rows["overdue"],
        "pending": rows["pending"], "on_time_rate": (rows["on_time"] / due_cases) if due_cases else None,
        "excluded": rows.get("excluded", 0),
    }
    out.update({f"{k}_pct": pct(out[f"{k}_rate"]) for k in ("bad", "satisfied", "on_time")})
    return out


def statistics(by: str = "department", on: date | None = None) -> list[dict]:
    """Published figures per department (or per hall): counts per score, 差评 rate, rectification
    on time. Ratings whose appeal was upheld are left out (and counted as excluded).
    on_time_rate = answered by the due date / (answered + still unanswered past the due date)."""
    on = on or workdays.today()
    key = "department" if by == "department" else "hall"
    aggregates = {f"s{n}": Count("id", filter=Q(score=n) & ~Q(state=Rating.State.APPEAL_UPHELD)) for n in range(1, 6)}
    aggregates.update(
        total=Count("id", filter=~Q(state=Rating.State.APPEAL_UPHELD)),
        on_time=Count("id", filter=Q(state=Rating.State.RECTIFIED, rectified_late=False)),
        late=Count("id", filter=Q(state=Rating.State.RECTIFIED, rectified_late=True)),
        overdue=Count("id", filter=overdue_q(on)),
        pending=Count("id", filter=Q(state__in=[Rating.State.PENDING, Rating.State.APPEALED])),
        excluded=Count("id", filter=Q(state=Rating.State.APPEAL_UPHELD)),
    )
    qs = Rating.objects.filter(**{f"{key}__isnull": False}).values(f"{key}_id", f"{key}__name").annotate(**aggregates)
    rows = [{"id": r[f"{key}_id"], "name": r[f"{key}__name"], **_counts(r)} for r in qs.order_by(f"{key}__name")]
    return rows


def totals(rows: list[dict]) -> dict:
    keys = ("total", "bad", "rectified", "on_time", "late", "overdue", "pending", "excluded")
    summed = {k: sum(r[k] for r in rows) for k in keys}
    scores = [sum(r["scores"][i] for r in rows) for i in range(5)]
    raw = {"total": summed["total"], **{f"s{n}": scores[5 - n] for n in range(1, 6)},
           "on_time": summed["on_time"], "late": summed["late"], "overdue": summed["overdue"], "pending": summed["pending"],
           "excluded": summed["excluded"]}
    return _counts(raw)
