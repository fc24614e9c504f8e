"""The page of 超时办结公告 (the plan: "将超时办结等异常情况对社会公告"): the public list of overdue cases by
department, and of cases finished late in the last 30 days.

No personal data: a masked case number, the item, the department and the working days; never the
applicant. The figures are cached for CACHE_SECONDS (the page is public and may be busy); the
cache holds only these public rows, so nothing of a logged-in visitor is ever shared.
"""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from bianmin.cases import clock
from bianmin.core.errors import ValidationError

from .selectors import CACHE_SECONDS, LATE_WINDOW_DAYS, notice_data

MAX_PAGE = 10_000


def _int_param(request, name, lo, hi):
    raw = request.GET.get(name, "")
    if raw == "":
        return None
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise ValidationError("参数无效", code=f"invalid_{name}", field=name)
    return int(raw)


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
