"""Who may enter a console page: the one decorator every app's staff pages use."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied


def staff_console(*roles):
    """Anonymous → login page; a user without a staff record, or of another role → 403.
    The view finds the Staff record as `request.staff`."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            staff = getattr(request.user, "staff", None)
            if staff is None:
                raise PermissionDenied("只有工作人员可以使用工作台")
            if roles and staff.role not in roles:
                raise PermissionDenied("您的角色不能使用该功能")
            request.staff = staff
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
