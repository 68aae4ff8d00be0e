"""Read-only queries shared by views, the admin and commands."""

from django.db.models import Prefetch, QuerySet

from debunk.models import Debunk, Rumor


def public_rumors() -> QuerySet[Rumor]:
    """Live rumors with what a public page or card shows, newest first."""
    return (
        Rumor.objects.live()
        .select_related("verdict", "category")
        .prefetch_related(Prefetch("debunks", queryset=Debunk.objects.filter(published_at__isnull=False)))
        .order_by("-published_at", "-pk")
    )


def review_queue() -> QuerySet[Rumor]:
    """Rumors waiting for a reviewer, the most urgent (earliest deadline, so overdue ones) first."""
    return (
        Rumor.objects.filter(status=Rumor.Status.IN_REVIEW)
        .select_related("verdict", "category", "submitted_by", "origin_platform")
        .order_by("review_due_at", "pk")
    )
