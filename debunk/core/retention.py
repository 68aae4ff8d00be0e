"""Retention: deleting old rows in batches, each its own short statement, so a purge never holds a long lock."""

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone


def purge_older_than(rows: QuerySet, *, field: str, days: int, batch: int = 10_000) -> int:
    """Delete the rows whose `field` is more than `days` old; returns how many were deleted."""
    old = rows.filter(**{f"{field}__lt": timezone.now() - timedelta(days=days)})
    deleted = 0
    while ids := list(old.values_list("pk", flat=True)[:batch]):
        deleted += rows.model.objects.filter(pk__in=ids).delete()[0]
    return deleted
