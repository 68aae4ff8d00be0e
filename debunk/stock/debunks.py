"""Debunk articles: written by fact-checkers, dated when their rumor is published."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from debunk.core.audit import audit_record, diff, snapshot
from debunk.matching.fingerprints import index_bump
from debunk.stock.models import Debunk, DebunkSource, Rumor

DEBUNK_FIELDS = ["title", "summary", "body", "language"]


def debunk_save(*, debunk: Debunk, by: Any) -> Debunk:
    """Create or update a debunk; one added to an already published rumor is published at once (an update)."""
    creating = debunk.pk is None
    if not by.has_perm("debunk.add_debunk" if creating else "debunk.change_debunk"):
        raise PermissionDenied(_("You do not have permission to do this."))
    before = {} if creating else snapshot(Debunk.objects.get(pk=debunk.pk))
    debunk.title = (debunk.title or "").strip()
    debunk.summary = (debunk.summary or "").strip()
    if creating:
        debunk.created_by = by
    if debunk.published_at is None and debunk.rumor.status == Rumor.Status.PUBLISHED:
        debunk.published_at = timezone.now()
    debunk._history_user = by
    with transaction.atomic():
        debunk.full_clean()
        debunk.save()
        changes = diff(before, snapshot(debunk))
        if changes and debunk.rumor.status == Rumor.Status.PUBLISHED:
            index_bump(debunk.rumor)  # serving processes refresh the debunk card they return
        if changes:
            audit_record(
                actor=by, action="debunk.create" if creating else "debunk.update", target=debunk, changes=changes
            )
    return debunk


def debunk_create(*, rumor: Rumor, by: Any, **fields: Any) -> Debunk:
    unknown = set(fields) - set(DEBUNK_FIELDS)
    if unknown:
        raise TypeError(f"unknown debunk fields: {sorted(unknown)}")
    return debunk_save(debunk=Debunk(rumor=rumor, **fields), by=by)


def debunk_source_add(*, debunk: Debunk, by: Any, title: str, url: str) -> DebunkSource:
    if not by.has_perm("debunk.add_debunksource"):
        raise PermissionDenied(_("You do not have permission to do this."))
    source = DebunkSource(debunk=debunk, title=(title or "").strip(), url=url)
    with transaction.atomic():
        source.full_clean()
        source.save()
        audit_record(actor=by, action="debunk_source.add", target=source, changes={"url": [None, url]})
    return source
