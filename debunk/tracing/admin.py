"""Traces: read-only, for reviewers. The detail page draws the cascade's growth and its folded propagation
tree, lists the first posters and amplifiers, and links the evidence bundle (canonical JSON, SHA-256 in the
file name and in the X-Evidence-SHA256 header). "Trace now" (from a rumor's page) calls trace_rumor.
"""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from debunk.core.admin_readonly import ReadOnlyAdmin
from debunk.stock.models import Rumor
from debunk.tracing import services as tracing_services
from debunk.tracing.models import FirstPoster, Trace

PERM = "debunk.review_rumor"


@admin.register(Trace)
class TraceAdmin(ReadOnlyAdmin):
    list_display = ["id", "rumor_display", "created_at", "created_by", "posts", "roots", "first_poster", "digest"]
    list_display_links = ["id", "created_at"]
    list_select_related = ["rumor", "created_by"]
    search_fields = ["=rumor__id", "rumor__claim", "evidence_sha256"]
    list_filter = ["created_at"]
    fields = [
        ("rumor_display", "created_at", "created_by"),
        ("posts", "roots", "clock_skew_seconds"),
        "evidence_sha256",
    ]
    readonly_fields = ["rumor_display", "created_at", "created_by", "posts", "roots", "clock_skew_seconds"]
    readonly_fields += ["evidence_sha256"]
    change_form_template = "admin/debunk/trace/change_form.html"

    @admin.display(description=_("rumor"), ordering="rumor_id")
    def rumor_display(self, obj: Trace) -> str:
        url = reverse("admin:debunk_rumor_change", args=[obj.rumor_id])
        return format_html('<a href="{}">#{} {}</a>', url, obj.rumor_id, obj.rumor.claim[:40])

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        leads = FirstPoster.objects.filter(scope_platform__isnull=True, root_index=0)
        return super().get_queryset(request).prefetch_related(Prefetch("first_posters", leads, to_attr="leads"))

    @admin.display(description=_("first poster"))
    def first_poster(self, obj: Trace) -> str:
        return str(obj.leads[0]) if obj.leads else "—"

    @admin.display(description=_("evidence SHA-256"))
    def digest(self, obj: Trace) -> str:
        return format_html("<code>{}…</code>", obj.evidence_sha256[:12])

    # --- pages --------------------------------------------------------------------------------------------------------

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        return [
            path("<path:object_id>/export/", self.admin_site.admin_view(self.export_view), name="%s_%s_export" % info),
            path("rumor/<int:rumor_id>/", self.admin_site.admin_view(self.trace_now_view), name="%s_%s_now" % info),
        ] + super().get_urls()

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict,
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Trace | None = None,
    ) -> HttpResponse:
        if obj is not None:
            drawings = tracing_services.trace_drawings(obj)
            context.update(
                growth_svg=mark_safe(drawings["growth"]),  # built from escaped parts by debunk.tracing.drawing
                tree_svg=mark_safe(drawings["tree"]),
                first_posters=obj.first_posters.select_related("platform", "scope_platform"),
                amplifiers=obj.summary.get("amplifiers", []),
                within_skew_of=obj.summary.get("within_skew_of", []),
                export_url=reverse("admin:debunk_trace_export", args=[obj.pk]),
                trace_now_url=reverse("admin:debunk_trace_now", args=[obj.rumor_id]),
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        trace = get_object_or_404(Trace, pk=object_id)
        data, digest = tracing_services.trace_export(trace)
        response = HttpResponse(data, content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="trace-{trace.pk}-{digest}.json"'
        response["X-Evidence-SHA256"] = digest
        response["X-Evidence-Verified"] = "true" if digest == trace.evidence_sha256 else "false"
        return response

    def trace_now_view(self, request: HttpRequest, rumor_id: int) -> HttpResponse:
        """GET: the rumor's traces and a button; POST: trace it now and open the new trace."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        rumor = get_object_or_404(Rumor, pk=rumor_id)
        if request.method == "POST":
            trace = tracing_services.trace_rumor(rumor=rumor, by=request.user)
            self.message_user(request, gettext("Traced: %(n)d posts.") % {"n": trace.posts}, messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:debunk_trace_change", args=[trace.pk]))
        return TemplateResponse(
            request,
            "admin/debunk/trace/trace_now.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Trace the rumor"),
                "opts": self.opts,
                "rumor": rumor,
                "traces": rumor.traces.select_related("created_by")[:20],
            },
        )

    # --- permissions: reviewers only, and never edits -------------------------------------------------------------

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(PERM)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(PERM)
