"""The rumor workflow: draft → in review → published → retracted/expired, with the four-eyes rule.

Each function validates first, then writes inside one transaction and records an audit event, so a
refused action leaves nothing behind.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from debunk.core.audit import audit_record, audited_delete, audited_update, diff, snapshot
from debunk.core.roles import require_perm
from debunk.corrections import services as corrections
from debunk.images.services import image_fingerprints_sync
from debunk.matching.fingerprints import index_bump, rumor_fingerprints_sync, variant_fingerprint_sync
from debunk.stock.models import Rumor, RumorSource, RumorVariant

S = Rumor.Status
REVIEW = "debunk.review_rumor"


@dataclass(frozen=True)
class Step:
    """One named move of the workflow: from which statuses to which, who may make it, whether it needs a reason."""

    sources: frozenset[str]
    target: str
    perm: str
    reason: bool = False


# The one workflow table: the services check it, the admin shows its buttons and bulk actions from it.
WORKFLOW: dict[str, Step] = {
    "submit": Step(frozenset({S.DRAFT}), S.IN_REVIEW, "debunk.submit_rumor"),
    "publish": Step(frozenset({S.IN_REVIEW}), S.PUBLISHED, REVIEW),
    "return": Step(frozenset({S.IN_REVIEW}), S.DRAFT, REVIEW, reason=True),
    "retract": Step(frozenset({S.PUBLISHED}), S.RETRACTED, REVIEW, reason=True),
    "expire": Step(frozenset({S.PUBLISHED}), S.EXPIRED, REVIEW),
    "reopen": Step(frozenset({S.RETRACTED, S.EXPIRED}), S.DRAFT, REVIEW),
}
TRANSITIONS: dict[str, set[str]] = {
    status: {step.target for step in WORKFLOW.values() if status in step.sources} for status in S
}
RUMOR_FIELDS = [
    "claim",
    "category",
    "verdict",
    "severity",
    "valid_until",
    "first_seen_at",
    "origin_platform",
    "verified_by",
    "external_id",
]


def _check_step(rumor: Rumor, by: Any, name: str) -> Step:
    step = WORKFLOW[name]
    require_perm(by, step.perm)
    if rumor.status not in step.sources:
        raise ValidationError(
            _("A rumor cannot go from “%(current)s” to “%(target)s”.")
            % {"current": S(rumor.status).label, "target": S(step.target).label},
            code="illegal_transition",
        )
    return step


def _clean_and_save(rumor: Rumor) -> None:
    rumor.claim = (rumor.claim or "").strip()
    rumor.full_clean()
    rumor.save()


def rumor_create(*, by: Any, claim: str, category: Any, verdict: Any, **fields: Any) -> Rumor:
    """Create a draft rumor; fields are those of RUMOR_FIELDS."""
    require_perm(by, "debunk.add_rumor")
    unknown = set(fields) - set(RUMOR_FIELDS)
    if unknown:
        raise TypeError(f"unknown rumor fields: {sorted(unknown)}")
    rumor = Rumor(claim=claim, category=category, verdict=verdict, created_by=by, updated_by=by, **fields)
    rumor._history_user = by
    with transaction.atomic():
        _clean_and_save(rumor)
        rumor_fingerprints_sync(rumor)
        audit_record(actor=by, action="rumor.create", target=rumor, changes=diff({}, snapshot(rumor)))
    return rumor


def rumor_update(*, rumor: Rumor, by: Any, **fields: Any) -> Rumor:
    """Change a rumor's fields. Published rumors need a reviewer; retracted or expired ones must be reopened."""
    require_perm(by, "debunk.change_rumor")
    if rumor.status in {S.RETRACTED, S.EXPIRED}:
        raise ValidationError(_("Reopen a retracted or expired rumor before editing it."), code="not_editable")
    if rumor.status == S.PUBLISHED:
        require_perm(by, "debunk.review_rumor")
    unknown = set(fields) - set(RUMOR_FIELDS)
    if unknown:
        raise TypeError(f"unknown rumor fields: {sorted(unknown)}")
    before = snapshot(Rumor.objects.get(pk=rumor.pk))
    for name, value in fields.items():
        setattr(rumor, name, value)
    rumor.claim = (rumor.claim or "").strip()
    changes = diff(before, snapshot(rumor), ignore=("updated_at", "updated_by"))
    if not changes:
        return rumor
    rumor.updated_by = by
    rumor._history_user = by
    with transaction.atomic():
        _clean_and_save(rumor)
        if "claim" in changes:
            rumor_fingerprints_sync(rumor)
        if rumor.status == S.PUBLISHED:
            index_bump(rumor)  # verdict, validity or text changed what (or how) it matches
        event = audit_record(actor=by, action="rumor.update", target=rumor, changes=changes)
        if rumor.status == S.PUBLISHED and "verdict" in changes:
            corrections.schedule_rumor_changed(rumor_id=rumor.pk, revision=event.pk)
        if rumor.status == S.PUBLISHED and "claim" in changes:
            corrections.schedule_rumor_published(rumor_id=rumor.pk)
    return rumor


def _transition(rumor: Rumor, *, by: Any, target: str, action: str, reason: str = "", **stamps: Any) -> Rumor:
    before = snapshot(rumor)
    affects_matching = S.PUBLISHED in {rumor.status, target}
    rumor.status = target
    rumor.status_reason = reason
    rumor.updated_by = by
    for name, value in stamps.items():
        setattr(rumor, name, value)
    rumor._history_user = by
    rumor._change_reason = action
    with transaction.atomic():
        rumor.save()
        if target == S.PUBLISHED:
            image_fingerprints_sync(rumor)  # the missing ones only; unreadable files are logged, never block
        if affects_matching:
            index_bump(rumor)
        event = audit_record(
            actor=by,
            action=action,
            target=rumor,
            changes=diff(before, snapshot(rumor), ignore=("updated_at", "updated_by")),
            reason=reason,
        )
        if target == S.PUBLISHED:
            corrections.schedule_rumor_published(rumor_id=rumor.pk)
            from debunk.reports.triage import reports_rumor_published  # reports builds on the stock

            reports_rumor_published(rumor, by)  # reports told "a debunk is being prepared" learn it is out
        elif target == S.RETRACTED:
            corrections.schedule_rumor_changed(rumor_id=rumor.pk, revision=event.pk)
        if target in {S.RETRACTED, S.EXPIRED}:
            from debunk.warning.post_notices import posts_unmatched_notify  # warning builds on the stock

            posts_unmatched_notify(rumor=rumor)  # platforms lift the labels of the posts that matched it
    return rumor


def rumor_submit(*, rumor: Rumor, by: Any) -> Rumor:
    """Send a draft to the review queue; its deadline comes from the category's review deadline."""
    _check_step(rumor, by, "submit")
    rumor.full_clean()
    now = timezone.now()
    return _transition(
        rumor,
        by=by,
        target=S.IN_REVIEW,
        action="rumor.submit",
        submitted_at=now,
        submitted_by=by,
        review_due_at=now + timedelta(hours=rumor.category.review_deadline_hours),
    )


def rumor_return(*, rumor: Rumor, by: Any, reason: str) -> Rumor:
    """A reviewer sends a rumor back to its author as a draft, saying why."""
    _check_step(rumor, by, "return")
    _require_reason(reason)
    return _transition(rumor, by=by, target=S.DRAFT, action="rumor.return", reason=reason.strip(), review_due_at=None)


def rumor_publish(*, rumor: Rumor, by: Any) -> Rumor:
    """Publish a reviewed rumor: needs a debunk and a reviewer other than its author (four-eyes)."""
    _check_step(rumor, by, "publish")
    if by.pk in {rumor.created_by_id, rumor.submitted_by_id}:
        raise PermissionDenied(_("Four-eyes rule: a rumor must be published by a reviewer other than its author."))
    if not rumor.debunks.exists():
        raise ValidationError(_("A rumor needs at least one debunk article before it is published."), code="no_debunk")
    now = timezone.now()
    with transaction.atomic():
        rumor.debunks.filter(published_at__isnull=True).update(published_at=now)
        return _transition(
            rumor,
            by=by,
            target=S.PUBLISHED,
            action="rumor.publish",
            reviewed_by=by,
            published_at=rumor.published_at or now,
            review_due_at=None,
        )


def rumor_retract(*, rumor: Rumor, by: Any, reason: str) -> Rumor:
    """Withdraw a published rumor (e.g. the verdict was wrong); the reason is kept and shown."""
    _check_step(rumor, by, "retract")
    _require_reason(reason)
    return _transition(rumor, by=by, target=S.RETRACTED, action="rumor.retract", reason=reason.strip())


def rumor_reopen(*, rumor: Rumor, by: Any) -> Rumor:
    """Bring a retracted or expired rumor back to draft so that it can be corrected and reviewed again."""
    _check_step(rumor, by, "reopen")
    return _transition(rumor, by=by, target=S.DRAFT, action="rumor.reopen")


def rumor_expire(*, rumor: Rumor, by: Any) -> Rumor:
    """Mark a published rumor whose validity window has passed as expired."""
    _check_step(rumor, by, "expire")
    if rumor.valid_until is None or rumor.valid_until > timezone.now():
        raise ValidationError(_("This rumor's validity window has not ended."), code="not_expired")
    return _transition(rumor, by=by, target=S.EXPIRED, action="rumor.expire")


def rumor_step(*, name: str, rumor: Rumor, by: Any, reason: str = "") -> Rumor:
    """Make the named workflow step (a key of WORKFLOW), as a button or a bulk action does."""
    services = {
        "submit": rumor_submit,
        "publish": rumor_publish,
        "return": rumor_return,
        "retract": rumor_retract,
        "expire": rumor_expire,
        "reopen": rumor_reopen,
    }
    if WORKFLOW[name].reason:
        return services[name](rumor=rumor, by=by, reason=reason)
    return services[name](rumor=rumor, by=by)


def steps_available(*, rumor: Rumor, by: Any) -> list[str]:
    """The workflow steps this user may make on this rumor now (the buttons to show)."""
    return [name for name, step in WORKFLOW.items() if rumor.status in step.sources and by.has_perm(step.perm)]


def _require_reason(reason: str) -> None:
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Give a reason.")}, code="reason_required")


def variant_add(*, rumor: Rumor, by: Any, text: str) -> RumorVariant:
    """Add another text of the same rumor; duplicates of the claim or an existing variant are refused."""
    require_perm(by, "debunk.add_rumorvariant")
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": _("A variant cannot be empty.")})
    if text == rumor.claim.strip() or rumor.variants.filter(text=text).exists():
        raise ValidationError({"text": _("This rumor already has this text.")}, code="duplicate")
    variant = RumorVariant(rumor=rumor, text=text, created_by=by)
    variant._history_user = by
    with transaction.atomic():
        variant.full_clean()
        variant.save()
        variant_fingerprint_sync(variant)
        if rumor.status == S.PUBLISHED:
            index_bump(rumor)
            corrections.schedule_rumor_published(rumor_id=rumor.pk)  # the archive may hold this text too
        audit_record(actor=by, action="variant.add", target=variant, changes={"text": [None, text]})
    return variant


def variant_update(*, variant: RumorVariant, by: Any, text: str) -> RumorVariant:
    require_perm(by, "debunk.change_rumorvariant")
    text = (text or "").strip()
    before = RumorVariant.objects.get(pk=variant.pk).text
    if text == before:
        return variant
    if not text:
        raise ValidationError({"text": _("A variant cannot be empty.")})
    variant.text = text
    variant._history_user = by
    with transaction.atomic():
        variant.full_clean()
        variant.save()
        variant_fingerprint_sync(variant)
        if variant.rumor.status == S.PUBLISHED:
            index_bump(variant.rumor)
        audit_record(actor=by, action="variant.update", target=variant, changes={"text": [before, text]})
    return variant


def variant_remove(*, variant: RumorVariant, by: Any) -> None:
    require_perm(by, "debunk.delete_rumorvariant")
    variant._history_user = by
    with transaction.atomic():
        audit_record(actor=by, action="variant.remove", target=variant, changes={"text": [variant.text, None]})
        variant.delete()  # its fingerprint goes with it (cascade)
        if variant.rumor.status == S.PUBLISHED:
            index_bump(variant.rumor)


def source_add(*, rumor: Rumor, by: Any, url: str, title: str = "", seen_at: Any = None) -> RumorSource:
    require_perm(by, "debunk.add_rumorsource")
    source = RumorSource(rumor=rumor, url=url, title=title, seen_at=seen_at)
    with transaction.atomic():
        source.full_clean()
        source.save()
        audit_record(actor=by, action="source.add", target=source, changes={"url": [None, url]})
    return source


def source_update(*, source: RumorSource, by: Any, url: str, title: str = "", seen_at: Any = None) -> RumorSource:
    """Correct where a rumor was seen."""
    return audited_update(
        source,
        by=by,
        perm="debunk.change_rumorsource",
        action="source.update",
        url=url,
        title=(title or "").strip(),
        seen_at=seen_at,
    )


def source_remove(*, source: RumorSource, by: Any) -> None:
    audited_delete(source, by=by, perm="debunk.delete_rumorsource", action="source.remove")
