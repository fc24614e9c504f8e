"""API: 好差评 — applicants rate online, hall rating devices rate with the case number and ID number,
departments answer and appeal 差评, supervisors decide appeals, anyone reads the published figures.

Thin: every rule is in `ratings`. Devices authenticate with their own bearer token
(`Authorization: Bearer <token>`, a `RatingDevice`), which opens only the device endpoint.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from ninja import Field, Path, Router, Schema
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer

from bianmin.core.api import ERRORS, MAX_ID, In, Text
from bianmin.core.api import page as _page
from bianmin.core.api import page_out as _page_out
from bianmin.core.api import require_applicant as _applicant
from bianmin.core.api import require_staff as _staff
from bianmin.core.api.auth import API_AUTH
from bianmin.core.errors import NotFound, ValidationError

from . import selectors as ratings_read
from . import services as ratings
from ..models import Rating

try:  # django-ninja >= 1.5
    from ninja.responses import Status
except ImportError:  # pragma: no cover
    def Status(status_code, value):  # noqa: N802
        return status_code, value

router = Router(tags=["好差评"])

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
Score = Annotated[int, Field(ge=1, le=5, strict=True)]


class DeviceAuth(HttpBearer):
    def authenticate(self, request, token):
        device = ratings.device_for_token(token)
        if device is None:
            raise AuthenticationError()
        return device


# ----------------------------------------------------------------------------- schemas

class RateIn(In):
    score: Score
    indicators: list[str] = Field(default_factory=list, max_length=20)
    comment: str = Field("", max_length=ratings.MAX_COMMENT)


class DeviceRateIn(RateIn):
    case_number: str = Field(max_length=32)
    id_number: str = Field(max_length=40)


class AnswerIn(In):
    answer: Text


class AppealIn(In):
    reason: Text


class AppealDecisionIn(In):
    upheld: bool
    decision: Text


class RatingOut(Schema):
    id: int
    case_number: str
    score: int
    score_label: str
    indicators: list[str]
    indicator_labels: list[str]
    comment: str
    channel: str
    created_at: datetime
    state: str
    state_label: str
    rectify_due: date | None
    answer: str
    answered_at: datetime | None


class StaffRatingOut(RatingOut):
    department: str
    item_name: str
    overdue: bool
    rectified_late: bool | None
    appeal_reason: str
    appeal_decision: str


class StaffRatingPage(Schema):
    count: int
    page: int
    page_size: int
    results: list[StaffRatingOut]


class IndicatorOut(Schema):
    code: str
    label: str


class StatsRow(Schema):
    id: int
    name: str
    total: int
    scores: list[int] = Field(description="评价数,依次为 5 非常满意、4 满意、3 基本满意、2 不满意、1 非常不满意")
    bad: int
    bad_rate: float | None
    satisfied_rate: float | None
    rectified: int
    on_time: int
    late: int
    overdue: int
    pending: int
    on_time_rate: float | None
    excluded: int


class StatsOut(Schema):
    by: str
    totals: StatsRow
    results: list[StatsRow]


# ----------------------------------------------------------------------------- helpers

def rating_out(r: Rating, *, number: str) -> dict:
    return {"id": r.pk, "case_number": number, "score": r.score, "score_label": ratings.SCORE_LABELS[r.score],
            "indicators": list(r.indicators or []), "indicator_labels": [ratings.INDICATORS.get(c, c) for c in r.indicators or []],
            "comment": r.comment, "channel": r.channel, "created_at": r.created_at, "state": r.state,
            "state_label": r.get_state_display(), "rectify_due": r.rectify_due, "answer": r.answer, "answered_at": r.answered_at}


def staff_rating_out(r: Rating) -> dict:
    out = rating_out(r, number=r.case.number)
    out.update({"department": r.department.name, "item_name": r.case.item.name, "overdue": ratings_read.is_overdue(r),
                "rectified_late": r.rectified_late, "appeal_reason": r.appeal_reason, "appeal_decision": r.appeal_decision})
    return out


def _one(rating_id: int) -> dict:
    r = Rating.objects.select_related("case__item", "department").get(pk=rating_id)
    return staff_rating_out(r)


# ----------------------------------------------------------------------------- applicants and devices

@router.get("/ratings/indicators", response={200: list[IndicatorOut]}, summary="评价指标(固定清单)", auth=None)
def indicators(request):
    return [{"code": c, "label": label} for c, label in ratings.INDICATORS.items()]


@router.post("/cases/{number}/rating", response={201: RatingOut, **ERRORS}, summary="评价我的办件(办结后一次)",
             auth=API_AUTH, description="score 1–5(5 非常满意 … 1 非常不满意);indicators 取自 /ratings/indicators。1–2 分为差评,由部门限期整改。")
def rate(request, number: str, body: RateIn):
    _applicant(request)
    r = ratings.rate_online(request.auth, number, score=body.score, indicators=body.indicators, comment=body.comment)
    return Status(201, rating_out(r, number=number))


@router.get("/cases/{number}/rating", response={200: RatingOut, **ERRORS}, summary="我对办件的评价及部门答复", auth=API_AUTH)
def my_rating(request, number: str):
    applicant = _applicant(request)
    number = ratings.clean_number(number)
    r = Rating.objects.filter(case__number=number, applicant=applicant).first() if number else None
    if r is None:
        raise NotFound("尚未评价该办件", code="rating_not_found")
    return rating_out(r, number=number)


@router.post("/ratings/device", response={201: RatingOut, **ERRORS}, summary="大厅评价器提交评价", auth=DeviceAuth(),
             description="评价器令牌认证;须同时提供办件编号和申请人证件号码,不匹配时返回 404。")
def rate_at_device(request, body: DeviceRateIn):
    r = ratings.rate_at_device(request.auth, number=body.case_number, id_number=body.id_number, score=body.score,
                               indicators=body.indicators, comment=body.comment)
    return Status(201, rating_out(r, number=body.case_number))


# ----------------------------------------------------------------------------- staff

@router.get("/staff/ratings", response={200: StaffRatingPage, **ERRORS}, summary="本部门的评价(监督人员:全部)", auth=API_AUTH)
def staff_ratings(request, state: str = "", bad: str = "", page: str = "1", page_size: str = "20"):
    qs = ratings_read.visible_ratings(_staff(request)).select_related("case__item", "department")
    if state:
        if state not in Rating.State.values:
            raise ValidationError("状态无效", code="invalid_state", field="state")
        qs = qs.filter(state=state)
    if bad in ("1", "true"):
        qs = qs.filter(ratings_read.bad_q())
    result = _page(qs.order_by("-id"), page, page_size)
    return _page_out(result, [staff_rating_out(r) for r in result.object_list])


@router.post("/staff/ratings/{rating_id}/answer", response={200: StaffRatingOut, **ERRORS}, summary="答复并整改差评", auth=API_AUTH)
def answer(request, rating_id: PathId, body: AnswerIn):
    _staff(request)
    return _one(ratings.answer_rating(rating_id, actor=request.auth, answer=body.answer).pk)


@router.post("/staff/ratings/{rating_id}/appeal", response={200: StaffRatingOut, **ERRORS}, summary="申诉恶意差评", auth=API_AUTH)
def appeal(request, rating_id: PathId, body: AppealIn):
    _staff(request)
    return _one(ratings.appeal_rating(rating_id, actor=request.auth, reason=body.reason).pk)


@router.post("/staff/ratings/{rating_id}/appeal-decision", response={200: StaffRatingOut, **ERRORS},
             summary="处理差评申诉(效能监督)", auth=API_AUTH)
def appeal_decision(request, rating_id: PathId, body: AppealDecisionIn):
    _staff(request)
    return _one(ratings.decide_appeal(rating_id, actor=request.auth, upheld=body.upheld, decision=body.decision).pk)


# ----------------------------------------------------------------------------- public

@router.get("/ratings/stats", response={200: StatsOut, **ERRORS}, summary="好差评公示:各部门(或各大厅)统计", auth=None)
def stats(request, by: str = "department"):
    if by not in ("department", "hall"):
        raise ValidationError("by 应为 department 或 hall", code="invalid_by", field="by")
    rows = ratings_read.statistics(by)
    return {"by": by, "totals": {"id": 0, "name": "合计", **ratings_read.totals(rows)}, "results": rows}
