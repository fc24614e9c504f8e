"""API: the data-sharing API for the province's exchange platform (T15): authenticated per client system, scoped, every call logged.

GET  /api/v1/exchange/licences/{identifier}?purpose=…   scope licence:by_identifier
POST /api/v1/exchange/licences  {"holder_id_number", "holder_name", "purpose", …}   scope licence:by_holder

A holder's identity number travels in the POST body, never in the address (addresses land in access
logs and proxies' logs); the GET form is refused (405 holder_lookup_needs_post) without reading it.

HTTP Basic (client id : secret, see exchange.py). Every call, refused ones included, is one
ExchangeCall; every licence returned is one LicenceUse (via exchange) that its holder sees.
Parameters are read as text and checked here, so that no input escapes the log as a framework
error. docs/exchange-api.md is the guide for the province's developers.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.http import JsonResponse
from ninja import Field, Router, Schema

from bianmin.core import workdays
from bianmin.core.errors import DomainError, NotFound, ValidationError
from bianmin.core.identities import mask_person_name, validate_identity

from . import exchange, selectors
from .models import ExchangeClient, Licence

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


ERRORS = {400: ExchangeErrorOut, 401: ExchangeErrorOut, 403: ExchangeErrorOut, 404: ExchangeErrorOut, 503: ExchangeErrorOut}


class HolderQueryIn(Schema):
    """The body of a holder look-up (documentation: the endpoint reads and checks the JSON itself)."""

    holder_id_number: str = Field(max_length=40, description="居民身份证号码或统一社会信用代码")
    holder_name: str = Field(max_length=100, description="持证主体名称,须与证件号码同时匹配")
    purpose: str = Field(max_length=200, description="用途(1 到 200 个字),持证人可以看到")
    type: str = Field("", max_length=40, description="证照类型简码,可选")
    include_invalid: bool = Field(False, description="也返回已注销、过期、已换发的证照")


HOLDER_FIELDS = set(HolderQueryIn.model_fields)


def licence_out(licence: Licence, today: date) -> dict:
    current = selectors.is_current(licence, today)
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
    return workdays.today()


def _remote(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _error(exc: DomainError) -> JsonResponse:
    response = JsonResponse(exc.as_dict(), status=exc.status, json_dumps_params={"ensure_ascii": False})
    if exc.status == 401:
        response["WWW-Authenticate"] = REALM
    response["Cache-Control"] = "no-store"
    return response


def _purpose(request, given=None) -> str:
    purpose = given if given is not None else request.GET.get("purpose")
    purpose = (purpose if isinstance(purpose, str) else "").strip()
    if not purpose or len(purpose) > 200 or not purpose.isprintable():
        raise ValidationError("请用 purpose 参数说明用途(1 到 200 个字),持证人可以看到", code="purpose_required", field="purpose")
    return purpose


def _call(request, endpoint: str, scope: str, params: dict, lookup, *, purpose=None):
    """Authenticate, check the scope, run lookup(client) -> (body, licences), and log the call whatever happens.
    purpose: the body's, for a POST (otherwise the query's)."""
    client, reason = exchange.authenticate(request.headers.get("Authorization"))
    licences: list[Licence] = []
    try:
        if reason:
            raise exchange.Unauthenticated(reason)
        exchange.require_scope(client, scope)
        purpose = _purpose(request, purpose)
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


def _flag(value, field: str) -> bool:
    if isinstance(value, bool):
        return value
    word = (value if isinstance(value, str) else "?").strip().lower()
    if word in ("", "0", "false", "no"):
        return False
    if word in ("1", "true", "yes"):
        return True
    raise ValidationError(f"参数 {field} 应为 true 或 false", code="invalid_parameter", field=field)


def _body(request) -> dict:
    """The POST body as a JSON object of the documented fields, each a string (include_invalid: also a
    boolean); anything else is a 400 that is logged like every refusal."""
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("请求体应为 JSON 对象", code="invalid_body") from None
    if not isinstance(data, dict):
        raise ValidationError("请求体应为 JSON 对象", code="invalid_body")
    unknown = sorted(set(data) - HOLDER_FIELDS)
    if unknown:
        raise ValidationError("请求体含有未定义的字段:" + "、".join(unknown)[:200], code="invalid_body")
    for key, value in data.items():
        if not (isinstance(value, str) or (key == "include_invalid" and isinstance(value, bool))):
            raise ValidationError(f"参数 {key} 应为文本", code="invalid_parameter", field=key)
        if isinstance(value, str) and "\x00" in value:
            raise ValidationError(f"参数 {key} 含有不允许的字符", code="invalid_parameter", field=key)
    return data


@router.get("/licences", response={405: ExchangeErrorOut}, auth=None, summary="(已停用)按持证主体查询须用 POST",
            description="证件号码不得出现在地址中(会进入访问日志):GET 一律答复 405 holder_lookup_needs_post,不作查询。")
def by_holder_get(request):
    client, _reason = exchange.authenticate(request.headers.get("Authorization"))
    exchange.log_call(client=client, endpoint="licences/by_holder", params={"method": "GET"}, status=405, licences=[],
                      remote_addr=_remote(request))
    response = JsonResponse({"code": "holder_lookup_needs_post",
                             "message": "按持证主体查询请用 POST,证件号码和名称放在 JSON 请求体中,不要放在地址里"},
                            status=405, json_dumps_params={"ensure_ascii": False})
    response["Allow"] = "POST"
    response["Cache-Control"] = "no-store"
    return response


@router.post("/licences", response={200: ExchangeLicenceList, **ERRORS}, auth=None, summary="按持证主体查询证照",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": HolderQueryIn.model_json_schema(ref_template="#/components/schemas/{model}")}}}},
             description="权限范围 licence:by_holder。JSON 请求体:holder_id_number(居民身份证号码或统一社会信用代码)与 "
                         "holder_name 须同时匹配;purpose 说明用途;默认只返回当前有效的证照,include_invalid=true 时也返回"
                         "已注销、过期、已换发的。可用 type 限定证照类型简码。")
def by_holder(request):
    try:
        data = _body(request)
    except DomainError as exc:
        client, _reason = exchange.authenticate(request.headers.get("Authorization"))
        exchange.log_call(client=client, endpoint="licences/by_holder", params={}, status=exc.status, licences=[],
                          remote_addr=_remote(request))
        return _error(exc)
    raw_id = data.get("holder_id_number", "")[:40]
    name = data.get("holder_name", "").strip()[:100]
    type_code = data.get("type", "").strip()[:40]
    include_invalid = data.get("include_invalid", "")
    params = {"holder_id_number": raw_id, "holder_name": mask_person_name(name), "type": type_code,
              "include_invalid": str(include_invalid)[:10]}

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

    return _call(request, "licences/by_holder", ExchangeClient.Scope.BY_HOLDER, params, lookup,
                 purpose=data.get("purpose", ""))
