"""Celery tasks of sanctions: expiry, notices to the platforms, public reports.

Task names are pinned (`debunk.tasks.<name>`, where they lived first) so that queued tasks and the beat
schedule survive moves."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)
SCHEDULER = "system-scheduler"  # the account the beat's tasks act as (the stock's expiry uses it too)


@shared_task(name="debunk.tasks.expire_sanctions")
def expire_sanctions() -> int:
    """Celery beat, every 5 minutes: end the time-limited measures whose time is up (idempotent), as the
    scheduler's system user."""
    from debunk.core.roles import REVIEWER, system_user
    from debunk.sanctions.services import sanctions_expire

    return sanctions_expire(by=system_user(SCHEDULER, REVIEWER))


@shared_task(name="debunk.tasks.deliver_sanction_notices")
def deliver_sanction_notices() -> int:
    """Celery beat, every 30 s: send every due sanction notice (new ones are also sent on commit)."""
    from django.core.cache import cache

    from debunk.sanctions.services import notices_due

    due = notices_due()
    for notice_id, attempts in due:
        # once per (notice, attempt) for a lease, so that the beat does not pile up copies behind a busy worker
        if cache.add(f"debunk:sanction-notice-queued:{notice_id}:{attempts}", 1, 60):
            deliver_sanction_notice.delay(notice_id)
    return len(due)


@shared_task(name="debunk.tasks.deliver_sanction_notice")
def deliver_sanction_notice(notice_id: int) -> str:
    """One attempt of one notice; does nothing unless it is due (a duplicate task is a no-op)."""
    from debunk.sanctions.services import notice_attempt

    return notice_attempt(notice_id=notice_id)


@shared_task(name="debunk.tasks.publish_report")
def publish_report(kind: str) -> int:
    """Celery beat (weekly, monthly): publish the report of the last full period; returns its id."""
    from debunk.sanctions.reports import report_publish

    return report_publish(kind=kind).pk
