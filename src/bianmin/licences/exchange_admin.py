"""Admin of the data-sharing interface: client systems (a new one's secret is shown once, on creation;
"生成新密钥" replaces it) and the read-only call log. Imported by licences/admin.py."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from bianmin.core.admin import ReadOnlyAdmin

from . import exchange
from .models import ExchangeCall, ExchangeClient


class ExchangeClientForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(label="权限范围", choices=ExchangeClient.Scope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ExchangeClient
        fields = ["name", "scopes", "department", "active"]


@admin.register(ExchangeClient)
class ExchangeClientAdmin(admin.ModelAdmin):
    form = ExchangeClientForm
    list_display = ["name", "client_id", "scope_labels", "department", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "client_id"]
    readonly_fields = ["client_id", "created_at"]
    actions = ["rotate"]

    def get_fields(self, request, obj=None):
        return ["name", "scopes", "department", "active"] + (["client_id", "created_at"] if obj else [])

    @admin.display(description="权限范围")
    def scope_labels(self, obj):
        return "、".join(ExchangeClient.Scope(s).label for s in obj.scopes if s in ExchangeClient.Scope.values)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        client, secret = exchange.create_exchange_client(obj.name, form.cleaned_data["scopes"], obj.department, actor=request.user)
        obj.pk, obj.client_id, obj.secret_hash = client.pk, client.client_id, client.secret_hash
        if not obj.active:
            ExchangeClient.objects.filter(pk=client.pk).update(active=False)
        messages.warning(request, f"接入标识 {client.client_id},密钥 {secret} —— 密钥只显示这一次,请立即安全地交给对方系统。")

    @admin.action(description="生成新密钥(旧密钥立即失效)")
    def rotate(self, request, queryset):
        for client in queryset:
            secret = exchange.rotate_secret(client, actor=request.user)
            messages.warning(request, f"{client.name}:接入标识 {client.client_id},新密钥 {secret}(只显示这一次)")


@admin.register(ExchangeCall)
class ExchangeCallAdmin(ReadOnlyAdmin):
    list_display = ["at", "client", "endpoint", "status", "result_count", "remote_addr", "query"]
    list_filter = ["status", "endpoint"]
    list_select_related = ["client"]
