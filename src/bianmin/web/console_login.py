"""Staff login with the same throttle as the public's: five failures lock the account for 15 minutes."""

from django.conf import settings
from django.contrib.auth import views as auth_views

from bianmin.core import throttle

SCOPE = "staff"


def _account(request) -> str:
    return (request.POST.get("username") or "").strip().lower()[:150]


class StaffLoginView(auth_views.LoginView):
    template_name = "web/console/login.html"
    extra_context = {"site_name": settings.BIANMIN_SITE_NAME}

    def post(self, request, *args, **kwargs):
        account = _account(request)
        if account and throttle.locked(SCOPE, account):
            context = self.get_context_data(form=self.get_form_class()(request), lock_error=throttle.LOCKED_MESSAGE)
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        throttle.succeeded(SCOPE, _account(self.request))
        return super().form_valid(form)

    def form_invalid(self, form):
        account = _account(self.request)
        left = throttle.failed(SCOPE, account) if account else throttle.LIMIT
        context = self.get_context_data(form=form, attempts_left=left,
                                        lock_error="" if left else throttle.LOCKED_MESSAGE)
        return self.render_to_response(context, status=400 if left else 429)
