from django.apps import AppConfig


class OrgConfig(AppConfig):
    name = "bianmin.org"
    label = "org"
    verbose_name = "组织机构"

    def ready(self):
        from bianmin.core import tokens

        from .models import Staff

        tokens.connect(Staff)  # a changed staff record must not linger in the API token cache
