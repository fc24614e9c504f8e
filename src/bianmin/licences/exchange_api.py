"""API: the data-sharing API for the province's exchange platform (T15): authenticated per client system, scoped, every call logged.

GET /api/v1/exchange/licences/{identifier}   scope licence:by_identifier
GET /api/v1/exchange/licences?holder_id_number=…&holder_name=…   scope licence:by_holder

HTTP Basic (client id : secret, see exchange.py). Every call, refused ones included, is one
ExchangeCall; every licence returned is one LicenceUse (via exchange) that its holder sees.
Parameters are read as text and checked here, so that no input escapes the log as a framework
error. docs/exchange-api.md is the guide for the province's developers.
"""

from __future__ import annotations

from datetime import date, datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.http import JsonResponse
from django.utils import timezone
from ninja import Router, Schema

from bianmin.core.errors import DomainError, NotFound, ValidationError
from bianmin.core.identities import validate_identity

from . import exchange, selectors
from .models import ExchangeClient, Licence, LicenceStatus

router = Router(tags=["数据共享"])

MAX_RESULTS = 100
REALM = 'Basic realm="bianmin-exchange", charset="UTF-8"'


class LicenceTypeOut(Schema):
    code: str
    type_code: str
    name: str


class ExchangeLicenceOut(Schema):
    identifier: str
    licence_type: LicenceTypeOut
    name: str
    number: str
    version: int
    holder_name: str
    holder_id_type: str
    holder_id_number: str
    issuer_name: str
    issuer_code: str
    issued_on: date
    valid_from: date
    valid_until: date | None
    region_code: str
    status: str
    status_label: str
    current: bool
    revoked_at: datetime | None
    surface: dict
    seal_version: int
    signature: str


class ExchangeLicenceList(Schema):
    count: int
    results: list[ExchangeLicenceOut]


class ExchangeErrorOut(Schema):
    code: str
    message: str


ERRORS = {400: ExchangeErrorOut, 401: ExchangeErrorOut, 403: ExchangeErrorOut, 404: ExchangeErrorOut}


def licence_out(licence: Licence, today: date) -> dict:
    current = (licence.status == LicenceStatus.VALID and licence.valid_from <= today
               and (licence.valid_until is None or licence.valid_until >= today))
    t = licence.licence_type
    return {
        "identifier": licence.identifier, "licence_type": {"code": t.code, "type_code": t.type_code, "name": t.name},
        "name": licence.name, "number": licence.number, "version": licence.version, "holder_name": licence.holder_name,
        "holder_id_type": licence.holder_id_type, "holder_id_number": licence.holder_id_number,
        "issuer_name": licence.issuer_name, "issuer_code": licence.issuer_code, "issued_on": licence.issued_on,
        "valid_from": licence.valid_from, "valid_until": licence.valid_until, "region_code": licence.region_code,
        "status": licence.status, "status_label": licence.get_status_display(), "current": current,
        "revoked_at": licence.revoked_at, "surface": licence.surface if isinstance(licence.surface, dict) else {},
        "seal_version": licence.seal.version, "signature": licence.signature,
    }


def _today() -> date:
    return timezone.localdate()  # Asia/Shanghai


def _remote(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _error(exc: DomainError) -> JsonResponse:
    response = JsonResponse(exc.as_dict(), status=exc.status, json_dumps_params={"ensure_ascii": False})
    if exc.status == 401:
        response["WWW-Authenticate"] = REALM
    response["Cache-Control"] = "no-store"
    return response


def _purpose(request) -> str:
    purpose = (request.GET.get("purpose") or "").strip()
    if not purpose or len(purpose) > 200 or not purpose.isprintable():
        raise ValidationError("请用 purpose 参数说明用途(1 到 200 个字),持证人可以看到", code="purpose_required", field="purpose")
    return purpose


def _call(request, endpoint: str, scope: str, params: dict, lookup):
    """Authenticate, check the scope, run lookup(client) -> (body, licences), and log the call whatever happens."""
    client, reason = exchange.authenticate(request.headers.get("Authorization"))
    licences: list[Licence] = []
    purpose = ""
    try:
        if reason:
            raise exchange.Unauthenticated(reason)
        exchange.require_scope(client, scope)
        purpose = _purpose(request)
        body, licences = lookup(client)
    except DomainError as exc:
        exchange.log_call(client=client, endpoint=endpoint, params=params, status=exc.status, licences=[], remote_addr=_remote(request))
        return _error(exc)
    exchange.log_call(client=client, endpoint=endpoint, params=params, status=200, licences=licences,
                      remote_addr=_remote(request), purpose=purpose)
    response = JsonResponse(body, encoder=DjangoJSONEncoder, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store"
    return response


@router.get("/licences/{identifier}", response={200: ExchangeLicenceOut, **ERRORS}, auth=None,
            summary="按证照标识查询证照", description="权限范围 licence:by_identifier。须带 purpose(用途)。"
                                                   "已注销、过期的证照也返回,status 和 current 说明其状态。")
def by_identifier(request, identifier: str, purpose: str = ""):
    identifier = identifier[:200]

    def lookup(client):
        licence = (Licence.objects.select_related("licence_type", "seal").filter(identifier=identifier).first())
        if licence is None:
            raise NotFound("找不到该证照", code="licence_not_found")
        return licence_out(licence, _today()), [licence]

    return _call(request, "licences/by_identifier", ExchangeClient.Scope.BY_IDENTIFIER, {"identifier": identifier}, lookup)


def _flag(value: str, field: str) -> bool:
    word = (value or "").strip().lower()
    if word in ("", "0", "false", "no"):
        return False
    if word in ("1", "true", "yes"):
        return True
    raise ValidationError(f"参数 {field} 应为 true 或 false", code="invalid_parameter", field=field)


@router.get("/licences", response={200: ExchangeLicenceList, **ERRORS}, auth=None, summary="按持证主体查询证照",
            description="权限范围 licence:by_holder。holder_id_number(居民身份证号码或统一社会信用代码)与 holder_name 须同时匹配;"
                        "默认只返回当前有效的证照,include_invalid=true 时也返回已注销、过期、已换发的。可用 type 限定证照类型简码。")
def by_holder(request, holder_id_number: str = "", holder_name: str = "", type: str = "", include_invalid: str = "",
              purpose: str = ""):
    raw_id, name, type_code = holder_id_number[:40], holder_name.strip()[:100], type.strip()[:40]
    params = {"holder_id_number": raw_id, "holder_name": name[:1] + "*" * max(0, len(name) - 1), "type": type_code,
              "include_invalid": include_invalid[:10]}

    def lookup(client):
        if not raw_id.strip():
            raise ValidationError("请提供 holder_id_number", code="holder_id_required", field="holder_id_number")
        _kind, id_number = validate_identity(raw_id, "holder_id_number")
        if not name:
            raise ValidationError("请提供 holder_name(与证件号码须同时匹配)", code="holder_name_required", field="holder_name")
        everything = _flag(include_invalid, "include_invalid")
        # name and number must both match: a number alone reveals nothing
        qs = selectors.number_licences(id_number, name).select_related("seal")
        if type_code:
            qs = qs.filter(licence_type__code=type_code)
        if not everything:
            qs = qs.filter(selectors.current(_today()))
        found = list(qs[:MAX_RESULTS])
        today = _today()
        return {"count": len(found), "results": [licence_out(x, today) for x in found]}, found

    return _call(request, "licences/by_holder", ExchangeClient.Scope.BY_HOLDER, params, lookup)
