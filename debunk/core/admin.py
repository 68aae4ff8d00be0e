import json

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from debunk.core.admin_readonly import ReadOnlyAdmin
from debunk.core.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
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
