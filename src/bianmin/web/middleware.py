"""Refuse NUL characters before any view sees them.

PostgreSQL cannot store or even compare text containing U+0000, so `/my/cases/%00/` or a JSON field
"\\u0000" would reach the database and fail there as a 500. No legitimate input contains one.
Uploads (multipart) carry binary files and are left to the upload checks."""

from django.http import JsonResponse
from django.shortcuts import render

MESSAGE = "请求中含有不允许的控制字符(NUL),请检查后重试。"


def _has_nul(request) -> bool:
    if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", "") or "\x00" in request.META.get("QUERY_STRING", ""):
        return True
    if request.method not in ("POST", "PUT", "PATCH"):
        return False
    content_type = request.META.get("CONTENT_TYPE", "")
    if content_type.startswith("application/json"):
        body = request.body  # read once; Django keeps it for the view
        return b"\x00" in body or b"\\u0000" in body
    if content_type.startswith("application/x-www-form-urlencoded"):
        body = request.body
        return b"\x00" in body or b"%00" in body
    return False


class RejectNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _has_nul(request):
            if request.path.startswith("/api/"):
                return JsonResponse({"code": "invalid_characters", "message": MESSAGE}, status=400)
            return render(request, "web/error.html", {"title": "请求无效", "message": MESSAGE, "status": 400}, status=400)
        return self.get_response(request)
