"""Celery tasks: they take ids, re-read the rows and call services, so running one twice is harmless."""

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from debunk.api.services import request_logs_purge
from debunk.models import Rumor
from debunk.services.roles import REVIEWER, system_user
from debunk.services.rumors import rumor_expire

logger = logging.getLogger(__name__)


@shared_task
def expire_rumors() -> int:
    """Expire published rumors whose validity window has ended (run by Celery beat)."""
    due = Rumor.objects.filter(status=Rumor.Status.PUBLISHED, valid_until__lte=timezone.now())
    ids = list(due.values_list("pk", flat=True))
    for rumor_id in ids:
        expire_rumor.delay(rumor_id)
    return len(ids)


@shared_task
def expire_rumor(rumor_id: int) -> bool:
    rumor = Rumor.objects.filter(pk=rumor_id, status=Rumor.Status.PUBLISHED, valid_until__lte=timezone.now()).first()
    if rumor is None:
        return False
    rumor_expire(rumor=rumor, by=system_user("system-scheduler", REVIEWER))
    logger.info("rumor %s expired", rumor_id)
    return True


@shared_task
def purge_api_logs() -> int:
    """Delete API request logs older than API_LOG_RETENTION_DAYS (run by Celery beat; 0 keeps them)."""
    if settings.API_LOG_RETENTION_DAYS <= 0:
        return 0
    deleted = request_logs_purge(older_than_days=settings.API_LOG_RETENTION_DAYS)
    logger.info("api request logs purged: %d", deleted)
    return deleted


# ---- corrections: who gets one (delivery tasks follow) ----------------------------------------------------


@shared_task
def corrections_fanout_task(rumor_id: int, post_ids: list[int] | None = None) -> int:
    """Create the corrections of a rumor (for some posts only, when given); idempotent."""
    from debunk.services.corrections import corrections_fanout

    created = corrections_fanout(rumor_id=rumor_id, post_ids=post_ids)
    logger.info("corrections fan-out rumor=%s posts=%s created=%d", rumor_id, len(post_ids or ()), created)
    _kick_deliveries(rumor_id, created)
    return created


def _kick_deliveries(rumor_id: int, created: int) -> None:
    """Send new corrections at once rather than at the next beat."""
    from debunk.models import Correction
    from debunk.services.webhooks import deliveries_kick

    if created:
        pending = Correction.objects.filter(rumor_id=rumor_id, status=Correction.Status.PENDING)
        deliveries_kick(platform_ids=pending.values_list("platform_id", flat=True).distinct())


@shared_task
def rumor_published_task(rumor_id: int) -> int:
    """A rumor went live or changed its text: match it against the archive, then fan out its corrections."""
    from debunk.services.corrections import archive_rescan, corrections_fanout

    matched = archive_rescan(rumor_id=rumor_id)
    created = corrections_fanout(rumor_id=rumor_id)
    logger.info("archive re-scan rumor=%s newly matched posts=%d corrections=%d", rumor_id, len(matched), created)
    _kick_deliveries(rumor_id, created)
    return created


@shared_task
def rumor_changed_task(rumor_id: int, revision: int) -> int:
    """A rumor was retracted or its verdict changed: updates for those who received its correction."""
    from debunk.services.corrections import corrections_rumor_changed

    created = corrections_rumor_changed(rumor_id=rumor_id, revision=revision)
    _kick_deliveries(rumor_id, created)
    return created


@shared_task
def release_deferred_corrections() -> int:
    from debunk.services.corrections import corrections_release_deferred

    return corrections_release_deferred()


@shared_task
def purge_exposures() -> int:
    """Delete exposures older than CORRECTIONS_RETENTION_DAYS (run by Celery beat; 0 keeps them)."""
    from debunk.services.corrections import exposures_purge

    if settings.CORRECTIONS_RETENTION_DAYS <= 0:
        return 0
    return exposures_purge(older_than_days=settings.CORRECTIONS_RETENTION_DAYS)


# --- Corrections delivery (webhooks): see debunk/services/webhooks.py -------------------------------------------


@shared_task
def deliver_corrections() -> int:
    """Celery beat, every 15 s: batch pending corrections into deliveries, then send every due delivery."""
    from debunk.services import webhooks

    for platform_id in webhooks.platforms_with_pending():
        webhooks.deliveries_prepare(platform_id=platform_id)
    due = webhooks.deliveries_due()
    for delivery_id, attempts in due:
        _enqueue_delivery(delivery_id, attempts)
    return len(due)


@shared_task
def prepare_deliveries(platform_id: int) -> int:
    """Batch one platform's pending corrections now (after a fan-out) and send the new deliveries."""
    from debunk.services import webhooks

    created = webhooks.deliveries_prepare(platform_id=platform_id)
    for delivery_id in created:
        _enqueue_delivery(delivery_id, 0)
    return len(created)


@shared_task
def deliver(delivery_id: int) -> str:
    """One attempt of one delivery; does nothing unless it is due (a duplicate task is a no-op)."""
    from debunk.services.webhooks import delivery_attempt

    return delivery_attempt(delivery_id=delivery_id)


def _enqueue_delivery(delivery_id: int, attempts: int) -> None:
    """Queue an attempt once per (delivery, attempt) for a lease, so that the beat does not pile up copies
    behind a busy worker; a lost copy is queued again when the key expires."""
    from django.core.cache import cache

    from debunk.services.webhooks import lease_for

    if cache.add(f"debunk:webhook-queued:{delivery_id}:{attempts}", 1, int(lease_for().total_seconds())):
        deliver.delay(delivery_id)


# --- Sanctions: expiry, notices to the platforms, public reports (debunk/services/sanctions.py, reports.py) ------


@shared_task
def expire_sanctions() -> int:
    """Celery beat, every 5 minutes: end the time-limited measures whose time is up (idempotent)."""
    from debunk.services.sanctions import sanctions_expire

    return sanctions_expire()


@shared_task
def deliver_sanction_notices() -> int:
    """Celery beat, every 30 s: send every due sanction notice (new ones are also sent on commit)."""
    from django.core.cache import cache

    from debunk.services.sanctions import notices_due

    due = notices_due()
    for notice_id, attempts in due:
        # once per (notice, attempt) for a lease, so that the beat does not pile up copies behind a busy worker
        if cache.add(f"debunk:sanction-notice-queued:{notice_id}:{attempts}", 1, 60):
            deliver_sanction_notice.delay(notice_id)
    return len(due)


@shared_task
def deliver_sanction_notice(notice_id: int) -> str:
    """One attempt of one notice; does nothing unless it is due (a duplicate task is a no-op)."""
    from debunk.services.sanctions import notice_attempt

    return notice_attempt(notice_id=notice_id)


@shared_task
def publish_report(kind: str) -> int:
    """Celery beat (weekly, monthly): publish the report of the last full period; returns its id."""
    from debunk.services.reports import report_publish

    return report_publish(kind=kind).pk
