"""Deciding the suspected-match queue: confirm (the post's text becomes a variant, so it then matches
automatically) or reject (the text is allow-listed, so it stops matching that rumor).

A decision covers every suspected match of the same rumor whose post has the same normalised text: they are
one question asked several times. Each function validates first, then writes in one transaction with its
audit events, so a refused decision leaves nothing behind. The allow-list is read on every match request,
so rejecting needs no index bump; confirming bumps it through `variant_add`.
"""

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from debunk.core.audit import audit_record
from debunk.core.models import AuditEvent
from debunk.core.roles import require_perm
from debunk.matching.fingerprint import exact_hash
from debunk.matching.models import AllowListEntry, Fingerprint, Match
from debunk.matching.normalize import normalize
from debunk.stock import rumors as rumor_services
from debunk.stock.models import RumorVariant

DECIDE_PERM = "debunk.review_rumor"  # a decision changes what matches: reviewers only


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
    """Lock the match and the rumor's other suspected matches with the same normalised text; match first."""
    locked = Match.objects.select_for_update(of=("self",)).select_related("post").get(pk=match.pk)
    _check_suspected(locked)  # a concurrent decision may have got there first
    others = (
        Match.objects.select_for_update(of=("self",))
        .select_related("post")
        .filter(rumor_id=match.rumor_id, status=Match.Status.SUSPECTED)
        .exclude(pk=match.pk)
        .order_by("pk")
    )
    return [locked, *(m for m in others if text_hash(m.post.text) == digest)]


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


def match_confirm(*, match: Match, by: Any) -> RumorVariant | None:
    """The post carries the rumor: add its text as a variant (None when the rumor already has that text)."""
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


def match_reject(*, match: Match, by: Any, reason: str = "") -> AllowListEntry:
    """The post does not carry the rumor: allow-list its normalised text for that rumor."""
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
        entry, created = AllowListEntry.objects.get_or_create(
            rumor_id=match.rumor_id, exact_hash=digest, defaults={"created_by": by}
        )
        if created:
            audit_record(
                actor=by,
                action="allowlist.add",
                target=entry,
                changes={"rumor": [None, match.rumor_id], "exact_hash": [None, digest], "text": [None, text]},
                reason=reason,
            )
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


def allow_list_text(entry: AllowListEntry) -> str:
    """The text that was allow-listed, as recorded when it was (the entry itself keeps only its hash)."""
    changes = (
        AuditEvent.objects.filter(
            action="allowlist.add",
            target_type=ContentType.objects.get_for_model(AllowListEntry),
            target_id=str(entry.pk),
        )
        .values_list("changes", flat=True)
        .first()
    )
    text = (changes or {}).get("text") or [None, ""]
    return text[1] or ""
