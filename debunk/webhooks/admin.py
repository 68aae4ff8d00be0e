"""Webhook endpoints in the admin: a new one gets its secret (shown once); endpoints are enabled or disabled,
never edited. Every write goes through debunk.webhooks.services."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from debunk.core.admin_bulk import apply_each, error_text
from debunk.core.admin_readonly import AddThenReadOnlyMixin
from debunk.webhooks import services as webhooks
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
