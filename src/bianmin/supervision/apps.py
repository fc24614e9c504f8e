from django.apps import AppConfig


class SupervisionConfig(AppConfig):
    name = "bianmin.supervision"
    label = "supervision"
    verbose_name = "效能监督"
