"""The suspected-match queue, grouped by rumor, and the read-only posts and allow-list behind it.

Reviewers confirm (the text becomes a variant, or the picture an image of the rumor) or reject (the text or the
picture is allow-listed); fact-checkers can look. Every decision goes through debunk.matching.suspects.

Posts' pictures are private (platforms' users sent them; nothing vouches for them): they are never under a public
media URL, only streamed by the post admin's own views to staff who may view posts or matches, with small
previews decoded safely on the fly and cached by the browser.
"""

from collections.abc import Iterator
from itertools import islice
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
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
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from debunk.core.admin_bulk import apply_each, error_text
from debunk.core.admin_readonly import ReadOnlyAdmin
from debunk.corrections.models import Interaction
from debunk.images.decode import ImageRejected
from debunk.images.services import hash_distance, preview_jpeg, query_limits
from debunk.matching import suspects as suspect_services
from debunk.matching.matcher import evidence
from debunk.matching.models import AllowListEntry, Match, Post
from debunk.matching.normalize import normalize
from debunk.stock.admin import delete_selected_through_services, verdict_badge
from debunk.stock.models import Attachment, Rumor

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


# --- posts' pictures: private, streamed by the post admin's views ---------------------------------------------------

PREVIEW_SIDES = {"s": 128, "m": 480}  # a list's thumbnail, a detail page's picture
IMAGE_TYPES = {
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "bmp": "image/bmp",
}
LIST_THUMB = (88, 56)  # the box a list's thumbnails fit in (post's and rumor's alike), px
PRIVATE_CACHE = "private, max-age=86400"  # a post's picture never changes: the browser keeps it, proxies do not


def may_see_post_images(user: Any) -> bool:
    return user.has_perm("debunk.view_post") or user.has_perm("debunk.view_match")


def post_image_url(post: Post) -> str:
    return reverse("admin:debunk_post_image", args=[post.pk])


def post_preview_url(post: Post, size: str = "m") -> str:
    return reverse("admin:debunk_post_preview", args=[post.pk]) + f"?size={size}"


def post_image_tag(post: Post, size: str = "m", *, link: bool = True) -> SafeString:
    """The post's picture as a preview from the protected view, linked to the full picture (also protected)."""
    side = PREVIEW_SIDES[size]
    box = (
        f"max-width:100%;max-height:{side}px"
        if size == "m"
        else f"max-width:{LIST_THUMB[0]}px;max-height:{LIST_THUMB[1]}px"
    )
    img = format_html(
        '<img src="{}" alt="{}" loading="lazy" class="post-image post-image-{}" style="{};height:auto">',
        post_preview_url(post, size),
        gettext("the post's image"),
        size,
        box,
    )
    if not link:
        return img
    return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', post_image_url(post), img)


def rumor_image_tag(attachment: Attachment, max_side: int = 320, max_height: int | None = None) -> SafeString:
    """A rumor image (stock evidence, served like every attachment) as its thumbnail, linked to the file. A large
    one shrinks with its cell; a list's small one keeps its size (a table sizes a cell by what it must hold)."""
    source = attachment.thumbnail.url if attachment.thumbnail else attachment.file.url
    width = f"min(100%,{max_side}px)" if max_height is None else f"{max_side}px"
    return format_html(
        '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="{}" class="rumor-image" loading="lazy"'
        ' style="max-width:{};max-height:{}px;height:auto"></a>',
        attachment.file.url,
        source,
        attachment.caption or gettext("image of the rumor"),
        width,
        max_height or max_side,
    )


def rumor_images(rumor: Rumor) -> list[Attachment]:
    """The rumor's images (attachments of role "image of the rumor"), prefetched by the match admin's queryset."""
    prefetched = getattr(rumor, "rumor_images", None)
    if prefetched is not None:
        return prefetched
    return list(_rumor_images_queryset().filter(rumor=rumor))


def _rumor_images_queryset() -> QuerySet:
    return Attachment.objects.filter(role=Attachment.Role.RUMOR_IMAGE, kind=Attachment.Kind.IMAGE).prefetch_related(
        "image_fingerprints"
    )


def hash_distance_text(distance: int | None) -> str:
    return "—" if distance is None else f"{distance}/256"


def match_score(match: Match) -> str:
    """What found the match, in a few words: the hash distance, the containment of the text read, or similarity."""
    if match.via == Match.Via.IMAGE_HASH:
        return gettext("distance %(d)s") % {"d": hash_distance_text(match.distance)}
    if match.via == Match.Via.OCR:
        return gettext("containment %(c).2f") % {"c": match.containment}
    return gettext("similarity %(s).2f, containment %(c).2f") % {"s": match.similarity, "c": match.containment}


def _terms(match: Match) -> list[str]:
    return [t for t in match.evidence if isinstance(t, str) and t] if isinstance(match.evidence, list) else []


def _occurrences(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """[start, end) of each place a term is written in the text as it is (case aside); a term the text writes
    otherwise (traditional script, full-width) is not marked."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a character whose lower case is longer: offsets would drift
        lowered = text
    spans = []
    for term in terms:
        start = lowered.find(term)
        while start != -1:
            spans.append((start, start + len(term)))
            start = lowered.find(term, start + 1)
    return spans


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

    list_display = [  # what a reviewer compares first, then the figures and where the post is from
        "rumor_display",
        "verdict_display",
        "via_display",
        "stage_display",
        "images_display",
        "post_text",
        "terms_display",
        "similarity_display",
        "containment_display",
        "platform",
        "platform_post_id",
        "created_at",
        "status",
    ]
    list_display_links = ["post_text"]
    list_filter = [
        StatusFilter,
        "stage",
        "via",
        ("rumor", admin.RelatedOnlyFieldListFilter),
        ("post__platform", admin.RelatedOnlyFieldListFilter),
        "rumor__category",
        "rumor__verdict",
    ]
    search_fields = ["post__text", "post__ocr_text", "post__platform_post_id", "rumor__claim"]
    ordering = ["-rumor__created_at", "rumor_id", "-created_at", "-pk"]
    list_per_page = 50
    actions = ["confirm_selected", "reject_selected"]
    change_form_template = "admin/debunk/match/change_form.html"
    fields = [
        ("rumor_display", "verdict_display", "status"),
        ("stage_display", "similarity_display", "containment_display"),
        "terms_display",
        "comparison",
        ("platform", "platform_post_id", "created_at"),
        ("decided_by", "decided_at"),
    ]
    image_fields = [
        ("rumor_display", "verdict_display", "status"),
        ("via_display", "score_display"),
        "image_comparison",
        ("platform", "platform_post_id", "created_at"),
        ("decided_by", "decided_at"),
    ]
    readonly_fields = [
        "rumor_display",
        "verdict_display",
        "status",
        "via_display",
        "stage_display",
        "terms_display",
        "score_display",
        "similarity_display",
        "containment_display",
        "comparison",
        "image_comparison",
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
            .prefetch_related(Prefetch("rumor__attachments", _rumor_images_queryset(), to_attr="rumor_images"))
            .annotate(rumor_suspected=Coalesce(Subquery(per_rumor, output_field=IntegerField()), 0))
        )

    def get_fields(self, request: HttpRequest, obj: Match | None = None) -> list:
        """A match found through the post's picture shows the pictures side by side; a text match, the texts."""
        return self.image_fields if obj is not None and suspect_services.is_image_match(obj) else self.fields

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

    @admin.display(description=_("found via"), ordering="via")
    def via_display(self, obj: Match) -> str:
        label = obj.get_via_display()
        if obj.via == Match.Via.IMAGE_HASH:
            return format_html('{} <small class="hash-distance">({})</small>', label, hash_distance_text(obj.distance))
        return label

    @admin.display(description=_("stage"), ordering="stage")
    def stage_display(self, obj: Match) -> str:
        """Which matcher found it; a claim-tier suggestion with its rank among the post's candidates."""
        label = obj.get_stage_display()
        if obj.rank is None:
            return label
        return format_html('{} <small class="suggestion-rank">(#{})</small>', label, obj.rank)

    @admin.display(description=_("evidence terms"))
    def terms_display(self, obj: Match) -> str:
        """The distinctive n-grams the post shares with the rumor (the claim tier's evidence)."""
        terms = [t for t in obj.evidence if isinstance(t, str)] if isinstance(obj.evidence, list) else []
        if not terms:
            return "—"
        return format_html_join(" ", '<mark class="evidence-term">{}</mark>', ((t,) for t in terms))

    @admin.display(description=_("score"))
    def score_display(self, obj: Match) -> str:
        """The figure the decision rests on, beside the verdict's thresholds for it."""
        verdict = obj.rumor.verdict
        if obj.via == Match.Via.IMAGE_HASH:
            return gettext(
                "Hash distance %(d)s (bits of 256 that differ; matched automatically up to %(auto)d, "
                "queued up to %(review)d)."
            ) % {
                "d": hash_distance_text(obj.distance),
                "auto": settings.IMAGE_HASH_AUTO_DISTANCE,
                "review": settings.IMAGE_HASH_REVIEW_DISTANCE,
            }
        return gettext(
            "Containment %(c).2f (share of the claim's text found in the text read from the image; matched "
            "automatically from %(auto).2f, queued from %(review).2f)."
        ) % {"c": obj.containment, "auto": verdict.ocr_auto_containment, "review": verdict.ocr_review_containment}

    @admin.display(description=_("similarity"), ordering="similarity")
    def similarity_display(self, obj: Match) -> str:
        """The near-duplicate similarity; for the claim stage, its claim score."""
        if obj.via == Match.Via.IMAGE_HASH:
            return "—"
        if obj.stage == Match.Stage.CLAIM:
            return gettext("claim score %(s).2f") % {"s": obj.similarity}
        return f"{obj.similarity:.2f}"

    @admin.display(description=_("containment"), ordering="containment")
    def containment_display(self, obj: Match) -> str:
        return "—" if obj.via == Match.Via.IMAGE_HASH else f"{obj.containment:.2f}"

    @admin.display(description=_("image"))
    def images_display(self, obj: Match) -> str:
        """The post's picture, and for a match found through it, the rumor's first image beside it."""
        if not obj.post.image:
            return ""
        post = post_image_tag(obj.post, "s", link=False)
        images = rumor_images(obj.rumor) if suspect_services.is_image_match(obj) else []
        if not images:
            return post
        return format_html(
            '<span class="match-thumbs" style="white-space:nowrap">{} <span aria-hidden="true">↔</span> {}</span>',
            post,
            rumor_image_tag(images[0], *LIST_THUMB),
        )

    @admin.display(description=_("post"), ordering="post__text")
    def post_text(self, obj: Match) -> str:
        post = obj.post
        text = " ".join(post.text.split())
        if not text and post.image:  # an image alone: what was read in it (the column links to the match)
            read = " ".join(post.ocr_text.split())
            text = f"[{gettext('image')}] {read}" if read else f"[{gettext('image')}]"
        return Truncator(text).chars(80)  # escaped by the changelist

    @admin.display(description=_("platform"), ordering="post__platform__name")
    def platform(self, obj: Match) -> str:
        return str(obj.post.platform)

    @admin.display(description=_("platform post id"), ordering="post__platform_post_id")
    def platform_post_id(self, obj: Match) -> str:
        return obj.post.platform_post_id or "—"

    def _rumor_texts(self, rumor: Rumor) -> list[tuple[str, str]]:
        return [(gettext("claim"), rumor.claim)] + [(gettext("variant"), v.text) for v in rumor.variants.all()[:10]]

    def _texts_compared(
        self, post_text: str, rumor: Rumor, terms: list[str] | None = None
    ) -> tuple[SafeString, SafeString]:
        """The post's text and the rumor's claim and variants, the runs of text they share marked in both (and the
        claim tier's evidence terms where they are written as such)."""
        normalized = normalize(post_text)
        post_spans: list[tuple[int, int]] = _occurrences(post_text, terms or [])
        rumor_cells = []
        for label, text in self._rumor_texts(rumor):
            pairs = evidence(normalized, text)
            post_spans += [p for p, _r in pairs]
            spans = [r for _p, r in pairs] + _occurrences(text, terms or [])
            rumor_cells.append((label, _highlight(text, spans)))
        rumor_html = format_html_join(
            "", '<p><strong>{}</strong><br><span style="white-space:pre-wrap">{}</span></p>', rumor_cells
        )
        return _highlight(post_text, post_spans), rumor_html

    @admin.display(description=_("post and rumor"))
    def comparison(self, obj: Match) -> str:
        """The full post beside the rumor's claim (and variants), shared runs of text marked."""
        post_html, rumor_html = self._texts_compared(obj.post.text, obj.rumor, _terms(obj))
        return format_html(
            '<table class="match-comparison" style="width:100%;table-layout:fixed"><thead><tr><th>{}</th><th>{}</th>'
            '</tr></thead><tbody><tr><td style="white-space:pre-wrap;vertical-align:top">{}</td>'
            '<td style="vertical-align:top">{}</td></tr></tbody></table>',
            gettext("post"),
            gettext("rumor"),
            post_html,
            rumor_html,
        )

    @admin.display(description=_("post and rumor"))
    def image_comparison(self, obj: Match) -> str:
        """The post's picture beside the rumor's images (each with its hash distance to the post's), then the text
        sent with the post and the text read from its picture, beside the claim (shared runs marked)."""
        post, rumor = obj.post, obj.rumor
        pdq = bytes(post.image_pdq) if post.image_pdq is not None else None
        figures = []
        for attachment in rumor_images(rumor):
            fingerprints = list(attachment.image_fingerprints.all())
            facts = []
            if pdq is not None and fingerprints:
                facts.append(gettext("distance %(d)s") % {"d": f"{hash_distance(pdq, fingerprints[0].dihedral)}/256"})
            if fingerprints:
                facts.append(gettext("quality %(q)d") % {"q": fingerprints[0].quality})
            figures.append((rumor_image_tag(attachment), " · ".join(facts)))
        rumor_pictures = format_html_join(
            "",
            '<figure class="rumor-figure" style="display:inline-block;max-width:100%;margin:0 1em 1em 0;'
            'vertical-align:top">{}'
            "<figcaption><small>{}</small></figcaption></figure>",
            figures,
        ) or format_html("<p><em>{}</em></p>", gettext("The rumor has no image."))
        if post.image:
            post_picture = post_image_tag(post, "m")
        else:
            post_picture = format_html("<p><em>{}</em></p>", gettext("The post kept no image."))
        post_facts = format_html(
            '<p class="post-image-facts"><small>SHA-256 <code>{}</code><br>PDQ <code>{}</code> · {}</small></p>',
            post.image_sha256 or "—",
            pdq.hex() if pdq is not None else "—",
            gettext("quality %(q)s") % {"q": post.image_quality if post.image_quality is not None else "—"},
        )
        if obj.via == Match.Via.OCR:
            read_html, rumor_text_html = self._texts_compared(post.ocr_text, rumor, _terms(obj))
        else:
            read_html = post.ocr_text
            rumor_text_html = format_html_join(
                "",
                '<p><strong>{}</strong><br><span style="white-space:pre-wrap">{}</span></p>',
                self._rumor_texts(rumor),
            )
        post_texts = []
        if post.text.strip():
            post_texts.append((gettext("text sent with the post"), post.text))
        if post.ocr_text.strip():
            post_texts.append((gettext("text read from the image"), read_html))
        post_text_html = format_html_join(
            "",
            '<p><strong>{}</strong><br><span class="post-text" style="white-space:pre-wrap">{}</span></p>',
            post_texts,
        )
        return format_html(
            '<table class="match-comparison match-images" style="width:100%;table-layout:fixed"><thead><tr>'
            "<th>{}</th><th>{}</th></tr></thead><tbody><tr>"
            '<td style="vertical-align:top">{}{}{}</td>'
            '<td style="vertical-align:top">{}{}</td></tr></tbody></table>',
            gettext("post"),
            gettext("rumor"),
            post_picture,
            post_facts,
            post_text_html,
            rumor_pictures,
            rumor_text_html,
        )

    # --- decisions --------------------------------------------------------------------------------------------------

    def _decide_each(self, request: HttpRequest, queryset: QuerySet, decision: str) -> None:
        """Run the service per selected match; matches asking the same question (same text, or same picture) are
        decided together, so count them once."""
        service = suspect_services.match_confirm if decision == "confirm" else suspect_services.match_reject
        selected = list(queryset.select_related("post", "rumor"))
        ids = {m.pk for m in selected}
        covered: set[int] = set()
        decided, added, failed = 0, {"text": 0, "image": 0}, []
        kinds: set[str] = set()
        for match in selected:
            if match.pk in covered:
                continue
            kind = "image" if suspect_services.is_image_match(match) else "text"
            try:
                result = service(match=match, by=request.user)
            except (ValidationError, PermissionDenied) as exc:
                label = Truncator(match.post.text).chars(30) or f"#{match.post_id}"
                failed.append(f"«{label}» → {match.rumor}: {error_text(exc)}")
                continue
            same = set(
                Match.objects.filter(
                    pk__in=ids, rumor_id=match.rumor_id, decided_at=match.decided_at, decided_by=request.user
                ).values_list("pk", flat=True)
            )
            covered |= same
            decided += len(same)
            kinds.add(kind)
            if decision == "confirm" and result is not None:
                added[kind] += 1
        if decided and decision == "confirm":
            if added["image"] or "image" in kinds:
                done = gettext(
                    "Confirmed %(n)d suspected match(es); %(v)d new variant(s) and %(i)d new rumor image(s) added."
                )
            else:
                done = gettext("Confirmed %(n)d suspected match(es); %(v)d new variant(s) added.")
            self.message_user(request, done % {"n": decided, "v": added["text"], "i": added["image"]}, messages.SUCCESS)
        elif decided:
            if kinds == {"text"}:
                done = gettext("Rejected %(n)d suspected match(es); their texts are allow-listed.")
            elif kinds == {"image"}:
                done = gettext("Rejected %(n)d suspected match(es); their images are allow-listed.")
            else:
                done = gettext("Rejected %(n)d suspected match(es); their texts and images are allow-listed.")
            self.message_user(request, done % {"n": decided}, messages.SUCCESS)
        for failure in failed:
            self.message_user(request, failure, messages.ERROR)

    @admin.action(description=_("Confirm: add as variants (or rumor images)"), permissions=["review"])
    def confirm_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide_each(request, queryset, "confirm")

    @admin.action(description=_("Reject: allow-list these texts (or images)"), permissions=["review"])
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
        if decision == "reject":
            done = gettext("Rejected.")
        elif suspect_services.is_image_match(match):
            done = gettext("Confirmed: the image is now one of the rumor's images.")
        else:
            done = gettext("Confirmed: the text is now a variant.")
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
        context["image_match"] = bool(obj and suspect_services.is_image_match(obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- permissions: decisions only, never edits --------------------------------------------------------------------

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(suspect_services.DECIDE_PERM)


@admin.register(Post)
class PostAdmin(ReadOnlyAdmin):
    """Posts platforms reported: the archive (POST /posts) and posts queued as suspected matches; read-only.

    An image post's picture is shown through this admin's own views (`image_view`, `preview_view`): private."""

    list_display = ["text_short", "platform", "platform_post_id", "posted_at", "archived", "created_at"]
    list_filter = [("platform", admin.RelatedOnlyFieldListFilter), "archived"]
    search_fields = ["=platform_post_id", "=author_hash", "=image_sha256", "text"]
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
    image_fields = ["image_display", "image_sha256", ("image_pdq_display", "image_quality"), "ocr_text"]
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
        "image_display",
        "image_sha256",
        "image_pdq_display",
        "image_quality",
        "ocr_text",
    ]

    def get_fields(self, request: HttpRequest, obj: Post | None = None) -> list:
        """The picture's rows only for a post that came with one (most posts are text)."""
        if obj is not None and (obj.image or obj.image_sha256):
            return [*self.fields[:4], *self.image_fields, *self.fields[4:]]
        return self.fields

    @admin.display(description=_("exposures"))
    def exposures_display(self, obj: Post) -> str:
        counts = obj.exposures.values_list("interaction").annotate(n=Count("pk")).order_by("interaction")
        rows = [(Interaction(i).label, n) for i, n in counts]
        return format_html_join(" · ", "{}: {}", rows) or "—"

    @admin.display(description=_("text"), ordering="text")
    def text_short(self, obj: Post) -> str:
        text = " ".join(obj.text.split())
        if not text and obj.image:
            return f"[{gettext('image')}]"
        return Truncator(text).chars(80)

    @admin.display(description=_("matches"))
    def matches_display(self, obj: Post) -> str:
        rows = [
            (
                reverse("admin:debunk_match_change", args=[m.pk]),
                m.rumor,
                m.get_status_display(),
                m.get_via_display(),
                match_score(m),
            )
            for m in obj.matches.select_related("rumor")
        ]
        return format_html_join("", '<p><a href="{}">{}</a> — {} ({}, {})</p>', rows) or "—"

    @admin.display(description=_("image"))
    def image_display(self, obj: Post) -> str:
        return post_image_tag(obj, "m") if obj.image else "—"

    @admin.display(description=_("image PDQ hash"))
    def image_pdq_display(self, obj: Post) -> str:
        if obj.image_pdq is None:
            return "—"
        return format_html("<code style='font-size:11px'>{}</code>", bytes(obj.image_pdq).hex())

    # --- the private pictures -----------------------------------------------------------------------------------------

    def get_urls(self) -> list:
        """Cacheable (the admin's views are never-cache by default): `_private` sets what a browser may keep."""
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/image/",
                self.admin_site.admin_view(require_GET(self.image_view), cacheable=True),
                name="%s_%s_image" % info,
            ),
            path(
                "<path:object_id>/preview/",
                self.admin_site.admin_view(require_GET(self.preview_view), cacheable=True),
                name="%s_%s_preview" % info,
            ),
        ] + super().get_urls()

    def _post_with_image(self, request: HttpRequest, object_id: str) -> Post:
        if not may_see_post_images(request.user):
            raise PermissionDenied
        if not object_id.isdigit():
            raise Http404
        post = get_object_or_404(Post, pk=int(object_id))
        if not post.image:
            raise Http404(gettext("This post has no image."))
        return post

    def image_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The post's picture as the platform sent it, to staff who may view posts or matches."""
        post = self._post_with_image(request, object_id)
        etag = f'"{post.image_sha256 or post.image.name}"'
        if _not_modified(request, etag):
            return _private(HttpResponseNotModified(), etag)
        extension = post.image.name.rsplit(".", 1)[-1].lower()
        try:
            stored = post.image.open("rb")
        except OSError as exc:
            raise Http404(gettext("The image file is missing.")) from exc
        response = FileResponse(
            stored,
            content_type=IMAGE_TYPES.get(extension, "application/octet-stream"),
            filename=f"post-{post.pk}.{extension}",
        )
        return _private(response, etag)

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A small JPEG of the post's picture, decoded safely on the fly (`?size=s` for a list, `m` for a page)."""
        size = request.GET.get("size", "m")
        if size not in PREVIEW_SIDES:
            return HttpResponseBadRequest(gettext("Unknown preview size: use size=s or size=m."))
        post = self._post_with_image(request, object_id)
        etag = f'"{post.image_sha256 or post.pk}-{size}"'
        if _not_modified(request, etag):
            return _private(HttpResponseNotModified(), etag)
        try:
            with post.image.open("rb") as stored:
                data = stored.read(query_limits().max_bytes + 1)
            preview = preview_jpeg(data, PREVIEW_SIDES[size])
        except (OSError, ImageRejected) as exc:
            raise Http404(gettext("The image cannot be shown.")) from exc
        return _private(HttpResponse(preview, content_type="image/jpeg"), etag)


def _not_modified(request: HttpRequest, etag: str) -> bool:
    return etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]


def _private(response: HttpResponse, etag: str) -> HttpResponse:
    """Cached by the reviewer's browser only, never sniffed into something else, never a page of its own."""
    response["ETag"] = etag
    response["Cache-Control"] = PRIVATE_CACHE
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@admin.register(AllowListEntry)
class AllowListEntryAdmin(admin.ModelAdmin):
    """Texts and pictures judged not to carry a rumor; reviewers delete an entry to undo the allow-listing."""

    list_display = ["rumor_display", "text_display", "hash_short", "created_by", "created_at"]
    list_filter = [("rumor", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["rumor__claim", "=exact_hash"]
    list_select_related = ["rumor", "created_by"]
    fields = ["rumor_display", "text_display", "exact_hash", ("created_by", "created_at")]
    readonly_fields = ["rumor_display", "text_display", "exact_hash", "created_by", "created_at"]

    @admin.display(description=_("rumor"), ordering="rumor")
    def rumor_display(self, obj: AllowListEntry) -> str:
        return _rumor_link(obj.rumor)

    @admin.display(description=_("allow-listed text or image"))
    def text_display(self, obj: AllowListEntry) -> str:
        listed = suspect_services.allow_listed(obj)
        if listed.kind == "text":
            return Truncator(listed.text).chars(120) or "—"
        post = Post.objects.filter(pk=listed.post_id).exclude(image="").first() if listed.post_id else None
        label = format_html('<strong class="allow-listed-image">{}</strong>', gettext("Image"))
        if post is None:
            return format_html("{} <small>({})</small>", label, gettext("the post is gone; its SHA-256 is kept"))
        return format_html(
            '{} <a href="{}">{}</a>',
            label,
            reverse("admin:debunk_post_change", args=[post.pk]),
            post_image_tag(post, "s", link=False),
        )

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
