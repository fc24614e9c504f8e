from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "bianmin.cases"
    label = "cases"
    verbose_name = "办件"

    def ready(self):
        from bianmin.core import tokens

        from .models import Applicant

        tokens.connect(Applicant)  # a changed applicant record must not linger in the API token cache
