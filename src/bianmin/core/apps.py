from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "bianmin.core"
    label = "core"
    verbose_name = "基础"

    def ready(self):
        from . import tokens, workdays  # noqa: F401  (workdays connects the signals that refresh cached calendar overrides)

        tokens.connect_signals()  # a changed token or user drops its cached API token entries
