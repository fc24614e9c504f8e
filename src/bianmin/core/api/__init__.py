"""The platform's API plumbing, shared by every app's router (cases, licences, supervision…):
input base schema, the error schema, paging, and the request guards. Authentication is in
`core.api.auth`, token writes in `core.services`.

Errors have one shape everywhere: {"code": "<stable_code>", "message": "<中文说明>", "field"?, "details"?}.
"""

from __future__ import annotations

from typing import Annotated

from ninja import Field, Path, Schema
from pydantic import ConfigDict, model_validator

from bianmin.core.errors import PermissionDenied, ValidationError
from bianmin.core.pagination import paginate

try:  # django-ninja >= 1.5; older versions take a (status, body) tuple
    from ninja.responses import Status
except ImportError:  # pragma: no cover
    def Status(status_code, value):  # noqa: N802
        return status_code, value

MAX_ID = 2**53           # ids beyond this are not ours (and would overflow SQLite)
MAX_TEXT = 5000          # free-text fields; services keep at most 2000–4000 of them
MAX_PAGE = 100_000
MAX_NESTING = 20

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]


# ----------------------------------------------------------------------------- input

def has_nul(value, depth: int = 0) -> bool:
    """A NUL character anywhere in a JSON value (PostgreSQL cannot store them), or absurd nesting."""
    if depth > MAX_NESTING:
        return True
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k, depth + 1) or has_nul(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v, depth + 1) for v in value)
    return False


class In(Schema):
    """Input: a JSON object with only the documented fields (an empty body counts as {}), no NUL
    characters anywhere, no absurd nesting."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data):
        raw = getattr(data, "_obj", data)  # ninja wraps the input in a DjangoGetter
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise ValueError("请求体应为 JSON 对象")
        if has_nul(raw):
            raise ValueError("请求内容含有不允许的字符或嵌套过深")
        return data


# ----------------------------------------------------------------------------- errors

class ErrorDetailOut(Schema):
    field: str | None = None
    code: str
    message: str


class ErrorOut(Schema):
    code: str
    message: str
    field: str | None = None
    details: list[ErrorDetailOut] | None = None


# 503: the database is unreachable (core.unavailable); any endpoint may answer it, with Retry-After.
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut, 503: ErrorOut}


# ----------------------------------------------------------------------------- paging

def page(qs, page: str, page_size: str):
    """One page of `qs` from the query's text parameters (a 4xx for anything but sane numbers)."""
    if len(page) > 9 or len(page_size) > 9:
        raise ValidationError("页码应为正整数", code="invalid_page", field="page")
    if page.isdigit() and int(page) > MAX_PAGE:
        raise ValidationError(f"页码不能超过 {MAX_PAGE}", code="invalid_page", field="page")
    return paginate(qs, page, page_size)


def page_out(result, rows) -> dict:
    return {"count": result.paginator.count, "page": result.number, "page_size": result.paginator.per_page, "results": rows}


# ----------------------------------------------------------------------------- guards

def require_applicant(request):
    """The caller's applicant record (real-name registration), or 403 applicant_required."""
    applicant = getattr(request.auth, "applicant", None)
    if applicant is None:
        raise PermissionDenied("请先完成实名登记(居民身份证或统一社会信用代码)", code="applicant_required")
    return applicant


def require_staff(request):
    """The caller's staff record, or 403 staff_only."""
    staff = getattr(request.auth, "staff", None)
    if staff is None:
        raise PermissionDenied("仅限工作人员使用", code="staff_only")
    return staff


def errors(*statuses: int) -> dict:
    """The error answers an endpoint documents, e.g. `response={200: ItemOut, **errors(404, 422)}`."""
    return {status: ErrorOut for status in (*statuses, 503)}
