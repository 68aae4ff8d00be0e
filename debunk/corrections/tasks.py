"""Celery tasks of corrections: who gets one, and their delivery (see debunk/corrections/deliveries.py).

Task names are pinned (`debunk.tasks.<name>`, where they lived first) so that queued tasks and the beat
schedule survive moves."""

import logging

from celery import shared_task
from django.conf import settings

logger = logging.getLogger(__name__)


@shared_task(name="debunk.tasks.corrections_fanout_task")
def corrections_fanout_task(rumor_id: int, post_ids: list[int] | None = None) -> int:
    """Create the corrections of a rumor (for some posts only, when given); idempotent."""
    from debunk.corrections.services import corrections_fanout

    created = corrections_fanout(rumor_id=rumor_id, post_ids=post_ids)
    logger.info("corrections fan-out rumor=%s posts=%s created=%d", rumor_id, len(post_ids or ()), created)
    _kick_deliveries(rumor_id, created)
    return created


def _kick_deliveries(rumor_id: int, created: int) -> None:
    """Send new corrections at once rather than at the next beat."""
    from debunk.corrections.deliveries import deliveries_kick
    from debunk.corrections.models import Correction

    if created:
        pending = Correction.objects.filter(rumor_id=rumor_id, status=Correction.Status.PENDING)
        deliveries_kick(platform_ids=pending.values_list("platform_id", flat=True).distinct())


@shared_task(name="debunk.tasks.post_image_read")
def post_image_read_task(post_id: int) -> str:
    """Read the picture of an archived image post that no rumor image matched confidently, and match its text."""
    from debunk.corrections.archive import post_image_read

    outcome = post_image_read(post_id=post_id)
    logger.info("post image read post=%s outcome=%s", post_id, outcome)
    return outcome


@shared_task(name="debunk.tasks.rumor_published_task")
def rumor_published_task(rumor_id: int) -> int:
    """A rumor went live or changed its text: match it against the archive, then fan out its corrections."""
    from debunk.corrections.services import archive_rescan, corrections_fanout

    matched = archive_rescan(rumor_id=rumor_id)
    created = corrections_fanout(rumor_id=rumor_id)
    logger.info("archive re-scan rumor=%s newly matched posts=%d corrections=%d", rumor_id, len(matched), created)
    _kick_deliveries(rumor_id, created)
    return created


@shared_task(name="debunk.tasks.rumor_changed_task")
def rumor_changed_task(rumor_id: int, revision: int) -> int:
    """A rumor was retracted or its verdict changed: updates for those who received its correction."""
    from debunk.corrections.services import corrections_rumor_changed

    created = corrections_rumor_changed(rumor_id=rumor_id, revision=revision)
    _kick_deliveries(rumor_id, created)
    return created


@shared_task(name="debunk.tasks.release_deferred_corrections")
def release_deferred_corrections() -> int:
    from debunk.corrections.services import corrections_release_deferred

    return corrections_release_deferred()


@shared_task(name="debunk.tasks.purge_exposures")
def purge_exposures() -> int:
    """Delete exposures older than CORRECTIONS_RETENTION_DAYS (run by Celery beat; 0 keeps them)."""
    from debunk.corrections.services import exposures_purge

    if settings.CORRECTIONS_RETENTION_DAYS <= 0:
        return 0
    return exposures_purge(older_than_days=settings.CORRECTIONS_RETENTION_DAYS)


@shared_task(name="debunk.tasks.deliver_corrections")
def deliver_corrections() -> int:
    """Celery beat, every 15 s: batch pending corrections into deliveries, then send every due delivery."""
    from debunk.corrections import deliveries as webhooks

    for platform_id in webhooks.platforms_with_pending():
        webhooks.deliveries_prepare(platform_id=platform_id)
    due = webhooks.deliveries_due()
    for delivery_id, attempts in due:
        _enqueue_delivery(delivery_id, attempts)
    return len(due)


@shared_task(name="debunk.tasks.prepare_deliveries")
def prepare_deliveries(platform_id: int) -> int:
    """Batch one platform's pending corrections now (after a fan-out) and send the new deliveries."""
    from debunk.corrections import deliveries as webhooks

    created = webhooks.deliveries_prepare(platform_id=platform_id)
    for delivery_id in created:
        _enqueue_delivery(delivery_id, 0)
    return len(created)


@shared_task(name="debunk.tasks.deliver")
def deliver(delivery_id: int) -> str:
    """One attempt of one delivery; does nothing unless it is due (a duplicate task is a no-op)."""
    from debunk.corrections.deliveries import delivery_attempt

    return delivery_attempt(delivery_id=delivery_id)


def _enqueue_delivery(delivery_id: int, attempts: int) -> None:
    """Queue an attempt once per (delivery, attempt) for a lease, so that the beat does not pile up copies
    behind a busy worker; a lost copy is queued again when the key expires."""
    from django.core.cache import cache

    from debunk.webhooks.services import lease_for

    if cache.add(f"debunk:webhook-queued:{delivery_id}:{attempts}", 1, int(lease_for().total_seconds())):
        deliver.delay(delivery_id)
