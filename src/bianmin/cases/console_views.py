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
from django.db import transaction
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST

from bianmin.catalog import search
from bianmin.catalog import selectors as catalog_selectors
from bianmin.core import workdays
from bianmin.core.errors import DomainError, NotFound, ValidationError
from bianmin.core.identities import mask_resident_id
from bianmin.org.access import staff_console  # noqa: F401  (re-exported for the supervision views)
from bianmin.org.models import Department, Role

from . import clock, files, identity, selectors, services
from .console_forms import (
    DELIVERY_CHOICES, MATERIAL_CHOICES, STOP_CHOICES, ApplicantForm, CaseFilterForm, int_list, int_or_none, material_choice,
)
from .models import Applicant, Case, CaseMaterial, CaseStatus, ReviewTask

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


def _masked(applicant: Applicant) -> str:
    if applicant.kind == Applicant.Kind.PERSON:
        return mask_resident_id(applicant.id_number)
    return applicant.id_number


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
    rows = [{"case": c, "id_masked": _masked(c.applicant), "materials": _materials_summary(c),
             "missing": any(cm.state == CaseMaterial.State.MISSING for cm in c.materials.all())} for c in page.object_list]
    return render(request, "cases/console/queue.html", {"page": page, "rows": rows, "nav": "queue"})


# -------------------------------------------------------------------------------------- 窗口登记

def _item_by_code(code: str):
    code = (code or "").strip()[:80]
    return catalog_selectors.item_detail(code) if code else None


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
    staff = request.staff
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
    materials = {pk: ({"at_window": True} if c == "at_window" else {"commitment": True})
                 for pk, c in choices.items() if c in ("at_window", "commitment")}
    stored = []
    try:
        with transaction.atomic():  # a refused application leaves no half-registered applicant behind
            applicant = services.register_applicant(**form.data_for_service(), user=None)
            key = f"window:{ctx['token']}"
            again = Case.objects.filter(applicant=applicant, idempotency_key=key).exists()  # a double click: no second scan
            for pk, c in choices.items():
                if c == "upload" and not again:
                    try:
                        record = files.store_upload(applicant, request.FILES.get(f"file_{pk}"), actor=request.user)
                    except DomainError as exc:
                        exc.field = f"file_{pk}"
                        raise
                    stored.append(record)
                    materials[pk] = {"files": [record.pk]}
            case = services.submit_application(applicant, item, actor=request.user, channel="window", materials=materials,
                                               idempotency_key=key, hall=staff.hall, window=staff.window)
            code = identity.issue_activation_code(applicant=applicant, channel="receipt", actor=request.user)
    except DomainError as exc:
        files.discard(stored)
        if exc.field and exc.field.startswith("file_"):
            ctx["field_errors"] = {exc.field: exc.message}
            ctx["materials"] = _material_rows(item, request.POST, ctx["field_errors"])
            ctx["summary"] = [{"message": exc.message, "anchor": f"id_{exc.field}"}]
            return render(request, "cases/console/register.html", ctx, status=exc.status)
        field = exc.field if exc.field in form.fields else ("materials" if exc.field == "materials" else None)
        anchor = f"id_{field}" if field in form.fields else ("materials" if field == "materials" else "")
        if field == "kind":
            anchor = "id_kind_0"
        if field:
            ctx["field_errors"] = {field: exc.message}
        ctx["summary"] = [{"message": exc.message, "anchor": anchor}]
        return render(request, "cases/console/register.html", ctx, status=exc.status)
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


def _offers(staff, case: Case) -> dict:
    """Which forms to show. A convenience only: the service called on POST is the judge."""
    status = case.status
    T = services.TRANSITIONS
    clerk = staff.role in CLERK_ROLES and services.can_accept(staff, case)
    own_dept = staff.role in TASK_ROLES and staff.department_id == case.department_id
    materials = list(case.materials.all())
    pending_allowed = [cm for cm in materials if cm.material_id and cm.material and cm.material.pending_allowed
                       and cm.state != CaseMaterial.State.MISSING]
    my_tasks = [t for t in case.tasks.all() if t.state == ReviewTask.State.ACTIVE and t.department_id == staff.department_id
                and t.role == staff.role and staff.role in TASK_ROLES]
    return {
        "accept": clerk and status in T["accept"],
        "accept_pending": clerk and status in T["accept_with_pending"] and bool(pending_allowed),
        "pending_choices": pending_allowed,
        "reject": clerk and status in T["reject"],
        "supplement": ((clerk and status == CaseStatus.SUBMITTED and case.supplement_requests < 1)
                       or (own_dept and status == CaseStatus.IN_REVIEW and not any(s.kind == "supplement" for s in case.stops.all()))),
        "immediate": clerk and status in T["handle_immediately"] and case.item.is_immediate,
        "supplement_received": clerk and status in T["submit_supplement"],
        "receive_pending": (clerk or own_dept) and status in T["receive_pending"]
                           and any(cm.state == CaseMaterial.State.PENDING for cm in materials),
        "suspend": own_dept and status in T["suspend"],
        "resume": own_dept and status in T["resume"],
        "extend": own_dept and status in T["extend"] and (staff.role == Role.APPROVER or staff.is_head),
        "deliver": (clerk or own_dept) and status in T["deliver"],
        "visit": staff.hall_id is not None and staff.role != Role.SUPERVISOR and status in T["record_visit"],
        "tasks": my_tasks,
    }


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
        "case": case, **_clock_row(case), "id_masked": _masked(case.applicant), "stages": _stages(case),
        "materials": list(case.materials.all()), "stops": list(case.stops.all()), "visits": list(case.visits.all()),
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


def _task_of(case: Case, value) -> ReviewTask:
    pk = int_or_none(value)
    task = next((t for t in case.tasks.all() if t.pk == pk), None)
    if task is None:
        raise NotFound("找不到该审查任务", code="task_not_found")
    return task


def _act(request, case: Case, action: str):
    """Run one action; returns the success message. Raises DomainError."""
    actor, post = request.user, request.POST
    text = lambda name: (post.get(name) or "").strip()  # noqa: E731
    if action == "accept":
        services.accept_case(case, actor=actor)
        return "已受理,办件进入审查环节"
    if action == "accept_pending":
        ids = int_list(post.getlist("pending"), "pending")
        if not ids:
            raise ValidationError("请勾选容缺后补的材料", code="pending_required", field="pending")
        services.accept_case(case, actor=actor, pending_material_ids=ids)
        return "已容缺受理,请提醒申请人按时补齐材料"
    if action == "reject":
        services.reject_case(case, actor=actor, reason=text("reason"))
        return "已作出不予受理决定"
    if action == "supplement":
        services.request_supplement(case, actor=actor, missing_ids=int_list(post.getlist("missing"), "missing"), note=text("note")[:300])
        return "已一次性告知申请人需要补正的材料,计时暂停"
    if action == "immediate":
        services.handle_immediately(case, actor=actor)
        return "即办件已当场办结并出件"
    if action == "supplement_received":
        missing = [cm for cm in case.materials.all() if cm.state == CaseMaterial.State.MISSING]
        given, stored = {}, []
        try:
            with transaction.atomic():
                for cm in missing:
                    upload = request.FILES.get(f"scan_{cm.pk}")
                    if upload is not None:
                        stored.append(files.store_upload(case.applicant, upload, actor=actor))
                        given[cm.pk] = [stored[-1].pk]
                    elif post.get(f"received_{cm.pk}"):
                        given[cm.pk] = ["at_window"]
                services.submit_supplement(case, actor=actor, files=given)
        except DomainError:
            files.discard(stored)
            raise
        return "补正材料已收讫"
    if action == "receive_pending":
        services.receive_pending_material(case, actor=actor, case_material_id=int_or_none(post.get("material")))
        return "容缺材料已补齐"
    if action == "complete":
        services.complete_task(_task_of(case, post.get("task")), actor=actor, opinion=text("opinion"))
        return "审查意见已提交"
    if action == "return":
        services.return_task(_task_of(case, post.get("task")), actor=actor, reason=text("reason"))
        return "已退回上一环节"
    if action == "suspend":
        services.suspend_case(case, actor=actor, kind=text("kind"), reason=text("reason"),
                              planned_days=int_or_none(post.get("planned_days")))
        return "已启动特别程序,计时暂停"
    if action == "resume":
        services.resume_case(case, actor=actor)
        return "已恢复计时"
    if action == "extend":
        services.extend_deadline(case, actor=actor, days=int_or_none(post.get("days")), reason=text("reason"))
        return "已延长办理时限"
    if action == "decide":
        approved = post.get("approved")
        if approved not in ("yes", "no"):
            raise ValidationError("请选择准予或不予", code="decision_required", field="approved")
        services.decide_case(case, actor=actor, approved=approved == "yes", reasons=text("reasons"))
        return "已作出准予决定" if approved == "yes" else "已作出不予决定"
    if action == "deliver":
        services.deliver_result(case, actor=actor, method=text("method"), address=text("address"),
                                tracking_number=text("tracking_number"))
        return "已送达办理结果"
    if action == "visit":
        services.record_visit(case, actor=actor, purpose=text("purpose"))
        return "已登记跑动"
    raise Http404("没有该操作")


ACTIONS = ("accept", "accept_pending", "reject", "supplement", "immediate", "supplement_received", "receive_pending",
           "complete", "return", "suspend", "resume", "extend", "decide", "deliver", "visit")


@staff_console()
@require_POST
def case_action(request, number, action):
    if action not in ACTIONS:
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
        qs = qs.filter(status=CaseStatus.IN_REVIEW, stopped_on__isnull=True, promised_deadline__lt=today)
    elif f.get("clock") == "warning":
        qs = qs.filter(status=CaseStatus.IN_REVIEW, stopped_on__isnull=True, promised_deadline__gte=today,
                       promised_deadline__lte=workdays.add_workdays(today, clock.WARNING_DAYS))
    page = _page(qs, request.GET.get("page"))
    rows = [{"case": c, **_clock_row(c)} for c in page.object_list]
    query = urlencode({k: v for k, v in request.GET.items() if k != "page" and v})
    return render(request, "cases/console/all.html", {
        "form": form, "page": page, "rows": rows, "error": error, "query": query, "nav": "all",
    }, status=400 if error else 200)

