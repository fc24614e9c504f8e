"""The staff console's case pages: the acceptance queue, window registration, a case's page with the
actions the viewer may take, my tasks, the 审管互动 queue and the supervisors' list of all cases.

Who sees what is decided by `selectors` (a case another department cannot see answers 404) and who may
do what by `services` (a refused action re-renders the page with the service's Chinese message and its
HTTP status). The views parse, call one service or selector, and render; which forms a page offers is
only a convenience for the viewer, never the check.
"""

from __future__ import annotations

import uuid
from itertools import groupby

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST

from bianmin.catalog import search
from bianmin.catalog import selectors as catalog_selectors
from bianmin.core.errors import DomainError, NotFound, ValidationError
from bianmin.core.identities import mask_id_number
from bianmin.org.access import staff_console  # noqa: F401  (re-exported for the supervision views)
from bianmin.org.models import Department, Role

from . import clock, files, identity, selectors, services
from .console_forms import (
    DELIVERY_CHOICES, MATERIAL_CHOICES, STOP_CHOICES, ApplicantForm, CaseFilterForm, int_list, int_or_none, material_choice,
)
from .models import Case, CaseMaterial, CaseStatus, ReviewTask

NS = "console:cases_console"
PAGE_SIZE = 20
CLERK_ROLES = (Role.CLERK, Role.ADMIN)
TASK_ROLES = (Role.REVIEWER, Role.APPROVER)
ALL_CASES_ROLES = (Role.SUPERVISOR, Role.ADMIN)
CLOCK_CLASS = {
    clock.State.ON_TIME: "cclock-ok", clock.State.WARNING: "cclock-warning", clock.State.OVERDUE: "cclock-overdue",
    clock.State.PAUSED: "cclock-paused", clock.State.NOT_STARTED: "cclock-idle", clock.State.FINISHED: "cclock-ok",
    clock.State.FINISHED_LATE: "cclock-overdue",
}


# -------------------------------------------------------------------------------------- who may enter



def _page(qs, number):
    return Paginator(qs, PAGE_SIZE).get_page(number)


def _clock_row(case: Case) -> dict:
    c = clock.clock(case)
    return {"clock": c, "clock_class": CLOCK_CLASS.get(c.state, "")}


# -------------------------------------------------------------------------------------- 受理队列

def _materials_summary(case: Case) -> str:
    counts: dict[str, int] = {}
    for cm in case.materials.all():
        counts[cm.state] = counts.get(cm.state, 0) + 1
    labels = dict(CaseMaterial.State.choices)
    return ",".join(f"{labels[s]} {n}" for s, n in counts.items()) or "无"


@staff_console(*CLERK_ROLES)
@require_http_methods(["GET", "HEAD"])
def queue(request):
    qs = selectors.acceptance_queue(request.staff).prefetch_related(
        Prefetch("materials", queryset=CaseMaterial.objects.only("id", "case_id", "state", "order")))
    page = _page(qs, request.GET.get("page"))
    rows = [{"case": c, "id_masked": mask_id_number(c.applicant.id_number), "materials": _materials_summary(c),
             "missing": any(cm.state == CaseMaterial.State.MISSING for cm in c.materials.all())} for c in page.object_list]
    return render(request, "cases/console/queue.html", {"page": page, "rows": rows, "nav": "queue"})


# -------------------------------------------------------------------------------------- 窗口登记

def _item_by_code(code: str):
    code = (code or "").strip()[:80]
    return catalog_selectors.item_detail(code) if code else None


# the service's field names -> the registration form's (the contact at a window is the applicant in person)
_REGISTER_FIELDS = {"contact.phone": "phone", "contact.name": "name", "form_data.note": "note", "form_data": "note"}


def _material_rows(item, post=None, errors=None):
    rows = []
    for m in item.materials.all():
        rows.append({"m": m, "choice": material_choice(post, m) if post is not None else "at_window",
                     "error": (errors or {}).get(f"file_{m.pk}", ""),
                     "choices": [c for c in MATERIAL_CHOICES if c[0] != "commitment" or m.commitment_allowed]})
    return rows


@staff_console(Role.CLERK, Role.ADMIN)
@require_http_methods(["GET", "HEAD", "POST"])
def register(request):
    source = request.POST if request.method == "POST" else request.GET
    q = (request.GET.get("q") or "").strip()[:search.MAX_QUERY]
    item = _item_by_code(source.get("item"))
    results = None
    if q and item is None:
        results = list(search.apply(catalog_selectors.published_items(), q).select_related("department")[:20])
    ctx = {"q": q, "item": item, "results": results, "nav": "new", "summary": [], "field_errors": {}, "accept": files.ACCEPT}
    if request.method != "POST":
        ctx["form"] = ApplicantForm()
        ctx["token"] = uuid.uuid4().hex
        if item is not None:
            ctx["materials"] = _material_rows(item)
        elif source.get("item"):
            ctx["summary"] = [{"message": "找不到该事项,或该事项尚未发布", "anchor": "q"}]
            return render(request, "cases/console/register.html", ctx, status=404)
        return render(request, "cases/console/register.html", ctx)

    form = ApplicantForm(request.POST)
    form.is_valid()  # parse only
    ctx.update(form=form, token=(request.POST.get("token") or uuid.uuid4().hex)[:64])
    if item is None:
        ctx["summary"] = [{"message": "请先查找并选择要申请的事项", "anchor": "q"}]
        return render(request, "cases/console/register.html", ctx, status=400)
    ctx["materials"] = _material_rows(item, request.POST)
    choices = {m.pk: material_choice(request.POST, m) for m in item.materials.all()}
    materials = {pk: services.MaterialInput(at_window=c == "at_window", commitment=c == "commitment",
                                            uploads=tuple(request.FILES.getlist(f"file_{pk}")) or (None,) if c == "upload" else ())
                 for pk, c in choices.items() if c != "none"}
    try:
        case = services.submit_at_window(applicant=form.data_for_service(), item=item, actor=request.user, materials=materials,
                                          form_data=form.form_data(), idempotency_key=f"window:{ctx['token']}")
        code = identity.issue_activation_code(applicant=case.applicant, channel="receipt", actor=request.user)
    except DomainError as exc:
        problems = ([{"field": "materials", "message": exc.message}] if exc.code == "materials_missing"
                    else exc.details or [{"field": exc.field, "message": exc.message}])
        errors, summary = {}, []
        for d in problems:
            field = _REGISTER_FIELDS.get(d.get("field") or "", d.get("field") or "")
            if field.startswith("materials.") and field[10:].isdigit():
                field = f"file_{field[10:]}"
                anchor = f"id_{field}"
            elif field in form.fields:
                anchor = "id_kind_0" if field == "kind" else f"id_{field}"
            elif field == "materials":
                anchor = "materials"
            else:
                field, anchor = "", ""
            if field and field not in errors:
                errors[field] = d["message"]
            summary.append({"message": d["message"], "anchor": anchor})
        ctx["field_errors"] = errors
        ctx["materials"] = _material_rows(item, request.POST, errors)
        ctx["summary"] = summary if len(problems) > 1 else [{"message": exc.message, "anchor": summary[0]["anchor"]}]
        return render(request, "cases/console/register.html", ctx, status=exc.status)
    applicant = case.applicant
    messages.success(request, f"已登记{applicant.name}的申请,办件编号 {case.number},请受理"
                     + (f"。申请人网上账号激活码:{identity.format_code(code)}(72 小时内有效,请写在受理回执上交申请人)" if code else ""))
    return redirect(f"{NS}:detail", number=case.number)


# -------------------------------------------------------------------------------------- the case page

def _stages(case: Case) -> list[dict]:
    tasks = sorted(case.tasks.all(), key=lambda t: (t.stage, t.id))
    out = []
    for stage, group in groupby(tasks, key=lambda t: t.stage):
        group = list(group)
        # a stage worked more than once (after a return) shows each round; parallel = several of one round
        out.append({"stage": stage, "tasks": group, "parallel": len({t.department_id for t in group}) > 1})
    return out


class _Viewer:
    """What the offers of one page are worked out from: who is looking at which case."""

    def __init__(self, staff, case: Case):
        self.staff, self.case, self.status = staff, case, case.status
        self.clerk = staff.role in CLERK_ROLES and services.can_accept(staff, case)
        self.own_dept = staff.role in TASK_ROLES and staff.department_id == case.department_id
        self.materials = list(case.materials.all())
        self.pending_choices = [cm for cm in self.materials if cm.material_id and cm.material and cm.material.pending_allowed
                                and cm.state != CaseMaterial.State.MISSING]
        self.tasks = [t for t in case.tasks.all() if t.state == ReviewTask.State.ACTIVE and t.department_id == staff.department_id
                      and t.role == staff.role and staff.role in TASK_ROLES]

    def may(self, name: str) -> bool:
        """The case's status allows the action (`TRANSITIONS`) and the viewer's role is among its doers."""
        action = services.ACTIONS[name]
        return self.status in services.TRANSITIONS[name] and self.staff.role in action.who


def _offers(staff, case: Case) -> dict:
    """Which forms to show, by action name. A convenience only: the service called on POST is the judge."""
    v = _Viewer(staff, case)
    offers = {name: bool(entry.offered(v)) for name, entry in CONSOLE_ACTIONS.items()}
    return {**offers, "pending_choices": v.pending_choices, "tasks": v.tasks}


def _render_case(request, case: Case, *, status=200, error=None, values=None):
    staff = request.staff
    try:
        delivery = case.delivery
    except Case.delivery.RelatedObjectDoesNotExist:
        delivery = None
    try:
        handover = case.handover
    except Case.handover.RelatedObjectDoesNotExist:
        handover = None
    offers = _offers(staff, case)
    any_action = any(v for k, v in offers.items() if k != "pending_choices")
    return render(request, "cases/console/detail.html", {
        "case": case, **_clock_row(case), "id_masked": mask_id_number(case.applicant.id_number), "stages": _stages(case),
        "materials": list(case.materials.all()), "material_files": _material_files(case.materials.all()), "stops": list(case.stops.all()), "visits": list(case.visits.all()),
        "events": list(case.events.all()), "delivery": delivery, "handover": handover, "offers": offers,
        "any_action": any_action, "error": error, "values": values or {}, "stop_choices": STOP_CHOICES,
        "delivery_choices": DELIVERY_CHOICES, "accept": files.ACCEPT, "nav": "",
    }, status=status)


def _case(request, number: str) -> Case:
    try:
        case = selectors.case_for_staff(request.staff, number)
    except NotFound:
        raise Http404("找不到该办件")
    # the materials' catalog rows tell which may be pending (容缺): one more query, not one per row
    case._prefetched_objects_cache["materials"] = list(
        case.materials.select_related("material").prefetch_related("files"))
    return case


@staff_console()
@require_http_methods(["GET", "HEAD"])
def detail(request, number):
    return _render_case(request, _case(request, number))


# -------------------------------------------------------------------------------------- the applicant's files (12.1)

_KIND_SHORT = {content_type: ext.upper() for ext, (content_type, _label) in files.KINDS.items()}


def _size_label(size: int) -> str:
    if size < 1024:
        return f"{size} 字节"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def _material_files(materials) -> list[dict]:
    """Each material with its files as the page links them (from the prefetched rows: no query)."""
    return [{"cm": cm, "files": [{"pk": f.pk, "name": f.original_name, "kind": _KIND_SHORT.get(f.content_type, "文件"),
                                  "size": _size_label(f.size), "inline": files.opens_inline(f)} for f in cm.files.all()]}
            for cm in materials]


@staff_console()
@require_http_methods(["GET", "HEAD"])
def case_file(request, file_id):
    """An applicant's file for the staff who may see its case (`files.open_for`, the one rule; anyone
    else 404): images and PDFs shown in the browser, sandboxed; other types downloaded."""
    try:
        return files.download_response(files.open_for(request.user, file_id), inline=True)
    except NotFound:
        raise Http404("找不到该文件")


def _task_of(case: Case, value) -> ReviewTask:
    pk = int_or_none(value)
    task = next((t for t in case.tasks.all() if t.pk == pk), None)
    if task is None:
        raise NotFound("找不到该审查任务", code="task_not_found")
    return task


# ------------------------------------------------------------------ the console's case actions (T12, T13)
# One table, keyed by the `TRANSITIONS` names that the services, the API table (`services.ACTIONS`)
# and the URLs use: for each action the form's parsing (request -> the service's arguments), the
# message on success and when the page offers it. The service and its label come from
# `services.ACTIONS`; `_act` dispatches through here.

def _text(request, name: str) -> str:
    return (request.POST.get(name) or "").strip()


def _parse_pending(request, case):
    ids = int_list(request.POST.getlist("pending"), "pending")
    if not ids:
        raise ValidationError("请勾选容缺后补的材料", code="pending_required", field="pending")
    return {"case": case, "pending_material_ids": ids}


def _parse_supplement_received(request, case):
    missing = [cm for cm in case.materials.all() if cm.state == CaseMaterial.State.MISSING]
    uploads = {cm.pk: [request.FILES[f"scan_{cm.pk}"]] for cm in missing if request.FILES.get(f"scan_{cm.pk}") is not None}
    at_window = [cm.pk for cm in missing if cm.pk not in uploads and request.POST.get(f"received_{cm.pk}")]
    return {"case": case, "uploads": uploads, "at_window": at_window}


def _parse_decide(request, case):
    approved = request.POST.get("approved")
    if approved not in ("yes", "no"):
        raise ValidationError("请选择准予或不予", code="decision_required", field="approved")
    return {"case": case, "approved": approved == "yes", "reasons": _text(request, "reasons")}


class ConsoleAction:
    __slots__ = ("done", "offered", "parse")

    def __init__(self, parse, done, offered):
        self.parse, self.done, self.offered = parse, done, offered


def _supplement_offered(v: _Viewer) -> bool:
    """补正 is told once per phase: before acceptance by the window, during review by the department."""
    if not v.may("request_supplement"):
        return False
    if v.status == CaseStatus.SUBMITTED:
        return v.clerk and v.case.supplement_requests < 1
    return v.own_dept and v.status == CaseStatus.IN_REVIEW and not any(s.kind == "supplement" for s in v.case.stops.all())


CONSOLE_ACTIONS: dict[str, ConsoleAction] = {
    "handle_immediately": ConsoleAction(
        lambda r, c: {"case": c}, "即办件已当场办结并出件",
        lambda v: v.clerk and v.may("handle_immediately") and v.case.item.is_immediate),
    "accept": ConsoleAction(lambda r, c: {"case": c}, "已受理,办件进入审查环节", lambda v: v.clerk and v.may("accept")),
    "accept_with_pending": ConsoleAction(
        _parse_pending, "已容缺受理,请提醒申请人按时补齐材料",
        lambda v: v.clerk and v.may("accept_with_pending") and bool(v.pending_choices)),
    "reject": ConsoleAction(lambda r, c: {"case": c, "reason": _text(r, "reason")}, "已作出不予受理决定",
                            lambda v: v.clerk and v.may("reject")),
    "request_supplement": ConsoleAction(
        lambda r, c: {"case": c, "missing_ids": int_list(r.POST.getlist("missing"), "missing"), "note": _text(r, "note")[:300]},
        "已一次性告知申请人需要补正的材料,计时暂停", _supplement_offered),
    "submit_supplement": ConsoleAction(_parse_supplement_received, "补正材料已收讫",
                                       lambda v: v.clerk and v.may("submit_supplement")),
    "receive_pending": ConsoleAction(
        lambda r, c: {"case": c, "case_material_id": int_or_none(r.POST.get("material"))}, "容缺材料已补齐",
        lambda v: (v.clerk or v.own_dept) and v.may("receive_pending")
        and any(cm.state == CaseMaterial.State.PENDING for cm in v.materials)),
    "complete_task": ConsoleAction(
        lambda r, c: {"task": _task_of(c, r.POST.get("task")), "opinion": _text(r, "opinion")}, "审查意见已提交",
        lambda v: bool(v.tasks) and v.may("complete_task")),
    "return_task": ConsoleAction(
        lambda r, c: {"task": _task_of(c, r.POST.get("task")), "reason": _text(r, "reason")}, "已退回上一环节",
        lambda v: bool(v.tasks) and v.may("return_task")),
    "suspend": ConsoleAction(
        lambda r, c: {"case": c, "kind": _text(r, "kind"), "reason": _text(r, "reason"),
                      "planned_days": int_or_none(r.POST.get("planned_days"))},
        "已启动特别程序,计时暂停", lambda v: v.own_dept and v.may("suspend")),
    "resume": ConsoleAction(lambda r, c: {"case": c}, "已恢复计时", lambda v: v.own_dept and v.may("resume")),
    "extend": ConsoleAction(
        lambda r, c: {"case": c, "days": int_or_none(r.POST.get("days")), "reason": _text(r, "reason")}, "已延长办理时限",
        lambda v: v.own_dept and v.may("extend") and (v.staff.role == Role.APPROVER or v.staff.is_head)),
    "decide": ConsoleAction(_parse_decide, lambda kw: "已作出准予决定" if kw["approved"] else "已作出不予决定",
                            lambda v: any(t.role == Role.APPROVER for t in v.tasks) and v.may("decide")),
    "deliver": ConsoleAction(
        lambda r, c: {"case": c, "method": _text(r, "method"), "address": _text(r, "address"),
                      "tracking_number": _text(r, "tracking_number")},
        "已送达办理结果", lambda v: (v.clerk or v.own_dept) and v.may("deliver")),
    "record_visit": ConsoleAction(lambda r, c: {"case": c, "purpose": _text(r, "purpose")}, "已登记跑动",
                                  lambda v: v.staff.hall_id is not None and v.may("record_visit")),
}

def _act(request, case: Case, name: str) -> str:
    """Run one action of the table; returns the success message. Raises DomainError."""
    entry = CONSOLE_ACTIONS[name]
    kwargs = entry.parse(request, case)
    services.ACTIONS[name].service(**kwargs, actor=request.user)
    return entry.done(kwargs) if callable(entry.done) else entry.done


@staff_console()
@require_POST
def case_action(request, number, action):
    if action not in CONSOLE_ACTIONS:
        raise Http404("没有该操作")
    case = _case(request, number)
    try:
        message = _act(request, case, action)
    except DomainError as exc:
        values = {k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}
        values["lists"] = {k: request.POST.getlist(k) for k in ("pending", "missing")}
        return _render_case(request, _case(request, number), status=exc.status,
                            error={"action": action, "task": request.POST.get("task", ""), "message": exc.message},
                            values=values)
    messages.success(request, message)
    return redirect(f"{NS}:detail", number=case.number)


# -------------------------------------------------------------------------------------- 我的待办

@staff_console(*TASK_ROLES)
@require_http_methods(["GET", "HEAD"])
def tasks(request):
    page = _page(selectors.task_list(request.staff), request.GET.get("page"))
    rows = [{"task": t, "case": t.case, **_clock_row(t.case)} for t in page.object_list]
    return render(request, "cases/console/tasks.html", {"page": page, "rows": rows, "nav": "tasks"})


# -------------------------------------------------------------------------------------- 审管互动

def _render_handovers(request, *, status=200, error=None, feedback=""):
    page = _page(selectors.handover_queue(request.staff), request.GET.get("page"))
    return render(request, "cases/console/handovers.html", {"page": page, "nav": "handovers", "error": error,
                                                            "feedback": feedback}, status=status)


@staff_console()
@require_http_methods(["GET", "HEAD"])
def handovers(request):
    return _render_handovers(request)


@staff_console()
@require_POST
def claim(request, pk):
    handover = selectors.handover_queue(request.staff).filter(pk=pk).first()
    if handover is None:
        raise Http404("找不到该推送")
    try:
        services.claim_handover(handover, actor=request.user, feedback=(request.POST.get("feedback") or "")[:2000])
    except DomainError as exc:
        return _render_handovers(request, status=exc.status, error={"pk": pk, "message": exc.message},
                                 feedback=request.POST.get("feedback") or "")
    messages.success(request, f"已认领办件 {handover.case.number} 的审批结果")
    return redirect(f"{NS}:handovers")


# -------------------------------------------------------------------------------------- 全部办件

@staff_console(*ALL_CASES_ROLES)
@require_http_methods(["GET", "HEAD"])
def all_cases(request):
    departments = list(Department.objects.order_by("region_id", "id").only("id", "name"))
    form = CaseFilterForm(request.GET or None, departments=departments)
    error = None
    qs = selectors.staff_visible_cases(request.staff).select_related("item", "department", "applicant").order_by("-id")
    f = {}
    if form.is_bound:
        if form.is_valid():
            f = form.cleaned_data
        else:
            error = "筛选条件无效:" + ";".join(f"{form.fields[k].label}" for k in form.errors)
    if f.get("number"):
        qs = qs.filter(number__startswith=f["number"].strip())
    if f.get("status"):
        qs = qs.filter(status=f["status"])
    if f.get("department"):
        qs = qs.filter(department_id=f["department"])
    today = clock.today()
    if f.get("clock") == "overdue":  # the clock runs only in review; a stopped clock is never overdue
        qs = qs.filter(clock.overdue_q(today))
    elif f.get("clock") == "warning":
        qs = qs.filter(clock.warning_q(today))
    page = _page(qs, request.GET.get("page"))
    rows = [{"case": c, **_clock_row(c)} for c in page.object_list]
    query = urlencode({k: v for k, v in request.GET.items() if k != "page" and v})
    return render(request, "cases/console/all.html", {
        "form": form, "page": page, "rows": rows, "error": error, "query": query, "nav": "all",
    }, status=400 if error else 200)

