import json

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from labels.models import Category, VerdictLabel
from labels.standard import standard_export


@admin.action(description=_("Export the whole standard as JSON"))
def export_standard(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset) -> HttpResponse:
    body = json.dumps(standard_export(), ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="classification-standard.json"'
    return response


@admin.register(Category)
class CategoryAdmin(SimpleHistoryAdmin):
    list_display = ["indented_name", "code", "name_en", "tier", "review_deadline_hours", "position"]
    list_filter = ["tier", "parent"]
    search_fields = ["code", "name_zh", "name_en"]
    ordering = ["position", "code"]
    actions = [export_standard]

    @admin.display(description=_("name"), ordering="position")
    def indented_name(self, obj: Category) -> str:
        return format_html("{}{}", "— " * len(obj.ancestors()), obj.name_zh)


@admin.register(VerdictLabel)
class VerdictLabelAdmin(SimpleHistoryAdmin):
    list_display = ["badge", "code", "text_en", "severity_rank", "claimreview_rating", "default_action"]
    list_filter = ["default_action"]
    search_fields = ["code", "text_zh", "text_en"]
    actions = [export_standard]

    @admin.display(description=_("verdict"), ordering="code")
    def badge(self, obj: VerdictLabel) -> str:
        return format_html('<span class="verdict-badge" style="background:{}">{}</span>', obj.colour, obj.text_zh)
