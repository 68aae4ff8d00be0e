"""The suspected-match queue, grouped by rumor, and the read-only posts and allow-list behind it.

Reviewers confirm (the text becomes a variant) or reject (the text is allow-listed); fact-checkers can look.
Every decision goes through debunk.matching.suspects.
"""

from collections.abc import Iterator
from itertools import islice
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from debunk.core.admin_bulk import apply_each, error_text
from debunk.core.admin_readonly import ReadOnlyAdmin
from debunk.corrections.models import Interaction
from debunk.matching import suspects as suspect_services
from debunk.matching.matcher import evidence
from debunk.matching.models import AllowListEntry, Match, Post
from debunk.matching.normalize import normalize
from debunk.stock.admin import delete_selected_through_services, verdict_badge
from debunk.stock.models import Rumor

SUSPECTED = Match.Status.SUSPECTED


def _rumor_link(rumor: Rumor) -> SafeString:
    return format_html('<a href="{}">{}</a>', reverse("admin:debunk_rumor_change", args=[rumor.pk]), rumor)


def _highlight(text: str, spans: list[tuple[int, int]]) -> SafeString:
    """The text, escaped, with the given [start, end) spans (possibly overlapping) in <mark>."""
    pieces, position = [], 0
    for start, end in sorted(spans):
        start = max(start, position)
        if start < end:
            pieces.append((text[position:start], text[start:end]))
            position = end
    return format_html("{}{}", format_html_join("", "{}<mark>{}</mark>", pieces), text[position:])


class StatusFilter(admin.SimpleListFilter):
    """Status, defaulting to the queue itself: suspected matches."""

    title = _("status")
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [*Match.Status.choices, (self.ALL, _("All"))]

    def value(self) -> str:
        return super().value() or SUSPECTED

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset if value == self.ALL else queryset.filter(status=value)

    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:
        # Drop Django's own "All" (no parameter): here no parameter means suspected, and "all" is a lookup.
        return islice(super().choices(changelist), 1, None)


@admin.register(Match)
class MatchAdmin(ReadOnlyAdmin):
    """The suspected-match queue: posts between a verdict's review and auto thresholds, grouped by rumor."""

    list_display = [
        "rumor_display",
        "verdict_display",
        "similarity_display",
        "containment_display",
        "post_text",
        "platform",
        "platform_post_id",
        "created_at",
        "status",
    ]
    list_display_links = ["post_text"]
    list_filter = [
        StatusFilter,
        ("rumor", admin.RelatedOnlyFieldListFilter),
        ("post__platform", admin.RelatedOnlyFieldListFilter),
        "rumor__category",
        "rumor__verdict",
    ]
    search_fields = ["post__text", "post__platform_post_id", "rumor__claim"]
    ordering = ["-rumor__created_at", "rumor_id", "-created_at", "-pk"]
    list_per_page = 50
    actions = ["confirm_selected", "reject_selected"]
    change_form_template = "admin/debunk/match/change_form.html"
    fields = [
        ("rumor_display", "verdict_display", "status"),
        ("similarity_display", "containment_display"),
        "comparison",
        ("platform", "platform_post_id", "created_at"),
        ("decided_by", "decided_at"),
    ]
    readonly_fields = [
        "rumor_display",
        "verdict_display",
        "status",
        "similarity_display",
        "containment_display",
        "comparison",
        "platform",
        "platform_post_id",
        "created_at",
        "decided_by",
        "decided_at",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        per_rumor = (
            Match.objects.filter(rumor_id=OuterRef("rumor_id"), status=SUSPECTED)
            .order_by()
            .values("rumor_id")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .select_related("post__platform", "rumor__verdict", "rumor__category", "decided_by")
            .annotate(rumor_suspected=Coalesce(Subquery(per_rumor, output_field=IntegerField()), 0))
        )

    # --- columns ----------------------------------------------------------------------------------------------------

    @admin.display(description=_("rumor"), ordering="rumor")
    def rumor_display(self, obj: Match) -> str:
        count = getattr(obj, "rumor_suspected", None)
        if not count:
            return _rumor_link(obj.rumor)
        label = ngettext("%(n)d suspected post", "%(n)d suspected posts", count) % {"n": count}
        return format_html('{} <small class="suspected-count">({})</small>', _rumor_link(obj.rumor), label)

    @admin.display(description=_("verdict"), ordering="rumor__verdict__severity_rank")
    def verdict_display(self, obj: Match) -> str:
        return verdict_badge(obj.rumor)

    @admin.display(description=_("similarity"), ordering="similarity")
    def similarity_display(self, obj: Match) -> str:
        return f"{obj.similarity:.2f}"

    @admin.display(description=_("containment"), ordering="containment")
    def containment_display(self, obj: Match) -> str:
        return f"{obj.containment:.2f}"

    @admin.display(description=_("post"), ordering="post__text")
    def post_text(self, obj: Match) -> str:
        return Truncator(" ".join(obj.post.text.split())).chars(80)  # escaped by the changelist

    @admin.display(description=_("platform"), ordering="post__platform__name")
    def platform(self, obj: Match) -> str:
        return str(obj.post.platform)

    @admin.display(description=_("platform post id"), ordering="post__platform_post_id")
    def platform_post_id(self, obj: Match) -> str:
        return obj.post.platform_post_id or "—"

    @admin.display(description=_("post and rumor"))
    def comparison(self, obj: Match) -> str:
        """The full post beside the rumor's claim (and variants), shared runs of text marked."""
        rumor, post = obj.rumor, obj.post
        normalized = normalize(post.text)
        texts = [(gettext("claim"), rumor.claim)] + [(gettext("variant"), v.text) for v in rumor.variants.all()[:10]]
        post_spans: list[tuple[int, int]] = []
        rumor_cells = []
        for label, text in texts:
            pairs = evidence(normalized, text)
            post_spans += [p for p, _r in pairs]
            rumor_cells.append((label, _highlight(text, [r for _p, r in pairs])))
        rumor_html = format_html_join(
            "", '<p><strong>{}</strong><br><span style="white-space:pre-wrap">{}</span></p>', rumor_cells
        )
        return format_html(
            '<table class="match-comparison" style="width:100%;table-layout:fixed"><thead><tr><th>{}</th><th>{}</th>'
            '</tr></thead><tbody><tr><td style="white-space:pre-wrap;vertical-align:top">{}</td>'
            '<td style="vertical-align:top">{}</td></tr></tbody></table>',
            gettext("post"),
            gettext("rumor"),
            _highlight(post.text, post_spans),
            rumor_html,
        )

    # --- decisions --------------------------------------------------------------------------------------------------

    def _decide_each(self, request: HttpRequest, queryset: QuerySet, decision: str) -> None:
        """Run the service per selected match; same-text matches are decided together, so count them once."""
        service = suspect_services.match_confirm if decision == "confirm" else suspect_services.match_reject
        selected = list(queryset.select_related("post", "rumor"))
        ids = {m.pk for m in selected}
        covered: set[int] = set()
        decided, variants, failed = 0, 0, []
        for match in selected:
            if match.pk in covered:
                continue
            try:
                result = service(match=match, by=request.user)
            except (ValidationError, PermissionDenied) as exc:
                failed.append(f"«{Truncator(match.post.text).chars(30)}» → {match.rumor}: {error_text(exc)}")
                continue
            same = set(
                Match.objects.filter(
                    pk__in=ids, rumor_id=match.rumor_id, decided_at=match.decided_at, decided_by=request.user
                ).values_list("pk", flat=True)
            )
            covered |= same
            decided += len(same)
            if decision == "confirm" and result is not None:
                variants += 1
        if decided and decision == "confirm":
            done = gettext("Confirmed %(n)d suspected match(es); %(v)d new variant(s) added.")
            self.message_user(request, done % {"n": decided, "v": variants}, messages.SUCCESS)
        elif decided:
            self.message_user(
                request,
                gettext("Rejected %(n)d suspected match(es); their texts are allow-listed.") % {"n": decided},
                messages.SUCCESS,
            )
        for failure in failed:
            self.message_user(request, failure, messages.ERROR)

    @admin.action(description=_("Confirm: add as variants"), permissions=["review"])
    def confirm_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide_each(request, queryset, "confirm")

    @admin.action(description=_("Reject: allow-list these texts"), permissions=["review"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide_each(request, queryset, "reject")

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/decide/<str:decision>/",
                self.admin_site.admin_view(require_POST(self.decide_view)),
                name="%s_%s_decide" % info,
            ),
        ] + super().get_urls()

    def decide_view(self, request: HttpRequest, object_id: str, decision: str) -> HttpResponse:
        """The confirm/reject buttons of the detail page; back to the queue when done."""
        match = get_object_or_404(Match.objects.select_related("post", "rumor"), pk=object_id)
        if decision not in {"confirm", "reject"} or not self.has_review_permission(request):
            raise PermissionDenied
        try:
            if decision == "confirm":
                suspect_services.match_confirm(match=match, by=request.user)
            else:
                suspect_services.match_reject(match=match, by=request.user, reason=request.POST.get("reason", ""))
        except (ValidationError, PermissionDenied) as exc:
            self.message_user(request, error_text(exc), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:debunk_match_change", args=[match.pk]))
        done = gettext("Confirmed: the text is now a variant.") if decision == "confirm" else gettext("Rejected.")
        self.message_user(request, done, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:debunk_match_changelist"))

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict,
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Match | None = None,
    ) -> HttpResponse:
        context["can_decide"] = bool(obj and obj.status == SUSPECTED and self.has_review_permission(request))
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- permissions: decisions only, never edits --------------------------------------------------------------------

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(suspect_services.DECIDE_PERM)


@admin.register(Post)
class PostAdmin(ReadOnlyAdmin):
    """Posts platforms reported: the archive (POST /posts) and posts queued as suspected matches; read-only."""

    list_display = ["text_short", "platform", "platform_post_id", "posted_at", "archived", "created_at"]
    list_filter = [("platform", admin.RelatedOnlyFieldListFilter), "archived"]
    search_fields = ["=platform_post_id", "=author_hash", "text"]
    list_select_related = ["platform"]
    date_hierarchy = "created_at"
    fields = [
        ("platform", "platform_post_id", "created_at"),
        ("posted_at", "archived"),
        ("author_hash", "parent"),
        "text",
        "matches_display",
        "exposures_display",
    ]
    readonly_fields = [
        "platform",
        "platform_post_id",
        "created_at",
        "posted_at",
        "archived",
        "author_hash",
        "parent",
        "text",
        "matches_display",
        "exposures_display",
    ]

    @admin.display(description=_("exposures"))
    def exposures_display(self, obj: Post) -> str:
        counts = obj.exposures.values_list("interaction").annotate(n=Count("pk")).order_by("interaction")
        rows = [(Interaction(i).label, n) for i, n in counts]
        return format_html_join(" · ", "{}: {}", rows) or "—"

    @admin.display(description=_("text"), ordering="text")
    def text_short(self, obj: Post) -> str:
        return Truncator(" ".join(obj.text.split())).chars(80)

    @admin.display(description=_("matches"))
    def matches_display(self, obj: Post) -> str:
        rows = [
            (reverse("admin:debunk_match_change", args=[m.pk]), m.rumor, m.get_status_display(), f"{m.similarity:.2f}")
            for m in obj.matches.select_related("rumor")
        ]
        return format_html_join("", '<p><a href="{}">{}</a> — {} ({})</p>', rows) or "—"


@admin.register(AllowListEntry)
class AllowListEntryAdmin(admin.ModelAdmin):
    """Texts judged not to carry a rumor; reviewers delete an entry to undo the allow-listing."""

    list_display = ["rumor_display", "text_display", "hash_short", "created_by", "created_at"]
    list_filter = [("rumor", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["rumor__claim", "=exact_hash"]
    list_select_related = ["rumor", "created_by"]
    fields = ["rumor_display", "text_display", "exact_hash", ("created_by", "created_at")]
    readonly_fields = ["rumor_display", "text_display", "exact_hash", "created_by", "created_at"]

    @admin.display(description=_("rumor"), ordering="rumor")
    def rumor_display(self, obj: AllowListEntry) -> str:
        return _rumor_link(obj.rumor)

    @admin.display(description=_("allow-listed text"))
    def text_display(self, obj: AllowListEntry) -> str:
        return Truncator(suspect_services.allow_list_text(obj)).chars(120) or "—"

    @admin.display(description=_("exact hash"), ordering="exact_hash")
    def hash_short(self, obj: AllowListEntry) -> str:
        return obj.exact_hash[:12]

    def delete_model(self, request: HttpRequest, obj: AllowListEntry) -> None:
        suspect_services.allow_list_remove(entry=obj, by=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        apply_each(self, request, list(queryset), lambda entry: self.delete_model(request, entry))

    def get_actions(self, request: HttpRequest) -> dict:
        """ "Delete selected" counts the rows the service did delete (Django's own says all were)."""
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            actions["delete_selected"] = (
                delete_selected_through_services,
                "delete_selected",
                delete_selected.short_description,
            )
        return actions

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # entries come from rejecting suspected matches

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
