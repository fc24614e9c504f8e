"""The HTTP API under /api/v1/ (OpenAPI at /api/v1/docs). Each app contributes a router.

Errors have one shape everywhere: {"code": "<stable_code>", "message": "<中文说明>", ...}.
"""

from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from django.db import InterfaceError, OperationalError

from bianmin.core import unavailable
from bianmin.core.errors import DomainError

api = NinjaAPI(
    title="便民 bianmin API",
    version="1",
    description="湛江市政务服务平台接口:事项目录、证明清单等。错误统一返回 {code, message}。",
    urls_namespace="api-v1",
)


@api.exception_handler(DomainError)
def _domain_error(request, exc: DomainError):
    response = api.create_response(request, exc.as_dict(), status=exc.status)
    if getattr(exc, "retry_after", None):  # a throttle's refusal (429) says how long to wait
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def _database_unavailable(request, exc):
    unavailable.log.error("database unavailable: %s %s: %s", request.method, request.path, exc)
    return unavailable.response(request)


@api.exception_handler(NinjaValidationError)
def _validation_error(request, exc: NinjaValidationError):
    details = []
    for err in exc.errors:
        loc = ".".join(str(x) for x in err.get("loc", []) if x not in ("query", "body", "path"))
        details.append({"field": loc, "code": err.get("type", "invalid"), "message": f"参数 {loc} 无效"})
    message = "请求参数无效:" + "、".join(d["field"] for d in details if d["field"]) if details else "请求参数无效"
    return api.create_response(request, {"code": "invalid_request", "message": message, "details": details}, status=422)


@api.exception_handler(AuthenticationError)
def _auth_error(request, exc):
    return api.create_response(request, {"code": "unauthenticated", "message": "请先登录"}, status=401)


# ninja's own HttpErrors carry English text; answer in Chinese with a stable code.
HTTP_ERRORS = {
    400: ("invalid_body", "请求体无法解析,请发送有效的 JSON"),
    401: ("unauthenticated", "请先登录"),
    403: ("forbidden", "没有权限"),
    404: ("not_found", "找不到请求的资源"),
    405: ("method_not_allowed", "不支持该请求方法"),
}


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    code, message = HTTP_ERRORS.get(exc.status_code, ("http_error", "请求无法处理"))
    return api.create_response(request, {"code": code, "message": message}, status=exc.status_code)


from bianmin.catalog.api import router as catalog_router  # noqa: E402

from bianmin.cases.api import router as cases_router  # noqa: E402

from bianmin.licences.api import router as licences_router  # noqa: E402
from bianmin.licences.exchange_api import router as exchange_router  # noqa: E402
from bianmin.licences.holder_api import router as holder_router  # noqa: E402
from bianmin.supervision.kpis.api import router as kpis_router  # noqa: E402
from bianmin.supervision.ratings.api import router as ratings_router  # noqa: E402
from bianmin.supervision.tracker.api import router as tracker_router  # noqa: E402

api.add_router("/", catalog_router)
api.add_router("/", cases_router)
api.add_router("/", licences_router)
api.add_router("/exchange/", exchange_router)
api.add_router("/", holder_router)
api.add_router("/", kpis_router)
api.add_router("/", ratings_router)
api.add_router("/", tracker_router)
