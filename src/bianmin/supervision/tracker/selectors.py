"""The plan tracker's reads (T31): each task's status as of a day, from the reports and the computed KPIs;
lists, filters and the one-page summary. Writes (loading the plan, progress reports) are in services."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import OuterRef, Subquery

from bianmin.core import workdays
from bianmin.core.errors import ValidationError
from bianmin.org.models import Department

from ..models import PlanTask, PlanTaskReport
from .services import KPI_NAMES, Status, is_long_term, today

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- status

@dataclass
class KpiReading:
    code: str
    name: str
    target: float | None
    value: float | None  # percent (0–100); None: not computed yet

    @property
    def available(self) -> bool:
        return self.value is not None

    @property
    def met(self) -> bool | None:
        if self.value is None or self.target is None:
            return None
        return self.value >= self.target - 1e-6

    @property
    def gap(self) -> float | None:
        if self.value is None or self.target is None:
            return None
        return max(0.0, self.target - self.value)

    @property
    def value_text(self) -> str:
        return percent(self.value)

    @property
    def target_text(self) -> str:
        return percent(self.target)

    @property
    def gap_text(self) -> str:
        return percent(self.gap)


@dataclass
class TaskStatus:
    task: PlanTask
    status: str
    latest: PlanTaskReport | None
    kpi: KpiReading | None = None
    reasons: list[str] = field(default_factory=list)
    evidence: str = ""  # a figure from the platform that bears on the task without deciding it

    @property
    def label(self) -> str:
        return Status(self.status).label

    @property
    def progress(self) -> int | None:
        return self.latest.progress if self.latest else None


class KpiSource:
    """KPI values for one day, each computed at most once (a list page asks for the same KPI per task)."""

    def __init__(self, on: date):
        self.on = on
        self._cache: dict[str, float | None] = {}
        from ..kpis import selectors as kpis

        self.module = kpis
        registry = getattr(kpis, "KPIS", None) or {}
        if not isinstance(registry, dict):  # a list of specs with a .code
            registry = {getattr(k, "code", None): k for k in registry}
        self.registry = registry

    def name(self, code: str) -> str:
        spec = self.registry.get(code)
        name = spec.get("name") if isinstance(spec, dict) else getattr(spec, "name", None)
        return name or KPI_NAMES.get(code, code)

    def value(self, code: str) -> float | None:
        if code not in self._cache:
            result = None
            if code in self.registry:
                try:
                    # Inside a transaction, a savepoint keeps a failed KPI query from poisoning the rest of it.
                    with transaction.atomic() if connection.in_atomic_block else nullcontext():
                        result = self.module.value(code, on=self.on)
                except Exception:  # noqa: BLE001 - a KPI that cannot be computed is shown as such, not a 500
                    logger.exception("指标 %s 计算失败", code)
                    result = None
            self._cache[code] = None if result is None else float(result)
        return self._cache[code]


# Figures the platform holds for tasks whose target is not a KPI: shown beside the reports, never deciding
# the status (the plan's wording — "完成清理工作", "全覆盖" — is a judgement the lead unit reports on).
IMPLEMENTING_KINDS = (Department.Kind.DEPARTMENT, Department.Kind.APPROVAL_BUREAU)


def _evidence_four_ways(on: date) -> str:
    from bianmin.catalog.models import ServiceItem

    units = Department.objects.filter(kind__in=IMPLEMENTING_KINDS)
    total = units.count()
    published = units.filter(items__status=ServiceItem.Status.PUBLISHED).distinct().count()
    return f"平台数据:{published}/{total} 个政务服务实施单位已发布事项目录" if total else ""


def _evidence_cancelled_proofs(on: date) -> str:
    from bianmin.catalog.models import CancelledProof

    rows = list(CancelledProof.objects.filter(cancelled_on__lte=on).values_list("reason", flat=True))
    if not rows:
        return "平台数据:尚未登记取消的证明事项"
    return f"平台数据:已登记取消证明事项 {len(rows)} 项,涉及六类取消理由中的 {len(set(rows))} 类"


def _evidence_retained_proofs(on: date) -> str:
    from bianmin.catalog.models import Proof

    return f"平台数据:公布保留证明事项 {Proof.objects.filter(is_retained=True).count()} 项"


EVIDENCE = {5: _evidence_four_ways, 8: _evidence_cancelled_proofs, 9: _evidence_retained_proofs}


def _status(task: PlanTask, latest: PlanTaskReport | None, on: date, source: KpiSource) -> TaskStatus:
    kpi = None
    if task.kpi:
        kpi = KpiReading(task.kpi, source.name(task.kpi), task.kpi_target, source.value(task.kpi))
    reasons: list[str] = []
    if is_long_term(task):
        return TaskStatus(task, Status.ONGOING, latest, kpi, reasons)
    past = task.deadline is not None and task.deadline < on
    if kpi is not None and kpi.met is not None:
        # The platform's figure decides whether the target is reached, whatever the reports say.
        if kpi.met:
            return TaskStatus(task, Status.DONE, latest, kpi, [f"平台数据:{kpi.name}已达目标"])
        if past:
            return TaskStatus(task, Status.LATE, latest, kpi, [f"已过完成时限({task.deadline:%Y-%m-%d}),{kpi.name}未达目标"])
        return TaskStatus(task, Status.IN_PROGRESS, latest, kpi, reasons)
    done = bool(latest and latest.done)
    if past and not done:
        reasons.append(f"已过完成时限({task.deadline:%Y-%m-%d})仍未完成")
        return TaskStatus(task, Status.LATE, latest, kpi, reasons)
    if done:
        return TaskStatus(task, Status.DONE, latest, kpi, reasons)
    return TaskStatus(task, Status.IN_PROGRESS if latest else Status.NOT_STARTED, latest, kpi, reasons)


def _end_of_day(on: date) -> datetime:
    return datetime.combine(on + timedelta(days=1), time.min, tzinfo=workdays.SHANGHAI)


def latest_reports(task_ids, on: date) -> dict[int, PlanTaskReport]:
    """The latest lead report of each task made by the end of `on` (Asia/Shanghai), in one query:
    the plan as of a past day ignores what was reported after it."""
    cutoff = _end_of_day(on)
    latest_id = (PlanTaskReport.objects.filter(task_id=OuterRef("task_id"), by_lead=True, created_at__lt=cutoff)
                 .order_by("-id").values("id")[:1])
    rows = (PlanTaskReport.objects.filter(task_id__in=list(task_ids), id=Subquery(latest_id))
            .select_related("department"))
    return {r.task_id: r for r in rows}


def task_statuses(tasks, on: date | None = None, source: KpiSource | None = None) -> list[TaskStatus]:
    """Statuses of many tasks with a fixed number of queries (one for the reports, one per distinct KPI)."""
    on = on or today()
    source = source or KpiSource(on)
    tasks = list(tasks)
    latest = latest_reports([t.pk for t in tasks], on)
    statuses = [_status(t, latest.get(t.pk), on, source) for t in tasks]
    if on >= today():  # the catalog keeps no history of proofs and departments: today's figures only
        for s in statuses:
            if s.task.number in EVIDENCE:
                s.evidence = EVIDENCE[s.task.number](on)
    return statuses


def task_status(task: PlanTask, on: date | None = None) -> TaskStatus:
    """One task's status as of `on` (default today in Asia/Shanghai)."""
    return task_statuses([task], on)[0]


# ----------------------------------------------------------------------------- reading

def tasks_queryset():
    return PlanTask.objects.prefetch_related("lead_departments")


def get_task(number) -> PlanTask:
    from bianmin.core.errors import NotFound

    try:
        number = int(str(number).strip())
    except (TypeError, ValueError):
        number = 0
    task = PlanTask.objects.filter(number=number).first() if 0 < number < 32768 else None
    if task is None:
        raise NotFound("找不到该改革任务", code="plan_task_not_found")
    return task


def unit_choices():
    """Departments responsible for at least one task, for the list's filter."""
    return Department.objects.filter(plan_tasks__isnull=False).distinct().order_by("level", "id")


def filter_statuses(statuses: list[TaskStatus], status: str = "") -> list[TaskStatus]:
    if status:
        if status not in Status.values:
            raise ValidationError("任务状态无效", code="invalid_status", field="status")
        statuses = [s for s in statuses if s.status == status]
    return statuses


def parse_unit(value) -> Department | None:
    value = (str(value) if value is not None else "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 12:
        raise ValidationError("责任单位无效", code="invalid_unit", field="unit")
    dept = Department.objects.filter(pk=int(value)).first()
    if dept is None:
        raise ValidationError("找不到该责任单位", code="invalid_unit", field="unit")
    return dept


@dataclass
class Summary:
    on: date
    statuses: list[TaskStatus]
    counts: list[tuple[str, str, int]]  # (status, label, count)
    late: list[TaskStatus]
    kpi_linked: list[TaskStatus]
    total: int


def summary(on: date | None = None) -> Summary:
    """The one-page report: counts by status, the late tasks, the KPI-linked tasks with their values."""
    on = on or today()
    statuses = task_statuses(tasks_queryset(), on)
    counts = [(s.value, s.label, sum(1 for x in statuses if x.status == s.value)) for s in Status]
    return Summary(on=on, statuses=statuses, counts=counts, late=[s for s in statuses if s.status == Status.LATE],
                   kpi_linked=[s for s in statuses if s.kpi is not None], total=len(statuses))


def percent(value: float | None) -> str:
    """KPI rates are percentages (0–100), as supervision.kpis computes them."""
    if value is None:
        return "指标尚未计算"
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"
