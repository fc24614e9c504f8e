"""Console pages of the plan tracker (T31), mounted at /console/supervision/plan/.

Every staff member may read the plan's tasks (the plan is a public document); staff of a responsible
department report on their tasks, supervisors and admins on any (the service decides; a refused report
re-renders the page with its Chinese message and a 4xx status). The one-page report for the city
government is for supervisors and admins.
"""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST

from bianmin.cases.console_views import staff_console
from bianmin.core.errors import DomainError, NotFound, ValidationError
from bianmin.org.models import Role

from . import selectors as tracker_read
from . import report as tracker_report
from . import services as tracker

NS = "console:supervision_tracker"
REPORT_ROLES = (Role.SUPERVISOR, Role.ADMIN)
STATUS_CLASS = {s.value: f"plan-status plan-status-{s.value}" for s in tracker.Status}


def _on(request) -> date:
    """?on=YYYY-MM-DD shows the plan as of another day (default today)."""
    raw = (request.GET.get("on") or "").strip()
    if not raw:
        return tracker.today()
    try:
        if len(raw) != 10:
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError("日期格式应为 YYYY-MM-DD,例如 2020-12-31", code="invalid_date", field="on")


def _task(number):
    try:
        return tracker_read.get_task(number)
    except NotFound:
        raise Http404("找不到该改革任务")


def _rows(statuses):
    return [{"s": s, "cls": STATUS_CLASS[s.status]} for s in statuses]


@staff_console()
@require_http_methods(["GET", "HEAD"])
def task_list(request):
    staff = request.staff
    error = ""
    status = (request.GET.get("status") or "").strip()[:20]
    unit_raw = (request.GET.get("unit") or "").strip()[:20]
    unit = None
    try:
        on = _on(request)
        if unit_raw == "mine":
            unit = staff.department
        else:
            unit = tracker_read.parse_unit(unit_raw)
        tasks = tracker_read.tasks_queryset()
        if unit is not None:
            tasks = tasks.filter(departments=unit)
        statuses = tracker_read.filter_statuses(tracker_read.task_statuses(tasks, on), status)
    except DomainError as exc:
        error, on, statuses = exc.message, tracker.today(), []
        response_status = exc.status
    else:
        response_status = 200
    mine = set(staff.department.plan_tasks.values_list("number", flat=True))
    ctx = {
        "rows": _rows(statuses), "error": error, "on": on, "is_today": on == tracker.today(),
        "status": status, "unit": unit_raw, "statuses": tracker.Status.choices, "units": tracker_read.unit_choices(),
        "mine": mine, "can_see_report": staff.role in REPORT_ROLES, "nav": "list",
    }
    return render(request, "supervision/tracker_list.html", ctx, status=response_status)


def _detail(request, task, *, form=None, error="", field_error="", status=200):
    staff = request.staff
    reports = list(task.reports.select_related("department", "reported_by__staff").order_by("-id"))
    ctx = {
        "task": task, "st": tracker_read.task_status(task), "reports": reports,
        "lead_departments": list(task.lead_departments.all()),
        "may_report": tracker.may_report(task, staff), "long_term": tracker.is_long_term(task),
        "form": form or {"progress": (reports[0].progress if reports else ""), "text": "", "done": False},
        "error": error, "field_error": field_error, "nav": "list",
        "can_see_report": staff.role in REPORT_ROLES,
    }
    ctx["cls"] = STATUS_CLASS[ctx["st"].status]
    return render(request, "supervision/tracker_detail.html", ctx, status=status)


@staff_console()
@require_http_methods(["GET", "HEAD"])
def task_detail(request, number):
    return _detail(request, _task(number))


@staff_console()
@require_POST
def report(request, number):
    task = _task(number)
    form = {"progress": (request.POST.get("progress") or "").strip()[:10], "text": (request.POST.get("text") or "")[:5000],
            "done": request.POST.get("done") == "1"}
    try:
        tracker.report_progress(task, request.staff, form["progress"], form["text"], form["done"])
    except DomainError as exc:
        return _detail(request, task, form=form, error=exc.message, field_error=exc.field or "", status=exc.status)
    messages.success(request, f"已报送任务 {task.number} 的进展")
    return redirect(f"/console/supervision/plan/{task.number}/#reports")


def _summary(request):
    if request.staff.role not in REPORT_ROLES:
        raise PermissionDenied("任务进展报告仅供督查人员和系统管理员查看")
    return tracker_read.summary(_on(request))


@staff_console()
@require_http_methods(["GET", "HEAD"])
def summary_page(request):
    try:
        s = _summary(request)
    except DomainError as exc:
        return render(request, "supervision/tracker_report.html", {"error": exc.message, "nav": "report"}, status=exc.status)
    query = urlencode({"on": request.GET["on"]}) if request.GET.get("on") else ""
    return render(request, "supervision/tracker_report.html", {
        "s": s, "late_rows": _rows(s.late), "kpi_rows": _rows(s.kpi_linked), "nav": "report", "query": query,
        "title": tracker_report.REPORT_TITLE, "can_see_report": True,
    })


@staff_console()
@require_http_methods(["GET", "HEAD"])
def summary_pdf(request):
    try:
        s = _summary(request)
    except DomainError as exc:
        return HttpResponse(exc.message, status=exc.status, content_type="text/plain; charset=utf-8")
    response = HttpResponse(tracker_report.report_pdf(s), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="plan-report-{s.on:%Y%m%d}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response
