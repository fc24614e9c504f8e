"""效能监督 dashboard (console): the KPIs beside the plan's targets, charts, drill-down, Excel export.

Who sees what: supervisors and system admins the whole city (any division, any department); a
department head (Staff.is_head) only their own department (another department's figures: 404);
other staff 403; anonymous users go to the login page. Thin: parse, call kpis, render.
"""

from __future__ import annotations

import io
from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_http_methods

from bianmin.cases import clock
from bianmin.core.xlsx import Column
from bianmin.core.xlsx import add_sheet as _sheet
from bianmin.core.xlsx import append_row as _append
from bianmin.core.xlsx import cell_value
from bianmin.core.errors import ValidationError
from bianmin.core.pagination import paginate
from bianmin.org.models import Department, Level, Region

from . import charts
from . import selectors as kpis

PAGE_SIZE = 20
MAX_PAGE = 100_000  # beyond this an OFFSET overflows SQLite's integers; nobody pages that far
EXPORT_MAX_ROWS = 100_000
FILTERS = ("from", "to", "on", "region", "department")


# ------------------------------------------------------------------------------------------- access

def viewer_scope(staff, region_code, department_id) -> kpis.Scope:
    """The scope a staff member asked for, narrowed to what they may see. Raises Http404 for a head
    asking for another department, PermissionDenied for staff who see no figures."""
    if staff is None:
        raise PermissionDenied("只有工作人员可以查看效能监督")
    if staff.sees_all_departments:
        return kpis.resolve_scope(region_code, department_id)
    if not staff.is_head:
        raise PermissionDenied("效能监督仅限监督人员和部门负责人查看")
    if department_id not in (None, "") and str(department_id).strip() != str(staff.department_id):
        raise Http404("找不到该部门")
    return kpis.resolve_scope(region_code, staff.department_id)


def dashboard_view(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        request.staff = getattr(request.user, "staff", None)
        if request.staff is None or not (request.staff.sees_all_departments or request.staff.is_head):
            raise PermissionDenied("效能监督仅限监督人员和部门负责人查看")
        return view(request, *args, **kwargs)

    return wrapper


def _filters(request) -> dict:
    return {k: request.GET.get(k, "")[:40] for k in FILTERS}


def _choices(staff) -> dict:
    if staff.sees_all_departments:
        regions = list(Region.objects.filter(level__in=[Level.CITY, Level.COUNTY]).order_by("code").only("code", "name", "level"))
        departments = list(Department.objects.order_by("region_id", "id").only("id", "name", "region_id"))
    else:
        regions, departments = [], [staff.department]
    return {"region_choices": regions, "department_choices": departments}


def _parse(request):
    """(scope, period, day of the catalog figures or None for today) from the query, or a
    ValidationError in Chinese."""
    f = _filters(request)
    scope = viewer_scope(request.staff, f["region"], f["department"])
    period = kpis.parse_period(f["from"] or None, f["to"] or None)
    return scope, period, kpis.parse_day(f["on"])


def _query(request, drop=("page", "export", "table", "met")) -> str:
    return urlencode({k: v for k, v in request.GET.items() if k not in drop and v})


# ------------------------------------------------------------------------------------------ dashboard

@dashboard_view
@require_http_methods(["GET", "HEAD"])
def dashboard(request):
    ctx = {"f": _filters(request), **_choices(request.staff), "query": _query(request), "nav": "dashboard"}
    try:
        scope, period, on = _parse(request)
    except ValidationError as e:
        return render(request, "supervision/dashboard.html", {**ctx, "error": e.message}, status=400)
    fig = kpis.figures(scope=scope, period=period, on=on)
    trend = kpis.trend(fig)
    divisions = kpis.by_division(fig) if scope.department is None else []
    departments = kpis.by_department(fig)
    tables = {"kpis": fig.kpis, "trend": trend, "divisions": divisions, "departments": departments,
              "online": kpis.online_breakdown(fig.catalog)["levels"]}
    if request.GET.get("export") == "xlsx":
        return _export_table(request, tables, fig)
    by_code = {k["code"]: {**k, **_display(k)} for k in fig.kpis}
    ctx.update({
        "fig": fig, "scope": scope, "period": period, "trend": trend, "divisions": divisions, "departments": departments,
        "catalog_kpis": [by_code[c] for c in kpis.CATALOG_KPIS], "case_kpis": [by_code[c] for c in kpis.CASE_KPIS],
        "online": kpis.online_breakdown(fig.catalog), "today": clock.today(),
        "trend_chart": charts.line_chart(
            title=f"{scope.label}办件按月走势({period.label})", labels=[t["label"] for t in trend], max_value=100,
            series=[("按时办结率", [t["on_time_rate"] for t in trend]), ("网上申办率", [t["online_rate"] for t in trend]),
                    ("最多跑一次率", [t["one_visit_rate"] for t in trend]), ("当场办结率", [t["same_day_rate"] for t in trend])]),
        "volume_chart": charts.bar_chart(title=f"{scope.label}每月办结件数", labels=[t["label"] for t in trend],
                                         values=[t["decided"] for t in trend], unit="件"),
        "division_chart": charts.bar_chart(
            title="各县(市、区)按时办结率", labels=[d["label"] for d in divisions], values=[d["on_time_rate"] for d in divisions],
            max_value=100),
        "division_online_chart": charts.bar_chart(
            title="各县(市、区)网上可办率", labels=[d["label"] for d in divisions], values=[d["online_rate"] for d in divisions],
            max_value=100, target=kpis.KPIS["online_rate"].target_2020, target_label="2020年目标"),
        "department_chart": _department_chart(departments),
    })
    return render(request, "supervision/dashboard.html", ctx)


def _department_chart(departments: list[dict]):
    """Departments by on-time rate, the lowest first: the ones to look at come on top."""
    rows = sorted((d for d in departments if d["on_time_rate"] is not None), key=lambda d: (d["on_time_rate"], d["label"]))
    return charts.bar_chart(title="各部门按时办结率(由低到高,未有办结件的部门不列)", labels=[d["label"] for d in rows],
                            values=[d["on_time_rate"] for d in rows], max_value=100)


def _number(v, unit) -> str:
    if v is None:
        return "—"
    if unit == "件":
        return f"{int(v)} 件"
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return f"{text}%" if unit == "%" else f"{text} {unit}"


def _gap(k, year) -> str:
    gap, reached = k[f"gap_{year}"], k[f"reached_{year}"]
    if gap is None:
        return "—"
    if reached:
        return "已达标" + (f"(超 {abs(gap):.2f}".rstrip("0").rstrip(".") + " 个百分点)" if gap else "")
    return f"差 {abs(gap):.2f}".rstrip("0").rstrip(".") + " 个百分点"


def _display(k: dict) -> dict:
    return {"shown": _number(k["value"], k["unit"]), "t2018": _number(k["target_2018"], k["unit"]),
            "t2020": _number(k["target_2020"], k["unit"]), "g2018": _gap(k, "2018"), "g2020": _gap(k, "2020")}


# ----------------------------------------------------------------------------------------- drill-down

@dashboard_view
@require_http_methods(["GET", "HEAD"])
def drilldown(request, code):
    if code not in kpis.KPIS:
        raise Http404("找不到该指标")
    kpi = kpis.KPIS[code]
    ctx = {"f": _filters(request), **_choices(request.staff), "kpi": kpi, "query": _query(request),
           "met": request.GET.get("met", ""), "nav": "dashboard"}
    met = {"1": True, "0": False, "": None}.get(ctx["met"])
    try:
        if ctx["met"] not in ("1", "0", ""):
            raise ValidationError("“met”应为 1(达标)或 0(未达标)", code="invalid_met", field="met")
        scope, period, on = _parse(request)
        if kpi.source == "catalog":
            qs = kpis.items_behind(code, scope, met=met, on=on)
        else:
            qs = kpis.cases_behind(code, scope, period, met=met)
        if request.GET.get("export") == "xlsx":
            return _export_list(kpi, qs, period)
        total = kpis.cases_behind_count(code, scope, period, met=met) if kpi.source == "cases" else None
        page = paginate(qs, _page_number(request), PAGE_SIZE) if total is None else _page(qs, _page_number(request), total)
    except ValidationError as e:
        return render(request, "supervision/dashboard_drilldown.html", {**ctx, "error": e.message}, status=400)
    rows = list(page.object_list)
    if kpi.source == "cases":
        rows = [{"case": c, "clock": clock.clock(c)} for c in rows]
    ctx.update({"scope": scope, "period": period, "on": on, "page": page, "rows": rows,
                "page_query": _query(request, drop=("page", "export"))})
    return render(request, "supervision/dashboard_drilldown.html", ctx)


def _page(qs, number: int, total: int) -> Page:
    """A page of `qs` whose total is already known (past the last page: the last page)."""
    number = min(number, max(1, (total - 1) // PAGE_SIZE + 1))
    rows = list(qs[(number - 1) * PAGE_SIZE:number * PAGE_SIZE])
    paginator = Paginator([], PAGE_SIZE)
    paginator.__dict__["count"] = total  # Paginator.count is a cached_property
    return Page(rows, number, paginator)


def _page_number(request) -> int:
    raw = (request.GET.get("page") or "1").strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or not 1 <= int(raw) <= MAX_PAGE:
        raise ValidationError(f"页码应为 1 到 {MAX_PAGE} 之间的整数", code="invalid_page", field="page")
    return int(raw)


# ---------------------------------------------------------------------------------------------- Excel

def _pct_cell(v):
    return "" if v is None else v


KPI_COLUMNS = [Column("指标", "name", width=18), Column("数值", "value", width=10), Column("单位", "unit", width=8),
               Column("分子", "numerator", width=10), Column("分母", "denominator", width=10),
               Column("2018年目标", "target_2018", width=12), Column("差距(2018)", "gap_2018", width=12),
               Column("2020年目标", "target_2020", width=12), Column("差距(2020)", "gap_2020", width=12),
               Column("口径", "definition", width=60)]
TREND_COLUMNS = [Column("月份", "label", width=10), Column("办结件数", "decided", width=10), Column("按时办结率(%)", "on_time_rate", width=14),
                 Column("当场办结率(%)", "same_day_rate", width=14), Column("最多跑一次率(%)", "one_visit_rate", width=16),
                 Column("网上申办率(%)", "online_rate", width=14)]
COMPARE_COLUMNS = [Column("名称", "label", width=28), Column("办结件数", "decided", width=10),
                   Column("按时办结率(%)", "on_time_rate", width=14), Column("网上申办率(%)", "case_online_rate", width=14),
                   Column("办件最多跑一次率(%)", "case_one_visit_rate", width=18), Column("已发布事项", "items", width=10),
                   Column("即办率(%)", "immediate_rate", width=10), Column("网上可办率(%)", "online_rate", width=14),
                   Column("就近办率(%)", "nearby_rate", width=12), Column("最多跑一次率(%)", "one_visit_rate", width=16)]
ONLINE_COLUMNS = [Column("层级", "label", width=14), Column("网上可办事项", "online", width=14), Column("事项总数", "total", width=10),
                  Column("网上可办率(%)", "rate", width=14)]
TABLES = {"kpis": ("指标", KPI_COLUMNS), "trend": ("按月走势", TREND_COLUMNS), "divisions": ("各县(市、区)", COMPARE_COLUMNS),
          "departments": ("各部门", COMPARE_COLUMNS), "online": ("网上可办率分层级", ONLINE_COLUMNS)}


def _xlsx_response(wb, filename: str) -> HttpResponse:
    buf = io.BytesIO()
    wb.save(buf)
    response = HttpResponse(buf.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def _export_table(request, tables: dict, fig: kpis.Figures) -> HttpResponse:
    from openpyxl import Workbook

    name = request.GET.get("table", "kpis")
    if name not in TABLES:
        raise Http404("找不到该表格")
    title, columns = TABLES[name]
    wb = Workbook(write_only=True)
    ws = _sheet(wb, title, columns)
    for row in tables[name]:
        _append(ws, columns, {k: _pct_cell(v) for k, v in row.items()})
    note = wb.create_sheet("说明")
    note.append(["范围", cell_value(fig.scope.label)])  # text never becomes a formula (core.xlsx)
    note.append(["期间", cell_value(fig.period.label)])
    note.append(["导出日期", clock.today().isoformat()])
    return _xlsx_response(wb, f"效能监督-{title}-{fig.period.first_month:%Y%m}-{fig.period.last_month:%Y%m}.xlsx")


ITEM_LIST_COLUMNS = [Column("实施编码", "code", width=40), Column("事项名称", "name", width=30), Column("实施主体", "department", width=28),
                     Column("层级", "level", width=10), Column("即办件", "immediate", width=8), Column("网办深度", "online", width=12),
                     Column("就近可办层级", "nearby", width=20), Column("到现场次数", "visits", width=10)]
CASE_LIST_COLUMNS = [Column("办件编号", "number", width=26), Column("事项", "item", width=30), Column("实施主体", "department", width=28),
                     Column("申请渠道", "channel", width=10), Column("受理大厅", "hall", width=24), Column("受理日期", "accepted_on", width=12),
                     Column("办结日期", "decided_on", width=12), Column("承诺期限", "deadline", width=12), Column("计时状态", "clock", width=10),
                     Column("跑动次数", "visits", width=10)]


def _export_list(kpi: kpis.Kpi, qs, period: kpis.Period) -> HttpResponse:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    n = 0
    if kpi.source == "catalog":
        ws = _sheet(wb, "事项", ITEM_LIST_COLUMNS)
        for item in qs[:EXPORT_MAX_ROWS].iterator(chunk_size=2000):
            _append(ws, ITEM_LIST_COLUMNS, {
                "code": item.code, "name": item.name, "department": item.department.name, "level": item.get_level_display(),
                "immediate": "是" if item.is_immediate else "否", "online": item.get_online_level_display(),
                "nearby": item.nearby_levels, "visits": item.max_visits})
            n += 1
    else:
        ws = _sheet(wb, "办件", CASE_LIST_COLUMNS)
        today = clock.today()
        for c in qs[:EXPORT_MAX_ROWS].iterator(chunk_size=2000):
            _append(ws, CASE_LIST_COLUMNS, {
                "number": c.number or "", "item": c.item.name, "department": c.department.name, "channel": c.get_channel_display(),
                "hall": c.hall.name if c.hall else "", "accepted_on": str(c.accepted_on or ""), "decided_on": str(c.decided_on or ""),
                "deadline": str(c.promised_deadline or ""), "clock": clock.clock(c, on=today).label, "visits": c.visit_count})
            n += 1
    if n >= EXPORT_MAX_ROWS:
        ws.append([f"仅导出前 {EXPORT_MAX_ROWS} 条,请缩小筛选范围"])
    return _xlsx_response(wb, f"效能监督-{kpi.name}-明细-{clock.today():%Y%m%d}.xlsx")
