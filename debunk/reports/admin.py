"""Reports and leads in the admin: the lead queue (open leads first by default; minors, then the deadline, then
volume and reach) with the time to first action, each lead's page with its contents, reports and screenshots and
the triage buttons (link to a rumor, draft a rumor, dismiss with a reason, reopen); the reports, contents and
screenshots (read-only, deleted only once no report of them is open), and the outcome outboxes (e-mails to
reporters, notices to platforms).

Every decision goes through debunk.reports.triage (audited). Screenshots are private (the public sent them, nothing
vouches for them): never under a public media URL, only streamed by the lead admin's own views to staff who may
view leads, reports or screenshots, with small previews decoded safely on the fly.
"""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseNotModified,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from debunk.core.admin_bulk import apply_each, error_text
from debunk.core.admin_readonly import ReadOnlyAdmin
from debunk.core.admin_refusals import DeleteRefusalsOnConfirmation, refusals_of
from debunk.images.decode import ImageRejected
from debunk.images.services import preview_jpeg, query_limits
from debunk.matching.admin import PREVIEW_SIDES, _not_modified, _private
from debunk.reports import triage
from debunk.reports.admin_handover import hand_over_leads
from debunk.reports.models import LeadCluster, ReportContent, ReporterMessage, ReportImage, ReportNotice, RumorReport
from debunk.stock.admin import delete_selected_through_services
from debunk.stock.models import Rumor
from labels.models import VerdictLabel

REPORTS_SHOWN = 50  # reports listed on a lead's page (the rest through the reports' list)


def duration_text(hours: float | None) -> str:
    """A duration for people: "45 min", "3.5 h", "2.1 d"."""
    if hours is None:
        return "—"
    if hours < 1:
        return gettext("%(n)d min") % {"n": round(hours * 60)}
    if hours < 48:
        return gettext("%(n)s h") % {"n": f"{hours:.1f}"}
    return gettext("%(n)s d") % {"n": f"{hours / 24:.1f}"}


def _link(url_name: str, obj: Any, label: Any = None) -> SafeString:
    return format_html('<a href="{}">{}</a>', reverse(url_name, args=[obj.pk]), label if label is not None else obj)


# --- screenshots: private, streamed by the lead admin's views ------------------------------------------------------


def may_see_screenshots(user: Any) -> bool:
    models = ("leadcluster", "rumorreport", "reportcontent", "reportimage")
    return any(user.has_perm(f"debunk.view_{model}") for model in models)


def screenshot_tag(image: ReportImage, size: str = "s") -> SafeString:
    side = PREVIEW_SIDES[size]
    full = reverse("admin:debunk_leadcluster_screenshot", args=[image.pk])
    return format_html(
        '<a href="{}" target="_blank" rel="noopener"><img src="{}?size={}" alt="{}" loading="lazy" '
        'class="report-screenshot" style="max-width:{}px;max-height:{}px;height:auto;margin:2px"></a>',
        full,
        reverse("admin:debunk_leadcluster_screenshot_preview", args=[image.pk]),
        size,
        gettext("screenshot"),
        side,
        side,
    )


# --- the lead queue ------------------------------------------------------------------------------------------------


class LeadStatusFilter(admin.SimpleListFilter):
    """Open leads unless another status (or all) is asked for: the queue is what waits."""

    title = _("status")
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [*LeadCluster.Status.choices, (self.ALL, _("all"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or LeadCluster.Status.OPEN
        if value == self.ALL:
            return queryset
        if value not in LeadCluster.Status.values:
            return queryset.none()
        return queryset.filter(status=value)

    def choices(self, changelist: Any) -> Any:
        current = self.value() or LeadCluster.Status.OPEN
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


class OverdueFilter(admin.SimpleListFilter):
    title = _("overdue")
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [("yes", _("overdue")), ("no", _("within the deadline"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(status=LeadCluster.Status.OPEN, deadline_at__lt=now)
        if self.value() == "no":
            return queryset.exclude(status=LeadCluster.Status.OPEN, deadline_at__lt=now)
        return queryset


class LinkForm(forms.Form):
    rumor = forms.IntegerField(label=_("rumor id"), min_value=1)
    reason = forms.CharField(label=_("note"), required=False, max_length=2000)

    def clean_rumor(self) -> Rumor:
        rumor = Rumor.objects.filter(pk=self.cleaned_data["rumor"]).first()
        if rumor is None:
            raise forms.ValidationError(_("No rumor has this id."))
        return rumor


class DraftForm(forms.Form):
    verdict = forms.ModelChoiceField(
        label=_("verdict"), queryset=VerdictLabel.objects.all(), to_field_name="code", initial=triage.DEFAULT_VERDICT
    )


class DismissForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))


class ReopenForm(forms.Form):
    reason = forms.CharField(label=_("note"), required=False, max_length=2000)


TRIAGE_FORMS = {"link": LinkForm, "draft": DraftForm, "dismiss": DismissForm, "reopen": ReopenForm}


@admin.register(LeadCluster)
class LeadClusterAdmin(ReadOnlyAdmin):
    """The lead queue; a lead's page holds its evidence and the triage buttons (debunk.reports.triage)."""

    change_list_template = "admin/debunk/leadcluster/change_list.html"
    change_form_template = "admin/debunk/leadcluster/change_form.html"
    list_display = [
        "text_short",
        "category",
        "minor_display",
        "deadline_display",
        "first_action_display",
        "report_count",
        "content_count",
        "reach",
        "status",
    ]
    list_filter = [LeadStatusFilter, ("category", admin.RelatedOnlyFieldListFilter), "involves_minor", OverdueFilter]
    list_select_related = ["category"]
    search_fields = ["text"]
    list_per_page = 50
    actions = [hand_over_leads]
    fieldsets = [
        (None, {"fields": ["text", ("status", "category"), "rumor_display", "involves_minor", "reason"]}),
        (
            _("Volume and reach"),
            {"fields": [("report_count", "content_count"), "reach", ("first_reported_at", "last_reported_at")]},
        ),
        (
            _("Handling"),
            {
                "fields": [
                    "deadline_display",
                    ("first_action_at", "first_action_by", "first_action_display"),
                    ("decided_at", "decided_by"),
                ]
            },
        ),
        (_("Contents"), {"fields": ["contents_display"]}),
        (_("Reports"), {"fields": ["reports_display"]}),
    ]
    readonly_fields = [
        "text",
        "status",
        "category",
        "rumor_display",
        "involves_minor",
        "reason",
        "report_count",
        "content_count",
        "reach",
        "first_reported_at",
        "last_reported_at",
        "deadline_display",
        "first_action_at",
        "first_action_by",
        "first_action_display",
        "decided_at",
        "decided_by",
        "contents_display",
        "reports_display",
    ]

    # --- columns ---------------------------------------------------------------------------------------------------

    @admin.display(description=_("text"), ordering="text")
    def text_short(self, obj: LeadCluster) -> str:
        return Truncator(" ".join(obj.text.split())).chars(80) or "—"

    @admin.display(description=_("reach (reposts / views)"), ordering="-views")
    def reach(self, obj: LeadCluster) -> str:
        return f"{obj.reposts:,} / {obj.views:,}"

    @admin.display(description=_("deadline"), ordering="deadline_at")
    def deadline_display(self, obj: LeadCluster) -> str:
        when = timezone.localtime(obj.deadline_at).strftime("%Y-%m-%d %H:%M")
        if obj.is_overdue:
            return format_html(
                '<strong class="lead-overdue" style="color:#ba2121">{} ({})</strong>', when, _("overdue")
            )
        return when

    @admin.display(description=_("minor"), boolean=True, ordering="-involves_minor")
    def minor_display(self, obj: LeadCluster) -> bool:
        return obj.involves_minor

    @admin.display(description=_("time to first action"))
    def first_action_display(self, obj: LeadCluster) -> str:
        if obj.first_action_at is None:
            if obj.status != LeadCluster.Status.OPEN:
                return "—"
            waited = (timezone.now() - obj.first_reported_at).total_seconds() / 3600
            return gettext("waiting %(time)s") % {"time": duration_text(max(waited, 0.0))}
        return duration_text(max((obj.first_action_at - obj.first_reported_at).total_seconds(), 0.0) / 3600)

    @admin.display(description=_("rumor"))
    def rumor_display(self, obj: LeadCluster) -> str:
        if obj.rumor is None:
            return "—"
        return format_html(
            "{} <small>({})</small>", _link("admin:debunk_rumor_change", obj.rumor), obj.rumor.get_status_display()
        )

    @admin.display(description=_("contents (folded: reports of the same content)"))
    def contents_display(self, obj: LeadCluster) -> str:
        contents = list(obj.contents.select_related("rumor").prefetch_related("images").order_by("-report_count", "pk"))
        if not contents:
            return "—"
        rows = []
        for content in contents:
            images = format_html_join("", "{}", ((screenshot_tag(i),) for i in content.images.all()))
            rows.append(
                (
                    reverse("admin:debunk_reportcontent_change", args=[content.pk]),
                    content.pk,
                    content.report_count,
                    Truncator(content.text).chars(300) or "—",
                    content.url or "—",
                    images or "—",
                    _link("admin:debunk_rumor_change", content.rumor) if content.rumor else "—",
                )
            )
        head = format_html(
            "<tr><th>#</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            _("reports"),
            _("text"),
            _("link (as text)"),
            _("screenshots"),
            _("matched rumor"),
        )
        body = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td style="white-space:pre-wrap">{}</td>'
            "<td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            rows,
        )
        return format_html('<table class="lead-contents">{}{}</table>', head, body)

    @admin.display(description=_("reports (newest first)"))
    def reports_display(self, obj: LeadCluster) -> str:
        reports = list(
            RumorReport.objects.filter(content__cluster=obj)
            .select_related("platform", "category")
            .order_by("-received_at", "-pk")[:REPORTS_SHOWN]
        )
        if not reports:
            return "—"
        rows = [
            (
                reverse("admin:debunk_rumorreport_change", args=[r.pk]),
                r.pk,
                timezone.localtime(r.received_at).strftime("%Y-%m-%d %H:%M"),
                r.platform or r.get_source_display(),
                r.category,
                "✔" if r.involves_minor else "",
                f"{r.reposts or 0:,} / {r.views or 0:,}",
                r.get_outcome_display(),
            )
            for r in reports
        ]
        head = format_html(
            "<tr><th>#</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            _("received at"),
            _("source"),
            _("category"),
            _("minor"),
            _("reach (reposts / views)"),
            _("outcome"),
        )
        body = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            rows,
        )
        every = format_html(
            '<p><a href="{}?content__cluster__id__exact={}">{}</a></p>',
            reverse("admin:debunk_rumorreport_changelist"),
            obj.pk,
            ngettext("All %(n)d report", "All %(n)d reports", obj.report_count) % {"n": obj.report_count},
        )
        return format_html('<table class="lead-reports">{}{}</table>{}', head, body, every)

    # --- the queue's figures -----------------------------------------------------------------------------------------

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        figures = triage.first_action_figures()
        figures["median_text"] = duration_text(figures["median_hours"])
        figures["p90_text"] = duration_text(figures["p90_hours"])
        for row in figures["categories"]:
            row["median_text"] = duration_text(row["median"])
        return super().changelist_view(request, {**(extra_context or {}), "figures": figures})

    # --- triage ------------------------------------------------------------------------------------------------------

    def has_triage_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(triage.TRIAGE)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict,
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: LeadCluster | None = None,
    ) -> HttpResponse:
        can = bool(obj and self.has_triage_permission(request))
        context["can_triage"] = can and obj.status == LeadCluster.Status.OPEN
        context["can_reopen"] = can and obj.status == LeadCluster.Status.DISMISSED
        context["triage_forms"] = {name: form(prefix=name) for name, form in TRIAGE_FORMS.items()}
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/triage/<str:action>/",
                self.admin_site.admin_view(require_POST(self.triage_view)),
                name="%s_%s_triage" % info,
            ),
            path(
                "screenshot/<int:image_id>/",
                self.admin_site.admin_view(require_GET(self.screenshot_view), cacheable=True),
                name="%s_%s_screenshot" % info,
            ),
            path(
                "screenshot/<int:image_id>/preview/",
                self.admin_site.admin_view(require_GET(self.screenshot_preview_view), cacheable=True),
                name="%s_%s_screenshot_preview" % info,
            ),
        ] + super().get_urls()

    def triage_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """The buttons of a lead's page: each form posts here; back to the lead with a message."""
        if action not in TRIAGE_FORMS:
            raise Http404
        if not self.has_triage_permission(request):
            raise PermissionDenied
        if not object_id.isdigit():
            raise Http404
        cluster = get_object_or_404(LeadCluster, pk=int(object_id))
        back = HttpResponseRedirect(reverse("admin:debunk_leadcluster_change", args=[cluster.pk]))
        form = TRIAGE_FORMS[action](request.POST, prefix=action)
        if not form.is_valid():
            errors = [
                f"{form.fields[name].label}: {' '.join(e)}" for name, e in form.errors.items() if name in form.fields
            ]
            self.message_user(request, " ".join(errors) or gettext("Check the form."), messages.ERROR)
            return back
        data = form.cleaned_data
        try:
            if action == "link":
                triage.lead_link(cluster, data["rumor"], request.user, reason=data.get("reason", ""))
                done = gettext("Linked to the rumor; the reports are told.")
            elif action == "draft":
                rumor = triage.lead_draft(cluster, request.user, verdict=data["verdict"])
                self.message_user(
                    request,
                    format_html(
                        "{} {}", gettext("A draft rumor was created:"), _link("admin:debunk_rumor_change", rumor)
                    ),
                    messages.SUCCESS,
                )
                return back
            elif action == "dismiss":
                triage.lead_dismiss(cluster, data["reason"], request.user)
                done = gettext("Dismissed; the reports are told.")
            else:
                triage.lead_reopen(cluster, request.user, reason=data.get("reason", ""))
                done = gettext("Reopened: the lead is back in the queue.")
        except (ValidationError, PermissionDenied) as exc:
            self.message_user(request, error_text(exc), messages.ERROR)
            return back
        self.message_user(request, done, messages.SUCCESS)
        return back

    # --- the private screenshots -------------------------------------------------------------------------------------

    def _screenshot(self, request: HttpRequest, image_id: int) -> ReportImage:
        if not may_see_screenshots(request.user):
            raise PermissionDenied
        return get_object_or_404(ReportImage, pk=image_id)

    def screenshot_view(self, request: HttpRequest, image_id: int) -> HttpResponse:
        """The screenshot byte for byte as submitted, to staff who may view leads, reports or screenshots."""
        image = self._screenshot(request, image_id)
        etag = f'"{image.sha256}"'
        if _not_modified(request, etag):
            return _private(HttpResponseNotModified(), etag)
        extension = image.file.name.rsplit(".", 1)[-1].lower()
        try:
            stored = image.file.open("rb")
        except OSError as exc:
            raise Http404(gettext("The image file is missing.")) from exc
        response = FileResponse(stored, content_type=image.content_type, filename=f"report-{image.pk}.{extension}")
        return _private(response, etag)

    def screenshot_preview_view(self, request: HttpRequest, image_id: int) -> HttpResponse:
        size = request.GET.get("size", "m")
        if size not in PREVIEW_SIDES:
            return HttpResponseBadRequest(gettext("Unknown preview size: use size=s or size=m."))
        image = self._screenshot(request, image_id)
        etag = f'"{image.sha256}-{size}"'
        if _not_modified(request, etag):
            return _private(HttpResponseNotModified(), etag)
        try:
            with image.file.open("rb") as stored:
                data = stored.read(query_limits().max_bytes + 1)
            preview = preview_jpeg(data, PREVIEW_SIDES[size])
        except (OSError, ImageRejected) as exc:
            raise Http404(gettext("The image cannot be shown.")) from exc
        return _private(HttpResponse(preview, content_type="image/jpeg"), etag)


# --- reports, contents, screenshots: read-only; deleted only once decided ------------------------------------------


class EvidenceAdmin(DeleteRefusalsOnConfirmation, ReadOnlyAdmin):
    """Read-only; deleting (the model's delete permission) goes through triage.report_evidence_delete, refused while
    a report of it is open (the confirmation page says why and offers no button)."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin.ModelAdmin.has_delete_permission(self, request, obj)

    def delete_refusals(self, objs: list[Any]) -> list[str]:
        return refusals_of(triage.report_check_deletable, objs, label=len(objs) > 1)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        triage.report_evidence_delete(obj, request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        apply_each(self, request, list(queryset), lambda obj: self.delete_model(request, obj))

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            actions["delete_selected"] = (
                delete_selected_through_services,
                "delete_selected",
                delete_selected.short_description,
            )
        return actions


@admin.register(RumorReport)
class RumorReportAdmin(EvidenceAdmin):
    list_display = ["pk", "content_short", "category", "source", "platform", "involves_minor", "outcome", "received_at"]
    list_filter = ["source", ("platform", admin.RelatedOnlyFieldListFilter), "outcome", "category", "involves_minor"]
    list_select_related = ["content", "platform", "category"]
    search_fields = ["=external_id", "=platform_post_id", "content__text"]
    date_hierarchy = "received_at"
    fields = [
        ("source", "platform", "received_at"),
        ("external_id", "platform_post_id", "where"),
        ("category", "involves_minor"),
        "content_display",
        "lead_display",
        ("reposts", "views"),
        ("reporter_hash", "contact", "language"),
        ("outcome", "outcome_at", "rumor"),
        "receipt_display",
    ]
    readonly_fields = [
        "source",
        "platform",
        "received_at",
        "external_id",
        "platform_post_id",
        "where",
        "category",
        "involves_minor",
        "content_display",
        "lead_display",
        "reposts",
        "views",
        "reporter_hash",
        "contact",
        "language",
        "outcome",
        "outcome_at",
        "rumor",
        "receipt_display",
    ]

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        return lookup == "content__cluster__id__exact" or super().lookup_allowed(lookup, value, request)

    @admin.display(description=_("content"), ordering="content__text")
    def content_short(self, obj: RumorReport) -> str:
        return Truncator(" ".join((obj.content.text or obj.content.url).split())).chars(60) or "—"

    @admin.display(description=_("content"))
    def content_display(self, obj: RumorReport) -> str:
        images = format_html_join("", "{}", ((screenshot_tag(i),) for i in obj.content.images.all()))
        return format_html(
            '{}<p style="white-space:pre-wrap">{}</p><p><code>{}</code></p>{}',
            _link("admin:debunk_reportcontent_change", obj.content, f"#{obj.content_id}"),
            obj.content.text or "—",
            obj.content.url or "",
            images,
        )

    @admin.display(description=_("lead"))
    def lead_display(self, obj: RumorReport) -> str:
        return _link("admin:debunk_leadcluster_change", obj.content.cluster)

    @admin.display(description=_("signed receipt"))
    def receipt_display(self, obj: RumorReport) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.receipt, ensure_ascii=False, indent=2, sort_keys=True))


class ReportImageInline(admin.TabularInline):
    model = ReportImage
    extra = 0
    fields = ["position", "thumbnail", "sha256", "size", "content_type"]
    readonly_fields = fields
    can_delete = False

    @admin.display(description=_("screenshot"))
    def thumbnail(self, obj: ReportImage) -> str:
        return screenshot_tag(obj) if obj.pk else "—"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ReportContent)
class ReportContentAdmin(EvidenceAdmin):
    list_display = ["__str__", "report_count", "cluster", "rumor", "first_reported_at", "last_reported_at"]
    list_select_related = ["cluster", "rumor"]
    search_fields = ["text", "=sha256"]
    fields = ["sha256", "text", "url", "cluster", "rumor", "report_count", ("first_reported_at", "last_reported_at")]
    readonly_fields = fields[:-1] + ["first_reported_at", "last_reported_at"]
    inlines = [ReportImageInline]


@admin.register(ReportImage)
class ReportImageAdmin(EvidenceAdmin):
    list_display = ["thumbnail", "content", "position", "size", "content_type", "sha256"]
    list_select_related = ["content"]
    search_fields = ["=sha256"]
    fields = ["thumbnail", "content", "position", "sha256", "size", "content_type"]
    readonly_fields = fields

    @admin.display(description=_("screenshot"))
    def thumbnail(self, obj: ReportImage) -> str:
        return screenshot_tag(obj)


# --- the outcome outboxes ----------------------------------------------------------------------------------------


@admin.register(ReporterMessage)
class ReporterMessageAdmin(ReadOnlyAdmin):
    list_display = ["subject", "to", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status"]
    search_fields = ["=to", "subject"]
    fields = ["report", "to", "subject", "body", "status", "attempts", "last_error", "created_at", "sent_at"]
    readonly_fields = fields


@admin.register(ReportNotice)
class ReportNoticeAdmin(ReadOnlyAdmin):
    list_display = ["message_id", "platform", "report", "status", "attempts", "created_at", "delivered_at"]
    list_filter = ["status", "platform"]
    list_select_related = ["platform", "report"]
    search_fields = ["=message_id"]
    fields = [
        "message_id",
        "platform",
        "report",
        "payload_display",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_response",
        "created_at",
        "delivered_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("payload"))
    def payload_display(self, obj: ReportNotice) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, ensure_ascii=False, indent=2, sort_keys=True))
