"""超时办结公告 (the plan: "将超时办结等异常情况对社会公告"): the public list of overdue cases by
department, and of cases finished late in the last 30 days.

No personal data: a masked case number, the item, the department and the working days; never the
applicant. The figures are cached for CACHE_SECONDS (the page is public and may be busy); the
cache holds only these public rows, so nothing of a logged-in visitor is ever shared.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.core.cache import cache
from django.db.models import Count

from bianmin.cases import clock
from bianmin.cases.models import Case
from bianmin.core import workdays
from bianmin.core.identities import mask_case_number
from bianmin.core.pagination import paginate

CACHE_SECONDS = 60
PAGE_SIZE = 20
LATE_WINDOW_DAYS = 30


def overdue_cases(today: date):
    """Running cases overdue on `today` (cases.clock's 超期: the day after the deadline day on)."""
    return Case.objects.filter(clock.overdue_q(today))


def late_cases(today: date):
    """Cases finished late (超期办结) in the last LATE_WINDOW_DAYS days."""
    return Case.objects.filter(clock.finished_late_q(), decided_on__gte=today - timedelta(days=LATE_WINDOW_DAYS),
                               decided_on__lte=today)


def notice_data(show: str, department: int | None, page: int, today) -> dict:
    """The page's public rows (cached): summary by department, one page of the list, the total."""
    key = f"bianmin:notices:{show}:{department or 0}:{page}:{today:%Y%m%d}"
    data = cache.get(key)
    if data is not None:
        return data
    base = overdue_cases(today) if show == "overdue" else late_cases(today)
    summary = list(base.order_by().values("department_id", "department__name").annotate(n=Count("id")).order_by("-n", "department__name"))
    qs = base.filter(department_id=department) if department else base
    order = ("promised_deadline", "id") if show == "overdue" else ("-decided_on", "id")
    result = paginate(qs.order_by(*order).values("number", "item__name", "department__name", "promised_deadline", "decided_on"),
                      page, PAGE_SIZE)
    rows = []
    for c in result.object_list:
        if show == "overdue":
            days = clock.days_overdue(c["promised_deadline"], today)
        else:
            days = workdays.workdays_between(c["promised_deadline"], c["decided_on"])
        rows.append({"number": mask_case_number(c["number"]), "item": c["item__name"], "department": c["department__name"],
                     "deadline": c["promised_deadline"], "decided_on": c["decided_on"], "days": days})
    data = {"summary": [{"id": s["department_id"], "name": s["department__name"], "n": s["n"]} for s in summary],
            "rows": rows, "count": result.paginator.count, "page": result.number,
            "pages": max(1, -(-result.paginator.count // PAGE_SIZE))}
    cache.set(key, data, CACHE_SECONDS)
    return data
