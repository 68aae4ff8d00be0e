"""Corrections and their delivery: webhook endpoints (the secret shown once), deliveries (read-only, with the
last response; dead ones can be sent again), corrections (read-only), and a per-rumor, per-platform summary.

Every write goes through debunk.corrections.deliveries.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from debunk.core.admin_bulk import apply_each, error_text
from debunk.core.admin_lookups import rumor_or_hash_search
from debunk.core.admin_readonly import AddThenReadOnlyMixin, ReadOnlyAdmin
from debunk.corrections import deliveries as webhooks
from debunk.corrections.models import Correction, WebhookDelivery
from debunk.stock.models import Rumor
from debunk.webhooks.models import WebhookEndpoint


class WebhookEndpointAddForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ["platform"]  # and the declared `url` (declared, so that Django never builds its default field)

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            webhooks.endpoint_url_check(url)
        except ValidationError as exc:
            raise forms.ValidationError(error_text(exc)) from exc
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(AddThenReadOnlyMixin, admin.ModelAdmin):
    """A new endpoint gets a fresh `whsec_` secret, shown once; endpoints are enabled or disabled, not edited
    (create another one: the newest active endpoint of a platform is used)."""

    list_display = ["url", "platform", "is_active", "disabled_reason", "created_at", "open_deliveries"]
    list_filter = ["is_active", "platform"]
    search_fields = ["url", "platform__code", "platform__name"]
    list_select_related = ["platform"]
    actions = ["disable_selected", "enable_selected"]
    form = WebhookEndpointAddForm
    add_fields = ["platform", "url"]
    readonly_fields = ["platform", "url", "is_active", "disabled_reason", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        open_ = Count("deliveries", filter=Q(deliveries__status__in=webhooks.OPEN))
        return super().get_queryset(request).annotate(open_count=open_)

    @admin.display(description=_("deliveries under way"), ordering="open_count")
    def open_deliveries(self, obj: WebhookEndpoint) -> int:
        return obj.open_count

    def has_change_permission(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> bool:
        return obj is None and super().has_change_permission(request)  # only the enable/disable actions

    def has_delete_permission(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> bool:
        return False  # disable instead: deliveries refer to the endpoint

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: forms.ModelForm, change: bool) -> None:
        endpoint = webhooks.endpoint_create(platform=obj.platform, url=obj.url, by=request.user)
        obj.pk = endpoint.pk
        obj.refresh_from_db()
        obj._state.adding = False
        self.message_user(
            request,
            format_html(
                "{} <code>{}</code> — {}",
                _("Signing secret of the new endpoint for %(platform)s:") % {"platform": endpoint.platform},
                endpoint.secret,
                _("give it to the platform now: it will not be shown again."),
            ),
            messages.SUCCESS,
        )

    def _set_active(self, request: HttpRequest, queryset: QuerySet, active: bool) -> None:
        done = apply_each(
            self,
            request,
            queryset.filter(is_active=not active),
            lambda endpoint: webhooks.endpoint_set_active(endpoint=endpoint, active=active, by=request.user),
        )
        message = _("Enabled %(n)d endpoint(s).") if active else _("Disabled %(n)d endpoint(s).")
        self.message_user(request, message % {"n": done}, messages.SUCCESS)

    @admin.action(description=_("Disable selected endpoints"), permissions=["change"])
    def disable_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_active(request, queryset, False)

    @admin.action(description=_("Enable selected endpoints"), permissions=["change"])
    def enable_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_active(request, queryset, True)


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
