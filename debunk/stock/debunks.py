"""Debunk articles: written by fact-checkers, dated when their rumor is published.

Once a rumor has been published it keeps at least one debunk: the last one cannot be deleted (add the
corrected article first). Every write to a debunk bumps the match index (and so the search index, on commit) when the
rumor is live, so that neither serves a deleted or stale title.
"""

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from debunk.core.audit import audit_record, audited_delete, audited_update, diff, removal, snapshot
from debunk.core.roles import require_perm
from debunk.matching.fingerprints import index_bump
from debunk.stock.models import Debunk, DebunkSource, Rumor

DEBUNK_FIELDS = ["title", "summary", "body", "language"]


def _bump_if_live(rumor: Rumor) -> None:
    if rumor.status == Rumor.Status.PUBLISHED:
        index_bump(rumor)  # serving processes refresh the debunk card they return; search re-indexes on commit


def debunk_save(*, debunk: Debunk, by: Any) -> Debunk:
    """Create or update a debunk; one added to an already published rumor is published at once (an update)."""
    creating = debunk.pk is None
    require_perm(by, "debunk.add_debunk" if creating else "debunk.change_debunk")
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
        if changes:
            _bump_if_live(debunk.rumor)
            audit_record(
                actor=by, action="debunk.create" if creating else "debunk.update", target=debunk, changes=changes
            )
    return debunk


def debunk_create(*, rumor: Rumor, by: Any, **fields: Any) -> Debunk:
    unknown = set(fields) - set(DEBUNK_FIELDS)
    if unknown:
        raise TypeError(f"unknown debunk fields: {sorted(unknown)}")
    return debunk_save(debunk=Debunk(rumor=rumor, **fields), by=by)


def debunks_check_removable(*, rumor: Rumor, debunk_ids: Iterable[int]) -> None:
    """Refuse removing these debunks if that would leave a rumor that has been published without any."""
    if rumor.published_at is None and rumor.status != Rumor.Status.PUBLISHED:
        return
    if not rumor.debunks.exclude(pk__in=list(debunk_ids)).exists():
        raise ValidationError(
            _("A published rumor keeps at least one debunk: add the new article before deleting the last one."),
            code="last_debunk",
        )


def debunk_delete(*, debunk: Debunk, by: Any) -> None:
    """Delete a debunk (and its sources), unless it is the last one of a rumor that has been published."""
    require_perm(by, "debunk.delete_debunk")
    with transaction.atomic():
        rumor = Rumor.objects.select_for_update().get(pk=debunk.rumor_id)
        debunks_check_removable(rumor=rumor, debunk_ids=[debunk.pk])
        audit_record(actor=by, action="debunk.delete", target=debunk, changes=removal(debunk))
        debunk._history_user = by
        debunk.delete()
        _bump_if_live(rumor)


# A debunk's sources are shown on its public page only (neither matched, searched nor on cards): no index bump.


def debunk_source_add(*, debunk: Debunk, by: Any, title: str, url: str) -> DebunkSource:
    require_perm(by, "debunk.add_debunksource")
    source = DebunkSource(debunk=debunk, title=(title or "").strip(), url=url)
    with transaction.atomic():
        source.full_clean()
        source.save()
        audit_record(actor=by, action="debunk_source.add", target=source, changes={"url": [None, url]})
    return source


def debunk_source_update(*, source: DebunkSource, by: Any, title: str, url: str) -> DebunkSource:
    return audited_update(
        source,
        by=by,
        perm="debunk.change_debunksource",
        action="debunk_source.update",
        title=(title or "").strip(),
        url=url,
    )


def debunk_source_remove(*, source: DebunkSource, by: Any) -> None:
    audited_delete(source, by=by, perm="debunk.delete_debunksource", action="debunk_source.remove")
