"""Every state change of a case: one function per business action, one transaction each.

Each action checks that the case's status allows it (`TRANSITIONS`), that the actor may do it,
writes the change, a `CaseEvent` and an audit entry together, and tells the applicant (notify,
after commit). An action that is not allowed raises a domain error and changes nothing.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from bianmin.catalog import selectors as catalog_selectors
from bianmin.catalog.models import RouteStep, ServiceItem
from bianmin.core import audit, workdays
from bianmin.core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationError
from bianmin.core.models import Sequence
from bianmin.org.models import Hall, Role, Staff, Window

from . import clock, hooks
from .models import (
    Applicant, Case, CaseEvent, CaseMaterial, CaseStatus, Channel, ClockStop, Delivery, ReviewTask, StopKind,
    SupervisionHandover, UploadedFile, Visit,
)

S = CaseStatus
# action -> the statuses it may start from. The complete transition table; tests walk all of it.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "save_draft": (S.DRAFT,),
    "submit": (S.DRAFT,),
    "accept": (S.SUBMITTED,),
    "accept_with_pending": (S.SUBMITTED,),
    "handle_immediately": (S.SUBMITTED,),
    "reject": (S.SUBMITTED,),
    "request_supplement": (S.SUBMITTED, S.IN_REVIEW),
    "submit_supplement": (S.SUPPLEMENT,),
    "complete_task": (S.IN_REVIEW,),
    "return_task": (S.IN_REVIEW,),
    "suspend": (S.IN_REVIEW,),
    "resume": (S.SUSPENDED,),
    "extend": (S.IN_REVIEW, S.SUSPENDED),
    "receive_pending": (S.IN_REVIEW, S.SUSPENDED, S.DECIDED),
    "decide": (S.IN_REVIEW,),
    "deliver": (S.DECIDED,),
    "withdraw": (S.SUBMITTED, S.SUPPLEMENT, S.IN_REVIEW, S.SUSPENDED),
    "record_visit": (S.SUBMITTED, S.SUPPLEMENT, S.IN_REVIEW, S.SUSPENDED, S.DECIDED, S.DELIVERED, S.REJECTED),
}
ACTION_LABELS = {
    "save_draft": "保存草稿", "submit": "提交申请", "accept": "受理", "accept_with_pending": "容缺受理",
    "handle_immediately": "即办", "reject": "不予受理", "request_supplement": "要求补正", "submit_supplement": "提交补正材料",
    "complete_task": "完成审查", "return_task": "退回", "suspend": "启动特别程序", "resume": "恢复计时",
    "extend": "延长时限", "receive_pending": "补齐容缺材料", "decide": "作出决定", "deliver": "送达",
    "withdraw": "撤回申请", "record_visit": "登记跑动",
}
MAX_EXTENSION_DAYS = 10  # 《行政许可法》第四十二条: 经本行政机关负责人批准,可以延长十日


# ----------------------------------------------------------------------------- helpers

def _now():
    return timezone.now()


def _check(case: Case, action: str) -> None:
    if case.status not in TRANSITIONS[action]:
        raise Conflict(f"办件当前状态为“{case.get_status_display()}”,不能{ACTION_LABELS[action]}", code="illegal_transition")


def _lock(case: Case) -> Case:
    """Re-read the case under a row lock: two clerks pressing the same button act once."""
    return Case.objects.select_for_update().select_related("item", "applicant", "department").get(pk=case.pk)


def _actor_label(actor) -> str:
    staff = getattr(actor, "staff", None) if actor is not None else None
    if staff is not None:
        return f"{staff.name}({staff.department.short_name or staff.department.name})"
    applicant = getattr(actor, "applicant", None) if actor is not None else None
    if applicant is not None:
        return f"申请人 {applicant.name}"
    return getattr(actor, "username", "") or "系统"


def _new_event(case: Case, kind: str, actor, from_status: str, message: str, **data) -> CaseEvent:
    return CaseEvent(case=case, at=_now(), kind=kind, from_status=from_status, to_status=case.status,
                     actor=actor if getattr(actor, "pk", None) else None, actor_label=_actor_label(actor),
                     message=message[:500], data=data)


def _audit_data(case: Case, event: CaseEvent) -> dict:
    """An event's audit entry says, beside the case number: from which status to which, and the event's data."""
    return {"from": event.from_status, "to": case.status, **event.data}


def _event_written(case: Case, event: CaseEvent, actor, *, audited: bool = False) -> CaseEvent:
    """What follows every written event: its audit entry (unless the statement writing the event wrote
    it), and the applicant told (after commit)."""
    if not audited:
        audit.record(f"case.{event.kind}", actor=actor or "system", obj=case, data={"number": case.number, **_audit_data(case, event)})
    hooks.after_event(case, event)
    return event


def _event(case: Case, kind: str, actor, from_status: str, message: str, **data) -> CaseEvent:
    event = _new_event(case, kind, actor, from_status, message, **data)
    event.save()
    return _event_written(case, event, actor)


def _staff(actor, *roles) -> Staff:
    staff = getattr(actor, "staff", None)
    if staff is None or (roles and staff.role not in roles):
        raise PermissionDenied("您的角色不能办理此操作", code="role_not_allowed")
    return staff


def _same_department(staff: Staff, department_id: int) -> None:
    if staff.department_id != department_id:
        raise NotFound("找不到该办件", code="case_not_found")  # do not reveal other departments' cases


def _owner(case: Case, actor) -> None:
    applicant = getattr(actor, "applicant", None)
    if applicant is None or applicant.pk != case.applicant_id:
        raise NotFound("找不到该办件", code="case_not_found")


def can_accept(staff: Staff, case: Case) -> bool:
    """A comprehensive window takes in every department's items (综合受理); a department window its own."""
    if staff.role == Role.ADMIN:
        return True
    if staff.role != Role.CLERK:
        return False
    window = staff.window
    if window is None or window.kind == Window.Kind.COMPREHENSIVE:
        return True
    return window.departments.filter(pk=case.department_id).exists()


def _clerk_for(case: Case, actor) -> Staff:
    staff = _staff(actor, Role.CLERK, Role.ADMIN)
    if not can_accept(staff, case):
        raise PermissionDenied("本窗口不受理该部门的事项", code="window_not_allowed")
    return staff


_TAKE_NUMBER = (f"INSERT INTO {Sequence._meta.db_table} (name, value) VALUES (%s, 1) "
                f"ON CONFLICT (name) DO UPDATE SET value = {Sequence._meta.db_table}.value + 1 RETURNING value")


def _number_sql(value: str) -> str:
    """next_case_number()'s format in SQL: the prefix (a parameter) and the counter, six digits at least."""
    return f"%s::text || lpad({value}::text, greatest(6, length({value}::text)), '0')"


def next_case_number(region_code: str, day: date) -> str:
    """4408xx-YYYYMMDD-NNNNNN: unique under concurrency (one atomic upsert per number)."""
    with connection.cursor() as cur:
        cur.execute(_TAKE_NUMBER, [f"case:{region_code}:{day:%Y%m%d}"])
        value = cur.fetchone()[0]
    return f"{region_code}-{day:%Y%m%d}-{value:06d}"


def _number_case(case: Case, region_code: str, day: date) -> None:
    """Give a submitted case its number and store it with the commitment flag. Taking a number locks
    the day's counter until commit, so on PostgreSQL the upsert and the update are one statement:
    one round trip, and the case numbered exactly as next_case_number() would."""
    if connection.vendor != "postgresql":
        case.number = next_case_number(region_code, day)
        case.save(update_fields=["commitment", "number"])
        return
    table = Case._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"WITH seq AS ({_TAKE_NUMBER}) UPDATE {table} "
            f"SET number = {_number_sql('seq.value')}, commitment = %s "
            f"FROM seq WHERE {table}.id = %s RETURNING {table}.number",
            [f"case:{region_code}:{day:%Y%m%d}", f"{region_code}-{day:%Y%m%d}-", case.commitment, case.pk],
        )
        case.number = cur.fetchone()[0]


def _stop_clock(case: Case, kind: str, reason: str, planned_days: int | None = None) -> None:
    if case.accepted_on is None or case.stopped_on is not None:
        return  # before acceptance the clock has not started; a running stop goes on
    case.stopped_on = clock.today()
    ClockStop.objects.create(case=case, kind=kind, reason=reason[:300], planned_days=planned_days, started_on=case.stopped_on)


def _refresh_clock(case: Case) -> None:
    """Recompute the deadlines (clock.refresh) and carry the promised one to the open tasks."""
    clock.refresh(case)
    case.tasks.filter(state=ReviewTask.State.ACTIVE).update(due=case.promised_deadline)


def _restart_clock(case: Case) -> None:
    if case.stopped_on is None:
        return
    today = clock.today()
    lost = max(0, workdays.workdays_between(case.stopped_on, today))
    ClockStop.objects.filter(case=case, ended_on__isnull=True).update(ended_on=today, workdays=lost)
    case.stopped_days += lost
    case.stopped_on = None
    _refresh_clock(case)


# ----------------------------------------------------------------------------- applicants

@transaction.atomic
def register_applicant(*, kind: str, name: str, id_number: str, phone: str = "", user=None, **extra) -> Applicant:
    """Real-name registration: the ID number is validated by checksum; one record per person or company."""
    from bianmin.core.identities import validate_resident_id, validate_uscc

    if kind not in Applicant.Kind.values:
        raise ValidationError("申请人类型无效", code="invalid_applicant_kind", field="kind")
    id_number = validate_resident_id(id_number, "id_number") if kind == Applicant.Kind.PERSON else validate_uscc(id_number, "id_number")
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError("请填写姓名或名称(不超过 100 个字)", code="name_required", field="name")
    existing = Applicant.objects.filter(id_number=id_number).first()
    if existing:
        if existing.name != name:
            raise ValidationError("证件号码与姓名(名称)不一致", code="identity_mismatch", field="name")
        if user is not None and existing.user_id != user.pk:
            # claiming an existing record takes a proof (cases.identity: 统一身份认证 or an activation
            # code), never its name and number alone (issue 11)
            raise Conflict("该证件号码已有登记信息", code="identity_taken", field="id_number")
        return existing
    if extra.get("legal_representative_id_number"):  # who may claim the enterprise through 统一身份认证
        extra["legal_representative_id_number"] = validate_resident_id(extra["legal_representative_id_number"],
                                                                       "legal_representative_id_number")
    applicant = Applicant.objects.create(kind=kind, name=name, id_number=id_number, phone=phone.strip()[:20], user=user,
                                         **{k: v for k, v in extra.items() if k in ("email", "address", "legal_representative",
                                                                                    "legal_representative_id_number")})
    audit.record("applicant.register", actor=user or "system", obj=applicant, data={"kind": kind})
    return applicant


# ----------------------------------------------------------------------------- application

def _published_item(item: ServiceItem) -> ServiceItem:
    if item.status != ServiceItem.Status.PUBLISHED:
        raise ValidationError("该事项未发布,暂不能申请", code="item_not_published")
    return item


def _check_audience(item: ServiceItem, applicant: Applicant) -> None:
    if item.audience not in ("both", applicant.kind):
        who = "自然人" if item.audience == "person" else "法人"
        raise ValidationError(f"该事项仅面向{who}", code="audience_mismatch")


# ----------------------------------------------------------------------------- what every channel hands in
# One submission path (T13, T15): the web form, the API, the window and the console parse their input
# into these and call save_draft / submit_application; the limits and checks below are the only ones.

MAX_FILES_PER_MATERIAL = 10  # files for one material: uploads, earlier uploads and reused copies together
MAX_FORM_BYTES = 64 * 1024   # form_data as JSON (UTF-8)
MAX_FORM_KEYS = 100
MAX_FORM_DEPTH = 3           # {"field": [{"row": "value"}]}: a table in a form, no deeper
MAX_FORM_KEY = 64
MAX_FORM_TEXT = 2000         # one text value
CONTACT_NAME_MAX = 40
CONTACT_ADDRESS_MAX = 200
CONTACT_PHONE = re.compile(r"(?:\+86)?1[3-9]\d{9}|0\d{2,3}-?\d{7,8}")  # a mobile, or a fixed line with its area code
CONTACT_KEYS = ("contact_name", "contact_phone", "contact_address")  # where form_data keeps the contact


@dataclass(frozen=True)
class Contact:
    """Whom the office calls about this application (联系人, 联系电话, 联系地址)."""

    name: str = ""
    phone: str = ""
    address: str = ""

    @classmethod
    def of(cls, applicant: Applicant) -> "Contact":
        """The applicant's own details on file (a company's: its legal representative)."""
        name = applicant.legal_representative or applicant.name if applicant.kind == Applicant.Kind.LEGAL_PERSON else applicant.name
        return cls(name=name, phone=applicant.phone, address=applicant.address)

    @classmethod
    def from_form_data(cls, form_data) -> "Contact | None":
        if not isinstance(form_data, dict) or not any(form_data.get(k) for k in CONTACT_KEYS):
            return None
        return cls(*(str(form_data.get(k) or "") for k in CONTACT_KEYS))


@dataclass(frozen=True)
class MaterialInput:
    """One material of an application: files already uploaded (ids), files uploaded with this request
    (stored by the service), a commitment (告知承诺), a paper original a clerk checked, or consent to
    reuse what an earlier case of the applicant holds (reuse.offers)."""

    files: tuple = ()
    uploads: tuple = ()
    commitment: bool = False
    at_window: bool = False
    reuse: bool = False


def _problem(field: str, code: str, message: str) -> dict:
    return {"field": field, "code": code, "message": message}


def _refuse(problems: list[dict]) -> None:
    """Every problem of the input at once (`details`, each naming its field); the code and field are the first's."""
    if not problems:
        return
    first = problems[0]
    message = first["message"] if len(problems) == 1 else (
        f"有 {len(problems)} 处需要修改:" + ";".join(p["message"] for p in problems[:3]))
    raise ValidationError(message, code=first["code"], field=first["field"], details=problems)


def clean_contact(contact: Contact, *, required: bool) -> tuple[Contact, list[dict]]:
    """The contact normalised (spaces, full-width digits), and its problems. To submit (required), a name
    and a phone the office can call: a mobile number or a fixed line with its area code."""
    from bianmin.core.identities import normalise

    name, address = str(contact.name or "").strip(), str(contact.address or "").strip()
    phone = normalise(contact.phone)
    problems = []
    if not name and required:
        problems.append(_problem("contact.name", "contact_name_required", "请填写联系人"))
    elif len(name) > CONTACT_NAME_MAX:
        problems.append(_problem("contact.name", "contact_name_too_long", f"联系人不能超过 {CONTACT_NAME_MAX} 个字"))
    if not phone and required:
        problems.append(_problem("contact.phone", "contact_phone_required", "请填写联系电话,以便办理部门联系您"))
    elif phone and not CONTACT_PHONE.fullmatch(phone):
        problems.append(_problem("contact.phone", "contact_phone_invalid",
                                 "请填写手机号码或带区号的固定电话,例如 13800000000 或 0759-3388123"))
    if len(address) > CONTACT_ADDRESS_MAX:
        problems.append(_problem("contact.address", "contact_address_too_long", f"联系地址不能超过 {CONTACT_ADDRESS_MAX} 个字"))
    return Contact(name=name, phone=phone, address=address), problems


def _form_shape(value, depth: int) -> str | None:
    """What is wrong with one value of form_data, or None."""
    if value is None or isinstance(value, (bool, int, float)):
        return None if not isinstance(value, float) or value == value and abs(value) != float("inf") else "数值无效"
    if isinstance(value, str):
        if "\x00" in value:
            return "含有不允许的字符"
        return f"文字不能超过 {MAX_FORM_TEXT} 个字" if len(value) > MAX_FORM_TEXT else None
    if depth >= MAX_FORM_DEPTH:
        return "嵌套过深"
    if isinstance(value, (list, tuple)):
        return next((p for p in (_form_shape(v, depth + 1) for v in value) if p), None)
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str) or not k or len(k) > MAX_FORM_KEY or not k.isprintable():
                return f"字段名应为 1 到 {MAX_FORM_KEY} 个可见字符"
            if p := _form_shape(v, depth + 1):
                return p
        return None
    return "只能包含文字、数字、是否、列表和对象"


def clean_form_data(form_data) -> tuple[dict, list[dict]]:
    """The application form's fields (申请表, Case.form_data) without the contact's (`clean_contact`
    owns those), and their problems: a JSON object of at most 100 fields, names of 1–64 visible
    characters, texts of at most 2000 characters, nested at most 3 deep, 64 KB at most in all."""
    if form_data is None:
        return {}, []
    if not isinstance(form_data, dict):
        return {}, [_problem("form_data", "form_data_invalid", "申请表内容应为对象(字段名和值)")]
    data = {k: v for k, v in form_data.items() if k not in CONTACT_KEYS}
    if len(data) > MAX_FORM_KEYS:
        return {}, [_problem("form_data", "form_data_invalid", f"申请表最多 {MAX_FORM_KEYS} 个字段")]
    for key, value in data.items():
        if not isinstance(key, str) or not key or len(key) > MAX_FORM_KEY or not key.isprintable():
            return {}, [_problem("form_data", "form_data_invalid", f"申请表的字段名应为 1 到 {MAX_FORM_KEY} 个可见字符")]
        if problem := _form_shape(value, 1):
            return {}, [_problem(f"form_data.{key}", "form_data_invalid", f"申请表“{key[:20]}”:{problem}")]
    if len(json.dumps(data, ensure_ascii=False).encode()) > MAX_FORM_BYTES:
        return {}, [_problem("form_data", "form_data_too_large", f"申请表内容过大(不超过 {MAX_FORM_BYTES // 1024} KB)")]
    return data, []


def _material_inputs(materials) -> dict[int, MaterialInput]:
    """{material id: MaterialInput}; plain dicts ({"files": [...], "commitment": true, ...}) are read as one."""
    if not materials:
        return {}
    if not isinstance(materials, dict):
        raise ValidationError("申请材料格式无效", code="invalid_materials", field="materials")
    out = {}
    for key, value in materials.items():
        if isinstance(key, bool) or not isinstance(key, int):
            raise ValidationError("提交了不属于该事项的材料", code="unknown_material", field="materials")
        if isinstance(value, dict):
            unknown = set(value) - {"files", "uploads", "commitment", "at_window", "reuse"}
            if unknown:
                raise ValidationError("申请材料格式无效", code="invalid_materials", field=f"materials.{key}")
            value = MaterialInput(files=tuple(value.get("files") or ()), uploads=tuple(value.get("uploads") or ()),
                                  commitment=bool(value.get("commitment")), at_window=bool(value.get("at_window")),
                                  reuse=bool(value.get("reuse")))
        elif not isinstance(value, MaterialInput):
            raise ValidationError("申请材料格式无效", code="invalid_materials", field=f"materials.{key}")
        if any(isinstance(i, bool) or not isinstance(i, int) for i in value.files):
            raise NotFound("找不到上传的文件", code="file_not_found", field=f"materials.{key}")
        out[key] = value
    return out


def _writes_files(inputs: dict[int, MaterialInput]) -> bool:
    return any(m.uploads or (m.reuse and not m.files) for m in inputs.values())


def _prepare(case: Case, inputs: dict[int, MaterialInput], *, form_data, contact: Contact | None, final: bool, actor,
             stored: list) -> dict:
    """Check the application's input, all of it before anything is written (the contact, form_data,
    the files per material, what is to be reused), then store the uploads and the reused copies
    (appended to `stored`, which the caller removes if its transaction fails). Sets case.form_data;
    returns {material id: {"files", "commitment", "at_window", "note"}} for _material_rows."""
    from . import files, reuse

    applicant = case.applicant
    base = form_data if form_data is not None else (case.form_data if case.pk else None)
    if contact is None:  # the channel gave none: what the form data holds, else the applicant's record
        contact = Contact.from_form_data(base) or (Contact.of(applicant) if final else Contact())
    contact, problems = clean_contact(contact, required=final)
    data, form_problems = clean_form_data(base)
    problems += form_problems
    known = {m.pk: m for m in case.item.materials.all()}
    reused = [mid for mid, m in inputs.items() if m.reuse and not m.files and not m.uploads and mid in known]
    offered = reuse.offers(applicant, [known[mid] for mid in reused], exclude_case_id=case.pk) if reused else {}
    for mid, m in inputs.items():
        count = len(m.files) + len(m.uploads) + (len(offered[mid].files) if mid in offered else 0)
        if count > MAX_FILES_PER_MATERIAL:
            problems.append(_problem(f"materials.{mid}", "too_many_files", f"每项材料最多 {MAX_FILES_PER_MATERIAL} 个文件"))
        elif mid in reused and mid not in offered:
            problems.append(_problem(f"materials.{mid}", "nothing_to_reuse", "以前提交的材料已不能复用,请上传文件"))
    _refuse(problems)

    provided = {mid: {"files": list(m.files), "commitment": m.commitment, "at_window": m.at_window} for mid, m in inputs.items()}
    for mid, m in inputs.items():
        for upload in m.uploads:
            try:  # an empty file box (None, no name) is refused as "no file chosen" by store_upload
                record = files.store_upload(applicant, upload if upload is not None and getattr(upload, "name", "") else None,
                                            actor=actor)
            except ValidationError as exc:  # every refused file is named, not only the first
                problems.append(_problem(f"materials.{mid}", exc.code, exc.message))
            else:
                stored.append(record)
                provided[mid]["files"].append(record.pk)
    _refuse(problems)
    for mid, offer in offered.items():
        provided[mid]["files"] = reuse.copy_files(applicant, offer, actor=actor, stored=stored)
        provided[mid]["note"] = offer.note
    case.form_data = {**data, **{k: v for k, v in zip(CONTACT_KEYS, (contact.name, contact.phone, contact.address)) if v}}
    return provided


def _delete_files_after_commit(records) -> None:
    """Stored files whose rows this transaction deletes go from storage once it commits."""
    from . import files

    records = list(records)
    if records:
        transaction.on_commit(lambda: files.discard(records))


def _attachable(case: Case, file_ids):
    """The applicant's own uploads not yet part of another case: a file belongs to one case."""
    return UploadedFile.objects.filter(pk__in=list(file_ids), owner=case.applicant_id).filter(
        Q(case_material__isnull=True) | Q(case_material__case=case.pk) if case.pk else Q(case_material__isnull=True))


def _once_only(case: Case, materials) -> dict:
    """免提交 (T15, T16): {material id: (Licence, note)} for the materials a current e-licence of the
    applicant satisfies. One indexed query, and none for items that take no licence."""
    from bianmin.licences.selectors import satisfying

    codes = {m.satisfied_by for m in materials if m.satisfied_by}
    held = satisfying(case.applicant, codes, clock.today()) if codes else {}
    filled = {}
    for m in materials:
        lic = held.get(m.satisfied_by) if m.satisfied_by else None
        if lic is not None:
            filled[m.pk] = (lic, f"已从电子证照库调取:{lic.name} {lic.number}(证照标识 {lic.identifier})"[:300])
    return filled


def _queue_licence_uses(case: Case, licences) -> None:
    """At submission each licence used is logged for its holder (LicenceUse via case), written with
    the case number by `_log_licence_uses` once the number is taken."""
    from bianmin.licences.models import LicenceUse

    case._licence_uses = [LicenceUse(licence=lic, via=LicenceUse.Via.CASE, department_id=case.department_id,
                                     purpose=f"办理“{case.item.name}”免提交") for lic in {x.pk: x for x in licences}.values()]


def _log_licence_uses(case: Case) -> None:
    uses = getattr(case, "_licence_uses", None)
    if uses:
        for use in uses:
            use.case_number = case.number
        from bianmin.licences.models import LicenceUse

        LicenceUse.objects.bulk_create(uses)
        case._licence_uses = []


def _material_rows(case: Case, provided: dict, *, final: bool) -> list[tuple]:
    """provided: {material_id: {"files": [UploadedFile ids], "commitment": bool, "note": str}} →
    [(Material, state, file ids, note)], checked, nothing written. On submission (final) every required
    material must be provided, filled from a current e-licence of the applicant, or, where the item
    allows it, replaced by a commitment. One query for all the files."""
    materials = list(case.item.materials.all())
    known = {m.pk for m in materials}
    unknown = [k for k in provided if k not in known]
    if unknown:
        raise ValidationError("提交了不属于该事项的材料", code="unknown_material", field="materials")
    from_licence = _once_only(case, materials)
    not_asked = {m.pk for m in catalog_selectors.off_the_retained_list(materials)}  # T9
    wanted = {m.pk: list(dict.fromkeys((provided.get(m.pk) or {}).get("files") or [])) for m in materials}
    all_ids = [f for ids in wanted.values() for f in ids]
    if len(set(all_ids)) != len(all_ids):
        raise ValidationError("同一个文件不能同时作为两项材料提交", code="file_used_twice", field="materials")
    if all_ids and _attachable(case, all_ids).count() != len(all_ids):
        raise NotFound("找不到上传的文件", code="file_not_found", field="materials")
    missing = []
    rows = []
    for m in materials:
        given = provided.get(m.pk) or {}
        files = wanted[m.pk]
        note = str(given["note"])[:300] if given.get("note") else ""
        if files:
            state = CaseMaterial.State.PROVIDED
        elif given.get("commitment") and m.commitment_allowed:
            if not hooks.may_make_commitment(case.applicant):
                raise PermissionDenied("申请人被列入失信名单或信用状况不符,不适用告知承诺", code="blacklisted", field="materials")
            state = CaseMaterial.State.COMMITMENT
        elif given.get("commitment"):
            raise ValidationError(f"“{m.name}”不适用告知承诺", code="commitment_not_allowed", field="materials")
        elif given.get("at_window"):
            state = CaseMaterial.State.PROVIDED  # a clerk checked the paper original
        elif m.pk in from_licence:  # nothing handed in: the e-licence fills it (免提交)
            state = CaseMaterial.State.FROM_LICENCE
            note = from_licence[m.pk][1]
        elif m.pk in not_asked:
            state, note = CaseMaterial.State.NOT_NEEDED, catalog_selectors.NOT_RETAINED_NOTE
        elif m.required:
            state = CaseMaterial.State.MISSING
            if not m.pending_allowed:  # a 容缺 material may come later: the clerk decides at acceptance
                missing.append(m)
        else:
            state = CaseMaterial.State.NOT_NEEDED
        rows.append((m, state, files, note))
    if final:  # only licences that did fill a material were used
        _queue_licence_uses(case, [from_licence[m.pk][0] for m, state, _, _ in rows if state == CaseMaterial.State.FROM_LICENCE])
    if final and missing:
        raise ValidationError("以下必要材料尚未提交:" + "、".join(m.name for m in missing), code="materials_missing",
                              field="materials", details=[_problem(f"materials.{m.pk}", "missing", m.name) for m in missing])
    case.commitment = any(state == CaseMaterial.State.COMMITMENT for _, state, _, _ in rows)
    return rows


def _case_materials(case: Case, rows) -> list[CaseMaterial]:
    return [CaseMaterial(case=case, material=m, name=m.name, state=state, order=i, note=note)
            for i, (m, state, _, note) in enumerate(rows)]


def _write_materials(case: Case, rows, *, created: bool) -> None:
    if not created:  # a draft being saved again or submitted: its earlier list goes, and the files taken off it
        kept = {f for _, _, ids, _ in rows for f in ids}
        removed = [f for f in UploadedFile.objects.filter(case_material__case=case).only("id", "path") if f.pk not in kept]
        case.materials.all().delete()
        if removed:
            UploadedFile.objects.filter(pk__in=[f.pk for f in removed]).delete()
            _delete_files_after_commit(removed)
    created_rows = CaseMaterial.objects.bulk_create(_case_materials(case, rows))
    for cm, (_, _, files, _) in zip(created_rows, rows):
        if files:
            UploadedFile.objects.filter(pk__in=files).update(case_material=cm)


def _draft_key(idempotency_key) -> str | None:
    """A draft's key is kept apart from a submission's: the draft's own form submits with the same token."""
    key = str(idempotency_key).strip() if idempotency_key else ""
    return f"draft:{key}"[:64] if key else None


@contextmanager
def _cleaning_up(stored: list):
    """The one place where the files stored for a request that failed are removed: their rows went
    with the rolled-back transaction, this removes what was written to storage."""
    from . import files

    try:
        yield
    except BaseException:
        files.discard(stored)
        raise


def save_draft(*, applicant: Applicant, item: ServiceItem, actor, form_data: dict | None = None, contact: Contact | None = None,
               materials: dict | None = None, case: Case | None = None, idempotency_key: str | None = None) -> Case:
    """保存草稿: the application as far as it is filled in, files and all; nothing is required yet, but what
    is given is checked as at submission. A new draft with the idempotency key of an earlier one (a double
    click on 保存草稿) is that draft, unchanged (`is_replay`); files taken off a draft are deleted."""
    key = _draft_key(idempotency_key) if case is None else None
    if key and (earlier := _replay(applicant, key, item)) is not None and earlier.status == S.DRAFT:
        return earlier
    inputs = _material_inputs(materials)
    stored: list = []
    try:
        with _cleaning_up(stored), transaction.atomic():
            return _save_draft(applicant, item, actor=actor, form_data=form_data, contact=contact, inputs=inputs,
                               case=case, key=key, stored=stored)
    except IntegrityError:
        earlier = _replay(applicant, key, item) if key else None  # its twin saved first
        if earlier is None:
            raise
        return earlier


def _save_draft(applicant, item, *, actor, form_data, contact, inputs, case, key, stored) -> Case:
    _published_item(item)
    _check_audience(item, applicant)
    if case is None:
        case = Case(item=item, item_version=item.version, department=item.department, applicant=applicant,
                    status=S.DRAFT, channel=Channel.ONLINE, idempotency_key=key)
        created = True
    else:
        case = _lock(case)
        _owner(case, actor)
        _check(case, "save_draft")
        created = False
    provided = _prepare(case, inputs, form_data=form_data or {}, contact=contact, final=False, actor=actor, stored=stored)
    rows = _material_rows(case, provided, final=False)
    case.save()
    if created:
        _event(case, "draft_saved", actor, "", "保存草稿")
    _write_materials(case, rows, created=created)
    return case


def _replay(applicant: Applicant, idempotency_key: str, item: ServiceItem | None = None) -> Case | None:
    """The case an earlier request with this key made, marked as a replay (the API answers 200, not 201).
    A retry names the same item as the first request: the caller's copy of it saves a join."""
    existing = Case.objects.filter(applicant=applicant, idempotency_key=idempotency_key).order_by().first()
    if existing is not None:
        existing.is_replay = True
        if item is not None and existing.item_id == item.pk:
            existing.item = item
            if existing.department_id == item.department_id:
                existing.department = item.department
    return existing


def _insert_submission(case: Case, rows, event: CaseEvent, actor, region_code: str, day: date) -> bool:
    """PostgreSQL, a new case: the case with its number, its materials, their files, the e-licences used,
    its event and its audit entry in one statement (one round trip where the ORM needs eight or more;
    outside a transaction it is its own). Returns False, writing nothing, when the applicant's
    idempotency key already names a case."""
    from bianmin.core.sql import fetchone_prepared, insert_select

    table, seq = Case._meta.db_table, Sequence._meta.db_table
    new_key = (f" WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE applicant_id = %s AND idempotency_key = %s)"
               if case.idempotency_key else "")
    # the number as next_case_number() makes it; the counter's row stays locked until commit
    ctes = [(f"seq AS (INSERT INTO {seq} (name, value) SELECT %s::varchar, 1{new_key} ON CONFLICT (name) DO UPDATE SET value = {seq}.value + 1 "
             f"RETURNING {_number_sql('value')} AS number)",
             [f"case:{region_code}:{day:%Y%m%d}", *([case.applicant_id, case.idempotency_key] if new_key else []),
              f"{region_code}-{day:%Y%m%d}-"])]

    def cte(name: str, statement: tuple[str, list]) -> None:
        ctes.append((f"{name} AS ({statement[0]})", statement[1]))

    cte("c", insert_select([case], source="seq", exprs={"number": "seq.number"}, returning="id, number"))
    if rows:
        cte("m", insert_select(_case_materials(case, rows), source="c", exprs={"case": "c.id"}, returning='id, "order"'))
        files = [(f, i) for i, (_, _, ids, _) in enumerate(rows) for f in ids]
        if files:
            cte("f", (f"UPDATE {UploadedFile._meta.db_table} u SET case_material_id = m.id FROM m, (VALUES "
                      + ", ".join(["(%s::bigint, %s::integer)"] * len(files))
                      + ') AS fv(file_id, ord) WHERE m."order" = fv.ord AND u.id = fv.file_id', [x for pair in files for x in pair]))
    uses = getattr(case, "_licence_uses", None)
    if uses:
        cte("u", insert_select(uses, source="c", exprs={"case_number": "c.number"}))
        case._licence_uses = []
    cte("e", insert_select([event], source="c", exprs={"case": "c.id"}, returning="id"))
    ctes.extend(audit.statement_parts(f"case.{event.kind}", actor=actor or "system", object_type=Case._meta.label_lower,
                                      source="c", object_id_sql="c.id", data=_audit_data(case, event),
                                      data_sql={"number": "c.number"}))
    sql = "WITH " + ", ".join(part for part, _ in ctes) + " SELECT c.id, c.number, e.id FROM c, e, ae"
    params = [p for _, part_params in ctes for p in part_params]

    def run():
        # in a caller's transaction, a savepoint: the statement may have to run again
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            return fetchone_prepared(sql, params)

    try:
        row = run()
    except IntegrityError as exc:  # the audit chain's head row is missing: put it back, once
        if getattr(getattr(exc.__cause__, "diag", None), "column_name", None) != "prev_hash":
            raise
        audit.ensure_head()
        row = run()
    if row is None:
        return False
    case.pk, case.number, event.pk = row
    case._state.adding = event._state.adding = False
    case._state.db = event._state.db = connection.alias
    return True


def submit_application(*, applicant: Applicant, item: ServiceItem, actor, channel: str = Channel.ONLINE,
                       materials: dict | None = None, form_data: dict | None = None, contact: Contact | None = None,
                       idempotency_key: str | None = None, draft: Case | None = None, hall: Hall | None = None,
                       window: Window | None = None) -> Case:
    """提交申请, for every channel: online (网上办 items, `item.is_online`: the web form, the API, kiosks and
    phones) or registered by a clerk at a window (`hall`: the visit is recorded too).

    `materials`: {material id: MaterialInput or the same as a dict}; uploads in it are stored here, reuse
    consented to is copied here, and both are removed again if the submission fails. `contact`: whom the
    office calls; None takes it from `form_data`'s contact fields, else from the applicant's record. The
    same idempotency key from the same applicant returns the first case (`is_replay`) instead of a second
    one, writing nothing. Refusals are ValidationErrors whose `details` name every problem by field
    (`contact.phone`, `form_data`, `materials.<id>`)."""
    idempotency_key = str(idempotency_key)[:64] if idempotency_key else None
    inputs = _material_inputs(materials)
    stores = _writes_files(inputs)
    # A new case on PostgreSQL is written by one statement, which also checks the key and needs no
    # transaction of its own: everything before it only reads. A registration at a window records
    # the visit too, a draft is updated, uploads are stored: those, and everything on SQLite, in one transaction.
    in_one_statement = draft is None and connection.vendor == "postgresql" and not (channel == Channel.WINDOW and hall)
    if idempotency_key and (stores or not in_one_statement) and (replay := _replay(applicant, idempotency_key, item)):
        return replay  # the same form sent again (double click, reload): nothing is stored twice
    stored: list = []
    try:
        with _cleaning_up(stored), nullcontext() if in_one_statement and not stores else transaction.atomic():
            case = _submit(applicant, item, actor=actor, channel=channel, form_data=form_data, contact=contact, inputs=inputs,
                           idempotency_key=idempotency_key, draft=draft, hall=hall, window=window,
                           in_one_statement=in_one_statement, stored=stored)
            if stored and getattr(case, "is_replay", False):
                transaction.set_rollback(True)  # a twin made the case: this request's files go
                raise _Replayed(case)
    except _Replayed as done:
        return done.case
    except IntegrityError:
        # A twin request with the same key committed first (the unique key): the answer is its case.
        replay = _replay(applicant, idempotency_key, item) if idempotency_key else None
        if replay is None:
            raise
        return replay
    return case


class _Replayed(Exception):
    """Leaves the transaction of a request whose twin made the case, so that its uploads are rolled back and removed."""

    def __init__(self, case: Case):
        super().__init__()
        self.case = case


def _submit(applicant, item, *, actor, channel, form_data, contact, inputs, idempotency_key, draft, hall, window,
            in_one_statement, stored) -> Case:
    try:
        if channel not in Channel.values:
            raise ValidationError("申请渠道无效", code="invalid_channel", field="channel")
        _published_item(item)
        _check_audience(item, applicant)
        if channel != Channel.WINDOW and not item.is_online:  # kiosks and phones apply online too
            raise ValidationError("该事项暂不支持网上申办,请到窗口办理", code="item_not_online")
        if draft is not None:
            case = _lock(draft)
            _owner(case, actor)
            _check(case, "submit")
        else:
            case = Case(item=item, item_version=item.version, department=item.department, applicant=applicant, status=S.DRAFT)
        provided = _prepare(case, inputs, form_data=form_data, contact=contact, final=True, actor=actor, stored=stored)
        case.channel = channel
        case.hall, case.window = hall, window
        case.idempotency_key = idempotency_key
        case.submitted_at = _now()
        case.status = S.SUBMITTED
        rows = _material_rows(case, provided, final=True)
    except DomainError:
        # a retry of a request that went through: its files belong to that case now, its item may
        # have been withdrawn since; the answer is that case all the same
        replay = _replay(applicant, idempotency_key, item) if idempotency_key and in_one_statement else None
        if replay is None:
            raise
        return replay
    event = _new_event(case, "submitted", actor, S.DRAFT, f"通过{case.get_channel_display()}提交申请")
    if in_one_statement:
        if not _insert_submission(case, rows, event, actor, item.region.county_code, clock.today()):
            return _replay(applicant, idempotency_key, item)
    else:
        # A twin request with the same key committing first makes this save raise IntegrityError (the
        # unique key): submit_application answers with the twin's case and drops this request's files.
        case.save()
        _write_materials(case, rows, created=draft is None)
        # The number last: taking it locks the day's counter until commit, so every other submission
        # in the region waits for as long as this transaction still runs.
        _number_case(case, item.region.county_code, clock.today())
        _log_licence_uses(case)
        event.save()
    _event_written(case, event, actor, audited=in_one_statement)
    if channel == Channel.WINDOW and hall is not None:  # registering at a window is the applicant's visit
        _add_visit(case, actor, hall, "窗口提交申请", getattr(actor, "staff", None))
    return case


@transaction.atomic
def submit_at_window(*, applicant: dict, item: ServiceItem, actor, materials: dict | None = None,
                     form_data: dict | None = None, idempotency_key: str | None = None) -> Case:
    """窗口登记: the applicant who came in person is registered (or found) and their application
    submitted by the clerk, together: a refused application leaves no half-registered applicant.
    `applicant`: kind, id_number, name, phone; the phone is the application's contact phone."""
    staff = _staff(actor, Role.CLERK, Role.ADMIN)
    person = register_applicant(**{k: applicant.get(k) or "" for k in ("kind", "id_number", "name", "phone")}, user=None)
    phone = str(applicant.get("phone") or "").strip()
    contact = Contact(name=person.name, phone=phone, address=person.address) if phone else None
    return submit_application(applicant=person, item=item, actor=actor, channel=Channel.WINDOW, materials=materials,
                              form_data=form_data, contact=contact, idempotency_key=idempotency_key, hall=staff.hall, window=staff.window)


# ----------------------------------------------------------------------------- acceptance (综合受理)

def _start_review(case: Case, staff: Staff) -> None:
    case.status = S.IN_REVIEW
    case.accepted_at = _now()
    case.accepted_on = clock.today()
    if staff.hall_id and not case.hall_id:
        case.hall_id = staff.hall_id
    if staff.window_id and not case.window_id:
        case.window_id = staff.window_id
    clock.refresh(case)
    _open_stage(case, first_stage(case.item))


def route(item: ServiceItem) -> list[RouteStep]:
    steps = list(item.route_steps.all())
    if steps:
        return steps
    return [RouteStep(item=item, stage=1, name="审查", role=RouteStep.StepRole.REVIEWER),
            RouteStep(item=item, stage=2, name="决定", role=RouteStep.StepRole.APPROVER)]


def first_stage(item: ServiceItem) -> int:
    return min(s.stage for s in route(item))


def _open_stage(case: Case, stage: int) -> None:
    ReviewTask.objects.bulk_create([
        ReviewTask(case=case, stage=s.stage, name=s.name, department_id=s.department_id or case.department_id, role=s.role,
                   due=case.promised_deadline)
        for s in route(case.item) if s.stage == stage
    ])


def _recheck_at_acceptance(case: Case) -> None:
    """Before acceptance: a material filled from an e-licence needs that licence (or another of its
    type) to be current still, or acceptance is refused naming it; a material whose proof has left the
    retained list (T9) since the application is no longer asked for. One query, two when licences were used."""
    from bianmin.licences.selectors import satisfying

    rows = list(case.materials.filter(state__in=[CaseMaterial.State.FROM_LICENCE, CaseMaterial.State.MISSING])
                .select_related("material"))
    off_list = {m.pk for m in catalog_selectors.off_the_retained_list(cm.material for cm in rows if cm.state == CaseMaterial.State.MISSING)}
    dropped = [cm for cm in rows if cm.state == CaseMaterial.State.MISSING and cm.material_id in off_list]
    if dropped:
        CaseMaterial.objects.filter(pk__in=[cm.pk for cm in dropped]).update(
            state=CaseMaterial.State.NOT_NEEDED, note=catalog_selectors.NOT_RETAINED_NOTE)
    licensed = [cm for cm in rows if cm.state == CaseMaterial.State.FROM_LICENCE and cm.material and cm.material.satisfied_by]
    if licensed:
        held = satisfying(case.applicant, {cm.material.satisfied_by for cm in licensed}, clock.today())
        lapsed = [cm for cm in licensed if cm.material.satisfied_by not in held]
        if lapsed:
            raise ValidationError("以下材料所依据的电子证照已注销或过期,请要求申请人补正或核验纸质原件:" + "、".join(cm.name for cm in lapsed),
                                  code="licence_no_longer_valid", field="materials",
                                  details=[{"field": "materials", "code": "licence_no_longer_valid", "message": cm.name, "id": cm.pk}
                                           for cm in lapsed])


def _refuse_off_the_list(case_materials, *, field: str) -> None:
    """补正 and 容缺 ask the applicant for these materials: none may be a proof off the retained list (T9)."""
    off_list = {m.pk for m in catalog_selectors.off_the_retained_list(cm.material for cm in case_materials)}
    cancelled = [cm.name for cm in case_materials if cm.material_id in off_list]
    if cancelled:
        raise ValidationError("以下材料对应的证明事项已不在保留证明事项清单内,不得要求申请人提供:" + "、".join(cancelled),
                              code="proof_not_retained", field=field)


@transaction.atomic
def accept_case(case: Case, *, actor, pending_material_ids=()) -> Case:
    """受理. With pending_material_ids: 容缺受理 — accepted now, those secondary materials later."""
    case = _lock(case)
    action = "accept_with_pending" if pending_material_ids else "accept"
    _check(case, action)
    staff = _clerk_for(case, actor)
    if pending_material_ids:
        if not hooks.may_have_pending_acceptance(case.applicant):
            raise PermissionDenied("申请人被列入失信名单,不适用容缺受理", code="blacklisted")
        pending = list(case.materials.filter(pk__in=pending_material_ids).select_related("material"))
        if len(pending) != len(set(pending_material_ids)):
            raise ValidationError("容缺材料不属于该办件", code="unknown_material", field="pending")
        _refuse_off_the_list(pending, field="pending")
        refused = [cm.name for cm in pending if not (cm.material and cm.material.pending_allowed)]
        if refused:
            raise ValidationError("以下材料不能容缺后补:" + "、".join(refused), code="pending_not_allowed", field="pending")
        CaseMaterial.objects.filter(pk__in=[cm.pk for cm in pending]).update(state=CaseMaterial.State.PENDING)
    _recheck_at_acceptance(case)
    still_missing = list(case.materials.filter(state=CaseMaterial.State.MISSING).values_list("name", flat=True))
    if still_missing:
        raise ValidationError("材料不齐,请要求补正或容缺受理:" + "、".join(still_missing), code="materials_missing")
    _start_review(case, staff)
    case.save()
    msg = "容缺受理,待补材料:" + "、".join(cm.name for cm in pending) if pending_material_ids else "已受理"
    _event(case, "accepted", actor, S.SUBMITTED, msg, pending=[cm.name for cm in pending] if pending_material_ids else [])
    return case


@transaction.atomic
def reject_case(case: Case, *, actor, reason: str) -> Case:
    case = _lock(case)
    _check(case, "reject")
    _clerk_for(case, actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("不予受理须说明理由", code="reason_required", field="reason")
    case.status = S.REJECTED
    case.rejection_reason = reason[:2000]
    case.closed_at = _now()
    case.save()
    _event(case, "rejected", actor, S.SUBMITTED, f"不予受理:{reason[:200]}")
    return case


@transaction.atomic
def request_supplement(case: Case, *, actor, missing_ids, note: str = "") -> Case:
    """补正: tell the applicant, once and completely, what is missing; the clock stops."""
    case = _lock(case)
    _check(case, "request_supplement")
    before = case.status
    if before == S.SUBMITTED:
        _clerk_for(case, actor)
        if case.supplement_requests >= 1:
            raise Conflict("已一次性告知补正内容,不得再次要求补正", code="supplement_already_requested")
        case.supplement_requests += 1
    else:
        staff = _staff(actor, Role.REVIEWER, Role.APPROVER)
        _same_department(staff, case.department_id)
        if case.stops.filter(kind=StopKind.SUPPLEMENT).exists():
            raise Conflict("审查阶段已一次性告知补正内容,不得再次要求补正", code="supplement_already_requested")
    rows = list(case.materials.filter(pk__in=list(missing_ids or [])).select_related("material"))
    if not rows or len(rows) != len(set(missing_ids)):
        raise ValidationError("请勾选需要补正的全部材料", code="supplement_materials_required", field="missing")
    _refuse_off_the_list(rows, field="missing")
    CaseMaterial.objects.filter(pk__in=[r.pk for r in rows]).update(state=CaseMaterial.State.MISSING, note=note[:300])
    case.resume_status = before
    case.status = S.SUPPLEMENT
    _stop_clock(case, StopKind.SUPPLEMENT, note or "补正材料")
    case.save()
    _event(case, "supplement_requested", actor, before, "一次性告知补正:" + "、".join(r.name for r in rows), materials=[r.name for r in rows], note=note)
    return case


@transaction.atomic
def submit_supplement(case: Case, *, actor, files: dict) -> Case:
    """files: {case_material_id: [UploadedFile ids]} for every material marked missing (or at_window by a clerk)."""
    case = _lock(case)
    _check(case, "submit_supplement")
    at_window = getattr(actor, "staff", None) is not None  # only a clerk can vouch for a paper original
    if at_window:
        _clerk_for(case, actor)
    else:
        _owner(case, actor)
    missing = list(case.materials.filter(state=CaseMaterial.State.MISSING))
    not_given = [cm.name for cm in missing if not files.get(cm.pk)]
    if not_given:
        raise ValidationError("以下补正材料尚未提交:" + "、".join(not_given), code="materials_missing", field="files")
    for cm in missing:
        given = list(files[cm.pk])
        ids = [i for i in given if isinstance(i, int) and not isinstance(i, bool)]
        if len(ids) != len(given) and not (at_window and set(given) - set(ids) == {"at_window"}):
            raise ValidationError(f"“{cm.name}”须上传文件", code="file_required", field="files")
        if ids:
            found = _attachable(case, ids).update(case_material=cm)
            if found != len(set(ids)):
                raise NotFound("找不到上传的文件", code="file_not_found", field="files")
        cm.state = CaseMaterial.State.PROVIDED
        cm.save(update_fields=["state"])
    case.status = case.resume_status or S.SUBMITTED
    case.resume_status = ""
    _restart_clock(case)
    case.save()
    _event(case, "supplement_received", actor, S.SUPPLEMENT, "补正材料已提交")
    return case


def _store_for(case: Case, uploads: dict, *, actor, stored: list) -> dict[int, list[int]]:
    """{case material id: [uploaded files]} -> {case material id: [UploadedFile ids]}, stored for the case's
    applicant with the submission's limits (MAX_FILES_PER_MATERIAL); every refused file is named."""
    from . import files

    problems, out = [], {}
    for cm_id, given in uploads.items():
        given = [f for f in given if f is not None and getattr(f, "name", "")]
        field = f"case_materials.{cm_id}"
        if not given:
            problems.append(_problem(field, "file_required", "请选择要上传的文件"))
        elif len(given) > MAX_FILES_PER_MATERIAL:
            problems.append(_problem(field, "too_many_files", f"每项材料最多 {MAX_FILES_PER_MATERIAL} 个文件"))
    _refuse(problems)
    for cm_id, given in uploads.items():
        for f in given:
            try:
                record = files.store_upload(case.applicant, f, actor=actor)
            except ValidationError as exc:
                problems.append(_problem(f"case_materials.{cm_id}", exc.code, exc.message))
            else:
                stored.append(record)
                out.setdefault(cm_id, []).append(record.pk)
    _refuse(problems)
    return out


def supplement_with_uploads(*, case: Case, actor, uploads: dict, at_window=()) -> Case:
    """补正 from a form that sends the files themselves ({case material id: [files]}): stored with the
    submission's limits, then `submit_supplement` (`at_window`: ids of originals a clerk saw); a refusal
    removes what was stored."""
    stored: list = []
    with _cleaning_up(stored), transaction.atomic():
        given = _store_for(case, {pk: fs for pk, fs in uploads.items() if fs}, actor=actor, stored=stored)
        for pk in at_window:
            given.setdefault(int(pk), ["at_window"])
        return submit_supplement(case, actor=actor, files=given)


def receive_pending_with_uploads(*, case: Case, actor, case_material_id: int, uploads=()) -> Case:
    """容缺后补 from a form that sends the files themselves: stored as above, then `receive_pending_material`."""
    stored: list = []
    with _cleaning_up(stored), transaction.atomic():
        uploads = list(uploads)  # none: staff saw the original at the window; an applicant must send it
        if not uploads and getattr(actor, "staff", None) is None:
            raise ValidationError("请选择要上传的文件", code="file_required", field=f"case_materials.{case_material_id}")
        ids = _store_for(case, {case_material_id: uploads}, actor=actor, stored=stored)[case_material_id] if uploads else []
        return receive_pending_material(case, actor=actor, case_material_id=case_material_id, file_ids=ids)


@transaction.atomic
def receive_pending_material(case: Case, *, actor, case_material_id: int, file_ids=()) -> Case:
    """容缺后补: the pending material arrives."""
    case = _lock(case)
    _check(case, "receive_pending")
    if getattr(actor, "staff", None) is None:
        _owner(case, actor)
    cm = case.materials.filter(pk=case_material_id, state=CaseMaterial.State.PENDING).first()
    if cm is None:
        raise NotFound("该材料不是待补的容缺材料", code="not_pending")
    file_ids = [i for i in file_ids or () if isinstance(i, int) and not isinstance(i, bool)]
    if not file_ids and getattr(actor, "staff", None) is None:  # only a clerk can vouch for a paper original
        raise ValidationError(f"“{cm.name}”须上传文件", code="file_required", field="files")
    if file_ids and _attachable(case, file_ids).update(case_material=cm) != len(set(file_ids)):
        raise NotFound("找不到上传的文件", code="file_not_found", field="files")
    cm.state = CaseMaterial.State.PROVIDED
    cm.save(update_fields=["state"])
    _event(case, "pending_received", actor, case.status, f"容缺材料“{cm.name}”已补齐")
    return case


@transaction.atomic
def handle_immediately(case: Case, *, actor, approved: bool = True, reasons: str = "") -> Case:
    """即办件 (马上办): accepted, decided and handed over at the window in one step."""
    case = _lock(case)
    _check(case, "handle_immediately")
    staff = _clerk_for(case, actor)
    if not case.item.is_immediate:
        raise ValidationError("该事项不是即办件,请按承诺件受理", code="not_immediate")
    _recheck_at_acceptance(case)
    if case.materials.filter(state=CaseMaterial.State.MISSING).exists():
        raise ValidationError("材料不齐,不能当场办结", code="materials_missing")
    case.status = S.IN_REVIEW
    case.accepted_at = _now()
    case.accepted_on = clock.today()
    case.hall_id = case.hall_id or staff.hall_id
    case.window_id = case.window_id or staff.window_id
    clock.refresh(case)
    _finish_decision(case, approved, reasons or ("符合条件,当场办结" if approved else "不符合条件"))
    case.save()
    _event(case, "accepted", actor, S.SUBMITTED, "即办件,当场受理")
    _event(case, "decided", actor, S.IN_REVIEW, "当场办结:" + ("准予" if approved else "不予"), approved=approved)
    hall = Hall.objects.filter(pk=case.hall_id).first()
    _deliver(case, actor, staff, Delivery.Method.WINDOW, hall=hall)
    return case


# ----------------------------------------------------------------------------- review (分类审批)

def _task_for(task: ReviewTask, actor) -> tuple[ReviewTask, Staff]:
    staff = _staff(actor, Role.REVIEWER, Role.APPROVER)
    task = ReviewTask.objects.select_for_update().select_related("case").filter(pk=task.pk).first()
    if task is None or task.department_id != staff.department_id:
        raise NotFound("找不到该审查任务", code="task_not_found")
    if task.role != staff.role:
        raise PermissionDenied("该环节须由“" + ("审查" if task.role == "reviewer" else "决定") + "”岗位办理", code="role_not_allowed")
    if task.state != ReviewTask.State.ACTIVE:
        raise Conflict("该任务已办理", code="task_not_active")
    return task, staff


@transaction.atomic
def complete_task(task: ReviewTask, *, actor, opinion: str) -> ReviewTask:
    """A review step is done. When every task of the stage is done, the next stage opens."""
    case = _lock(task.case)
    _check(case, "complete_task")
    task, staff = _task_for(task, actor)
    if task.role == RouteStep.StepRole.APPROVER:
        raise ValidationError("决定环节请作出准予或不予的决定", code="use_decide")
    opinion = (opinion or "").strip()
    if not opinion:
        raise ValidationError("请填写审查意见", code="opinion_required", field="opinion")
    task.state, task.assignee, task.opinion, task.done_at = ReviewTask.State.DONE, staff, opinion[:2000], _now()
    task.save()
    still_open = case.tasks.filter(stage=task.stage, state=ReviewTask.State.ACTIVE).exists()
    if not still_open:
        later = sorted({s.stage for s in route(case.item) if s.stage > task.stage})
        if later:
            _open_stage(case, later[0])
    _event(case, "task_completed", actor, case.status, f"{task.name}:{opinion[:200]}", task=task.pk, stage=task.stage)
    return task


@transaction.atomic
def return_task(task: ReviewTask, *, actor, reason: str) -> ReviewTask:
    """退回: the stage's open tasks are withdrawn and the previous stage works again."""
    case = _lock(task.case)
    _check(case, "return_task")
    task, staff = _task_for(task, actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("退回须说明理由", code="reason_required", field="reason")
    earlier = sorted({s.stage for s in route(case.item) if s.stage < task.stage})
    if not earlier:
        raise Conflict("这是第一个环节,不能再退回", code="first_stage")
    case.tasks.filter(stage=task.stage, state=ReviewTask.State.ACTIVE).exclude(pk=task.pk).update(state=ReviewTask.State.CANCELLED)
    task.state, task.assignee, task.opinion, task.done_at = ReviewTask.State.RETURNED, staff, reason[:2000], _now()
    task.save()
    _open_stage(case, earlier[-1])
    _event(case, "returned", actor, case.status, f"{task.name}退回:{reason[:200]}", task=task.pk, stage=task.stage)
    return task


def _department_staff(case: Case, actor, *roles) -> Staff:
    staff = _staff(actor, *roles)
    _same_department(staff, case.department_id)
    return staff


@transaction.atomic
def suspend_case(case: Case, *, actor, kind: str, reason: str, planned_days: int) -> Case:
    """特别程序 (hearing, site inspection, testing, expert review): the clock stops."""
    case = _lock(case)
    _check(case, "suspend")
    _department_staff(case, actor, Role.REVIEWER, Role.APPROVER)
    if kind not in StopKind.values or kind == StopKind.SUPPLEMENT:
        raise ValidationError("特别程序类型无效", code="invalid_stop_kind", field="kind")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("启动特别程序须说明原因", code="reason_required", field="reason")
    if not isinstance(planned_days, int) or not 1 <= planned_days <= 365:
        raise ValidationError("计划时长应为 1 到 365 个工作日", code="invalid_planned_days", field="planned_days")
    case.status = S.SUSPENDED
    _stop_clock(case, kind, reason, planned_days)
    case.save()
    _event(case, "suspended", actor, S.IN_REVIEW, f"{StopKind(kind).label}:{reason[:200]}(计划 {planned_days} 个工作日)",
           stop_kind=kind, planned_days=planned_days)
    return case


@transaction.atomic
def resume_case(case: Case, *, actor) -> Case:
    case = _lock(case)
    _check(case, "resume")
    _department_staff(case, actor, Role.REVIEWER, Role.APPROVER)
    case.status = S.IN_REVIEW
    _restart_clock(case)
    case.save()
    _event(case, "resumed", actor, S.SUSPENDED, "特别程序结束,恢复计时")
    return case


@transaction.atomic
def extend_deadline(case: Case, *, actor, days: int, reason: str) -> Case:
    """延长: approved by the department's approver or head, with a reason, up to 10 working days in all."""
    case = _lock(case)
    _check(case, "extend")
    staff = _department_staff(case, actor, Role.APPROVER, Role.REVIEWER)
    if staff.role != Role.APPROVER and not staff.is_head:
        raise PermissionDenied("延长办理时限须经部门负责人批准", code="head_required")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("延长时限须说明理由", code="reason_required", field="reason")
    if not isinstance(days, int) or days < 1 or case.extension_days + days > MAX_EXTENSION_DAYS:
        raise ValidationError(f"延长总计不得超过 {MAX_EXTENSION_DAYS} 个工作日(已延长 {case.extension_days} 个)",
                              code="extension_too_long", field="days")
    case.extension_days += days
    _refresh_clock(case)
    case.save()
    _event(case, "extended", actor, case.status, f"延长 {days} 个工作日:{reason[:200]}", days=days)
    return case


# ----------------------------------------------------------------------------- decision and delivery

def _finish_decision(case: Case, approved: bool, reasons: str) -> None:
    case.status = S.DECIDED
    case.approved = approved
    case.decision_text = reasons[:4000]
    case.decided_at = _now()
    case.decided_on = clock.today()
    case.tasks.filter(state=ReviewTask.State.ACTIVE).update(state=ReviewTask.State.DONE, done_at=case.decided_at)
    if approved:
        SupervisionHandover.objects.get_or_create(case=case, defaults={"department": hooks.supervising_department(case), "pushed_at": case.decided_at})
        hooks.on_approved(case)


@transaction.atomic
def decide_case(case: Case, *, actor, approved: bool, reasons: str) -> Case:
    """办结: the approver of the last stage approves or denies, with reasons."""
    case = _lock(case)
    _check(case, "decide")
    staff = _department_staff(case, actor, Role.APPROVER)
    open_tasks = list(case.tasks.filter(state=ReviewTask.State.ACTIVE))
    if not open_tasks or any(t.role != RouteStep.StepRole.APPROVER for t in open_tasks):
        raise Conflict("审查环节尚未完成,不能作出决定", code="review_not_finished")
    if not any(t.department_id == staff.department_id for t in open_tasks):
        raise NotFound("找不到该办件", code="case_not_found")
    reasons = (reasons or "").strip()
    if not reasons:
        raise ValidationError("请写明决定理由", code="reason_required", field="reasons")
    if not approved and len(reasons) < 10:
        raise ValidationError("不予许可须写明具体理由和依据(至少 10 个字)", code="reason_too_short", field="reasons")
    ReviewTask.objects.filter(pk__in=[t.pk for t in open_tasks if t.department_id == staff.department_id]).update(assignee=staff, opinion=reasons[:2000])
    _finish_decision(case, bool(approved), reasons)
    case.save()
    _event(case, "decided", actor, S.IN_REVIEW, ("准予:" if approved else "不予:") + reasons[:200], approved=bool(approved))
    return case


def _deliver(case: Case, actor, staff: Staff | None, method: str, *, address="", tracking_number="", hall=None) -> Delivery:
    delivery = Delivery.objects.create(case=case, method=method, address=address, tracking_number=tracking_number, hall=hall,
                                       delivered_at=_now(), delivered_by=staff)
    case.status = S.DELIVERED
    case.closed_at = delivery.delivered_at
    case.save()
    label = Delivery.Method(method).label
    _event(case, "delivered", actor, S.DECIDED, f"{label}" + (f",快递单号 {tracking_number}" if tracking_number else ""), method=method)
    return delivery


@transaction.atomic
def deliver_result(case: Case, *, actor, method: str, address: str = "", tracking_number: str = "") -> Delivery:
    """统一出件: at a window, by express (address and tracking number), or electronically."""
    case = _lock(case)
    _check(case, "deliver")
    staff = _staff(actor, Role.CLERK, Role.REVIEWER, Role.APPROVER, Role.ADMIN)
    if staff.role != Role.CLERK and staff.role != Role.ADMIN:
        _same_department(staff, case.department_id)
    if method not in Delivery.Method.values:
        raise ValidationError("送达方式无效", code="invalid_delivery_method", field="method")
    address, tracking_number = (address or "").strip(), (tracking_number or "").strip()
    if method == Delivery.Method.EXPRESS and (not address or not tracking_number):
        raise ValidationError("邮寄送达须填写地址和快递单号", code="express_details_required", field="address")
    if case.materials.filter(state=CaseMaterial.State.PENDING).exists() and case.approved:
        raise Conflict("容缺材料尚未补齐,暂不能出证", code="pending_materials")
    hall = Hall.objects.filter(pk=staff.hall_id).first() if method == Delivery.Method.WINDOW else None
    return _deliver(case, actor, staff, method, address=address[:200], tracking_number=tracking_number[:40], hall=hall)


@transaction.atomic
def withdraw_case(case: Case, *, actor, reason: str = "") -> Case:
    case = _lock(case)
    _owner(case, actor)
    _check(case, "withdraw")
    before = case.status
    case.status = S.WITHDRAWN
    case.closed_at = _now()
    if case.stopped_on:
        _restart_clock(case)
    case.save()
    case.tasks.filter(state=ReviewTask.State.ACTIVE).update(state=ReviewTask.State.CANCELLED)
    _event(case, "withdrawn", actor, before, "申请人撤回申请" + (f":{reason.strip()[:200]}" if reason and reason.strip() else ""))
    return case


@transaction.atomic
def record_visit(case: Case, *, actor, purpose: str, hall: Hall | None = None) -> Visit:
    """跑动: every in-person visit of the applicant; beyond the item's promise the case is flagged."""
    case = _lock(case)
    _check(case, "record_visit")
    staff = _staff(actor, Role.CLERK, Role.REVIEWER, Role.APPROVER, Role.ADMIN)
    hall = hall or (Hall.objects.filter(pk=staff.hall_id).first() if staff.hall_id else None)
    if hall is None:
        raise ValidationError("请选择到访的大厅", code="hall_required", field="hall")
    purpose = (purpose or "").strip()
    if not purpose:
        raise ValidationError("请填写到访事由", code="purpose_required", field="purpose")
    return _add_visit(case, actor, hall, purpose, staff)


def _add_visit(case: Case, actor, hall: Hall, purpose: str, staff: Staff | None) -> Visit:
    visit = Visit.objects.create(case=case, hall=hall, purpose=purpose[:200], at=_now(), recorded_by=staff)
    case.visit_count += 1
    case.save(update_fields=["visit_count"])
    flag = case.visits_exceeded
    _event(case, "visit", actor, case.status, f"到{hall.name}:{purpose[:100]}" + ("(超过承诺跑动次数)" if flag else ""),
           visit=visit.pk, exceeded=flag)
    return visit


@transaction.atomic
def claim_handover(handover: SupervisionHandover, *, actor, feedback: str = "") -> SupervisionHandover:
    """谁审批谁监管: the supervising department claims the result and may feed back."""
    staff = _staff(actor)
    handover = SupervisionHandover.objects.select_for_update().select_related("case").get(pk=handover.pk)
    if handover.department_id != staff.department_id:
        raise NotFound("找不到该推送", code="handover_not_found")
    if handover.claimed_at is not None:
        raise Conflict("该结果已被认领", code="already_claimed")
    handover.claimed_at, handover.claimed_by, handover.feedback = _now(), staff, (feedback or "").strip()[:2000]
    handover.save()
    _event(handover.case, "handover_claimed", actor, handover.case.status, f"{staff.department.name}认领审批结果")
    return handover


# =============================================================================
# Writes that views used to make themselves (issue 10.3), and the table of case actions that the
# console and the API dispatch through (issue 10.7). Kept apart from the submission functions above.
# =============================================================================

from .models import Message


@transaction.atomic
def mark_messages_read(*, recipient, message_ids) -> int:
    """The inbox page shown: the recipient's unread messages among `message_ids` are read now.
    Returns how many changed; another user's ids change nothing."""
    ids = sorted({i for i in message_ids if isinstance(i, int) and not isinstance(i, bool)})
    if not ids:
        return 0
    changed = list(Message.objects.select_for_update().filter(pk__in=ids, recipient=recipient, read_at__isnull=True)
                   .values_list("pk", flat=True))
    if not changed:
        return 0
    Message.objects.filter(pk__in=changed).update(read_at=_now())
    audit.record("message.read", actor=recipient, object_type="cases.message", object_id=changed[0],
                 data={"messages": changed})
    return len(changed)


@transaction.atomic
def mark_message_read(*, recipient, message_id: int) -> Message:
    """One message read (the API): NotFound for another user's message, as for one that does not exist."""
    message = (Message.objects.select_for_update(of=("self",)).select_related("case")
               .filter(recipient=recipient, pk=message_id).first())
    if message is None:
        raise NotFound("找不到该消息", code="message_not_found")
    if message.read_at is None:
        message.read_at = _now()
        message.save(update_fields=["read_at"])
        audit.record("message.read", actor=recipient, obj=message, data={"messages": [message.pk]})
    return message


class Action:
    """One business action of a case, as every channel names it: the `TRANSITIONS` key, its label, the
    service that performs it, who may do it (the service checks; this says it for pages and docs)
    and the public API route that maps onto it."""

    __slots__ = ("api", "label", "name", "service", "who")

    def __init__(self, name: str, service, who: tuple[str, ...], api: str | None):
        self.name, self.label, self.service, self.who, self.api = name, ACTION_LABELS[name], service, who, api

    def __repr__(self):
        return f"Action({self.name!r})"


APPLICANT = "applicant"
_CLERK = (Role.CLERK, Role.ADMIN)
_DEPT = (Role.REVIEWER, Role.APPROVER)
ACTIONS: dict[str, Action] = {a.name: a for a in (
    Action("save_draft", save_draft, (APPLICANT,), None),  # no API route yet (helper h3's draft endpoint)
    Action("submit", submit_application, (APPLICANT, *_CLERK), "POST /cases"),
    Action("accept", accept_case, _CLERK, "POST /staff/cases/{number}/accept"),
    Action("accept_with_pending", accept_case, _CLERK, "POST /staff/cases/{number}/accept"),  # with pending_material_ids
    Action("handle_immediately", handle_immediately, _CLERK, "POST /staff/cases/{number}/immediate"),
    Action("reject", reject_case, _CLERK, "POST /staff/cases/{number}/reject"),
    Action("request_supplement", request_supplement, (*_CLERK, *_DEPT), "POST /staff/cases/{number}/supplement-request"),
    Action("submit_supplement", supplement_with_uploads, (APPLICANT, *_CLERK), "POST /cases/{number}/supplement"),
    Action("complete_task", complete_task, _DEPT, "POST /staff/cases/{number}/tasks/{task_id}/complete"),
    Action("return_task", return_task, _DEPT, "POST /staff/cases/{number}/tasks/{task_id}/return"),
    Action("suspend", suspend_case, _DEPT, "POST /staff/cases/{number}/suspend"),
    Action("resume", resume_case, _DEPT, "POST /staff/cases/{number}/resume"),
    Action("extend", extend_deadline, _DEPT, "POST /staff/cases/{number}/extend"),  # approver, or a head
    Action("receive_pending", receive_pending_with_uploads, (APPLICANT, *_CLERK, *_DEPT),
           "POST /staff/cases/{number}/pending/{case_material_id}"),
    Action("decide", decide_case, (Role.APPROVER,), "POST /staff/cases/{number}/decide"),
    Action("deliver", deliver_result, (*_CLERK, *_DEPT), "POST /staff/cases/{number}/deliver"),
    Action("withdraw", withdraw_case, (APPLICANT,), "POST /cases/{number}/withdraw"),
    Action("record_visit", record_visit, (*_CLERK, *_DEPT), "POST /staff/cases/{number}/visits"),
)}
