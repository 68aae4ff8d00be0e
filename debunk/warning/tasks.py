"""Celery tasks of the early warning part.

Task names are pinned (`debunk.tasks.<name>`) so that queued tasks and the beat schedule survive moves."""

from typing import Any

from celery import shared_task
from celery.signals import task_postrun
from django.core.cache import cache

# --- interception counts ---


@shared_task(name="debunk.tasks.rollup_interception_counts")
def rollup_interception_counts() -> dict[str, int]:
    """Celery beat, hourly: hour rows past WARNING_HOURLY_DAYS summed into day rows, day rows past
    WARNING_DAILY_DAYS deleted (debunk.warning.counting.rollup)."""
    from debunk.warning.counting import rollup

    return rollup()


@task_postrun.connect
def _flush_counts_after_task(**_kwargs: Any) -> None:
    """A worker process's counts (a match job's answer) are written when its task ends, not at its next count:
    a worker may stay idle for long. Nothing is done without pending counts or inside a transaction (an eager
    task run by a caller's transaction: its counts wait for the caller's next flush)."""
    from django.db import connection

    from debunk.warning import counting

    if counting.pending() and not connection.in_atomic_block:
        counting.flush()


# --- alerts ---


@shared_task(name="debunk.tasks.alerts_scan")
def alerts_scan_task() -> dict[str, int]:
    """Celery beat, hourly (a minute past the hour): assess the last complete hour, open/update/close alerts."""
    from debunk.warning.alerts import alerts_scan

    return alerts_scan()


@shared_task(name="debunk.tasks.deliver_alert_notice")
def deliver_alert_notice(notice_id: int) -> str:
    """One attempt of one alert notice to a platform; does nothing unless it is due."""
    from debunk.warning.alerts import notice_attempt

    return notice_attempt(notice_id=notice_id)


@shared_task(name="debunk.tasks.deliver_alert_notices")
def deliver_alert_notices() -> int:
    """Celery beat, every 30 s: send every due alert notice (new ones are also sent on commit)."""
    from debunk.warning.alerts import notices_due

    due = notices_due()
    for notice_id, attempts in due:
        if cache.add(f"debunk:alert-notice-queued:{notice_id}:{attempts}", 1, 60):
            deliver_alert_notice.delay(notice_id)
    return len(due)


@shared_task(name="debunk.tasks.send_alert_mail")
def send_alert_mail(alert_id: int, user_id: int, event: str) -> str:
    """One alert e-mail to one staff subscriber."""
    from debunk.warning.alerts import alert_mail_send

    return alert_mail_send(alert_id=alert_id, user_id=user_id, event=event)


# --- post match notices ---


@shared_task(name="debunk.tasks.deliver_post_match_notice")
def post_match_notice_send_task(notice_id: int) -> str:
    """One attempt of one `posts.matched` / `posts.unmatched` notice; does nothing unless it is due."""
    from debunk.warning.post_notices import notice_attempt

    return notice_attempt(notice_id=notice_id)


@shared_task(name="debunk.tasks.deliver_post_match_notices")
def deliver_post_match_notices() -> int:
    """Celery beat, every 30 s: send every due post match notice (new ones are also sent on commit)."""
    from debunk.warning.post_notices import notices_due

    due = notices_due()
    for notice_id, attempts in due:
        # once per (notice, attempt) for a lease, so that the beat does not pile up copies behind a busy worker
        if cache.add(f"debunk:post-match-notice-queued:{notice_id}:{attempts}", 1, 60):
            post_match_notice_send_task.delay(notice_id)
    return len(due)
