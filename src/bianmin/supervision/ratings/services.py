"""好差评: the applicant rates a finished case once; 差评 (1–2) are answered and rectified by the
case's department within RATING_RECTIFY_WORKDAYS working days, or appealed to a supervisor.

States (Rating.State):
    closed          3–5: nothing to do
    pending         1–2: the department must answer by rectify_due
    rectified       answered (rectified_late says whether after rectify_due)
    appealed        the department says the rating is malicious; a supervisor decides
    appeal_upheld   the supervisor agreed: the rating is left out of every statistic
A rejected appeal goes back to pending, and its due date moves by the working days the appeal
was under review (the department's time does not run while the supervisor decides, as a case's
clock does not run during 补正); the supervisor sees the new date before deciding.

Every action is one transaction with an audit entry; the applicant learns of the answer through
an inbox message and their case page; the department's head learns of a new 差评 in the inbox.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from bianmin.cases import clock
from bianmin.cases.models import Applicant, Case, CaseStatus, Message
from bianmin.core import audit, workdays
from bianmin.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from bianmin.core.identities import normalise, scrub
from bianmin.org.models import Hall, Role, Staff

from ..models import Rating, RatingDevice
from .selectors import is_bad_score

SCORE_LABELS = dict(Rating.SCORES)
FINISHED = (CaseStatus.DECIDED, CaseStatus.DELIVERED)
MAX_COMMENT = 500
MAX_ANSWER = 2000

# The evaluation indicators of the national 好差评 practice (国办发〔2019〕51号: 服务态度、办事效率、
# 办事流程、材料要求、一次办成 …): the applicant ticks the aspects their score is about.
INDICATORS: dict[str, str] = {
    "efficiency": "办事效率",
    "attitude": "服务态度",
    "one_visit": "一次办成",
    "materials": "材料精简",
    "process": "流程便捷",
    "guide": "办事指南清晰",
    "online": "网上办理顺畅",
    "environment": "服务环境",
    "fairness": "公开公正",
}


def rectify_workdays() -> int:
    return max(1, int(getattr(settings, "RATING_RECTIFY_WORKDAYS", 5)))


# ----------------------------------------------------------------------------- validation

def _score(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValidationError("请选择 1 到 5 的评价等级", code="invalid_score", field="score")
    try:
        score = int(value)
    except ValueError:
        raise ValidationError("请选择 1 到 5 的评价等级", code="invalid_score", field="score") from None
    if not 1 <= score <= 5:
        raise ValidationError("请选择 1 到 5 的评价等级", code="invalid_score", field="score")
    return score


def _indicators(values) -> list[str]:
    values = list(values or [])
    if len(values) > len(INDICATORS) or any(not isinstance(v, str) or v not in INDICATORS for v in values):
        raise ValidationError("评价指标无效", code="invalid_indicator", field="indicators")
    return [code for code in INDICATORS if code in values]  # fixed order, no repeats


def _text(value, limit: int, field: str, *, required: str = "") -> str:
    if value is None:
        value = ""
    if not isinstance(value, str) or "\x00" in value:
        raise ValidationError("内容无效", code=f"invalid_{field}", field=field)
    value = value.strip()
    if required and not value:
        raise ValidationError(required, code=f"{field}_required", field=field)
    if len(value) > limit:
        raise ValidationError(f"内容不能超过 {limit} 个字", code=f"{field}_too_long", field=field)
    return value


def clean_number(value) -> str:
    """A case number as typed or sent: at most 32 characters; one with a NUL (which PostgreSQL cannot
    compare) is no case number at all."""
    value = str(value or "")[:32]
    return "" if "\x00" in value else value


# ----------------------------------------------------------------------------- rating

def can_rate(case: Case) -> bool:
    return case.status in FINISHED and not Rating.objects.filter(case_id=case.pk).exists()


def _rate(case: Case, applicant: Applicant, *, score, indicators, comment, channel: str, hall: Hall | None, actor) -> Rating:
    score = _score(score)
    indicators = _indicators(indicators)
    comment = scrub(_text(comment, MAX_COMMENT, "comment"))  # no ID numbers in a published comment
    with transaction.atomic():
        case = Case.objects.select_for_update().select_related("department").get(pk=case.pk)
        if case.applicant_id != applicant.pk:
            raise NotFound("找不到该办件", code="case_not_found")
        if case.status not in FINISHED:
            raise Conflict("办件办结后才能评价", code="case_not_finished")
        if Rating.objects.filter(case=case).exists():
            raise Conflict("该办件已评价,每件只能评价一次", code="already_rated")
        bad = is_bad_score(score)
        rating = Rating(case=case, applicant=applicant, department_id=case.department_id,
                        hall_id=hall.pk if hall else case.hall_id, score=score, indicators=indicators,
                        comment=comment, channel=channel, state=Rating.State.PENDING if bad else Rating.State.CLOSED,
                        rectify_due=workdays.add_workdays(clock.today(), rectify_workdays()) if bad else None)
        try:
            with transaction.atomic():
                rating.save()
        except IntegrityError:  # a twin request rated first
            raise Conflict("该办件已评价,每件只能评价一次", code="already_rated") from None
        audit.record("rating.create", actor=actor or "system", obj=rating,
                     data={"case": case.number, "score": score, "channel": channel})
        if bad:
            _tell_department(rating, case)
    return rating


def rate_online(user, number: str, *, score, indicators=(), comment: str = "") -> Rating:
    """The applicant rates their own finished case on the website or through the API."""
    applicant, number = getattr(user, "applicant", None), clean_number(number)
    case = Case.objects.filter(applicant=applicant, number=number).first() if applicant and number else None
    if case is None:
        raise NotFound("找不到该办件", code="case_not_found")
    return _rate(case, applicant, score=score, indicators=indicators, comment=comment, channel=Rating.Channel.ONLINE,
                 hall=None, actor=user)


def rate_at_device(device: RatingDevice, *, number: str, id_number: str, score, indicators=(), comment: str = "") -> Rating:
    """A hall's rating device: the case number and the applicant's ID number (or USCC) together; a
    wrong pair is 'not found' whichever half is wrong, so the device cannot probe either."""
    number, id_number = clean_number(number), clean_number(normalise(str(id_number or "")))[:18]
    case = (Case.objects.filter(number=number, applicant__id_number=id_number).select_related("applicant").first()
            if number and id_number else None)
    if case is None:
        raise NotFound("办件编号与证件号码不匹配", code="case_not_found")
    return _rate(case, case.applicant, score=score, indicators=indicators, comment=comment, channel=Rating.Channel.DEVICE,
                 hall=device.hall, actor=f"device:{device.pk}")


def _tell_department(rating: Rating, case: Case) -> None:
    """A new 差评: the department's head (or, without one, its approvers) hears of it."""
    users = list(Staff.objects.filter(department_id=rating.department_id, is_head=True, user__is_active=True)
                 .values_list("user_id", flat=True))
    if not users:
        users = list(Staff.objects.filter(department_id=rating.department_id, role=Role.APPROVER, user__is_active=True)
                     .values_list("user_id", flat=True))
    body = (f"办件 {case.number} 收到差评({rating.score} 分,{SCORE_LABELS[rating.score]})。"
            f"请于 {rating.rectify_due:%Y年%m月%d日} 前答复并整改;如属恶意差评,可向效能监督部门申诉。"
            f"\n查看:/console/supervision/ratings/{rating.pk}/")
    Message.objects.bulk_create([Message(recipient_id=u, case=case, kind="rating_bad", title="收到差评,请按期整改", body=body)
                                 for u in users])


# ----------------------------------------------------------------------------- the department's side

def _for_department(rating_id: int, actor) -> tuple[Rating, Staff]:
    staff = getattr(actor, "staff", None)
    if staff is None:
        raise PermissionDenied("仅限工作人员办理", code="staff_only")
    rating = Rating.objects.select_for_update().filter(pk=rating_id).first()
    if rating is None or rating.department_id != staff.department_id:
        raise NotFound("找不到该评价", code="rating_not_found")  # other departments' ratings do not exist for you
    return rating, staff


@transaction.atomic
def answer_rating(rating_id: int, *, actor, answer: str) -> Rating:
    """The department answers a 差评 and says what it rectified; the applicant is told."""
    rating, staff = _for_department(rating_id, actor)
    if rating.state != Rating.State.PENDING:
        raise Conflict(f"该评价当前为“{rating.get_state_display()}”,不能答复", code="not_pending")
    answer = scrub(_text(answer, MAX_ANSWER, "answer", required="请填写整改答复"))
    now = timezone.now()
    rating.state, rating.answer, rating.answered_at, rating.answered_by = Rating.State.RECTIFIED, answer, now, staff
    rating.rectified_late = clock.today() > rating.rectify_due
    rating.save()
    audit.record("rating.answer", actor=actor, obj=rating, data={"late": rating.rectified_late})
    case = Case.objects.select_related("applicant", "item").get(pk=rating.case_id)
    if case.applicant.user_id:
        Message.objects.create(recipient_id=case.applicant.user_id, case=case, kind="rating_answered",
                               title="您的评价已收到答复",
                               body=f"您对“{case.item.name}”(办件编号 {case.number})的评价,{rating.department.name}已答复:\n{answer}")
    return rating


@transaction.atomic
def appeal_rating(rating_id: int, *, actor, reason: str) -> Rating:
    """申诉: the department's head or approver says a 差评 is malicious; a supervisor decides."""
    rating, staff = _for_department(rating_id, actor)
    if not (staff.is_head or staff.role in (Role.APPROVER, Role.ADMIN)):
        raise PermissionDenied("申诉须由部门负责人或审批负责人提出", code="head_required")
    if rating.state != Rating.State.PENDING:
        raise Conflict(f"该评价当前为“{rating.get_state_display()}”,不能申诉", code="not_pending")
    if rating.appealed_at is not None:
        raise Conflict("该评价已申诉过一次,不能再次申诉", code="already_appealed")
    rating.appeal_reason = _text(reason, MAX_ANSWER, "reason", required="请写明申诉理由")
    rating.state, rating.appealed_at, rating.appealed_on = Rating.State.APPEALED, timezone.now(), clock.today()
    rating.save()
    audit.record("rating.appeal", actor=actor, obj=rating)
    body = (f"{rating.department.name}对办件差评(评价编号 {rating.pk})提出申诉:{rating.appeal_reason[:200]}"
            f"\n处理:/console/supervision/ratings/{rating.pk}/")
    Message.objects.bulk_create([
        Message(recipient_id=u, case_id=rating.case_id, kind="rating_appeal", title="差评申诉待处理", body=body)
        for u in Staff.objects.filter(role=Role.SUPERVISOR, user__is_active=True).values_list("user_id", flat=True)])
    return rating


def due_after_rejected_appeal(rating: Rating, on: date | None = None) -> date:
    """The original due date moved by the working days the appeal was under review."""
    on = on or clock.today()
    held = max(0, workdays.workdays_between(rating.appealed_on, on)) if rating.appealed_on else 0
    return workdays.add_workdays(rating.rectify_due, held)


@transaction.atomic
def decide_appeal(rating_id: int, *, actor, upheld: bool, decision: str) -> Rating:
    """A supervisor upholds the appeal (the rating no longer counts) or rejects it (back to pending)."""
    staff = getattr(actor, "staff", None)
    if staff is None or staff.role not in (Role.SUPERVISOR, Role.ADMIN):
        raise PermissionDenied("申诉由效能监督人员处理", code="supervisor_only")
    if not isinstance(upheld, bool):
        raise ValidationError("请选择申诉是否成立", code="invalid_upheld", field="upheld")
    rating = Rating.objects.select_for_update().filter(pk=rating_id).first()
    if rating is None:
        raise NotFound("找不到该评价", code="rating_not_found")
    if rating.state != Rating.State.APPEALED:
        raise Conflict(f"该评价当前为“{rating.get_state_display()}”,没有待处理的申诉", code="not_appealed")
    rating.appeal_decision = _text(decision, MAX_ANSWER, "decision", required="请填写处理意见")
    rating.appeal_decided_at, rating.appeal_decided_by = timezone.now(), staff
    if upheld:
        rating.state = Rating.State.APPEAL_UPHELD
    else:
        rating.state, rating.rectify_due = Rating.State.PENDING, due_after_rejected_appeal(rating)
    rating.save()
    audit.record("rating.appeal_decision", actor=actor, obj=rating, data={"upheld": upheld, "due": rating.rectify_due})
    heads = Staff.objects.filter(department_id=rating.department_id, user__is_active=True).filter(
        Q(is_head=True) | Q(role=Role.APPROVER)).values_list("user_id", flat=True)
    verdict = "申诉成立,该评价不计入统计" if upheld else f"申诉不成立,请于 {rating.rectify_due:%Y年%m月%d日} 前答复整改"
    Message.objects.bulk_create([
        Message(recipient_id=u, case_id=rating.case_id, kind="rating_appeal_decided", title="差评申诉处理结果",
                body=f"评价编号 {rating.pk}:{verdict}。处理意见:{rating.appeal_decision[:300]}") for u in set(heads)])
    return rating


# ----------------------------------------------------------------------------- devices

def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue_device_token(hall: Hall, name: str, *, actor=None) -> tuple[RatingDevice, str]:
    """Register a hall's rating device; the token is returned here and never again."""
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        device = RatingDevice.objects.create(hall=hall, name=(name or "").strip()[:100] or "评价器", key_hash=hash_token(token))
        audit.record("rating_device.issue", actor=actor or "system", obj=device, data={"hall": hall.pk})
    return device, token


def device_for_token(token: str) -> RatingDevice | None:
    if not token or len(token) > 200:
        return None
    device = RatingDevice.objects.select_related("hall").filter(key_hash=hash_token(token), revoked=False).first()
    if device is not None:
        now = timezone.now()
        if device.last_used_at is None or now - device.last_used_at > timedelta(minutes=1):
            RatingDevice.objects.filter(pk=device.pk).update(last_used_at=now)
    return device


# ----------------------------------------------------------------------------- published statistics

