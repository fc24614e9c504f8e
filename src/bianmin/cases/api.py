"""Cases API (/api/v1/cases…, /api/v1/staff/…, /api/v1/messages): see docs/api.md.

Thin: parse with ninja schemas, call the same services and selectors as the pages, serialise. The
services hold every rule and raise domain errors, which the API turns into 4xx answers. Every case
carries its clock from `clock.clock(case)`, the one source of deadlines.

Authentication (core.api.auth): the Django session (CSRF checked on unsafe methods) or a personal bearer
token. Applicants see only their own cases ("not found" for anyone else's); staff only what
`selectors.staff_visible_cases` lets them see.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import HttpResponse
from ninja import Field, File, Router, Schema
from ninja.files import UploadedFile as NinjaUploadedFile

from bianmin.catalog import selectors as catalog_selectors
from bianmin.catalog.models import ServiceItem
from bianmin.core import services as core_services
from bianmin.core import throttle, tokens
from bianmin.core.api import ERRORS, ErrorOut, Id, In, PathId, Status, Text
from bianmin.core.api import page as _page
from bianmin.core.api import page_out as _page_out
from bianmin.core.api import require_applicant as _applicant
from bianmin.core.api import require_staff as _staff
from bianmin.core.api.auth import API_AUTH, session_auth
from bianmin.core.errors import NotFound, ValidationError
from bianmin.core.identities import mask_id_number, mask_phone, scrub
from bianmin.core.models import ApiToken
from bianmin.org.models import Hall

from . import clock as case_clock
from . import files, letters, reuse, selectors, services
from .models import Case, CaseStatus, Message, ReviewTask, SupervisionHandover

router = Router(tags=["办件"], auth=API_AUTH)



# ----------------------------------------------------------------------------- input


class MaterialIn(In):
    # the number of files per material is the service's rule (services.MAX_FILES_PER_MATERIAL, code too_many_files)
    files: list[Id] = Field(default_factory=list, max_length=1000)
    commitment: bool = False
    reuse: bool = Field(False, description="同意复用 GET /apply/{item_code} 中 reusable 所列的、以前办件提交过的材料")


class ContactIn(In):
    name: str = Field("", max_length=1000)
    phone: str = Field("", max_length=1000)
    address: str = Field("", max_length=1000)


class SubmitIn(In):
    item_code: str = Field(max_length=80)
    # the shape and size of form_data are the service's rules (services.clean_form_data)
    form_data: Any = Field(default_factory=dict)
    contact: ContactIn | None = Field(None, description="联系人和联系电话;不填则取申请人登记的信息")
    materials: dict[Id, MaterialIn] = Field(default_factory=dict, max_length=200)


class WithdrawIn(In):
    reason: Text = ""


class SupplementIn(In):
    files: dict[Id, list[Id]] = Field(max_length=200)


class AcceptIn(In):
    pending_material_ids: list[Id] = Field(default_factory=list, max_length=200)


class ReasonIn(In):
    reason: Text


class PendingIn(In):
    file_ids: list[Id] = Field(default_factory=list, max_length=50)


class SupplementRequestIn(In):
    missing_ids: list[Id] = Field(max_length=200)
    note: Text = ""


class ImmediateIn(In):
    approved: bool = True
    reasons: Text = ""


class OpinionIn(In):
    opinion: Text


class SuspendIn(In):
    kind: str = Field(max_length=30)
    reason: Text
    planned_days: int = Field(ge=-(2**31), le=2**31)


class ExtendIn(In):
    days: int = Field(ge=-(2**31), le=2**31)
    reason: Text


class DecideIn(In):
    approved: bool
    reasons: Text


class DeliverIn(In):
    method: str = Field(max_length=20)
    address: Text = ""
    tracking_number: str = Field("", max_length=100)


class VisitIn(In):
    purpose: Text
    hall_id: Id | None = None


class ClaimIn(In):
    feedback: Text = ""


class TokenIn(In):
    name: str = Field(min_length=1, max_length=100)


# ----------------------------------------------------------------------------- output

class ClockOut(Schema):
    state: str
    label: str
    promised_deadline: date | None
    statutory_deadline: date | None
    remaining: int | None
    provisional: bool


class CaseOut(Schema):
    number: str | None = Field(description="办件编号;草稿(status=draft)尚无编号,为 null")
    status: str
    status_label: str
    item_code: str
    item_name: str
    department: str
    submitted_at: datetime | None
    accepted_on: date | None
    decided_on: date | None
    approved: bool | None
    visit_count: int
    visits_exceeded: bool
    clock: ClockOut
    url: str | None = Field(description="办件详情的地址;草稿为 null(在网页上继续填写)")


class StaffCaseOut(CaseOut):
    applicant: str
    channel: str


class CasePage(Schema):
    count: int
    page: int
    page_size: int
    results: list[CaseOut]


class StaffCasePage(CasePage):
    results: list[StaffCaseOut]


class FileOut(Schema):
    id: int
    name: str
    content_type: str
    size: int


class CaseMaterialOut(Schema):
    id: int
    material_id: int | None
    name: str
    state: str
    state_label: str
    note: str
    files: list[FileOut]


class StageOut(Schema):
    id: int
    stage: int
    name: str
    department: str
    role: str
    state: str
    state_label: str
    done_at: datetime | None


class StaffStageOut(StageOut):
    assignee: str | None
    opinion: str


class StopOut(Schema):
    kind: str
    kind_label: str
    reason: str
    planned_days: int | None
    started_on: date
    ended_on: date | None


class DeliveryOut(Schema):
    method: str
    method_label: str
    tracking_number: str
    delivered_at: datetime


class EventOut(Schema):
    at: datetime
    kind: str
    from_status: str
    to_status: str
    actor: str
    message: str


class AsksOut(Schema):
    missing_materials: list[str]
    pending_materials: list[str]
    can_withdraw: bool
    can_supplement: bool


class CaseDetailOut(CaseOut):
    channel: str
    channel_label: str
    hall: str | None
    form_data: dict[str, Any]
    commitment: bool
    decision_text: str
    rejection_reason: str
    materials: list[CaseMaterialOut]
    stages: list[StageOut]
    stops: list[StopOut]
    delivery: DeliveryOut | None
    asks: AsksOut
    decision_letter: str | None


class ApplicantOut(Schema):
    name: str
    kind: str
    id_number: str
    phone: str


class VisitOut(Schema):
    at: datetime
    hall: str
    purpose: str


class StaffCaseDetailOut(CaseDetailOut):
    applicant: ApplicantOut
    stages: list[StaffStageOut]
    events: list[EventOut]
    visits: list[VisitOut]


class ReviewTaskOut(Schema):
    id: int
    stage: int
    name: str
    role: str
    state: str
    created_at: datetime
    case: StaffCaseOut


class TaskPage(Schema):
    count: int
    page: int
    page_size: int
    results: list[ReviewTaskOut]


class HandoverOut(Schema):
    id: int
    pushed_at: datetime
    claimed_at: datetime | None
    feedback: str
    case: StaffCaseOut


class HandoverPage(Schema):
    count: int
    page: int
    page_size: int
    results: list[HandoverOut]


class MessageOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    case_number: str | None
    created_at: datetime
    read: bool


class MessagePage(Schema):
    count: int
    unread: int
    page: int
    page_size: int
    results: list[MessageOut]


# ----------------------------------------------------------------------------- helpers

def clock_out(case) -> dict:
    c = case_clock.clock(case)
    return {"state": c.state, "label": c.label, "promised_deadline": c.promised_deadline,
            "statutory_deadline": c.statutory_deadline, "remaining": c.remaining, "provisional": c.provisional}


def case_out(case, *, staff: bool = False) -> dict:
    """The list view of a case: only fields the list selectors load (no query per row)."""
    prefix = "/api/v1/staff/cases/" if staff else "/api/v1/cases/"
    out = {
        "number": case.number, "status": case.status, "status_label": CaseStatus(case.status).label,
        "item_code": case.item.code, "item_name": case.item.name, "department": case.department.name,
        "submitted_at": case.submitted_at, "accepted_on": case.accepted_on, "decided_on": case.decided_on,
        "approved": case.approved, "visit_count": case.visit_count, "visits_exceeded": case.visits_exceeded,
        "clock": clock_out(case), "url": prefix + case.number if case.number else None,  # a draft has no number yet
    }
    if staff:
        out.update({"applicant": case.applicant.name, "channel": case.channel})
    return out


def _delivery(case):
    try:
        d = case.delivery
    except Case.delivery.RelatedObjectDoesNotExist:
        return None
    return {"method": d.method, "method_label": d.get_method_display(), "tracking_number": d.tracking_number,
            "delivered_at": d.delivered_at}


def case_detail(case, *, staff: bool = False) -> dict:
    materials = list(case.materials.all())
    out = case_out(case, staff=staff)
    out.update({
        "channel": case.channel, "channel_label": case.get_channel_display(), "hall": case.hall.name if case.hall_id else None,
        "form_data": case.form_data if isinstance(case.form_data, dict) else {}, "commitment": case.commitment,
        "decision_text": case.decision_text, "rejection_reason": scrub(case.rejection_reason),
        "materials": [
            {"id": m.pk, "material_id": m.material_id, "name": m.name, "state": m.state, "state_label": m.get_state_display(),
             "note": m.note, "files": [{"id": f.pk, "name": f.original_name, "content_type": f.content_type, "size": f.size}
                                       for f in m.files.all()]}
            for m in materials
        ],
        "stages": [
            {"id": t.pk, "stage": t.stage, "name": t.name, "department": t.department.name, "role": t.role, "state": t.state,
             "state_label": t.get_state_display(), "done_at": t.done_at,
             **({"assignee": t.assignee.name if t.assignee_id else None, "opinion": t.opinion} if staff else {})}
            for t in case.tasks.all()
        ],
        "stops": [{"kind": s.kind, "kind_label": s.get_kind_display(), "reason": s.reason, "planned_days": s.planned_days,
                   "started_on": s.started_on, "ended_on": s.ended_on} for s in case.stops.all()],
        "delivery": _delivery(case),
        "asks": {
            "missing_materials": [m.name for m in materials if m.state == "missing"],
            "pending_materials": [m.name for m in materials if m.state == "pending"],
            "can_withdraw": case.status in services.TRANSITIONS["withdraw"],
            "can_supplement": case.status in services.TRANSITIONS["submit_supplement"],
        },
        "decision_letter": (out["url"] + "/decision.pdf") if case.approved is not None else None,
    })
    if staff:
        a = case.applicant
        out.update({
            "applicant": {"name": a.name, "kind": a.kind, "id_number": mask_id_number(a.id_number),
                          "phone": mask_phone(a.phone)},
            "events": [event_out(e) for e in case.events.all()],
            "visits": [{"at": v.at, "hall": v.hall.name, "purpose": v.purpose} for v in case.visits.all()],
        })
    return out


def event_out(e) -> dict:
    return {"at": e.at, "kind": e.kind, "from_status": e.from_status, "to_status": e.to_status, "actor": e.actor_label,
            "message": scrub(e.message)}  # as in the inbox and the SMS (issue 11)


def _pdf(case) -> HttpResponse:
    body = letters.decision_letter_pdf(case)
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="decision-{case.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


# ----------------------------------------------------------------------------- applicants

class FromLicenceOut(Schema):
    licence_name: str
    number: str
    identifier: str


class ReusableOut(Schema):
    case_number: str
    material_name: str
    files: list[FileOut]


class FormMaterialOut(Schema):
    id: int
    name: str
    description: str
    form: str
    required: bool
    commitment_allowed: bool
    pending_allowed: bool
    from_licence: FromLicenceOut | None = Field(None, description="已从电子证照库调取(免提交),无需上传")
    reusable: ReusableOut | None = Field(None, description="以前办件提交过的材料;提交时 materials 中 reuse=true 表示同意复用")


class ApplicationFormOut(Schema):
    item_code: str
    item_name: str
    online: bool
    materials: list[FormMaterialOut]


@router.get("/apply/{item_code}", response={200: ApplicationFormOut, **ERRORS}, summary="申请表:事项的材料及其 id",
            description="POST /cases 的 materials 以这里的材料 id 为键。")
def application_form(request, item_code: str):
    item = ServiceItem.objects.filter(code=item_code[:80], status=ServiceItem.Status.PUBLISHED).first()
    if item is None:
        raise NotFound(f"找不到编码为“{item_code[:80]}”的已发布事项", code="item_not_found")
    materials = list(item.materials.all())
    applicant = getattr(request.auth, "applicant", None)
    licensed = reuse.from_licences(applicant, materials) if applicant else {}
    offered = reuse.offers(applicant, [m for m in materials if m.pk not in licensed]) if applicant else {}

    def once_only(m):
        lic, offer = licensed.get(m.pk), offered.get(m.pk)
        return {
            "from_licence": {"licence_name": lic.name, "number": lic.number, "identifier": lic.identifier} if lic else None,
            "reusable": {"case_number": offer.case_number, "material_name": offer.material_name,
                         "files": [{"id": f.pk, "name": f.original_name, "content_type": f.content_type, "size": f.size}
                                   for f in offer.files]} if offer else None,
        }

    return {"item_code": item.code, "item_name": item.name, "online": item.is_online, "materials": [
        {"id": m.pk, "name": m.name, "description": m.description, "form": m.form, "required": m.required,
         "commitment_allowed": m.commitment_allowed, "pending_allowed": m.pending_allowed, **once_only(m)} for m in materials
    ]}


@router.post("/uploads", response={201: FileOut, **ERRORS}, summary="上传材料文件",
             description="multipart/form-data,字段 file:PDF、JPG、PNG 或 OFD(按内容识别),不超过 20 MB。返回的 id 用于 POST /cases 的 materials 和补正。")
def upload(request, file: NinjaUploadedFile = File(...)):

    record = files.store_upload(_applicant(request), file, actor=request.auth)
    return Status(201, {"id": record.pk, "name": record.original_name, "content_type": record.content_type, "size": record.size})


@router.get("/files/{file_id}", response={200: None, **ERRORS}, summary="下载材料文件",
            description="本人的文件,或工作人员可见办件的文件;其他一律 404。")
def download(request, file_id: str):

    return files.download_response(files.open_for(request.auth, file_id[:30]))


@router.get("/cases", response={200: CasePage, **ERRORS}, summary="我的办件")
def my_cases(request, page: str = "1", page_size: str = "20"):
    applicant = getattr(request.auth, "applicant", None)
    qs = selectors.applicant_cases(applicant) if applicant else Case.objects.none()
    result = _page(qs, page, page_size)
    return _page_out(result, [case_out(c) for c in result.object_list])


@router.post("/cases", response={200: CaseOut, 201: CaseOut, **ERRORS}, summary="提交申请",
             description="请求头 Idempotency-Key:同一申请人的同一键只生成一个办件;重试时返回 200 和同一办件。"
                         "返回办件概要(编号、状态、时限);材料和进度见 GET /cases/{number}。")
def submit_case(request, body: SubmitIn):
    applicant = _applicant(request)
    key = request.headers.get("Idempotency-Key")
    if key is not None:
        key = key.strip()
        if not key or len(key) > 64 or not key.isprintable():
            raise ValidationError("Idempotency-Key 应为 1 到 64 个可见字符", code="invalid_idempotency_key")
    item = catalog_selectors.item_for_application(body.item_code)
    if item is None:
        raise NotFound(f"找不到编码为“{body.item_code}”的已发布事项", code="item_not_found")
    materials = {mid: services.MaterialInput(files=tuple(m.files), commitment=m.commitment, reuse=m.reuse)
                 for mid, m in body.materials.items()}
    contact = services.Contact(**body.contact.model_dump()) if body.contact is not None else None
    case = services.submit_application(applicant=applicant, item=item, actor=request.auth, form_data=body.form_data,
                                       contact=contact, materials=materials, idempotency_key=key)
    # the answer is built from the case just written: re-reading its whole detail would cost more
    # than the submission itself (benchmarks/case_submit.py). A retry with a used key gets that case.
    return Status(200 if getattr(case, "is_replay", False) else 201, case_out(case))


@router.get("/cases/{number}", response={200: CaseDetailOut, **ERRORS}, summary="我的办件详情")
def my_case(request, number: str):
    return case_detail(selectors.case_for_applicant(request.auth, number))


@router.get("/cases/{number}/events", response={200: list[EventOut], **ERRORS}, summary="办件进度(时间线)")
def my_case_events(request, number: str):
    case = selectors.case_for_applicant(request.auth, number)
    return [event_out(e) for e in case.events.all()]


@router.get("/cases/{number}/decision.pdf", response={200: None, **ERRORS}, summary="决定书(PDF)")
def my_decision_letter(request, number: str):
    return _pdf(selectors.case_for_applicant(request.auth, number))


@router.post("/cases/{number}/withdraw", response={200: CaseOut, **ERRORS}, summary="撤回申请")
def withdraw(request, number: str, body: WithdrawIn):
    case = selectors.case_for_applicant(request.auth, number)
    return case_out(services.withdraw_case(case, actor=request.auth, reason=body.reason))


@router.post("/cases/{number}/supplement", response={200: CaseOut, **ERRORS}, summary="提交补正材料",
             description="files:{办件材料 id: [上传文件 id]},须包含每一项待补正材料。")
def supplement(request, number: str, body: SupplementIn):
    case = selectors.case_for_applicant(request.auth, number)
    return case_out(services.submit_supplement(case, actor=request.auth, files=body.files))


@router.get("/messages", response={200: MessagePage, **ERRORS}, summary="站内消息")
def messages(request, page: str = "1", page_size: str = "20"):
    qs = Message.objects.filter(recipient=request.auth).select_related("case").only(
        "id", "kind", "title", "body", "created_at", "read_at", "case__number")
    result = _page(qs, page, page_size)
    out = _page_out(result, [
        {"id": m.pk, "kind": m.kind, "title": m.title, "body": m.body, "case_number": m.case.number if m.case_id else None,
         "created_at": m.created_at, "read": m.read_at is not None} for m in result.object_list
    ])
    out["unread"] = Message.objects.filter(recipient=request.auth, read_at__isnull=True).count()
    return out


@router.post("/messages/{message_id}/read", response={200: MessageOut, **ERRORS}, summary="标记消息已读")
def read_message(request, message_id: PathId):
    m = services.mark_message_read(recipient=request.auth, message_id=message_id)
    return {"id": m.pk, "kind": m.kind, "title": m.title, "body": m.body, "case_number": m.case.number if m.case_id else None,
            "created_at": m.created_at, "read": True}


# ----------------------------------------------------------------------------- staff

def _staff_case(request, number: str):
    """A case this staff member may see (for an action: the service checks the action itself)."""
    staff = _staff(request)
    case = selectors.staff_visible_cases(staff).filter(number=number[:32]).first()
    if case is None:
        raise NotFound("找不到该办件", code="case_not_found")
    return case


def _staff_summary(case) -> dict:
    case = Case.objects.select_related("item", "department", "applicant").get(pk=case.pk)
    return case_out(case, staff=True)


@router.get("/staff/queue", response={200: StaffCasePage, **ERRORS}, summary="受理队列")
def staff_queue(request, page: str = "1", page_size: str = "20"):
    result = _page(selectors.acceptance_queue(_staff(request)), page, page_size)
    return _page_out(result, [case_out(c, staff=True) for c in result.object_list])


@router.get("/staff/tasks", response={200: TaskPage, **ERRORS}, summary="我的审查任务")
def staff_tasks(request, page: str = "1", page_size: str = "20"):
    qs = selectors.task_list(_staff(request)).select_related("case__department")
    result = _page(qs, page, page_size)
    return _page_out(result, [
        {"id": t.pk, "stage": t.stage, "name": t.name, "role": t.role, "state": t.state, "created_at": t.created_at,
         "case": case_out(t.case, staff=True)} for t in result.object_list
    ])


@router.get("/staff/cases/{number}", response={200: StaffCaseDetailOut, **ERRORS}, summary="办件详情(工作人员)")
def staff_case(request, number: str):
    return case_detail(selectors.case_for_staff(_staff(request), number), staff=True)


@router.get("/staff/cases/{number}/decision.pdf", response={200: None, **ERRORS}, summary="决定书(PDF,工作人员)")
def staff_decision_letter(request, number: str):
    return _pdf(selectors.case_for_staff(_staff(request), number))


@router.post("/staff/cases/{number}/accept", response={200: StaffCaseOut, **ERRORS}, summary="受理(或容缺受理)")
def accept(request, number: str, body: AcceptIn):
    case = services.accept_case(_staff_case(request, number), actor=request.auth, pending_material_ids=body.pending_material_ids)
    return _staff_summary(case)


@router.post("/staff/cases/{number}/reject", response={200: StaffCaseOut, **ERRORS}, summary="不予受理")
def reject(request, number: str, body: ReasonIn):
    return _staff_summary(services.reject_case(_staff_case(request, number), actor=request.auth, reason=body.reason))


@router.post("/staff/cases/{number}/supplement-request", response={200: StaffCaseOut, **ERRORS}, summary="一次性告知补正")
def supplement_request(request, number: str, body: SupplementRequestIn):
    case = services.request_supplement(_staff_case(request, number), actor=request.auth, missing_ids=body.missing_ids,
                                       note=body.note)
    return _staff_summary(case)


@router.post("/staff/cases/{number}/immediate", response={200: StaffCaseOut, **ERRORS}, summary="即办件当场办结")
def immediate(request, number: str, body: ImmediateIn):
    case = services.handle_immediately(_staff_case(request, number), actor=request.auth, approved=body.approved,
                                       reasons=body.reasons)
    return _staff_summary(case)


def _task(request, number: str, task_id: int) -> ReviewTask:
    case = _staff_case(request, number)
    task = ReviewTask.objects.select_related("case").filter(pk=task_id, case=case).first()
    if task is None:
        raise NotFound("找不到该审查任务", code="task_not_found")
    return task


@router.post("/staff/cases/{number}/tasks/{task_id}/complete", response={200: StaffCaseOut, **ERRORS}, summary="完成审查环节")
def complete_task(request, number: str, task_id: PathId, body: OpinionIn):
    task = services.complete_task(_task(request, number, task_id), actor=request.auth, opinion=body.opinion)
    return _staff_summary(task.case)


@router.post("/staff/cases/{number}/tasks/{task_id}/return", response={200: StaffCaseOut, **ERRORS}, summary="退回上一环节")
def return_task(request, number: str, task_id: PathId, body: ReasonIn):
    task = services.return_task(_task(request, number, task_id), actor=request.auth, reason=body.reason)
    return _staff_summary(task.case)


@router.post("/staff/cases/{number}/suspend", response={200: StaffCaseOut, **ERRORS}, summary="启动特别程序(暂停计时)")
def suspend(request, number: str, body: SuspendIn):
    case = services.suspend_case(_staff_case(request, number), actor=request.auth, kind=body.kind, reason=body.reason,
                                 planned_days=body.planned_days)
    return _staff_summary(case)


@router.post("/staff/cases/{number}/resume", response={200: StaffCaseOut, **ERRORS}, summary="特别程序结束(恢复计时)")
def resume(request, number: str):
    return _staff_summary(services.resume_case(_staff_case(request, number), actor=request.auth))


@router.post("/staff/cases/{number}/extend", response={200: StaffCaseOut, **ERRORS}, summary="延长办理时限")
def extend(request, number: str, body: ExtendIn):
    case = services.extend_deadline(_staff_case(request, number), actor=request.auth, days=body.days, reason=body.reason)
    return _staff_summary(case)


@router.post("/staff/cases/{number}/pending/{case_material_id}", response={200: StaffCaseOut, **ERRORS},
             summary="容缺材料已补齐", description="file_ids:申请人的上传文件 id;窗口核验原件时可为空。")
def receive_pending(request, number: str, case_material_id: PathId, body: PendingIn):
    case = services.receive_pending_material(_staff_case(request, number), actor=request.auth,
                                             case_material_id=case_material_id, file_ids=body.file_ids)
    return _staff_summary(case)


@router.post("/staff/cases/{number}/decide", response={200: StaffCaseOut, **ERRORS}, summary="作出决定(准予/不予)")
def decide(request, number: str, body: DecideIn):
    case = services.decide_case(_staff_case(request, number), actor=request.auth, approved=body.approved, reasons=body.reasons)
    return _staff_summary(case)


@router.post("/staff/cases/{number}/deliver", response={200: StaffCaseOut, **ERRORS}, summary="送达(窗口/邮寄/电子)")
def deliver(request, number: str, body: DeliverIn):
    delivery = services.deliver_result(_staff_case(request, number), actor=request.auth, method=body.method,
                                       address=body.address, tracking_number=body.tracking_number)
    return _staff_summary(delivery.case)


@router.post("/staff/cases/{number}/visits", response={200: StaffCaseOut, **ERRORS}, summary="登记跑动")
def visits(request, number: str, body: VisitIn):
    case = _staff_case(request, number)
    hall = None
    if body.hall_id is not None:
        hall = Hall.objects.filter(pk=body.hall_id).first()
        if hall is None:
            raise NotFound("找不到该大厅", code="hall_not_found", field="hall_id")
    visit = services.record_visit(case, actor=request.auth, purpose=body.purpose, hall=hall)
    return _staff_summary(visit.case)


@router.get("/staff/handovers", response={200: HandoverPage, **ERRORS}, summary="审管互动:待认领的审批结果")
def handovers(request, page: str = "1", page_size: str = "20"):
    qs = selectors.handover_queue(_staff(request)).select_related("case__department")
    result = _page(qs, page, page_size)
    return _page_out(result, [
        {"id": h.pk, "pushed_at": h.pushed_at, "claimed_at": h.claimed_at, "feedback": h.feedback,
         "case": case_out(h.case, staff=True)} for h in result.object_list
    ])


@router.post("/staff/handovers/{handover_id}/claim", response={200: HandoverOut, **ERRORS}, summary="认领审批结果")
def claim(request, handover_id: PathId, body: ClaimIn):
    staff = _staff(request)
    handover = SupervisionHandover.objects.filter(pk=handover_id, department_id=staff.department_id).first()
    if handover is None:
        raise NotFound("找不到该推送", code="handover_not_found")
    handover = services.claim_handover(handover, actor=request.auth, feedback=body.feedback)
    case = Case.objects.select_related("item", "department", "applicant").get(pk=handover.case_id)
    return {"id": handover.pk, "pushed_at": handover.pushed_at, "claimed_at": handover.claimed_at,
            "feedback": handover.feedback, "case": case_out(case, staff=True)}


# ----------------------------------------------------------------------------- personal tokens

class TokenOut(Schema):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


class NewTokenOut(TokenOut):
    token: str


def _token_out(t) -> dict:
    return {"id": t.pk, "name": t.name, "created_at": t.created_at, "last_used_at": t.last_used_at, "revoked": t.revoked}


@router.get("/tokens", response={200: list[TokenOut], **ERRORS}, summary="我的接口令牌")
def list_tokens(request):
    return [_token_out(t) for t in ApiToken.objects.filter(user=request.auth)[:100]]


@router.post("/tokens", response={201: NewTokenOut, **ERRORS, 429: ErrorOut}, auth=[session_auth], summary="新建接口令牌",
             description="仅限网页登录(会话)创建;令牌明文只在此次返回。有效令牌最多 20 个(400 too_many_tokens)。")
def create_token(request, body: TokenIn):
    throttle.check_token_creation(request, request.auth)  # 429 when the account or address makes too many
    token = core_services.issue_token(request.auth, body.name)
    row = ApiToken.objects.get(key_hash=tokens.hash_token(token))
    return Status(201, {**_token_out(row), "token": token})


@router.post("/tokens/{token_id}/revoke", response={200: TokenOut, **ERRORS}, summary="吊销接口令牌")
def revoke_token(request, token_id: PathId):
    return _token_out(core_services.revoke_token(token_id, user=request.auth))
