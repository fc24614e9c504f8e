from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "bianmin.core"
    label = "core"
    verbose_name = "基础"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from . import throttle, tokens
        from . import workdays  # noqa: F401  (connects the signals that refresh cached calendar overrides)

        user_logged_in.connect(throttle.on_user_logged_in, dispatch_uid="bianmin.core.throttle")
        tokens.connect_signals()  # a changed token or user drops its cached API token entries
