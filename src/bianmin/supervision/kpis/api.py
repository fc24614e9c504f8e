"""API: KPIs for supervisors (GET /api/v1/supervision/kpis).

Same permissions as the dashboard pages: supervisors and system admins any scope, a department
head their own department (another department: 404), other staff 403, non-staff 403. Auth: the
Django session or a staff member's bearer token (core.api.auth).
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from ninja import Field, Query, Router, Schema

from bianmin.core.api import ERRORS
from bianmin.core.api.auth import API_AUTH
from bianmin.core.errors import NotFound, PermissionDenied

from . import selectors as kpis
from .views import viewer_scope

router = Router(tags=["效能监督"], auth=API_AUTH)


class KpiFilters(Schema):
    from_: str = Field("", alias="from", max_length=7, description="起始月份 YYYY-MM,默认当年 1 月")
    to: str = Field("", max_length=7, description="结束月份 YYYY-MM,默认本月")
    on: str = Field("", max_length=10, description="事项指标的统计日期 YYYY-MM-DD,默认今天(按当日的事项版本计算)")
    region: str = Field("", max_length=12, description="行政区划代码(含下级区划)")
    department: str = Field("", max_length=12, description="部门编号")


class KpiOut(Schema):
    code: str
    name: str
    definition: str
    unit: str
    source: str
    higher_is_better: bool
    value: float | None
    numerator: int | None
    denominator: int | None
    target_2018: float | None
    target_2020: float | None
    gap_2018: float | None
    gap_2020: float | None
    reached_2018: bool | None
    reached_2020: bool | None


class KpiPage(Schema):
    scope: str
    region: str | None
    department: int | None
    from_month: str
    to_month: str
    catalog_on: date | None = Field(None, description="事项指标的统计日期;为空即今天")
    stats_through: date | None = Field(None, description="预计算统计截至日期;此后的办件实时计算")
    kpis: list[KpiOut]


@router.get("/supervision/kpis", response={200: KpiPage, **ERRORS}, summary="效能监督指标(对照改革目标)")
def kpi_list(request, filters: Query[KpiFilters]):
    staff = getattr(request.auth, "staff", None)
    if staff is None:
        raise PermissionDenied("仅限工作人员使用", code="staff_only")
    try:
        scope = viewer_scope(staff, filters.region, filters.department)
    except Http404:
        raise NotFound("找不到该部门", code="department_not_found") from None
    except DjangoPermissionDenied:
        raise PermissionDenied("效能监督仅限监督人员和部门负责人查看", code="forbidden") from None
    period = kpis.parse_period(filters.from_ or None, filters.to or None)
    on = kpis.parse_day(filters.on)
    fig = kpis.figures(scope=scope, period=period, on=on)
    return {
        "scope": scope.label, "region": scope.region.code if scope.region else None,
        "department": scope.department.pk if scope.department else None,
        "from_month": f"{period.first_month:%Y-%m}", "to_month": f"{period.last_month:%Y-%m}", "catalog_on": on,
        "stats_through": fig.through, "kpis": fig.kpis,
    }
