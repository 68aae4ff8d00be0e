"""Platforms, their API keys and the API request log.

Platforms are created, edited, (de)activated and deleted through debunk.api.platforms (audited); one that anything
refers to is deactivated, not deleted, and the delete confirmation page says so.

A key is created through debunk.api.services: the raw key is shown once, in the message after saving, and
only its prefix is stored in the clear. Keys are never edited (revoke and create another); the hash is never
shown. The request log is read-only.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from debunk.api import platforms as platform_services
from debunk.api.keys import api_key_create, api_key_revoke
from debunk.api.models import ApiKey, ApiRequestLog, Platform
from debunk.core.admin_bulk import apply_each
from debunk.core.admin_readonly import AddThenReadOnlyMixin, ReadOnlyAdmin
from debunk.core.admin_refusals import DeleteRefusalsOnConfirmation, ServiceRefusalsAsMessages, refusals_of


class RevokedFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [("active", _("active")), ("revoked", _("revoked"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["platform", "name"]


@admin.register(ApiKey)
class ApiKeyAdmin(AddThenReadOnlyMixin, admin.ModelAdmin):
    list_display = ["display_prefix", "platform", "name", "created_at", "created_by", "revoked_at", "last_used_at"]
    list_filter = [RevokedFilter, "platform", "created_at"]
    search_fields = ["prefix", "name", "platform__name", "platform__code"]
    list_select_related = ["platform", "created_by"]
    date_hierarchy = "created_at"
    actions = ["revoke_selected"]
    form = ApiKeyAddForm
    add_fields = ["platform", "name"]
    readonly_fields = ["display_prefix", "platform", "name", "created_at", "created_by", "revoked_at", "last_used_at"]

    @admin.display(description=_("prefix"), ordering="prefix")
    def display_prefix(self, obj: ApiKey) -> str:
        return obj.display_prefix

    def has_change_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        # A key is never edited; the change permission only allows revoking (the action below).
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # revoke instead: the audit trail and the request log refer to the key

    def save_model(self, request: HttpRequest, obj: ApiKey, form: forms.ModelForm, change: bool) -> None:
        key, raw = api_key_create(platform=obj.platform, name=obj.name, by=request.user)
        obj.pk = key.pk
        obj.refresh_from_db()
        obj._state.adding = False
        self.message_user(
            request,
            format_html(
                "{} <code>{}</code> — {}",
                _("New API key for %(platform)s:") % {"platform": key.platform},
                raw,
                _("copy it now: it will not be shown again."),
            ),
            messages.SUCCESS,
        )

    @admin.action(description=_("Revoke selected keys"), permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        done = apply_each(
            self,
            request,
            queryset.filter(revoked_at__isnull=True),
            lambda key: api_key_revoke(key=key, by=request.user),
        )
        self.message_user(request, _("Revoked %(n)d key(s).") % {"n": done}, messages.SUCCESS)


@admin.register(ApiRequestLog)
class ApiRequestLogAdmin(ReadOnlyAdmin):
    """Platforms' API requests, read-only (the request body is never stored)."""

    list_display = [
        "created_at",
        "platform",
        "api_key",
        "method",
        "path",
        "status_code",
        "latency_ms",
        "outcome",
        "items",
    ]
    list_filter = ["platform", "status_code", "outcome", "method"]
    date_hierarchy = "created_at"
    list_select_related = ["platform", "api_key"]
    search_fields = ["path", "api_key__prefix"]
    show_full_result_count = False  # the table grows with every request; skip the second COUNT(*)
    readonly_fields = list(list_display)


@admin.register(Platform)
class PlatformAdmin(DeleteRefusalsOnConfirmation, ServiceRefusalsAsMessages, admin.ModelAdmin):
    list_display = ["name", "code", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "code"]
    fields = ["code", "name", "is_active"]
    actions = ["deactivate_selected", "activate_selected"]

    def save_model(self, request: HttpRequest, obj: Platform, form: forms.ModelForm, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in platform_services.PLATFORM_FIELDS}
        if change:
            platform_services.platform_update(platform=obj, by=request.user, **fields)
            return
        created = platform_services.platform_create(by=request.user, **fields)
        obj.pk = created.pk
        obj.refresh_from_db()
        obj._state.adding = False

    def delete_refusals(self, objs: list[Platform]) -> list[str]:
        return refusals_of(platform_services.platform_check_deletable, objs, label=len(objs) > 1)

    def delete_model(self, request: HttpRequest, obj: Platform) -> None:
        platform_services.platform_delete(platform=obj, by=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        apply_each(self, request, list(queryset), lambda platform: self.delete_model(request, platform))

    def _set_active(self, request: HttpRequest, queryset: QuerySet[Platform], active: bool) -> None:
        done = apply_each(
            self,
            request,
            queryset.filter(is_active=not active),
            lambda platform: platform_services.platform_set_active(platform=platform, active=active, by=request.user),
        )
        message = _("Activated %(n)d platform(s).") if active else _("Deactivated %(n)d platform(s).")
        self.message_user(request, message % {"n": done}, messages.SUCCESS)

    @admin.action(description=_("Deactivate selected platforms"), permissions=["change"])
    def deactivate_selected(self, request: HttpRequest, queryset: QuerySet[Platform]) -> None:
        self._set_active(request, queryset, False)

    @admin.action(description=_("Activate selected platforms"), permissions=["change"])
    def activate_selected(self, request: HttpRequest, queryset: QuerySet[Platform]) -> None:
        self._set_active(request, queryset, True)
