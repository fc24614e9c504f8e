"""Request guards: NUL characters, idle staff sessions, the admin's network restriction, applicants
kept out of the staff console.

Refuse NUL characters before any view sees them.

PostgreSQL cannot store or even compare text containing U+0000, so `/my/cases/%00/` or a JSON field
"\\u0000" would reach the database and fail there as a 500. No legitimate input contains one.
Uploads (multipart) carry binary files and are left to the upload checks."""

import ipaddress
import time

from django.conf import settings
from django.contrib.auth import logout
from django.http import Http404, JsonResponse
from django.shortcuts import render

from bianmin.core import throttle

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


# ----------------------------------------------------------------------------- staff sessions

STAFF_SESSION_FLAG = "bianmin_staff"
LAST_SEEN = "bianmin_seen"
TOUCH_SECONDS = 60  # write the session at most once a minute to keep an active staff session alive


def _idle_seconds() -> int:
    return int(settings.STAFF_SESSION_IDLE_MINUTES) * 60


def mark_staff_session(sender, request, user, **kwargs) -> None:
    """At login (`user_logged_in`): a staff member's or administrator's session expires after
    STAFF_SESSION_IDLE_MINUTES without a request; an applicant's keeps Django's SESSION_COOKIE_AGE."""
    from bianmin.core.admin_site import is_admin

    if request is None or not hasattr(request, "session"):
        return
    if getattr(user, "staff", None) is not None or is_admin(user) or user.is_staff:
        request.session[STAFF_SESSION_FLAG] = True
        request.session[LAST_SEEN] = int(time.time())
        request.session.set_expiry(_idle_seconds())


class StaffSessionIdleMiddleware:
    """Logs a staff session out once it has been idle too long; the request goes on anonymous (pages
    send it to the login, the API answers 401). The timestamp is checked on every request, the stored
    expiry (set_expiry) removes the session record as well."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and session.get(STAFF_SESSION_FLAG):
            now = int(time.time())
            seen = int(session.get(LAST_SEEN) or 0)
            if now - seen > _idle_seconds():
                logout(request)
            elif now - seen >= TOUCH_SECONDS:
                session[LAST_SEEN] = now
                session.set_expiry(_idle_seconds())
        return self.get_response(request)


# ----------------------------------------------------------------------------- admin network restriction

class AdminNetworkMiddleware:
    """/admin/ answers 404 to clients outside ADMIN_ALLOWED_NETWORKS (CIDR list; empty: everyone),
    as if it did not exist. The address is the throttle's (`core.throttle.client_address`)."""

    prefix = "/admin/"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(self.prefix) and settings.ADMIN_ALLOWED_NETWORKS and not _admin_allowed(request):
            raise Http404("admin not reachable from this network")
        return self.get_response(request)


def _admin_allowed(request) -> bool:
    address = throttle.client_address(request)
    if not address:
        return False
    ip = ipaddress.ip_address(address)
    ip = getattr(ip, "ipv4_mapped", None) or ip
    networks = (ipaddress.ip_network(n, strict=False) for n in settings.ADMIN_ALLOWED_NETWORKS)
    return any(ip.version == n.version and ip in n for n in networks)


# ----------------------------------------------------------------------------- applicants out of the console

CONSOLE_PREFIX = "/console/"
CONSOLE_OPEN = ("/console/login/", "/console/logout/")  # the staff entrance itself stays reachable


def is_applicant_only(user) -> bool:
    """An applicant's account (citizen or enterprise) that is neither staff nor an administrator."""
    from bianmin.core.admin_site import is_admin

    return (user.is_authenticated and getattr(user, "applicant", None) is not None
            and getattr(user, "staff", None) is None and not is_admin(user) and not user.is_staff)


class ApplicantsOutOfConsoleMiddleware:
    """Issue 12: a logged-in applicant who opens a console page gets a Chinese 403 page pointing to
    我的办件 and the staff entrance, never a console page (the console views check staff roles,
    but its home and menus would otherwise render for any logged-in account)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path
        if path.startswith(CONSOLE_PREFIX) and not path.startswith(CONSOLE_OPEN) and is_applicant_only(request.user):
            return render(request, "web/error.html", {
                "status": 403, "title": "工作台仅供工作人员使用",
                "message": "您当前登录的是办事人账号,不能进入工作人员工作台。办理个人或企业事项请到“我的办件”;"
                           "如您是工作人员,请先退出,再从工作人员登录入口使用工作账号登录。",
                "links": [{"href": "/my/", "label": "前往我的办件"}, {"href": "/console/login/", "label": "工作人员登录"}],
            }, status=403)
        return self.get_response(request)
