"""The database is unreachable (connection lost, server restarting, failover): answer 503 with
Retry-After, pages and API alike, instead of a 500 that reads like a bug. The answer needs no
database (no session, no user, no context processors). The connection that failed is marked
unusable, and Django replaces it at the next request."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
MESSAGE = "系统正在维护或暂时繁忙,请稍后再试。"
PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>暂时无法访问</title></head><body style="font-family:sans-serif;max-width:40em;margin:3em auto;padding:0 1em">
<h1>暂时无法访问</h1><p>{message}</p><p><a href="">刷新重试</a></p></body></html>"""


def is_unavailable(exc: BaseException | None) -> bool:
    """The database driver's 'cannot reach the database' errors (Django wraps them in these two)."""
    return isinstance(exc, (OperationalError, InterfaceError))


def response(request) -> HttpResponse:
    if request.path.startswith("/api/"):
        answer = JsonResponse({"code": "service_unavailable", "message": MESSAGE}, status=503,
                              json_dumps_params={"ensure_ascii": False})
    else:
        answer = HttpResponse(PAGE.format(message=MESSAGE), status=503, content_type="text/html; charset=utf-8")
    answer["Retry-After"] = str(RETRY_AFTER_SECONDS)
    answer["Cache-Control"] = "no-store"
    return answer


class DatabaseUnavailableMiddleware:
    """A view (page or API) that fails because the database is unreachable answers 503."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exc):
        if is_unavailable(exc):
            log.error("database unavailable: %s %s: %s", request.method, request.path, exc)
            return response(request)
        return None
