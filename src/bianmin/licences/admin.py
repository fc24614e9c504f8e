"""Admin of the licence repository. Licence types are edited here; licences, seals and uses only shown
(they change through services: issue, revoke, supersede, rotate). A seal shows its public key only:
the encrypted private key is not a field of its admin at all."""

from django.contrib import admin

from bianmin.core.admin import ReadOnlyAdmin

from . import exchange_admin  # noqa: F401 - the data-sharing clients and call log
from .models import Licence, LicenceType, LicenceUse, Seal


@admin.register(LicenceType)
class LicenceTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "type_code", "holder_kind", "department", "validity_years", "renewal_item_code"]
    list_filter = ["holder_kind"]
    search_fields = ["code", "name", "type_code"]
    list_select_related = ["department"]


@admin.register(Seal)
class SealAdmin(ReadOnlyAdmin):
    list_display = ["department", "version", "created_at", "retired_at"]
    list_filter = ["retired_at"]
    list_select_related = ["department"]
    fields = ["department", "version", "public_key", "created_at", "retired_at"]  # never private_key_encrypted
    search_fields = ["department__name", "public_key"]


@admin.register(Licence)
class LicenceAdmin(ReadOnlyAdmin):
    list_display = ["number", "name", "holder_name", "issuer_name", "issued_on", "valid_until", "status", "imported"]
    list_filter = ["status", "imported", "licence_type"]
    search_fields = ["=number", "=identifier", "holder_name"]
    list_select_related = ["licence_type"]
    date_hierarchy = "issued_on"
    show_full_result_count = False  # counting a million rows on every page is wasted work
    exclude = ["supersedes"]
    readonly_fields = ["supersedes_link"]

    @admin.display(description="换发自")
    def supersedes_link(self, obj):
        return obj.supersedes.identifier if obj.supersedes_id else "—"


@admin.register(LicenceUse)
class LicenceUseAdmin(ReadOnlyAdmin):
    list_display = ["at", "licence", "via", "department", "client", "case_number", "purpose"]
    list_filter = ["via"]
    list_select_related = ["licence", "department", "client"]
    search_fields = ["=licence__identifier", "=case_number"]
