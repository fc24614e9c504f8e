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
from datetime import date
from pathlib import Path

from django.db import models, transaction

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
