"""The plan's task tracker (任务分解, T31): the plan's 30 tasks loaded as data, units' progress reports,
each task's status as of a day, and the one-page report for the city government.

Status of a task (`task_status`):
- 长期推进 tasks are `ongoing`: no deadline, never late, never "done";
- otherwise the latest report *by a lead unit or a supervisor* (`PlanTaskReport.by_lead`) sets the progress:
  done -> `done`, any report -> `in_progress`, none -> `not_started`;
- a task past its deadline and not done is `late`;
- a task whose target is a platform KPI is judged by the computed figure whenever it can be computed,
  whatever the reports say (REQUIREMENTS T31: progress "computed from the platform's own data wherever it
  can be"): target reached -> `done`; below it -> `late` once the deadline has passed, `in_progress` before.
  Until the figure can be computed the reports decide, as for any task.

KPI values come from `supervision.kpis.selectors.value(code, on=...)` (the city's figure). Until a KPI can be
computed (module absent, unknown code, no data) the value is None and pages say "指标尚未计算".
"""

from __future__ import annotations

import json
import logging
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from django.db import connection, models, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from bianmin.core import audit, workdays
from bianmin.core.errors import PermissionDenied, ValidationError
from bianmin.org.models import Department

from ..models import PlanTask, PlanTaskReport

logger = logging.getLogger(__name__)
DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "plan_tasks.json"
LONG_TERM_MARK = "长期"
MAX_REPORT_TEXT = 2000
UNIT_SEPARATOR = "、"
# Names for the plan's KPI codes, used while supervision.kpis does not (yet) know a code.
KPI_NAMES = {"immediate_rate": "即办率", "online_rate": "网上可办率", "nearby_rate": "就近办率", "one_visit_rate": "最多跑一次率"}


class Status(models.TextChoices):
    NOT_STARTED = "not_started", "未开始"
    IN_PROGRESS = "in_progress", "推进中"
    DONE = "done", "已完成"
    LATE = "late", "逾期"
    ONGOING = "ongoing", "长期推进"


def today() -> date:
    """Deadlines are calendar dates in Asia/Shanghai, like the cases' working days."""
    return workdays.today()


# ----------------------------------------------------------------------------- loading the plan

def _resolve_units(names: list[str], units: dict) -> set[int]:
    """Department ids for the plan's unit names; unit groups ("各县(市、区)政府(管委会)") by kind and level.
    A unit the data does not know (e.g. 市委编办) resolves to nothing and stays text only."""
    ids: set[int] = set()
    for name in names:
        rule = units.get(name)
        if not rule:
            continue
        qs = Department.objects.all()
        if rule.get("names"):
            qs = qs.filter(name__in=rule["names"])
        if rule.get("kinds"):
            qs = qs.filter(kind__in=rule["kinds"])
        if rule.get("levels"):
            qs = qs.filter(level__in=rule["levels"])
        ids.update(qs.values_list("pk", flat=True))
    return ids


def _fields(row: dict) -> dict:
    return {
        "section": row.get("section", ""),
        "title": row["title"],
        "text": row["text"],
        "units_text": row.get("units_text", ""),
        "lead_units": UNIT_SEPARATOR.join(row.get("lead_units", [])),
        "supporting_units": UNIT_SEPARATOR.join(row.get("supporting_units", [])),
        "deadline_text": row.get("deadline_text", ""),
        "deadline": date.fromisoformat(row["deadline"]) if row.get("deadline") else None,
        "milestones": row.get("milestones", []),
        "target": row.get("target", ""),
        "kpi": row.get("kpi", ""),
        "kpi_target": row.get("kpi_target"),
    }


def load_plan_tasks(path: Path | str = DATA_FILE) -> dict[str, int]:
    """Create or bring up to date the plan's tasks from the JSON file, with their departments.
    Idempotent: a second run changes nothing and reports zero created and zero updated."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    units = data.get("units", {})
    created = updated = 0
    with transaction.atomic():
        existing = {t.number: t for t in PlanTask.objects.prefetch_related("departments", "lead_departments")}
        for row in data["tasks"]:
            values = _fields(row)
            lead_ids = _resolve_units(row.get("lead_units", []), units)
            all_ids = lead_ids | _resolve_units(row.get("supporting_units", []), units)
            task = existing.get(row["number"])
            if task is None:
                task = PlanTask.objects.create(number=row["number"], **values)
                created += 1
                changed = True
            else:
                changed = any(getattr(task, k) != v for k, v in values.items())
                if changed:
                    for k, v in values.items():
                        setattr(task, k, v)
                    task.save()
                if {d.pk for d in task.departments.all()} != all_ids or {d.pk for d in task.lead_departments.all()} != lead_ids:
                    changed = True
                if changed:
                    updated += 1
            if changed:
                task.departments.set(all_ids)
                task.lead_departments.set(lead_ids)
        if created or updated:
            audit.record("plan_task.load", actor="system", object_type="supervision.plantask", object_id="",
                         data={"created": created, "updated": updated, "source": data.get("source", "")})
    return {"plan_tasks": created, "plan_tasks_updated": updated}


# ----------------------------------------------------------------------------- who may report

def is_long_term(task: PlanTask) -> bool:
    return task.deadline is None and LONG_TERM_MARK in task.deadline_text


def responsible(task: PlanTask, staff) -> bool:
    return task.departments.filter(pk=staff.department_id).exists()


def may_report(task: PlanTask, staff) -> bool:
    """Supervisors and admins on any task; other staff on the tasks their department is responsible for."""
    if staff is None:
        return False
    return staff.sees_all_departments or responsible(task, staff)


def _reports_as_lead(task: PlanTask, staff) -> bool:
    if staff.sees_all_departments:
        return True
    lead_ids = set(task.lead_departments.values_list("pk", flat=True))
    if lead_ids:
        return staff.department_id in lead_ids
    # No lead named in the plan (task 30): the responsible units together lead. A lead named but not on
    # the platform (市委编办 for tasks 11 and 28): the supervisors record its progress.
    return not task.lead_units


def _progress(value) -> int:
    if isinstance(value, bool):
        raise ValidationError("完成进度应为 0 到 100 的整数", code="invalid_progress", field="progress")
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit() or len(value) > 3:
            raise ValidationError("完成进度应为 0 到 100 的整数", code="invalid_progress", field="progress")
        value = int(value)
    if not isinstance(value, int) or not 0 <= value <= 100:
        raise ValidationError("完成进度应为 0 到 100 的整数", code="invalid_progress", field="progress")
    return value


def report_progress(task: PlanTask, staff, progress, text, done=False) -> PlanTaskReport:
    """A unit's progress report on a task. Staff of a responsible department or a supervisor/admin only;
    progress an integer 0–100, a description required, "done" only at 100% and never for 长期推进 tasks."""
    if staff is None:
        raise PermissionDenied("只有工作人员可以报送任务进展", code="staff_only")
    if not may_report(task, staff):
        raise PermissionDenied("只有该任务的责任单位或督查人员可以报送进展", code="not_responsible")
    progress = _progress(progress)
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("请填写进展情况", code="text_required", field="text")
    text = text.strip()
    if len(text) > MAX_REPORT_TEXT or "\x00" in text:
        raise ValidationError(f"进展情况不能超过 {MAX_REPORT_TEXT} 字", code="text_too_long", field="text")
    if not isinstance(done, bool):
        raise ValidationError("“已完成”应为是或否", code="invalid_done", field="done")
    if done and is_long_term(task):
        raise ValidationError("长期推进的任务不能标记为已完成,请报送阶段进展", code="long_term_not_done", field="done")
    if done and progress != 100:
        raise ValidationError("标记为已完成时,完成进度应为 100%", code="done_requires_100", field="progress")
    with transaction.atomic():
        report = PlanTaskReport.objects.create(task=task, department_id=staff.department_id, reported_by=staff.user,
                                               progress=progress, done=done, text=text,
                                               by_lead=_reports_as_lead(task, staff))
        audit.record("plan_task.report", actor=staff.user, obj=report,
                     data={"task": task.number, "progress": progress, "done": done, "by_lead": report.by_lead})
    return report


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
    return datetime.combine(on + timedelta(days=1), time.min, tzinfo=timezone.get_current_timezone())


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


# ----------------------------------------------------------------------------- the one-page report as PDF

REPORT_TITLE = "湛江市深入推进审批服务便民化实施方案任务进展情况"


def percent(value: float | None) -> str:
    """KPI rates are percentages (0–100), as supervision.kpis computes them."""
    if value is None:
        return "指标尚未计算"
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def report_pdf(s: Summary) -> bytes:
    """The report for the city government on A4, in Chinese (reportlab's CJK font, registered by cases.letters)."""
    import io
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from bianmin.cases.letters import FONT

    # Sized to keep the report on one A4 page even when most of the 30 tasks are late.
    body = ParagraphStyle("b", fontName=FONT, fontSize=9.5, leading=13, wordWrap="CJK")
    cell = ParagraphStyle("c", parent=body, fontSize=8, leading=10)
    head = ParagraphStyle("h", parent=body, fontSize=11.5, leading=16, spaceBefore=6, spaceAfter=3)
    title = ParagraphStyle("t", parent=body, fontSize=15, leading=22, alignment=TA_CENTER)
    sub = ParagraphStyle("s", parent=body, alignment=TA_CENTER, textColor="#444444")
    p = lambda text, style=cell: Paragraph(escape(str(text)), style)  # noqa: E731

    def table(rows, widths):
        t = Table([[p(c) for c in r] for r in rows], colWidths=[w * mm for w in widths], repeatRows=1)
        t.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#888888")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e9eef5")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ]))
        return t

    def why(x: TaskStatus) -> str:
        return f"{x.kpi.name}未达目标" if x.kpi is not None and x.kpi.met is False else "到期未完成"

    on = f"{s.on.year}年{s.on.month}月{s.on.day}日"
    story = [p(REPORT_TITLE, title), p(f"截至{on},共 {s.total} 项任务", sub), Spacer(1, 3 * mm),
             p("一、任务完成情况", head),
             table([["状态", *[label for _, label, _ in s.counts]], ["任务数", *[n for _, _, n in s.counts]]],
                   [30] + [30] * len(s.counts)),
             p(f"二、逾期任务({len(s.late)} 项)", head)]
    if s.late:
        story.append(table([["序号", "任务", "牵头单位", "完成时限", "进度", "逾期原因"]] + [
            [x.task.number, x.task.title, x.task.lead_units or "(未列明)", x.task.deadline_text,
             "—" if x.progress is None else f"{x.progress}%", why(x)] for x in s.late],
            [9, 54, 57, 24, 12, 24]))
    else:
        story.append(p("无逾期任务。", body))
    story.append(p("三、可由平台数据计算的目标", head))
    story.append(table([["序号", "任务", "指标", "目标值", "当前值", "是否达标"]] + [
        [x.task.number, x.task.title, x.kpi.name, percent(x.kpi.target), percent(x.kpi.value),
         {True: "达标", False: "未达标", None: "—"}[x.kpi.met]] for x in s.kpi_linked],
        [9, 55, 34, 22, 36, 24]))
    story.append(Spacer(1, 3 * mm))
    story.append(p("说明:指标由政务服务平台按当日数据计算,达标即视为完成;其余任务的进度以牵头单位(或督查人员)最近一次报送为准。", cell))
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, topMargin=12 * mm, bottomMargin=12 * mm, leftMargin=15 * mm, rightMargin=15 * mm,
                            title=REPORT_TITLE, author="湛江市政务服务数据管理局", creator="bianmin")
    doc.build(story)
    return buf.getvalue()
