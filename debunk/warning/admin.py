"""The admin of alerts (list, filters, acknowledge and close) and of alert subscriptions (administrators)."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from debunk.core.admin_bulk import apply_each
from debunk.core.admin_readonly import ReadOnlyAdmin
from debunk.warning import alerts as svc
from debunk.warning.models import Alert, AlertSubscription


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "kind", "status", "subject", "observed", "expected", "p_value", "peak", "last_period"]
    list_filter = ["kind", "status"]
    list_select_related = ["rumor", "cluster"]
    date_hierarchy = "updated_at"
    actions = ["acknowledge", "close"]
    fields = [
        "kind",
        "status",
        "rumor",
        "cluster",
        "opened_at",
        "updated_at",
        "last_period",
        "observed",
        "expected",
        "p_value",
        "peak",
        "figures",
        "acknowledged_at",
        "acknowledged_by",
        "closed_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("subject"))
    def subject(self, obj: Alert) -> str:
        return str(obj.rumor) if obj.rumor_id else gettext("lead #%(id)s") % {"id": obj.cluster_id}

    def has_acknowledge_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("debunk.acknowledge_alert")

    @admin.action(description=_("Acknowledge the selected alerts"), permissions=["acknowledge"])
    def acknowledge(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = apply_each(self, request, list(queryset), lambda a: svc.alert_acknowledge(a, request.user))
        if done:
            self.message_user(
                request, ngettext("%d alert acknowledged.", "%d alerts acknowledged.", done) % done, messages.SUCCESS
            )

    @admin.action(description=_("Close the selected alerts"), permissions=["acknowledge"])
    def close(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = apply_each(self, request, list(queryset), lambda a: svc.alert_close(a, request.user))
        if done:
            self.message_user(request, ngettext("%d alert closed.", "%d alerts closed.", done) % done, messages.SUCCESS)


@admin.register(AlertSubscription)
class AlertSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "platform", "user", "is_active", "created_at"]
    list_filter = ["is_active"]
    fields = ["platform", "user", "is_active"]
    autocomplete_fields: list[str] = []

    def save_model(self, request: HttpRequest, obj: AlertSubscription, form: Any, change: bool) -> None:
        svc.subscription_save(obj, by=request.user)

    def delete_model(self, request: HttpRequest, obj: AlertSubscription) -> None:
        svc.subscription_delete(obj, by=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        apply_each(self, request, list(queryset), lambda s: svc.subscription_delete(s, by=request.user))
