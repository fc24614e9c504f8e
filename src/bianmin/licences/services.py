"""Every write of the licence repository — issue, revoke, supersede, expire — and verification.

A licence's signature covers `canonical_bytes(licence)`: the metadata it was issued with (GB/T 36903).
Its status is signed too, apart (`status_signature` over `status_bytes`, by the issuer's seal in use
when the status was set): issuing signs 有效, a revocation or a supersession signs the new status with
its time and reason, so a database writer who flips `revoked` back (or `valid` to anything) is caught
by every verification. An earlier signed status put back is caught by the audit log: the revocation's
entry stays in the keyed chain (core.audit), and a verification finding it reports the licence altered.
Expiry is not signed: it follows from the signed dates.
"""

from __future__ import annotations

import calendar
import json
import re
from datetime import date

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from bianmin.core import audit, workdays
from bianmin.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from bianmin.core.identities import RESIDENT_ID, USCC, mask_licence_number, mask_person_name, validate_identity
from bianmin.core.models import AuditEntry, Sequence
from bianmin.org.models import Role

from . import identifiers, seals
from .models import HolderIdType, Licence, LicenceStatus, LicenceType

MAX_SURFACE_FIELDS = 40
MAX_SURFACE_KEY = 40
MAX_SURFACE_VALUE = 500
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The metadata a signature covers, in the canonical form's key names.
SIGNED_FIELDS = (
    "identifier", "type_code", "name", "number", "version", "holder_name", "holder_id_type", "holder_id_number",
    "issuer_name", "issuer_code", "issued_on", "valid_from", "valid_until", "region_code", "surface", "case_number",
)


def today() -> date:
    """Dates of licences are Asia/Shanghai dates (settings.TIME_ZONE)."""
    return workdays.today()


# ----------------------------------------------------------------------------- canonical form

def canonical_bytes(licence: Licence) -> bytes:
    """What the seal signs: sorted-key JSON (no spaces, UTF-8) of the issued metadata. Dates ISO 8601,
    an open-ended validity as null, the surface as a flat object of strings."""
    data = {
        "identifier": licence.identifier,
        "type_code": licence.licence_type.type_code,
        "name": licence.name,
        "number": licence.number,
        "version": licence.version,
        "holder_name": licence.holder_name,
        "holder_id_type": licence.holder_id_type,
        "holder_id_number": licence.holder_id_number,
        "issuer_name": licence.issuer_name,
        "issuer_code": licence.issuer_code,
        "issued_on": _iso(licence.issued_on),
        "valid_from": _iso(licence.valid_from),
        "valid_until": _iso(licence.valid_until),
        "region_code": licence.region_code,
        "surface": licence.surface or {},
        "case_number": licence.case_number or "",
    }
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def signed_status(status: str) -> str:
    """The status a signature covers: 已过期 is 有效 past its (signed) end date, so the nightly expiry
    needs no signature."""
    return LicenceStatus.VALID if status == LicenceStatus.EXPIRED else status


def status_bytes(licence: Licence) -> bytes:
    """What the status signature covers: identifier, status (expired as valid), revocation time and
    reason, and the licence's metadata (its SM3 digest, its signature and the seal's public key), so that one signature check
    at verification shows both the metadata and the status unaltered."""
    data = {
        "identifier": licence.identifier,
        "status": signed_status(licence.status),
        "revoked_at": licence.revoked_at.isoformat() if licence.revoked_at else None,
        "revoke_reason": licence.revoke_reason or "",
        "metadata_sm3": seals.sm3_digest(canonical_bytes(licence)).hex(),
        "signature": licence.signature,
        "seal": licence.seal.public_key,
    }
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _sign_status(licence: Licence, seal=None) -> None:
    licence.status_seal = seal or seals.active_seal(licence.issuer)
    licence.status_signature = seals.sign(licence.status_seal, status_bytes(licence))


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


# ----------------------------------------------------------------------------- input checks

def _text(value, label: str, field: str, max_length: int, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(f"{label}应为文字", code="invalid", field=field)
    value = " ".join(value.split())
    if required and not value:
        raise ValidationError(f"请填写{label}", code="required", field=field)
    if len(value) > max_length:
        raise ValidationError(f"{label}不能超过 {max_length} 个字", code="too_long", field=field)
    if _CONTROL.search(value):
        raise ValidationError(f"{label}含有不允许的字符", code="invalid", field=field)
    return value


def _date(value, label: str, field: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if hasattr(value, "date") and callable(value.date):  # a datetime: its date
        return value.date()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValidationError(f"{label}应为日期,例如 2026-01-31", code="invalid_date", field=field)


def _surface(value) -> dict[str, str]:
    """照面信息: a flat object of short texts (numbers written as text), so its canonical form is stable."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError("照面信息应为“项目: 内容”的列表", code="invalid_surface", field="surface")
    if len(value) > MAX_SURFACE_FIELDS:
        raise ValidationError(f"照面信息最多 {MAX_SURFACE_FIELDS} 项", code="invalid_surface", field="surface")
    out: dict[str, str] = {}
    for key, item in value.items():
        if item is None or item == "":
            continue
        if isinstance(item, bool) or not isinstance(item, (str, int, date)):
            raise ValidationError(f"照面信息“{str(key)[:20]}”应为文字", code="invalid_surface", field="surface")
        key_text = _text(str(key), "照面信息项目", "surface", MAX_SURFACE_KEY)
        out[key_text] = _text(item.isoformat() if isinstance(item, date) else str(item),
                              f"照面信息“{key_text}”", "surface", MAX_SURFACE_VALUE)
    return out


def add_years(day: date, years: int) -> date:
    """The same day `years` later (29 February -> 28 February)."""
    year = day.year + years
    return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))


def default_valid_until(licence_type: LicenceType, valid_from: date) -> date | None:
    """validity_years after valid_from, the day before (a 5-year permit from 2026-03-15 runs to 2031-03-14);
    None (long-term) when the type has no validity limit."""
    if not licence_type.validity_years:
        return None
    from datetime import timedelta

    return add_years(valid_from, licence_type.validity_years) - timedelta(days=1)


def _licence_type(value) -> LicenceType:
    if isinstance(value, LicenceType):
        return value
    if isinstance(value, str) and value.strip():
        found = LicenceType.objects.filter(code=value.strip()).first()
        if found is not None:
            return found
    raise ValidationError("证照类型不存在", code="unknown_licence_type", field="licence_type")


def _holder(licence_type: LicenceType, number) -> tuple[str, str]:
    kind, value = validate_identity(number, field="holder_id_number")
    if licence_type.holder_kind == LicenceType.HolderKind.PERSON and kind != RESIDENT_ID:
        raise ValidationError(f"{licence_type.name}的持证人应为自然人,请填写居民身份证号码", code="holder_kind_mismatch",
                              field="holder_id_number")
    if licence_type.holder_kind == LicenceType.HolderKind.LEGAL_PERSON and kind != USCC:
        raise ValidationError(f"{licence_type.name}的持证主体应为法人,请填写统一社会信用代码", code="holder_kind_mismatch",
                              field="holder_id_number")
    return (HolderIdType.RESIDENT_ID if kind == RESIDENT_ID else HolderIdType.USCC), value


def _next(name: str) -> int:
    """The next value of a named counter, one atomic upsert (PostgreSQL and SQLite)."""
    table = Sequence._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {table} (name, value) VALUES (%s, 1) "
            f"ON CONFLICT (name) DO UPDATE SET value = {table}.value + 1 RETURNING value",
            [name],
        )
        return cur.fetchone()[0]


def _generated_number(licence_type: LicenceType, issuer, issued_on: date) -> str:
    """<type's short code><issuer's 6-digit region><year><7-digit sequence per type and year>, e.g.
    SPJYXKZ44080020260000001, skipping any number an imported licence already holds."""
    while True:
        seq = _next(f"licence-number:{licence_type.pk}:{issued_on.year}")
        number = f"{licence_type.code.upper()[:12]}{issuer.region_id[:6]}{issued_on.year}{seq:07d}"
        if not Licence.objects.filter(licence_type=licence_type, number=number).exists():
            return number


def _actor_staff(actor, licence: Licence, roles=(Role.APPROVER, Role.ADMIN)):
    """Changes to an issued licence: approvers and admins of the issuing department, or the system (actor None)."""
    if actor is None:
        return None
    staff = getattr(actor, "staff", None)
    if staff is None or staff.department_id != licence.issuer_id:
        raise NotFound("找不到该证照", code="licence_not_found")
    if staff.role not in roles:
        raise PermissionDenied("只有颁证部门的决定人员或系统管理员可以办理此操作", code="role_not_allowed")
    return staff


# ----------------------------------------------------------------------------- issue

BY_TYPE = object()  # valid_until not given: the licence type's validity rule decides


def issue_licence(*, licence_type, holder_name, holder_id_number, issuer, number=None, issued_on=None,
                  valid_from=None, valid_until=None, surface=None, case_number="", region_code=None,
                  actor=None, imported=False, long_term=False) -> Licence:
    """Issue (or, imported=True, register a pre-platform) licence, signed with the issuer's active seal.

    valid_until None means "by the type's rule" (LicenceType.validity_years; long-term if it has none);
    long_term=True makes this licence long-term whatever its type says."""
    if valid_until is None and not long_term:
        valid_until = BY_TYPE
    with transaction.atomic():
        return _issue(licence_type=licence_type, holder_name=holder_name, holder_id_number=holder_id_number,
                      issuer=issuer, number=number, issued_on=issued_on, valid_from=valid_from,
                      valid_until=valid_until, surface=surface, case_number=case_number, region_code=region_code,
                      actor=actor, imported=imported)


def _issue(*, licence_type, holder_name, holder_id_number, issuer, number, issued_on, valid_from, valid_until,
           surface, case_number, region_code, actor, imported, version=1, serial=None, supersedes=None) -> Licence:
    licence_type = _licence_type(licence_type)
    if issuer is None or getattr(issuer, "pk", None) is None:
        raise ValidationError("请指定颁证部门", code="required", field="issuer")
    holder_name = _text(holder_name, "持证主体名称", "holder_name", 100)
    holder_id_type, holder_id_number = _holder(licence_type, holder_id_number)
    now_day = today()
    issued_on = _date(issued_on, "颁证日期", "issued_on") or now_day
    if issued_on > now_day:
        raise ValidationError("颁证日期不能晚于今天", code="invalid_date", field="issued_on")
    valid_from = _date(valid_from, "有效期起始日期", "valid_from") or issued_on
    if valid_until is BY_TYPE:
        valid_until = default_valid_until(licence_type, valid_from)
    else:
        valid_until = _date(valid_until, "有效期截止日期", "valid_until")
    if valid_until is not None and valid_until < valid_from:
        raise ValidationError("有效期截止日期不能早于起始日期", code="invalid_validity", field="valid_until")
    region_code = _text(region_code or issuer.region_id, "行政区划代码", "region_code", 12)
    if not region_code.isdigit():
        raise ValidationError("行政区划代码应为数字", code="invalid", field="region_code")
    case_number = _text(case_number or "", "来源办件编号", "case_number", 32, required=False)
    surface = _surface(surface)
    if number is None:
        number = _generated_number(licence_type, issuer, issued_on)
    else:
        number = _text(number if isinstance(number, str) else str(number), "证照编号", "number", 60)
        if version == 1 and Licence.objects.filter(licence_type=licence_type, number=number).exists():
            raise Conflict(f"{licence_type.name}编号“{number}”已存在", code="duplicate_number", field="number")
    if serial is None:
        serial = _next(f"licence-serial:{issuer.uscc}")
    identifier = identifiers.make_identifier(licence_type.type_code, issuer.uscc, serial, version)
    seal = seals.active_seal(issuer)
    status = LicenceStatus.EXPIRED if valid_until is not None and valid_until < now_day else LicenceStatus.VALID
    licence = Licence(
        identifier=identifier, licence_type=licence_type, name=licence_type.name, number=number, version=version,
        holder_name=holder_name, holder_id_type=holder_id_type, holder_id_number=holder_id_number,
        issuer=issuer, issuer_name=issuer.name, issuer_code=issuer.uscc, issued_on=issued_on,
        valid_from=valid_from, valid_until=valid_until, region_code=region_code, status=status, surface=surface,
        case_number=case_number, supersedes=supersedes, seal=seal, imported=bool(imported),
    )
    licence.signature = seals.sign(seal, canonical_bytes(licence))
    _sign_status(licence, seal)
    try:
        with transaction.atomic():
            licence.save()
    except IntegrityError:
        raise Conflict(f"{licence_type.name}编号“{number}”已存在", code="duplicate_number", field="number") from None
    audit.record("licence.import" if imported else "licence.issue", actor=actor or "system", obj=licence,
                 data={"identifier": identifier, "type": licence_type.code, "number": number, "case": case_number,
                       "seal": seal.version})
    return licence


# ----------------------------------------------------------------------------- changes

def _locked(licence: Licence) -> Licence:
    return Licence.objects.select_for_update().select_related("licence_type", "issuer", "seal").get(pk=licence.pk)


def revoke_licence(licence: Licence, reason: str, actor) -> Licence:
    """注销: from now on every verification says so. Approver or admin of the issuing department."""
    _actor_staff(actor, licence)
    reason = _text(reason, "注销原因", "reason", 300)
    with transaction.atomic():
        licence = _locked(licence)
        if licence.status in (LicenceStatus.REVOKED, LicenceStatus.SUPERSEDED):
            raise Conflict(f"该证照{licence.get_status_display()},不能注销", code="illegal_transition")
        previous = licence.status
        licence.status = LicenceStatus.REVOKED
        licence.revoked_at = timezone.now()
        licence.revoke_reason = reason
        _sign_status(licence)
        licence.save(update_fields=["status", "revoked_at", "revoke_reason", "status_signature", "status_seal"])
        audit.record("licence.revoke", actor=actor or "system", obj=licence,
                     data={"identifier": licence.identifier, "from": previous, "reason": reason})
    return licence


SUPERSEDE_FIELDS = {"holder_name", "surface", "issued_on", "valid_from", "valid_until", "region_code", "case_number"}


def supersede_licence(old: Licence, actor, **changes) -> Licence:
    """换发: a new version with the same number and serial (identifier version + 1); the old one becomes
    superseded. Only the fields in SUPERSEDE_FIELDS may change; the holder stays the same."""
    unknown = set(changes) - SUPERSEDE_FIELDS
    if unknown:
        raise ValidationError(f"换发时不能修改:{'、'.join(sorted(unknown))}", code="invalid_change")
    _actor_staff(actor, old)
    with transaction.atomic():
        old = _locked(old)
        if old.status not in (LicenceStatus.VALID, LicenceStatus.EXPIRED):
            raise Conflict(f"该证照{old.get_status_display()},不能换发", code="illegal_transition")
        serial = identifiers.parse_identifier(old.identifier).serial
        issued_on = changes.get("issued_on") or today()
        valid_from = changes.get("valid_from") or issued_on
        new = _issue(
            licence_type=old.licence_type, holder_name=changes.get("holder_name", old.holder_name),
            holder_id_number=old.holder_id_number, issuer=old.issuer, number=old.number, issued_on=issued_on,
            valid_from=valid_from, valid_until=changes.get("valid_until", BY_TYPE),
            surface=changes.get("surface", old.surface), case_number=changes.get("case_number", old.case_number),
            region_code=changes.get("region_code", old.region_code), actor=actor, imported=False,
            version=old.version + 1, serial=serial, supersedes=old,
        )
        old.status = LicenceStatus.SUPERSEDED
        _sign_status(old)
        old.save(update_fields=["status", "status_signature", "status_seal"])
        audit.record("licence.supersede", actor=actor or "system", obj=old,
                     data={"identifier": old.identifier, "by": new.identifier})
    return new


def expire_licences(on: date | None = None) -> int:
    """Mark valid licences whose validity ended before `on` (default today) as expired; idempotent."""
    on = on or today()
    with transaction.atomic():
        count = Licence.objects.filter(status=LicenceStatus.VALID, valid_until__lt=on).update(status=LicenceStatus.EXPIRED)
        if count:
            audit.record("licence.expire", actor="system", object_type="licences.licence",
                         data={"count": count, "before": on.isoformat()})
    return count


# ----------------------------------------------------------------------------- reading and verification

def find_by_identifier(identifier) -> Licence:
    """The licence with this identifier (ValidationError if malformed, NotFound if not in the repository)."""
    parsed = identifiers.parse_identifier(identifier)
    # the status seal is the licence's own until the issuer rotates its seal and then changes the status:
    # read on demand then (`_status_seal`), not joined for every verification
    licence = (Licence.objects.select_related("licence_type", "seal")
               .annotate(status_undone=_status_entries()).filter(identifier=parsed.text).first())
    if licence is None:
        raise NotFound("电子证照库中没有该证照标识对应的证照", code="licence_not_found")
    return licence


STATUS_ACTIONS = ("licence.revoke", "licence.supersede")  # audit entries of a status a licence cannot leave


def _status_entries():
    """Whether the audit log has a revocation or supersession of the licence: an EXISTS in the licence's
    own query, on the audit log's object index. Written as SQL: compiling the ORM's Exists() cost more
    than running it, on every verification."""
    from django.db.models import BooleanField
    from django.db.models.expressions import RawSQL

    licence, entry = Licence._meta.db_table, AuditEntry._meta.db_table
    return RawSQL(f'EXISTS (SELECT 1 FROM {entry} a WHERE a.object_id = CAST("{licence}"."id" AS VARCHAR(20)) '
                  "AND a.object_type = %s AND a.action IN (%s, %s))",
                  [Licence._meta.label_lower, *STATUS_ACTIONS], output_field=BooleanField())


def _status_seal(licence: Licence):
    if licence.status_seal_id is not None and licence.status_seal_id == licence.seal_id:
        return licence.seal
    return licence.status_seal


def _status_signed(licence: Licence) -> bool:
    seal = _status_seal(licence)
    return (seal is not None and seal.department_id == licence.issuer_id
            and seals.verify(seal, status_bytes(licence), licence.status_signature))


def _status_consistent(licence: Licence, on: date) -> bool:
    """Expired only past the signed end date, and no revocation or supersession in the audit log undone."""
    if licence.status == LicenceStatus.EXPIRED and (licence.valid_until is None or licence.valid_until >= on):
        return False  # marked expired while its signed dates run on
    if signed_status(licence.status) == LicenceStatus.VALID:
        # an older signed 有效 put back: the revocation's entry is still in the keyed chain
        undone = getattr(licence, "status_undone", None)
        if undone is None:
            undone = Licence.objects.filter(pk=licence.pk).annotate(u=_status_entries()).values_list("u", flat=True).first()
        return not undone
    return True


def status_unaltered(licence: Licence, on: date) -> bool:
    """The stored status is the one the issuer signed, and consistent with the dates and the audit log."""
    return _status_signed(licence) and _status_consistent(licence, on)


def verification(licence: Licence, on: date | None = None) -> dict:
    """Genuine (signed by a seal of its issuer), unaltered (the signatures cover the stored metadata and
    status), current (valid status and within its dates), with a Chinese verdict. Holder masked; no ID number."""
    on = on or today()
    seal = licence.seal
    status_signed = _status_signed(licence)
    # The status signature covers the metadata too: one SM2 check when all is well; when it fails, the
    # metadata's own signature tells which was changed.
    metadata_unaltered = status_signed or seals.verify(seal, canonical_bytes(licence), licence.signature)
    status_ok = metadata_unaltered and status_signed and _status_consistent(licence, on)
    unaltered = metadata_unaltered and status_ok
    genuine = unaltered and seal.department_id == licence.issuer_id
    started = licence.valid_from <= on
    not_ended = licence.valid_until is None or on <= licence.valid_until
    status = licence.status
    if status == LicenceStatus.VALID and not not_ended:
        status = LicenceStatus.EXPIRED  # before the nightly job has marked it
    current = genuine and status == LicenceStatus.VALID and started
    if not metadata_unaltered or seal.department_id != licence.issuer_id:
        verdict = "altered"
        message = "验证失败:证照信息与颁证机构的电子签章不符,可能已被篡改,请勿采信。"
    elif not status_ok:
        verdict = "altered"
        message = "验证失败:证照状态与颁证机构签章的状态记录不符(状态可能被篡改,如已注销的证照被改回有效),请勿采信。"
    elif status == LicenceStatus.REVOKED:
        verdict = "revoked"
        if licence.revoked_at:
            message = f"该证照已于 {timezone.localtime(licence.revoked_at):%Y-%m-%d} 注销,不再有效。"
        else:
            message = "该证照已注销,不再有效。"
    elif status == LicenceStatus.SUPERSEDED:
        verdict = "superseded"
        message = "该证照已换发新版本,本版本不再有效。"
    elif status == LicenceStatus.EXPIRED:
        verdict = "expired"
        message = f"该证照已于 {licence.valid_until:%Y-%m-%d} 有效期届满。" if licence.valid_until else "该证照已过期。"
    elif not started:
        verdict = "not_yet_valid"
        message = f"该证照为真,自 {licence.valid_from:%Y-%m-%d} 起生效。"
    else:
        verdict = "current"
        message = "该证照真实有效,内容未被篡改。"
    return {
        "identifier": licence.identifier,
        "genuine": genuine,
        "unaltered": unaltered,
        "status_unaltered": status_ok,
        "current": current,
        "verdict": verdict,
        "message": message,
        "status": status,
        "status_label": LicenceStatus(status).label,
        "licence_type": licence.licence_type.name,
        "name": licence.name,
        "number_masked": mask_licence_number(licence.number),
        "version": licence.version,
        "holder": mask_person_name(licence.holder_name, organisation=licence.holder_id_type == HolderIdType.USCC),
        "issuer": licence.issuer_name,
        "issuer_code": licence.issuer_code,
        "issued_on": licence.issued_on,
        "valid_from": licence.valid_from,
        "valid_until": licence.valid_until,
        "revoked_at": licence.revoked_at if status == LicenceStatus.REVOKED else None,
        "seal_version": seal.version,
        "checked_on": on,
    }


# ----------------------------------------------------------------------------- 用证记录 (T15)

@transaction.atomic
def log_licence_use(*, licence: Licence, via: str, actor=None, department_id: int | None = None, purpose: str = "",
                    case_number: str = "", client=None):
    """A department, a system or a share-link visitor read someone's licence: the use the holder sees
    on their page (`LicenceUse`), and its audit entry, together."""
    from .models import LicenceUse

    if via not in LicenceUse.Via.values:
        raise ValidationError("用证方式无效", code="invalid_use_via", field="via")
    user = actor if getattr(actor, "pk", None) else None
    use = LicenceUse.objects.create(licence=licence, via=via, department_id=department_id, user=user, client=client,
                                    case_number=case_number[:32], purpose=(purpose or "")[:200])
    audit.record("licence.use", actor=actor or "anonymous", obj=licence,
                 data={"identifier": licence.identifier, "via": via, "department": department_id, "purpose": use.purpose,
                       "use": use.pk})
    return use
