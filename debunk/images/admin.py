"""Image matching in the admin: a rumor's images and their fingerprints, read-only on its page (derived data:
`images_reindex` recomputes them; what the image index matches posts' pictures against), and the match jobs,
read-only (only `debunk.images.jobs` writes them)."""

import json
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from debunk.core.admin_readonly import ReadOnlyAdmin
from debunk.images.models import ImageFingerprint, MatchJob, MatchJobNotice


class ImageFingerprintInline(admin.TabularInline):
    model = ImageFingerprint
    extra = 0
    can_delete = False
    fields = ["preview", "attachment", "algorithm", "hash_hex", "quality_display", "size", "ocr_display", "created_at"]
    readonly_fields = fields
    verbose_name_plural = _("images of the rumor and their fingerprints (what posts' pictures are matched against)")

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("attachment")

    @admin.display(description=_("preview"))
    def preview(self, obj: ImageFingerprint) -> str:
        attachment = obj.attachment
        if not attachment.thumbnail:
            return "—"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="" class="rumor-image"'
            ' style="max-height:120px;max-width:160px"></a>',
            attachment.file.url,
            attachment.thumbnail.url,
        )

    @admin.display(description=_("PDQ hash"))
    def hash_hex(self, obj: ImageFingerprint) -> str:
        return format_html("<code style='font-size:11px;word-break:break-all'>{}</code>", obj.pdq_hex)

    @admin.display(description=_("quality"), ordering="quality")
    def quality_display(self, obj: ImageFingerprint) -> str:
        """PDQ's own quality (0-100); under IMAGE_HASH_MIN_QUALITY the hash says little and is not indexed."""
        if obj.quality < settings.IMAGE_HASH_MIN_QUALITY:
            return format_html(
                '{} <small class="low-quality" style="color:#c62828">({})</small>',
                obj.quality,
                gettext("too flat: not matched by hash"),
            )
        return str(obj.quality)

    @admin.display(description=_("size"))
    def size(self, obj: ImageFingerprint) -> str:
        return f"{obj.width} × {obj.height}"

    @admin.display(description=_("OCR text"))
    def ocr_display(self, obj: ImageFingerprint) -> str:
        if not obj.ocr_text.strip():
            return "—"
        return format_html('<span class="ocr-text" style="white-space:pre-wrap">{}</span>', obj.ocr_text)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("debunk.view_rumor")  # whoever sees the rumor sees its images' hashes

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _pretty(value: Any) -> str:
    if value is None:
        return "—"
    text = json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
    return format_html('<pre style="white-space:pre-wrap;margin:0">{}</pre>', text)


@admin.register(MatchJob)
class MatchJobAdmin(ReadOnlyAdmin):
    """Match answers given later (images read after the request): what was asked, what was answered, and whether
    the platform got it (`match.completed` webhook)."""

    list_display = ["id", "platform", "status", "items_count", "created_at", "finished_at", "attempts"]
    list_filter = ["status", "platform"]
    list_select_related = ["platform"]
    search_fields = ["=id"]
    fields = [
        ("platform", "status", "lang"),
        ("created_at", "finished_at", "attempts"),
        "error",
        "notice_state",
        "items_pretty",
        "results_pretty",
    ]
    readonly_fields = [
        "platform",
        "status",
        "lang",
        "created_at",
        "finished_at",
        "attempts",
        "error",
        "notice_state",
        "items_pretty",
        "results_pretty",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("platform")

    @admin.display(description=_("items"))
    def items_count(self, obj: MatchJob) -> int:
        return len(obj.items or [])

    @admin.display(description=_("requested items"))
    def items_pretty(self, obj: MatchJob) -> str:
        return _pretty(obj.items)

    @admin.display(description=_("results"))
    def results_pretty(self, obj: MatchJob) -> str:
        return _pretty(obj.results)

    @admin.display(description=_("webhook"))
    def notice_state(self, obj: MatchJob) -> str:
        try:
            notice = obj.notice
        except MatchJobNotice.DoesNotExist:
            return gettext("not yet (sent when the job is finished)")
        return gettext("%(status)s, %(attempts)d attempt(s), last HTTP status %(code)s, webhook-id %(id)s") % {
            "status": notice.get_status_display(),
            "attempts": notice.attempts,
            "code": notice.last_status_code or "—",
            "id": notice.message_id,
        }
