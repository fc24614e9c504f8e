"""API: the plan's tasks (T31) and units' progress reports, for staff (bearer token or session).

GET  /plan/tasks?status=&unit=          every task with its status, progress and KPI value vs target
GET  /plan/tasks/{number}               one task with its report history
POST /plan/tasks/{number}/reports       {"progress": 0-100, "text": "...", "done": false}

Same rules as the pages: every staff member reads; staff of a responsible department report on their
tasks, supervisors and admins on any (tracker.report_progress decides).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from ninja import Field, Path, Router, Schema

from bianmin.core.api import ERRORS, In, Status
from bianmin.core.api import require_staff as _staff
from bianmin.core.api.auth import API_AUTH

from . import selectors as tracker_read
from . import services as tracker

router = Router(tags=["任务分解"], auth=API_AUTH)

TaskNumber = Annotated[int, Path(ge=1, le=32767)]


class PlanKpiOut(Schema):
    code: str
    name: str
    target: float | None
    value: float | None = Field(description="平台计算的当前值(百分比 0–100);尚未计算时为 null")
    met: bool | None


class ReportOut(Schema):
    id: int
    department: str
    reported_by: str
    progress: int
    done: bool
    counts: bool = Field(description="牵头单位或督查人员的报送,决定任务进度")
    text: str
    created_at: datetime


class PlanTaskOut(Schema):
    number: int
    title: str
    lead_units: str
    supporting_units: str
    deadline_text: str
    deadline: date | None
    target: str
    status: str
    status_label: str
    reasons: list[str] = Field(description="状态的依据:逾期原因,或由平台数据判定完成")
    progress: int | None
    kpi: PlanKpiOut | None
    evidence: str = Field(description="与任务相关的平台数据(不决定状态),如已登记的取消证明事项数")
    url: str


class TaskDetailOut(PlanTaskOut):
    section: str
    text: str
    units_text: str
    milestones: list[dict]
    may_report: bool
    reports: list[ReportOut]


class TaskList(Schema):
    on: date
    count: int
    results: list[PlanTaskOut]


class ReportIn(In):
    progress: int = Field(ge=-(2**31), le=2**31, description="完成进度,0 到 100 的整数")
    text: str = Field(max_length=5000)
    done: bool = False


def _kpi(k) -> dict | None:
    if k is None:
        return None
    return {"code": k.code, "name": k.name, "target": k.target, "value": k.value, "met": k.met}


def _task(s) -> dict:
    t = s.task
    return {"number": t.number, "title": t.title, "lead_units": t.lead_units, "supporting_units": t.supporting_units,
            "deadline_text": t.deadline_text, "deadline": t.deadline, "target": t.target, "status": s.status,
            "status_label": s.label, "reasons": s.reasons, "progress": s.progress, "kpi": _kpi(s.kpi),
            "evidence": s.evidence, "url": f"/api/v1/plan/tasks/{t.number}"}


def _report(r) -> dict:
    staff = getattr(r.reported_by, "staff", None) if r.reported_by_id else None
    return {"id": r.pk, "department": r.department.name, "reported_by": staff.name if staff else "", "progress": r.progress,
            "done": r.done, "counts": r.by_lead, "text": r.text, "created_at": r.created_at}


@router.get("/plan/tasks", response={200: TaskList, **ERRORS}, summary="改革任务列表",
            description="status:not_started / in_progress / done / late / ongoing;unit:责任部门 id。")
def list_tasks(request, status: str = "", unit: str = ""):
    _staff(request)
    on = tracker.today()
    dept = tracker_read.parse_unit(unit[:20])
    tasks = tracker_read.tasks_queryset()
    if dept is not None:
        tasks = tasks.filter(departments=dept)
    statuses = tracker_read.filter_statuses(tracker_read.task_statuses(tasks, on), status[:20].strip())
    return {"on": on, "count": len(statuses), "results": [_task(s) for s in statuses]}


def _detail(task, staff) -> dict:
    out = _task(tracker_read.task_status(task))
    reports = task.reports.select_related("department", "reported_by__staff").order_by("-id")
    out.update({"section": task.section, "text": task.text, "units_text": task.units_text, "milestones": task.milestones,
                "may_report": tracker.may_report(task, staff), "reports": [_report(r) for r in reports]})
    return out


@router.get("/plan/tasks/{number}", response={200: TaskDetailOut, **ERRORS}, summary="改革任务详情与报送记录")
def task_detail(request, number: TaskNumber):
    staff = _staff(request)
    return _detail(tracker_read.get_task(number), staff)


@router.post("/plan/tasks/{number}/reports", response={201: ReportOut, **ERRORS}, summary="报送任务进展",
             description="责任单位的工作人员报送本单位任务的进展;督查人员和系统管理员可报送任何任务。"
                         "done=true 时 progress 应为 100;长期推进的任务不能标记完成。")
def submit_report(request, number: TaskNumber, body: ReportIn):
    staff = _staff(request)
    task = tracker_read.get_task(number)
    return Status(201, _report(tracker.report_progress(task, staff, body.progress, body.text, body.done)))
