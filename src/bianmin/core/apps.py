from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "bianmin.core"
    label = "core"
    verbose_name = "基础"

    def ready(self):
        from . import workdays  # noqa: F401  (connects the signals that refresh cached calendar overrides)
