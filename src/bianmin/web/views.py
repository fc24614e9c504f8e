"""Error pages and the public home. Error pages render in Chinese and never leak internals."""

from django.shortcuts import render


def _error(request, status, title, message):
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"code": {400: "bad_request", 403: "forbidden", 404: "not_found"}.get(status, "server_error"), "message": message}, status=status)
    return render(request, "web/error.html", {"title": title, "message": message, "status": status}, status=status)


def bad_request(request, exception=None):
    return _error(request, 400, "请求无效", "请求的格式不正确,请检查后重试。")


def forbidden(request, exception=None):
    return _error(request, 403, "无权访问", "您没有权限查看此页面。如需办理,请联系所在部门的系统管理员。")


def not_found(request, exception=None):
    return _error(request, 404, "页面不存在", "您访问的页面不存在或已下线。可以回到首页重新查找事项。")


def server_error(request):
    import sys

    from bianmin.core import unavailable

    if unavailable.is_unavailable(sys.exc_info()[1]):  # failed outside a view (a middleware, the session)
        return unavailable.response(request)
    return _error(request, 500, "系统繁忙", "系统暂时无法处理您的请求,请稍后再试。")
