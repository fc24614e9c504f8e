from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "bianmin.web"
    label = "web"
    verbose_name = "门户"
