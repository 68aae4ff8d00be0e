"""Keeping the stored fingerprints of rumor images in step with the attachments.

Derived data, like the text fingerprints (`debunk.matching.fingerprints`): no audit event. Called inside the
stock services' transactions (an attachment added, a rumor published) and by `images_reindex`. Every picture goes
through `debunk.images.pipeline.fingerprint_image`, the path queries take too. A stored file that cannot be read
or decoded is logged and skipped: it never fails a publish or an upload.
"""

import io
import logging
from concurrent.futures import ThreadPoolExecutor, TimeoutError
from dataclasses import dataclass

from django.conf import settings
from PIL import Image

from debunk.images.decode import ImageLimits, ImageRejected, decode_image
from debunk.images.hashing import HASH_BYTES, hamming
from debunk.images.index import ImageHit
from debunk.images.models import ImageFingerprint
from debunk.images.ocr import OcrResult, get_engine, ocr
from debunk.images.pipeline import ALGORITHM, ImagePrint, fingerprint_image
from debunk.images.serving import current_image_index
from debunk.stock.models import Attachment, Rumor

logger = logging.getLogger("debunk.images")


@dataclass
class SyncResult:
    computed: int = 0  # fingerprints (re)computed
    kept: int = 0  # already stored with the current algorithm
    removed: int = 0  # of attachments that are gone or no longer rumor images, or of an older algorithm
    skipped: int = 0  # unreadable files (logged)

    def add(self, other: "SyncResult") -> None:
        self.computed += other.computed
        self.kept += other.kept
        self.removed += other.removed
        self.skipped += other.skipped


def stock_limits() -> ImageLimits:
    """Limits for the stock's own files: they passed the upload checks, but a re-encoded PNG may be a little larger
    than its upload, so the byte limit has some room."""
    return ImageLimits(max_bytes=4 * settings.UPLOAD_MAX_BYTES, max_pixels=settings.UPLOAD_MAX_PIXELS)


def is_rumor_image(attachment: Attachment) -> bool:
    return attachment.role == Attachment.Role.RUMOR_IMAGE and attachment.kind == Attachment.Kind.IMAGE


def attachment_fingerprint_sync(attachment: Attachment, *, force: bool = False) -> SyncResult:
    """Store the fingerprint of one attachment if it is a rumor image (recomputed only if missing or `force`)."""
    result = SyncResult()
    stale = ImageFingerprint.objects.filter(attachment=attachment)
    if is_rumor_image(attachment):
        stale = stale.exclude(algorithm=ALGORITHM)
    result.removed = stale.delete()[0]
    if not is_rumor_image(attachment):
        return result
    if not force and ImageFingerprint.objects.filter(attachment=attachment, algorithm=ALGORITHM).exists():
        result.kept = 1
        return result
    try:
        with attachment.file.open("rb") as stored:
            data = stored.read(stock_limits().max_bytes + 1)
        fp = fingerprint_image(data, limits=stock_limits())
    except (OSError, ValueError) as exc:  # ImageRejected is a ValueError; a missing file an OSError
        code = exc.code if isinstance(exc, ImageRejected) else type(exc).__name__
        logger.warning(
            "image fingerprint skipped: attachment %s of rumor %s (%s) cannot be read: %s: %s",
            attachment.pk,
            attachment.rumor_id,
            attachment.file.name,
            code,
            exc,
        )
        result.skipped = 1
        return result
    row, _ = ImageFingerprint.objects.update_or_create(
        attachment=attachment,
        algorithm=ALGORITHM,
        defaults={
            "rumor_id": attachment.rumor_id,
            "pdq": fp.pdq.bits,
            "quality": fp.quality,
            "dihedral": fp.dihedral_bits(),
            "width": fp.width,
            "height": fp.height,
        },
    )
    if settings.IMAGE_OCR_STOCK:
        from debunk.core.outbox import enqueue
        from debunk.images.tasks import read_rumor_image_task

        enqueue(read_rumor_image_task, row.pk)  # seconds of OCR: after the commit, in a worker
    result.computed = 1
    return result


def rumor_image_read(fingerprint_id: int) -> str:
    """Store the text of a rumor image (OCR), shown with its fingerprint. Idempotent; a fingerprint gone meanwhile
    or an unreadable file is skipped (logged)."""
    row = ImageFingerprint.objects.select_related("attachment").filter(pk=fingerprint_id).first()
    if row is None:
        return "gone"
    try:
        with row.attachment.file.open("rb") as stored:
            data = stored.read(stock_limits().max_bytes + 1)
        text = ocr(decode_image(data, limits=stock_limits()).array()).text
    except (OSError, ValueError) as exc:
        logger.warning("rumor image %s not read: %s", fingerprint_id, exc)
        return "unreadable"
    ImageFingerprint.objects.filter(pk=row.pk).update(ocr_text=text.replace("\x00", ""))
    return "read"


def image_fingerprints_sync(rumor: Rumor, *, force: bool = False) -> SyncResult:
    """Fingerprints for every image of the rumor (attachments of role "image of the rumor"), computing the missing
    ones (all of them with `force`) and dropping those of attachments that are no longer its images. Idempotent."""
    images = [a for a in rumor.attachments.all() if is_rumor_image(a)]
    result = SyncResult()
    result.removed = (
        ImageFingerprint.objects.filter(rumor=rumor).exclude(attachment__in=[a.pk for a in images]).delete()[0]
    )
    for attachment in images:
        result.add(attachment_fingerprint_sync(attachment, force=force))
    return result


# ---- query images: what the match API reads from a platform's picture ---------------------------------------


@dataclass(frozen=True)
class QueryImage:
    """An image a platform sent, checked and hashed (its bytes kept for OCR and for the suspected queue)."""

    data: bytes
    print: ImagePrint


def query_limits() -> ImageLimits:
    return ImageLimits(max_bytes=settings.UPLOAD_MAX_BYTES, max_pixels=settings.UPLOAD_MAX_PIXELS)


def query_image(data: bytes) -> QueryImage:
    """Check and hash an untrusted image; `decode.ImageRejected` (with its `code`) for anything that is not a
    picture within the limits. Nothing is stored."""
    return QueryImage(data, fingerprint_image(data, limits=query_limits()))


def hash_hits(image: QueryImage) -> list[ImageHit]:
    """The rumors with an image within IMAGE_HASH_REVIEW_DISTANCE of this one, nearest first; none for a picture
    whose hash is not trusted (quality under IMAGE_HASH_MIN_QUALITY: a flat picture looks like every other)."""
    if image.print.quality < settings.IMAGE_HASH_MIN_QUALITY:
        return []
    return current_image_index().query(image.print.pdq, settings.IMAGE_HASH_REVIEW_DISTANCE)


def read_text(data: bytes) -> OcrResult:
    """The text in an image (OCR, tall screenshots in tiles), decoded at full size under the query limits."""
    return ocr(decode_image(data, limits=query_limits()).array())


def reader_warm_up() -> None:
    """At process start (debunk.wsgi) with IMAGE_OCR on: load the OCR models (about a second), so that the first
    image to read does not pay for it within its budget. Never fails the start."""
    if not settings.IMAGE_OCR:
        return
    try:
        get_engine()
    except Exception as exc:  # an image is then read without OCR's help until the models load
        logger.warning("OCR models not loaded at start: %s", exc)


_reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocr")  # one OCR engine per process, one at a time


def read_text_within(data: bytes, budget: float) -> OcrResult | None:
    """read_text if it finishes within `budget` seconds (counting the wait behind this process's other OCR); None
    otherwise (the reading goes on in the background and its result is dropped: the caller hands the image to a
    match job instead)."""
    future = _reader.submit(read_text, data)
    try:
        return future.result(timeout=budget)
    except TimeoutError:
        return None
    except Exception:  # the engine failed on this picture: answer from its hash alone, never a 500
        logger.exception("OCR failed on a query image")
        return OcrResult(text="", lines=(), seconds=0.0)


# ---- showing pictures to reviewers ------------------------------------------------------------------------------


def preview_jpeg(data: bytes, side: int) -> bytes:
    """A small JPEG of an untrusted picture (a post's), for the reviewers' pages: decoded by the safe decoder under
    the query limits (a JPEG at reduced size, in its DCT), upright, fitted within side x side. `ImageRejected` for
    anything the match API would have refused."""
    image = decode_image(data, limits=query_limits(), draft_side=side).image
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def hash_distance(pdq: bytes, dihedral: bytes) -> int:
    """Bits (of 256) between a picture's PDQ hash and the nearest of a rumor image's 8 dihedral hashes: the distance
    the image index measures, so a mirrored copy is as near as the index found it."""
    return min(hamming(bytes(pdq), bytes(dihedral[k : k + HASH_BYTES])) for k in range(0, len(dihedral), HASH_BYTES))


__all__ = [
    "QueryImage",
    "SyncResult",
    "attachment_fingerprint_sync",
    "hash_distance",
    "hash_hits",
    "image_fingerprints_sync",
    "is_rumor_image",
    "preview_jpeg",
    "query_image",
    "query_limits",
    "read_text",
    "read_text_within",
    "reader_warm_up",
    "rumor_image_read",
    "stock_limits",
]
