"""Staff login at /console/login/, behind the one login throttle (`core.throttle`): the account's
failures are counted together with the applicant and admin logins. Only staff (a `Staff` record) and
system administrators get a session; anyone else gets the answer of a wrong password."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm

from bianmin.core.admin_site import ThrottledLoginFormMixin, is_admin


class StaffLoginForm(ThrottledLoginFormMixin, AuthenticationForm):
    def may_enter(self, user) -> bool:
        return getattr(user, "staff", None) is not None or is_admin(user)


class StaffLoginView(auth_views.LoginView):
    template_name = "web/console/login.html"
    form_class = StaffLoginForm
    extra_context = {"site_name": settings.BIANMIN_SITE_NAME}

    def form_invalid(self, form):
        wait = getattr(self.request, "login_wait", 0)
        response = self.render_to_response(self.get_context_data(form=form), status=429 if wait else 400)
        if wait:
            response["Retry-After"] = str(wait)
        return response
