import json

from django.contrib import admin
from django.utils.html import format_html

from . import workdays  # also connects the signals that make override edits take effect at once
from .models import AuditEntry, CalendarOverride

_WEEKDAYS = "一二三四五六日"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, never changed here: records whose changes go through services (or never happen)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CalendarOverride)
class CalendarOverrideAdmin(admin.ModelAdmin):
    list_display = ["date", "weekday", "is_workday", "reason", "national_schedule", "created_by", "created_at"]
    list_filter = ["is_workday"]
    search_fields = ["reason", "date"]
    date_hierarchy = "date"
    fields = ["date", "is_workday", "reason", "created_by", "created_at"]
    readonly_fields = ["created_by", "created_at"]

    @admin.display(description="星期", ordering="date")
    def weekday(self, obj):
        return f"星期{_WEEKDAYS[obj.date.weekday()]}"

    @admin.display(description="国家安排")
    def national_schedule(self, obj):
        # What the State Council schedule (or the Mon–Fri fallback) says, so an admin sees what the override changes.
        info = workdays.day_info(obj.date, with_overrides=False)
        return f"{'上班' if info.is_workday else '休息'}({info.reason})"

    def save_model(self, request, obj, form, change):
        if not change and obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """Read-only: the log is append-only and hash-chained; the admin may look, never touch."""

    list_display = ["created_at", "actor", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor", "action", "object_id"]
    date_hierarchy = "created_at"
    fields = ["created_at", "actor", "action", "object_type", "object_id", "pretty_data", "prev_hash", "hash"]
    readonly_fields = fields

    @admin.display(description="内容")
    def pretty_data(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.data, ensure_ascii=False, indent=2, default=str))
