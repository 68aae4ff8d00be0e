"""What of the sanctions a platform may see: only decisions about its own accounts. Recommendations, and
sanctions waiting for a second approval, never leave the fact-checkers' side."""

from django.db.models import QuerySet

from debunk.sanctions.models import Sanction

S = Sanction.Status
PLATFORM_VISIBLE: tuple[str, ...] = (S.ACTIVE, S.EXPIRED, S.LIFTED, S.OVERTURNED)


def platform_sanctions(*, platform_id: int, status: str | None = None) -> QuerySet[Sanction]:
    """Decisions about the platform's accounts (optionally of one visible status)."""
    sanctions = Sanction.objects.filter(platform_id=platform_id, status__in=PLATFORM_VISIBLE)
    if status:
        sanctions = sanctions.filter(status=status)
    return sanctions


def platform_sanction(*, platform_id: int, sanction_id: int) -> Sanction | None:
    """One decision about the platform's accounts; None for anything it may not see (another platform's, a
    recommendation)."""
    return platform_sanctions(platform_id=platform_id).filter(pk=sanction_id).first()
