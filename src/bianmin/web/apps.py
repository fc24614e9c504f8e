from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "bianmin.web"
    label = "web"
    verbose_name = "门户"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from .middleware import mark_staff_session

        user_logged_in.connect(mark_staff_session, dispatch_uid="bianmin.web.staff_session")
