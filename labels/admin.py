"""The classification standard in the admin: categories and verdict labels, every add, change, revert (history)
and delete through labels.services (audited). One that rumors use cannot be deleted: the confirmation page says
so, with no "Yes" button."""

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from debunk.core.admin_bulk import apply_each
from debunk.core.admin_refusals import (
    DeleteRefusalsOnConfirmation,
    HistoryRevertThroughServices,
    ServiceRefusalsAsMessages,
    refusals_of,
)
from labels import services
from labels.models import Category, VerdictLabel
from labels.standard import standard_export


@admin.action(description=_("Export the whole standard as JSON"))
def export_standard(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
    body = json.dumps(standard_export(), ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="classification-standard.json"'
    return response


class CategoryForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = ["code", "parent", "name_zh", "name_en", "tier", "review_deadline_hours", "position"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            services.category_parent_check(category=self.instance, parent=data.get("parent"))
        except ValidationError as exc:
            self.add_error(None, exc)
        return data


class VerdictLabelForm(forms.ModelForm):
    class Meta:
        model = VerdictLabel
        fields = [
            "code",
            "text_zh",
            "text_en",
            "colour",
            "severity_rank",
            "claimreview_rating",
            "claimreview_value",
            "default_action",
            "match_auto_threshold",
            "match_review_threshold",
            "ocr_auto_containment",
            "ocr_review_containment",
            "claim_review_threshold",
            "claim_auto_threshold",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            services.verdict_thresholds_check(
                **{field: data.get(field) for pair in services.THRESHOLD_PAIRS for field in pair}
            )
        except ValidationError as exc:
            self.add_error(None, exc)
        return data


class StandardAdmin(
    DeleteRefusalsOnConfirmation, ServiceRefusalsAsMessages, HistoryRevertThroughServices, SimpleHistoryAdmin
):
    """What both share: the export action, and "delete selected" through each row's delete_model (a service)."""

    actions = [export_standard]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        apply_each(self, request, list(queryset), lambda obj: self.delete_model(request, obj))


@admin.register(Category)
class CategoryAdmin(StandardAdmin):
    form = CategoryForm
    list_display = ["indented_name", "code", "name_en", "tier", "review_deadline_hours", "position"]
    list_filter = ["tier", "parent"]
    search_fields = ["code", "name_zh", "name_en"]
    ordering = ["position", "code"]

    @admin.display(description=_("name"), ordering="position")
    def indented_name(self, obj: Category) -> str:
        return format_html("{}{}", "— " * len(obj.ancestors()), obj.name_zh)

    def save_model(self, request: HttpRequest, obj: Category, form: forms.ModelForm, change: bool) -> None:
        services.category_save(category=obj, by=request.user)

    def delete_refusals(self, objs: list[Category]) -> list[str]:
        return refusals_of(services.category_check_deletable, objs, label=len(objs) > 1)

    def delete_model(self, request: HttpRequest, obj: Category) -> None:
        services.category_delete(category=obj, by=request.user)


CALIBRATION_COLUMNS = [  # (key in a calibration record, column heading)
    ("command", _("command")),
    ("dataset", _("dataset")),
    ("at", _("calibrated at")),
    ("precision", _("precision")),
    ("recall", _("recall")),
    ("folds", _("folds")),
]


def _cell(value: Any) -> str:
    """A calibration figure as shown: floats to 3 places, nothing as a dash."""
    if value is None or value == "":
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


@admin.register(VerdictLabel)
class VerdictLabelAdmin(StandardAdmin):
    form = VerdictLabelForm
    list_display = ["badge", "code", "text_en", "severity_rank", "claimreview_rating", "default_action"]
    list_filter = ["default_action"]
    search_fields = ["code", "text_zh", "text_en"]
    readonly_fields = ["calibration_display"]

    @admin.display(description=_("where each threshold came from"))
    def calibration_display(self, obj: VerdictLabel) -> str:
        """The label's `calibration` (written by the calibrating command) as a table: one row per threshold."""
        records = obj.calibration if isinstance(obj.calibration, dict) else {}
        if not records:
            return gettext("Not calibrated: the thresholds were set by hand or are the defaults.")
        names = {f.name: f.verbose_name for f in VerdictLabel._meta.get_fields() if hasattr(f, "verbose_name")}
        head = format_html_join(
            "", "<th>{}</th>", [(_("threshold"),), *((title,) for _key, title in CALIBRATION_COLUMNS)]
        )
        rows = []
        for field, record in sorted(records.items()):
            record = record if isinstance(record, dict) else {}
            cells = format_html_join(
                "", "<td>{}</td>", ((_cell(record.get(key)),) for key, _title in CALIBRATION_COLUMNS)
            )
            current = getattr(obj, field, None)
            label = format_html("{}<br><small>{} = {}</small>", names.get(field, field), field, _cell(current))
            rows.append((label, cells))
        body = format_html_join("", "<tr><td>{}</td>{}</tr>", rows)
        return format_html(
            '<table class="threshold-calibration"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body
        )

    @admin.display(description=_("verdict"), ordering="code")
    def badge(self, obj: VerdictLabel) -> str:
        return format_html('<span class="verdict-badge" style="background:{}">{}</span>', obj.colour, obj.text_zh)

    def save_model(self, request: HttpRequest, obj: VerdictLabel, form: forms.ModelForm, change: bool) -> None:
        services.verdict_save(verdict=obj, by=request.user)

    def delete_refusals(self, objs: list[VerdictLabel]) -> list[str]:
        return refusals_of(services.verdict_check_deletable, objs, label=len(objs) > 1)

    def delete_model(self, request: HttpRequest, obj: VerdictLabel) -> None:
        services.verdict_delete(verdict=obj, by=request.user)
