"""Read-only queries shared by views, the admin, the API and commands."""

from datetime import datetime, timedelta

from django.db.models import Count, Prefetch, QuerySet, Sum
from django.utils import timezone

from debunk.stock.models import Debunk, Rumor
from labels.models import Category
from labels.selectors import category_subtree_ids


def _with_cards(rumors: QuerySet[Rumor]) -> QuerySet[Rumor]:
    """Rumors with what a page or card shows: labels and published debunks (newest first)."""
    return rumors.select_related("verdict", "category").prefetch_related(
        Prefetch("debunks", queryset=Debunk.objects.filter(published_at__isnull=False))
    )


def public_rumors() -> QuerySet[Rumor]:
    """Live rumors with what a public page or card shows, newest first."""
    return _with_cards(Rumor.objects.live()).order_by("-published_at", "-pk")


def library_rumors(
    *,
    updated_since: datetime | None = None,
    category: str | None = None,
    verdict: str | None = None,
    published_only: bool = False,
) -> QuerySet[Rumor]:
    """The sample library as other platforms sync it: live rumors; with `updated_since`, those changed since
    then, withdrawn ones (retracted, expired) included so that a copy can drop them (unless `published_only`).
    `category` is a category code (its sub-categories included; an unknown code matches nothing), `verdict` a
    verdict label code."""
    if updated_since is None:
        rumors = public_rumors()
    else:
        synced = [Rumor.Status.PUBLISHED, Rumor.Status.RETRACTED, Rumor.Status.EXPIRED]
        rumors = _with_cards(Rumor.objects.filter(updated_at__gte=updated_since, status__in=synced))
    if published_only:
        rumors = rumors.filter(status=Rumor.Status.PUBLISHED)
    if category is not None:
        found = Category.objects.filter(code=category).first()
        rumors = rumors.filter(category_id__in=category_subtree_ids(found) if found else [])
    if verdict:
        rumors = rumors.filter(verdict__code=verdict)
    return rumors.prefetch_related("variants", "sources")


def column_rumors(category: Category) -> QuerySet[Rumor]:
    """A debunk column (辟谣专栏): live rumors of a category and its sub-categories, newest first."""
    return public_rumors().filter(category_id__in=category_subtree_ids(category))


def columns() -> list[tuple[Category, int]]:
    """Top-level categories with their number of live rumors (sub-categories included), in standard order."""
    counts = dict(Rumor.objects.live().values_list("category_id").annotate(n=Count("pk")))
    tops = list(Category.objects.filter(parent__isnull=True))
    return [(top, sum(counts.get(pk, 0) for pk in category_subtree_ids(top))) for top in tops]


def spreading_rumors(*, days: int = 7, limit: int = 5) -> QuerySet[Rumor]:
    """Live rumors that platforms' posts matched most in the last `days` days: the interception counts of every
    match answer (debunk.warning.counting), automatic blocks and labels included. Suspected matches (counted as
    `review`) are left out: a suspicion a reviewer may still reject never makes a rumor "spreading"."""
    from debunk.matching.decisions import ACTION_RANK

    since = timezone.now() - timedelta(days=days)
    hits = [action for action in ACTION_RANK if action != "review"]
    return (
        public_rumors()
        # filter() before annotate(): the join holds only the window's rows (an index range), not every count
        .filter(interception_counts__start__gte=since, interception_counts__action__in=hits)
        .annotate(recent_matches=Sum("interception_counts__count"))
        .filter(recent_matches__gt=0)
        .order_by("-recent_matches", "-published_at")[:limit]
    )


def related_rumors(rumor: Rumor, *, limit: int = 5) -> QuerySet[Rumor]:
    """Other live rumors of the same category, newest first."""
    return public_rumors().filter(category_id=rumor.category_id).exclude(pk=rumor.pk)[:limit]


def review_queue() -> QuerySet[Rumor]:
    """Rumors waiting for a reviewer, the most urgent (earliest deadline, so overdue ones) first."""
    return (
        Rumor.objects.filter(status=Rumor.Status.IN_REVIEW)
        .select_related("verdict", "category", "submitted_by", "origin_platform")
        .order_by("review_due_at", "pk")
    )
