"""Celery tasks of early warning.

Task names are pinned (`debunk.tasks.<name>`) so that queued tasks and the beat schedule survive moves."""

from celery import shared_task
from django.core.cache import cache

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
