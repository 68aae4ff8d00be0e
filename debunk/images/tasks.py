"""Celery tasks of image matching (names pinned as `debunk.tasks.<name>`, like every task of the project): match
jobs, their re-queueing and purge by the beat, and their `match.completed` notices."""

import logging

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from debunk.images import jobs

logger = logging.getLogger(__name__)


@shared_task(name="debunk.tasks.read_rumor_image")
def read_rumor_image_task(fingerprint_id: int) -> str:
    """The text of a rumor image, read after its upload (IMAGE_OCR_STOCK)."""
    from debunk.images.services import rumor_image_read

    return rumor_image_read(fingerprint_id)


@shared_task(name="debunk.tasks.match_job_run")
def match_job_run_task(job_id: int) -> str:
    """One attempt at a match job; an attempt that raised is queued again (with a delay) while attempts are left."""
    outcome = jobs.match_job_run(job_id)
    if outcome == "retrying":
        jobs.match_job_retry_later(job_id)
    return outcome


@shared_task(name="debunk.tasks.sweep_match_jobs")
def sweep_match_jobs() -> int:
    """Celery beat, every minute: queue again the pending jobs past MATCH_JOB_GRACE_SECONDS (lost tasks)."""
    return jobs.match_jobs_sweep()


@shared_task(name="debunk.tasks.purge_match_jobs")
def purge_match_jobs() -> int:
    """Celery beat, hourly: delete jobs finished more than MATCH_JOB_RETENTION_DAYS ago (0 keeps them)."""
    if settings.MATCH_JOB_RETENTION_DAYS <= 0:
        return 0
    deleted = jobs.match_jobs_purge(older_than_days=settings.MATCH_JOB_RETENTION_DAYS)
    if deleted:
        logger.info("match jobs purged: %d", deleted)
    return deleted


@shared_task(name="debunk.tasks.deliver_match_job_notices")
def deliver_match_job_notices() -> int:
    """Celery beat, every 30 s: send every due match job notice (new ones are also sent on commit)."""
    due = jobs.notices_due()
    for notice_id, attempts in due:
        # once per (notice, attempt) for a lease, so that the beat does not pile up copies behind a busy worker
        if cache.add(f"debunk:match-job-notice-queued:{notice_id}:{attempts}", 1, 60):
            deliver_match_job_notice.delay(notice_id)
    return len(due)


@shared_task(name="debunk.tasks.deliver_match_job_notice")
def deliver_match_job_notice(notice_id: int) -> str:
    """One attempt of one notice; does nothing unless it is due (a duplicate task is a no-op)."""
    return jobs.notice_attempt(notice_id=notice_id)
