"""Read-only queries on matches for the admin pages."""

from dataclasses import dataclass

from django.db.models import Count

from debunk.matching.models import Match
from debunk.stock.models import Rumor


@dataclass(frozen=True)
class RumorMatches:
    """A rumor's most recent matches (with their posts), how many it has, and how many of each status."""

    recent: list[Match]
    total: int
    by_status: list[tuple[str, int]]  # (status label, count), in Match.Status order


def rumor_matches(rumor: Rumor, *, limit: int = 20) -> RumorMatches:
    """The rumor page's "matched posts": capped, the full list being the match admin filtered by the rumor."""
    counts = dict(
        Match.objects.filter(rumor=rumor)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    recent = list(
        Match.objects.filter(rumor=rumor).select_related("post__platform").order_by("-created_at", "-pk")[:limit]
    )
    by_status = [(status.label, counts[status.value]) for status in Match.Status if counts.get(status.value)]
    return RumorMatches(recent, sum(counts.values()), by_status)
