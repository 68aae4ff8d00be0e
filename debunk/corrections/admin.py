"""Corrections and their delivery: deliveries (read-only, with the last response; dead ones can be sent again),
corrections (read-only), and a per-rumor, per-platform summary. Webhook endpoints: debunk/webhooks/admin.py.

Every write goes through debunk.corrections.deliveries.
"""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from debunk.core.admin_bulk import apply_each
from debunk.core.admin_lookups import rumor_or_hash_search
from debunk.core.admin_readonly import ReadOnlyAdmin
from debunk.corrections import deliveries as webhooks
from debunk.corrections.models import Correction, WebhookDelivery
from debunk.stock.models import Rumor


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "message_id",
        "platform",
        "status",
        "corrections_count",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
        "delivered_at",
    ]
    list_filter = ["status", "endpoint__platform", "endpoint", "last_status_code"]
    search_fields = ["=message_id"]
    list_select_related = ["endpoint__platform"]
    date_hierarchy = "created_at"
    actions = ["redeliver_selected"]
    readonly_fields = [
        "message_id",
        "endpoint",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "response",
        "created_at",
        "delivered_at",
        "corrections_count",
    ]
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(corrections_total=Count("corrections"))

    @admin.display(description=_("platform"), ordering="endpoint__platform__name")
    def platform(self, obj: WebhookDelivery) -> Any:
        return obj.endpoint.platform

    @admin.display(description=_("corrections"), ordering="corrections_total")
    def corrections_count(self, obj: WebhookDelivery) -> Any:
        url = reverse("admin:debunk_correction_changelist") + f"?delivery__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj.corrections_total)

    @admin.display(description=_("last response or error"))
    def response(self, obj: WebhookDelivery) -> str:
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', obj.last_response or "—")

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("debunk.change_webhookdelivery")

    @admin.action(description=_("Send selected dead deliveries again"), permissions=["redeliver"])
    def redeliver_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = apply_each(
            self, request, queryset, lambda delivery: webhooks.delivery_redeliver(delivery=delivery, by=request.user)
        )
        self.message_user(request, _("Queued %(n)d delivery(ies) again.") % {"n": done}, messages.SUCCESS)


@admin.register(Correction)
class CorrectionAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "rumor",
        "platform",
        "kind",
        "status",
        "interaction",
        "user",
        "exposed_at",
        "delivery",
        "delivered_at",
        "acknowledged_at",
        "clicked_at",
    ]
    list_filter = ["status", "kind", "platform", "interaction"]
    list_select_related = ["rumor", "platform", "delivery"]
    search_fields = ["user_hash"]
    search_help_text = _("A rumor id, or the start of a user hash.")
    date_hierarchy = "created_at"
    show_full_result_count = False
    change_list_template = "admin/debunk/correction/change_list.html"

    @admin.display(description=_("user (HMAC)"), ordering="user_hash")
    def user(self, obj: Correction) -> str:
        return obj.user_hash[:12]

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        return rumor_or_hash_search(queryset, search_term, "user_hash")

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        return [
            path("summary/", self.admin_site.admin_view(self.summary_view), name="%s_%s_summary" % info),
        ] + super().get_urls()

    def summary_view(self, request: HttpRequest) -> HttpResponse:
        """Per rumor and platform: exposures, users to correct, delivered, acknowledged, clicked, failures."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        raw = request.GET.get("rumor", "").strip()
        rumor = Rumor.objects.filter(pk=int(raw)).first() if raw.isdigit() and len(raw) < 19 else None
        rumor_id = rumor.pk if rumor is not None else None
        return TemplateResponse(
            request,
            "admin/debunk/correction/summary.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Corrections of %(rumor)s") % {"rumor": rumor} if rumor else _("Corrections by rumor"),
                "opts": self.opts,
                "rumor": rumor,
                "asked": raw,
                "rows": webhooks.corrections_summary(rumor_id=rumor_id),
                "failures": webhooks.delivery_failures(rumor_id=rumor_id),
            },
        )
