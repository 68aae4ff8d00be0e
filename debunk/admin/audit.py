import json

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from debunk.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail, read-only: who did what, when, and what changed."""

    list_display = ["at", "actor", "action", "target_type", "target_repr", "reason"]
    list_filter = ["action", "target_type", ("actor", admin.RelatedOnlyFieldListFilter), "at"]
    search_fields = ["target_repr", "target_id", "actor__username", "reason"]
    date_hierarchy = "at"
    list_select_related = ["actor", "target_type"]
    readonly_fields = ["at", "actor", "action", "target_type", "target_id", "target_repr", "pretty_changes", "reason"]
    exclude = ["changes"]

    @admin.display(description=_("changes"))
    def pretty_changes(self, obj: AuditEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.changes, ensure_ascii=False, indent=2))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
