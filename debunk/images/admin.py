"""A rumor's images and their fingerprints, read-only on its admin page (derived data: `images_reindex` recomputes
them): what the image index matches posts' pictures against."""

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from debunk.images.models import ImageFingerprint


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
