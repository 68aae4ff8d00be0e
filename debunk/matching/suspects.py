"""Deciding the suspected-match queue: confirm (the post's text becomes a variant, so it then matches
automatically) or reject (the text is allow-listed, so it stops matching that rumor).

A match found through the post's picture (by its hash or by the text read in it) is a question about the picture,
not about the text sent with it: confirming adds the picture to the rumor's images (its copies then match by hash),
rejecting allow-lists the picture's SHA-256 for the rumor (the match service checks image requests against it), so
that same file stops matching that rumor while other rumors and other pictures are unaffected.

A decision covers every suspected match of the same rumor that asks the same question: posts with the same
normalised text (matches via text), or with the same picture (matches via the picture, by SHA-256). Each function
validates first, then writes in one transaction with its audit events, so a refused decision leaves nothing
behind. The allow-list is read on every match request, so rejecting needs no index bump; confirming bumps it
through `variant_add` or `attachment_add`.
"""

import io
from dataclasses import dataclass, replace
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from debunk.core.audit import audit_record
from debunk.core.models import AuditEvent
from debunk.core.roles import require_perm
from debunk.images.decode import ImageRejected, decode_image
from debunk.images.services import query_limits
from debunk.matching.fingerprint import exact_hash
from debunk.matching.models import AllowListEntry, Fingerprint, Match, Post
from debunk.matching.normalize import normalize
from debunk.stock import rumors as rumor_services
from debunk.stock.attachments import attachment_add, check_upload
from debunk.stock.models import Attachment, RumorVariant

DECIDE_PERM = "debunk.review_rumor"  # a decision changes what matches: reviewers only
IMAGE_VIAS = (Match.Via.IMAGE_HASH, Match.Via.OCR)  # matches found through the post's picture


def is_image_match(match: Match) -> bool:
    """Whether the decision on this match is about the post's picture rather than its text."""
    return match.via in IMAGE_VIAS


def text_hash(text: str) -> str:
    """The exact hash of a text's normalised form: what allow-list entries and fingerprints compare."""
    return exact_hash(normalize(text).text)


def _check_suspected(match: Match) -> None:
    if match.status != Match.Status.SUSPECTED:
        raise ValidationError(
            _("This match has already been decided (%(status)s).") % {"status": Match.Status(match.status).label},
            code="already_decided",
        )


def _rumor_has_text(match: Match, text: str, digest: str) -> bool:
    """Whether the rumor's claim or one of its variants already is this text (after normalisation)."""
    rumor = match.rumor
    return (
        text == rumor.claim.strip()
        or rumor.variants.filter(text=text).exists()
        or Fingerprint.objects.filter(rumor=rumor, exact_hash=digest).exists()
    )


def _lock_same_text(match: Match, digest: str) -> list[Match]:
    """Lock the match and the rumor's other suspected matches via text with the same normalised text; match first.

    Matches found through a picture are left out: allow-listing or adding a text does not answer them."""
    locked = Match.objects.select_for_update(of=("self",)).select_related("post").get(pk=match.pk)
    _check_suspected(locked)  # a concurrent decision may have got there first
    others = (
        Match.objects.select_for_update(of=("self",))
        .select_related("post")
        .filter(rumor_id=match.rumor_id, status=Match.Status.SUSPECTED)
        .exclude(via__in=IMAGE_VIAS)
        .exclude(pk=match.pk)
        .order_by("pk")
    )
    return [locked, *(m for m in others if text_hash(m.post.text) == digest)]


def _lock_same_image(match: Match, sha256: str) -> list[Match]:
    """Lock the match and the rumor's other suspected matches found through the same picture (SHA-256); match
    first. A post with the same text but another picture is another question."""
    locked = Match.objects.select_for_update(of=("self",)).select_related("post").get(pk=match.pk)
    _check_suspected(locked)
    others = (
        Match.objects.select_for_update(of=("self",))
        .select_related("post")
        .filter(rumor_id=match.rumor_id, status=Match.Status.SUSPECTED, via__in=IMAGE_VIAS, post__image_sha256=sha256)
        .exclude(pk=match.pk)
        .order_by("pk")
    )
    return [locked, *others]


def _post_image_sha256(match: Match) -> str:
    """The SHA-256 of the picture a match via the image is about; refused when the post kept no picture."""
    post = match.post
    if not (post.image and post.image_sha256):
        raise ValidationError(
            _("This match was found through the post's image, but the post kept no image: nothing to decide on."),
            code="no_image",
        )
    return post.image_sha256


def _rumor_images_with(rumor_id: int, sha256: str) -> Any:
    """The rumor's images whose stored file or original upload is this file (attachments are re-encoded, so a
    picture added from a post keeps the post's hash as its upload's)."""
    return Attachment.objects.filter(
        Q(sha256=sha256) | Q(original_sha256=sha256),
        rumor_id=rumor_id,
        role=Attachment.Role.RUMOR_IMAGE,
        kind=Attachment.Kind.IMAGE,
    )


def _decide(matches: list[Match], *, by: Any, status: str, action: str, reason: str = "", **changes: Any) -> None:
    now = timezone.now()
    for m in matches:
        m.status, m.decided_by, m.decided_at = status, by, now
        m.save(update_fields=["status", "decided_by", "decided_at"])
        audit_record(
            actor=by,
            action=action,
            target=m,
            changes={"status": [Match.Status.SUSPECTED.value, status], **changes},
            reason=reason,
        )


def _copy_decision(source: Match, target: Match) -> None:
    target.status, target.decided_by, target.decided_at = source.status, source.decided_by, source.decided_at


def match_confirm(*, match: Match, by: Any) -> RumorVariant | Attachment | None:
    """The post carries the rumor: add its text as a variant, or for a match found through its picture, the
    picture as an image of the rumor (None when the rumor already has that text or picture)."""
    if is_image_match(match):
        return _confirm_image(match, by)
    require_perm(by, DECIDE_PERM)
    require_perm(by, "debunk.add_rumorvariant")
    _check_suspected(match)
    text = match.post.text.strip()
    digest = text_hash(text)
    with transaction.atomic():
        matches = _lock_same_text(match, digest)
        variant = None
        if not _rumor_has_text(match, text, digest):
            variant = rumor_services.variant_add(rumor=match.rumor, by=by, text=text)
        # An earlier allow-listing of this text contradicts the decision and would keep it from matching.
        for entry in AllowListEntry.objects.filter(rumor_id=match.rumor_id, exact_hash=digest):
            _allow_list_delete(entry, by=by, reason=_("The text was confirmed as a variant."))
        _decide(
            matches,
            by=by,
            status=Match.Status.CONFIRMED,
            action="match.confirm",
            variant=[None, variant.pk if variant else None],
        )
    _copy_decision(matches[0], match)
    return variant


def _confirm_image(match: Match, by: Any) -> Attachment | None:
    """Confirm a match found through the picture: the picture joins the rumor's images (through the stock's
    `attachment_add`: checked, re-encoded, fingerprinted, and the image index bumped when the rumor is published)."""
    require_perm(by, DECIDE_PERM)
    require_perm(by, "debunk.add_attachment")
    _check_suspected(match)
    sha256 = _post_image_sha256(match)
    attachment = None
    try:
        with transaction.atomic():
            matches = _lock_same_image(match, sha256)
            if not _rumor_images_with(match.rumor_id, sha256).exists():
                attachment = _add_post_image(match, by, sha256)
            # An earlier allow-listing of this picture contradicts the decision and would keep it from matching.
            for entry in AllowListEntry.objects.filter(rumor_id=match.rumor_id, exact_hash=sha256):
                _allow_list_delete(entry, by=by, reason=_("The image was confirmed as an image of the rumor."))
            _decide(
                matches,
                by=by,
                status=Match.Status.CONFIRMED,
                action="match.confirm",
                attachment=[None, attachment.pk if attachment else None],
            )
    except Exception:
        if attachment is not None:  # its rows were rolled back: its files (named for this upload alone) go too
            for stored in (attachment.file, attachment.thumbnail):
                if stored:
                    stored.storage.delete(stored.name)
        raise
    _copy_decision(matches[0], match)
    return attachment


def _add_post_image(match: Match, by: Any, sha256: str) -> Attachment:
    post = match.post
    name = f"post-{post.pk}-{sha256[:12]}.{post.image.name.rsplit('.', 1)[-1]}"
    data = _post_image_bytes(post)
    try:
        checked = check_upload(io.BytesIO(data), name)
    except ValidationError as exc:
        if exc.code != "unsupported_image":
            raise
        # a picture the match API accepts but evidence uploads do not (BMP): stored as PNG, the post's file still
        # recorded as the upload
        checked = replace(check_upload(io.BytesIO(_as_png(data)), name), original_sha256=sha256)
    return attachment_add(
        rumor=match.rumor, by=by, upload=io.BytesIO(data), name=name, role=Attachment.Role.RUMOR_IMAGE, checked=checked
    )


def _post_image_bytes(post: Post) -> bytes:
    try:
        with post.image.open("rb") as stored:
            return stored.read(query_limits().max_bytes + 1)
    except OSError as exc:
        raise ValidationError(
            _("The post's image file cannot be read: it cannot be added to the rumor."), code="image_unreadable"
        ) from exc


def _as_png(data: bytes) -> bytes:
    """A picture the match API accepts but evidence uploads do not (BMP), decoded safely and re-encoded as PNG."""
    try:
        decoded = decode_image(data, limits=query_limits())
    except ImageRejected as exc:
        raise ValidationError(_("The post's image cannot be decoded any more."), code="image_unreadable") from exc
    out = io.BytesIO()
    decoded.image.save(out, format="PNG")
    return out.getvalue()


def match_reject(*, match: Match, by: Any, reason: str = "") -> AllowListEntry:
    """The post does not carry the rumor: allow-list its normalised text for that rumor, or for a match found
    through its picture, the picture (its SHA-256)."""
    if is_image_match(match):
        return _reject_image(match, by, reason)
    require_perm(by, DECIDE_PERM)
    _check_suspected(match)
    text = match.post.text
    digest = text_hash(text)
    reason = (reason or "").strip()
    with transaction.atomic():
        matches = _lock_same_text(match, digest)
        if Fingerprint.objects.filter(rumor_id=match.rumor_id, exact_hash=digest).exists():
            raise ValidationError(
                _("This text is the rumor's claim or one of its variants: remove the variant instead."),
                code="rumor_text",
            )
        entry = _allow_list_add(match, by, digest, reason, {"text": [None, text]})
        _decide(
            matches,
            by=by,
            status=Match.Status.REJECTED,
            action="match.reject",
            reason=reason,
            allow_list=[None, entry.pk],
        )
    _copy_decision(matches[0], match)
    return entry


def _reject_image(match: Match, by: Any, reason: str) -> AllowListEntry:
    require_perm(by, DECIDE_PERM)
    _check_suspected(match)
    sha256 = _post_image_sha256(match)
    reason = (reason or "").strip()
    with transaction.atomic():
        matches = _lock_same_image(match, sha256)
        if _rumor_images_with(match.rumor_id, sha256).exists():
            raise ValidationError(
                _("This image is one of the rumor's own images: remove that attachment instead."),
                code="rumor_image",
            )
        post = match.post
        image = {"post": post.pk, "file": post.image.name}
        entry = _allow_list_add(match, by, sha256, reason, {"image": [None, image]})
        _decide(
            matches,
            by=by,
            status=Match.Status.REJECTED,
            action="match.reject",
            reason=reason,
            allow_list=[None, entry.pk],
        )
    _copy_decision(matches[0], match)
    return entry


def _allow_list_add(match: Match, by: Any, digest: str, reason: str, what: dict[str, list]) -> AllowListEntry:
    """The entry for this rumor and hash (created with its audit event, which keeps what was allow-listed: the
    entry itself has only the hash)."""
    entry, created = AllowListEntry.objects.get_or_create(
        rumor_id=match.rumor_id, exact_hash=digest, defaults={"created_by": by}
    )
    if created:
        audit_record(
            actor=by,
            action="allowlist.add",
            target=entry,
            changes={"rumor": [None, match.rumor_id], "exact_hash": [None, digest], **what},
            reason=reason,
        )
    return entry


def _allow_list_delete(entry: AllowListEntry, *, by: Any, reason: str = "") -> None:
    audit_record(
        actor=by,
        action="allowlist.remove",
        target=entry,
        changes={"rumor": [entry.rumor_id, None], "exact_hash": [entry.exact_hash, None]},
        reason=reason,
    )
    entry.delete()


def allow_list_remove(*, entry: AllowListEntry, by: Any, reason: str = "") -> None:
    """Undo an allow-listing: the text matches the rumor again (its rejected matches stay as decided)."""
    require_perm(by, "debunk.delete_allowlistentry")
    with transaction.atomic():
        _allow_list_delete(entry, by=by, reason=reason)


@dataclass(frozen=True)
class AllowListed:
    """What an allow-list entry stands for, as recorded when it was made: a text, or a picture (the post it came
    from, which may since have been deleted)."""

    kind: str  # "text" or "image"
    text: str = ""
    post_id: int | None = None


def allow_listed(entry: AllowListEntry) -> AllowListed:
    """The text or picture that was allow-listed (the entry itself keeps only its hash)."""
    changes = (
        AuditEvent.objects.filter(
            action="allowlist.add",
            target_type=ContentType.objects.get_for_model(AllowListEntry),
            target_id=str(entry.pk),
        )
        .values_list("changes", flat=True)
        .first()
    ) or {}
    image = (changes.get("image") or [None, None])[1]
    if isinstance(image, dict):
        return AllowListed("image", post_id=image.get("post"))
    text = changes.get("text") or [None, ""]
    return AllowListed("text", text=text[1] or "")


def allow_list_text(entry: AllowListEntry) -> str:
    """The text that was allow-listed, as recorded when it was; empty for an allow-listed picture."""
    return allow_listed(entry).text
