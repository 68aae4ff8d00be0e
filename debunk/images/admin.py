"""A rumor's image fingerprints, read-only on its admin page (derived data: `images_reindex` recomputes them)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from debunk.images.models import ImageFingerprint


class ImageFingerprintInline(admin.TabularInline):
    model = ImageFingerprint
    extra = 0
    can_delete = False
    fields = ["preview", "attachment", "algorithm", "hash_hex", "quality", "size", "ocr_text", "created_at"]
    readonly_fields = fields
    verbose_name_plural = _("image fingerprints (computed from the rumor's images)")

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("attachment")

    @admin.display(description=_("preview"))
    def preview(self, obj: ImageFingerprint) -> str:
        thumbnail = obj.attachment.thumbnail
        return format_html('<img src="{}" alt="" style="max-height:60px">', thumbnail.url) if thumbnail else "—"

    @admin.display(description=_("PDQ hash"))
    def hash_hex(self, obj: ImageFingerprint) -> str:
        return format_html("<code style='font-size:11px'>{}</code>", obj.pdq_hex)

    @admin.display(description=_("size"))
    def size(self, obj: ImageFingerprint) -> str:
        return f"{obj.width} × {obj.height}"

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("debunk.view_rumor")  # whoever sees the rumor sees its images' hashes

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
