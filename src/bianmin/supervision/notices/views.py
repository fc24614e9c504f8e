"""超时办结公告 (the plan: "将超时办结等异常情况对社会公告"): the public list of overdue cases by
department, and of cases finished late in the last 30 days.

No personal data: a masked case number, the item, the department and the working days; never the
applicant. The figures are cached for CACHE_SECONDS (the page is public and may be busy); the
cache holds only these public rows, so nothing of a logged-in visitor is ever shared.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.cache import cache
from django.db.models import Count, F
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from bianmin.cases import clock
from bianmin.cases.models import Case, CaseStatus
from bianmin.core import workdays
from bianmin.core.pagination import paginate
from bianmin.core.errors import ValidationError

from ..alerts.services import running_clock

CACHE_SECONDS = 60
PAGE_SIZE = 20
LATE_WINDOW_DAYS = 30
MAX_PAGE = 10_000


def mask_number(number: str) -> str:
    """440800-20260928-000123 -> 440800-2026****0123: enough to recognise one's own case, not to look one up."""
    number = number or ""
    return number[:11] + "****" + number[-4:] if len(number) > 15 else "****"


def _last_workday(today):
    """A running case is overdue once a working day has passed after its deadline: deadline < this day."""
    return today if workdays.is_workday(today) else workdays.add_workdays(today, -1)


def overdue_cases(today):
    return Case.objects.filter(status=CaseStatus.IN_REVIEW, stopped_on__isnull=True, decided_on__isnull=True,
                               promised_deadline__lt=_last_workday(today))


def late_cases(today):
    return Case.objects.filter(decided_on__gte=today - timedelta(days=LATE_WINDOW_DAYS), decided_on__lte=today,
                               decided_on__gt=F("promised_deadline"))


def _int_param(request, name, lo, hi):
    raw = request.GET.get(name, "")
    if raw == "":
        return None
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise ValidationError("参数无效", code=f"invalid_{name}", field=name)
    return int(raw)


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
            days = -(running_clock(c["promised_deadline"], today).remaining or 0)
        else:
            days = workdays.workdays_between(c["promised_deadline"], c["decided_on"])
        rows.append({"number": mask_number(c["number"]), "item": c["item__name"], "department": c["department__name"],
                     "deadline": c["promised_deadline"], "decided_on": c["decided_on"], "days": days})
    data = {"summary": [{"id": s["department_id"], "name": s["department__name"], "n": s["n"]} for s in summary],
            "rows": rows, "count": result.paginator.count, "page": result.number,
            "pages": max(1, -(-result.paginator.count // PAGE_SIZE))}
    cache.set(key, data, CACHE_SECONDS)
    return data


@require_http_methods(["GET", "HEAD"])
def overdue(request):
    today = clock.today()
    show = request.GET.get("show") or "overdue"
    try:
        if show not in ("overdue", "late"):
            raise ValidationError("参数无效", code="invalid_show", field="show")
        department = _int_param(request, "department", 1, 2**53)
        page = _int_param(request, "page", 1, MAX_PAGE) or 1
    except ValidationError:
        return render(request, "web/error.html", {"title": "请求无效", "message": "筛选条件无效,请从公告页面重新选择。", "status": 400},
                      status=400)
    data = notice_data(show, department, page, today)
    selected = next((s for s in data["summary"] if s["id"] == department), None)
    query = "show=" + show + (f"&department={department}" if department else "")
    return render(request, "supervision/notices/overdue.html", {
        **data, "show": show, "department": department, "selected": selected, "today": today, "query": query,
        "window": LATE_WINDOW_DAYS, "cache_seconds": CACHE_SECONDS,
        "prev": data["page"] - 1 if data["page"] > 1 else None, "next": data["page"] + 1 if data["page"] < data["pages"] else None,
    })
