"""Admin views of the catalog. Items are read-only here: every change goes through the console
(catalog.services.save_item), which validates it and keeps the version history (T6)."""

from django.contrib import admin

from bianmin.core.admin import ReadOnlyAdmin

from .models import Bundle, BundleItem, CancelledProof, ItemVersion, Proof, ServiceItem, Theme


@admin.register(ServiceItem)
class ServiceItemAdmin(ReadOnlyAdmin):
    list_display = ("name", "code", "department", "kind", "level", "status", "version", "updated_at")
    list_filter = ("status", "kind", "level", "audience", "is_immediate", "online_level")
    search_fields = ("name", "code", "basic_code")
    list_select_related = ("department",)


@admin.register(ItemVersion)
class ItemVersionAdmin(ReadOnlyAdmin):
    list_display = ("item", "version", "action", "changed_by", "changed_at", "reason")
    list_filter = ("action",)
    list_select_related = ("item", "changed_by")
    search_fields = ("item__name", "item__code")


@admin.register(Proof)
class ProofAdmin(admin.ModelAdmin):
    list_display = ("name", "requesting_unit", "issuing_unit", "is_retained")
    list_filter = ("is_retained",)
    search_fields = ("name", "requesting_unit", "issuing_unit")


@admin.register(CancelledProof)
class CancelledProofAdmin(admin.ModelAdmin):
    list_display = ("name", "requesting_unit", "reason", "cancelled_on")
    list_filter = ("reason",)
    search_fields = ("name", "requesting_unit")


@admin.register(Theme)
class ThemeAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "audience", "order")


class BundleItemInline(admin.TabularInline):
    model = BundleItem
    extra = 0
    raw_id_fields = ("item",)


@admin.register(Bundle)
class BundleAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "audience", "target_days")
    inlines = [BundleItemInline]
    exclude = ("items",)
