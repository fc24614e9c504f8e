from django.contrib import admin

from .models import Department, Hall, Region, Staff, Window


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "parent", "is_management_zone")
    list_filter = ("level", "is_management_zone")
    search_fields = ("code", "name")
    list_select_related = ("parent",)
    raw_id_fields = ("parent",)


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name", "uscc", "region", "level", "kind")
    list_filter = ("level", "kind")
    search_fields = ("name", "short_name", "uscc")
    list_select_related = ("region",)
    filter_horizontal = ("absorbed",)
    raw_id_fields = ("region",)


class WindowInline(admin.TabularInline):
    model = Window
    extra = 0
    filter_horizontal = ("departments",)


@admin.register(Hall)
class HallAdmin(admin.ModelAdmin):
    list_display = ("name", "region", "level", "kind", "phone")
    list_filter = ("level", "kind")
    search_fields = ("name", "address")
    list_select_related = ("region",)
    raw_id_fields = ("region",)
    inlines = [WindowInline]


@admin.register(Staff)
class StaffAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "department", "role", "hall", "is_head", "is_chief_service_officer")
    list_filter = ("role", "is_head", "is_chief_service_officer")
    search_fields = ("name", "user__username", "department__name")
    list_select_related = ("user", "department", "hall")
    raw_id_fields = ("user", "department", "hall", "window")
