"""Evidence uploads, checked by what they contain rather than by their name.

Images go through the safe decoder (`debunk.images.decode`: size, pixel and frame limits from the header,
decompression bombs refused, EXIF orientation applied); they are
re-encoded without EXIF (which can carry GPS positions) and get a thumbnail. Documents must be PDF or
UTF-8 text. Every stored file keeps its SHA-256, and the upload's own hash is kept too.

Stored attachments are immutable. Evidence of a rumor that has been published is never deleted (it backs a
public verdict): a better piece is added beside it. Other attachments can be removed, with an audit event.
"""

import hashlib
import io
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.utils.translation import gettext as _
from PIL import UnidentifiedImageError

from debunk.core.audit import audit_record, removal
from debunk.core.roles import require_perm
from debunk.corrections import services as corrections
from debunk.images.decode import ImageLimits, ImageRejected, open_image
from debunk.images.services import attachment_fingerprint_sync, is_rumor_image
from debunk.matching.fingerprints import index_bump
from debunk.stock.models import Attachment, Rumor

IMAGE_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}
THUMBNAIL_SIZE = (320, 320)


@dataclass(frozen=True)
class CheckedUpload:
    kind: str
    content: bytes
    content_type: str
    extension: str
    original_name: str
    original_sha256: str
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None


def check_upload(upload: IO[bytes], name: str = "") -> CheckedUpload:
    """Validate an uploaded file by content; raises ValidationError with a message for the user."""
    max_bytes = settings.UPLOAD_MAX_BYTES
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValidationError(
            _("The file is larger than %(mb)s MB.") % {"mb": max_bytes // (1024 * 1024)}, code="too_large"
        )
    if not data:
        raise ValidationError(_("The file is empty."), code="empty")
    name = PurePath(name or getattr(upload, "name", "") or "upload").name[:255]
    original_sha256 = hashlib.sha256(data).hexdigest()
    if data.startswith(b"%PDF-"):
        return CheckedUpload("document", data, "application/pdf", "pdf", name, original_sha256)
    try:
        return _check_image(data, name, original_sha256)
    except UnidentifiedImageError:
        pass
    if b"\x00" not in data[:4096]:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return CheckedUpload("document", data, "text/plain; charset=utf-8", "txt", name, original_sha256)
    raise ValidationError(_("Upload an image (JPEG, PNG, GIF, WebP), a PDF or a UTF-8 text file."), code="unsupported")


def _check_image(data: bytes, name: str, original_sha256: str) -> CheckedUpload:
    """Decode with the safe decoder (limits from the header, bombs refused), keeping the image's own mode."""
    max_pixels = settings.UPLOAD_MAX_PIXELS
    limits = ImageLimits(max_bytes=len(data), max_pixels=max_pixels, formats=frozenset(IMAGE_FORMATS))
    try:
        image, facts = open_image(data, limits=limits)
    except ImageRejected as exc:
        if exc.code in ("not_an_image", "looks_like_a_url"):  # maybe a text document: the caller decides
            raise UnidentifiedImageError(exc.message) from exc
        if exc.code == "too_many_pixels":
            message = _("The image has too many pixels (at most %(max)s).") % {"max": f"{max_pixels:,}"}
        elif exc.code == "too_many_frames":
            message = _("The animation has too many frames (at most %(max)s).") % {"max": f"{limits.max_frames:,}"}
        elif exc.code == "unsupported_format":
            raise ValidationError(_("Images must be JPEG, PNG, GIF or WebP."), code="unsupported_image") from exc
        else:
            raise ValidationError(_("The image is damaged or truncated."), code="broken_image") from exc
        raise ValidationError(message, code=exc.code) from exc
    fmt = facts.format
    content_type, extension = IMAGE_FORMATS[fmt]
    clean = io.BytesIO()
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    image.save(clean, format=fmt)  # re-encoding drops EXIF and other metadata
    thumb = image.copy()
    thumb.thumbnail(THUMBNAIL_SIZE)
    if thumb.mode not in ("RGB", "L"):
        thumb = thumb.convert("RGB")
    thumb_bytes = io.BytesIO()
    thumb.save(thumb_bytes, format="JPEG", quality=85)
    return CheckedUpload(
        "image",
        clean.getvalue(),
        content_type,
        extension,
        name,
        original_sha256,
        image.width,
        image.height,
        thumb_bytes.getvalue(),
    )


def attachment_add(
    *,
    rumor: Rumor,
    by: Any,
    upload: IO[bytes],
    name: str = "",
    role: str = Attachment.Role.EVIDENCE,
    caption: str = "",
    checked: CheckedUpload | None = None,
) -> Attachment:
    """Store a checked upload against a rumor (pass `checked` when a form has already validated it)."""
    require_perm(by, "debunk.add_attachment")
    checked = checked or check_upload(upload, name)
    sha256 = hashlib.sha256(checked.content).hexdigest()
    attachment = Attachment(
        rumor=rumor,
        kind=checked.kind,
        role=role,
        caption=caption,
        original_name=checked.original_name,
        content_type=checked.content_type,
        size=len(checked.content),
        width=checked.width,
        height=checked.height,
        sha256=sha256,
        original_sha256=checked.original_sha256,
        uploaded_by=by,
    )
    attachment.file.save(f"{sha256[:16]}.{checked.extension}", ContentFile(checked.content), save=False)
    if checked.thumbnail:
        attachment.thumbnail.save(f"{sha256[:16]}.jpg", ContentFile(checked.thumbnail), save=False)
    try:
        with transaction.atomic():
            attachment.full_clean()
            attachment.save()
            hashed = attachment_fingerprint_sync(attachment)  # a rumor image is hashed now (its row goes by cascade)
            if _image_index_bump(attachment) and hashed.computed:
                corrections.schedule_rumor_published(rumor_id=rumor.pk)  # archived image posts may carry it
            audit_record(
                actor=by,
                action="attachment.add",
                target=attachment,
                changes={"file": [None, attachment.file.name], "sha256": [None, sha256]},
            )
    except Exception:
        attachment.file.delete(save=False)
        if attachment.thumbnail:
            attachment.thumbnail.delete(save=False)
        raise
    return attachment


def _image_index_bump(attachment: Attachment) -> bool:
    """An image of a published rumor added or removed changes what the image index matches: serving processes
    pick it up within seconds, like a publish. True if it did."""
    if is_rumor_image(attachment) and attachment.rumor.status == Rumor.Status.PUBLISHED:
        index_bump(attachment.rumor)
        return True
    return False


def attachment_check_removable(attachment: Attachment) -> None:
    """Refuse deleting evidence of a rumor that has been published (even if since retracted or expired)."""
    rumor = attachment.rumor
    published = rumor.published_at is not None or rumor.status == Rumor.Status.PUBLISHED
    if published and attachment.role == Attachment.Role.EVIDENCE:
        raise ValidationError(
            _("Evidence of a published rumor is never deleted: add the new evidence beside it."),
            code="published_evidence",
        )


def attachment_remove(*, attachment: Attachment, by: Any) -> None:
    """Delete an attachment that is not published evidence; its files go once the deletion has committed."""
    require_perm(by, "debunk.delete_attachment")
    attachment_check_removable(attachment)
    files = [f for f in (attachment.file, attachment.thumbnail) if f]
    with transaction.atomic():
        audit_record(actor=by, action="attachment.remove", target=attachment, changes=removal(attachment))
        attachment.delete()
        _image_index_bump(attachment)
        for stored in files:
            if not Attachment.objects.filter(models.Q(file=stored.name) | models.Q(thumbnail=stored.name)).exists():
                transaction.on_commit(lambda f=stored: f.storage.delete(f.name), robust=True)
