"""The Django admin for system administrators only, behind the login throttle.

`core.admin_apps.BianminAdminConfig` replaces `django.contrib.admin` in INSTALLED_APPS so that `admin.site` is a
`BianminAdminSite`: only active superusers and staff with the `admin` role get in (Django's default lets
any `is_staff` user in), and its login form counts a right password of anyone else as a failure, like
a wrong one. The network restriction (`ADMIN_ALLOWED_NETWORKS`) is `web.middleware.AdminNetworkMiddleware`."""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from bianmin.core import throttle


def is_admin(user) -> bool:
    """System administrators: Django superusers, or staff whose role is 系统管理 (`Role.ADMIN`)."""
    if not (user and user.is_active and user.is_authenticated):
        return False
    if user.is_superuser:
        return True
    staff = getattr(user, "staff", None)
    return staff is not None and staff.role == "admin"


class ThrottledLoginFormMixin:
    """For Django's AuthenticationForm and its subclasses: a delay answers with its wait, and a user
    the entrance refuses (`may_enter` false) gets the same answer as a wrong password."""

    def may_enter(self, user) -> bool:  # pragma: no cover - overridden
        return True

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            wait = getattr(self.request, "login_wait", 0)
            if wait:
                raise ValidationError(throttle.wait_message(wait), code="throttled") from None
            raise

    def confirm_login_allowed(self, user):
        # replaces the parents' checks (is_active, the admin's is_staff) by the entrance's own, answered
        # like a wrong password; ModelBackend never returns an inactive user
        if not (user.is_active and self.may_enter(user)):
            throttle.refuse_login(self.request, self.cleaned_data.get("username") or user.get_username())
            raise self.get_invalid_login_error()


class AdminLoginForm(ThrottledLoginFormMixin, AdminAuthenticationForm):
    def may_enter(self, user) -> bool:
        return is_admin(user)


class BianminAdminSite(admin.AdminSite):
    site_header = "便民 系统管理"
    site_title = "便民 系统管理"
    login_form = AdminLoginForm

    def has_permission(self, request):
        return is_admin(request.user)
