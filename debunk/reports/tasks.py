"""Celery tasks of reports: outcome e-mails to reporters and outcome notices to platforms.

Task names are pinned (`debunk.tasks.<name>`) so that queued tasks and the beat schedule survive moves."""

from celery import shared_task
from django.core.cache import cache


@shared_task(name="debunk.tasks.send_reporter_message")
def reporter_message_send_task(message_id: int) -> str:
    """One e-mail to a reporter; does nothing unless it is still pending (a duplicate task is a no-op)."""
    from debunk.reports.notices import reporter_message_send

    return reporter_message_send(message_id=message_id)


@shared_task(name="debunk.tasks.deliver_report_notice")
def report_notice_send_task(notice_id: int) -> str:
    """One attempt of one outcome notice; does nothing unless it is due."""
    from debunk.reports.notices import notice_attempt

    return notice_attempt(notice_id=notice_id)


@shared_task(name="debunk.tasks.send_verification_link", bind=True, max_retries=5)
def verification_link_send_task(self, request_id: int) -> str:
    """The one-time answer link of a verification request, mailed to its e-mail verifier; a failed send is retried
    (a minute, then longer), a request already sent, answered or cancelled is skipped."""
    from debunk.reports.verification import verification_link_send

    result = verification_link_send(request_id=request_id)
    if result == "failed" and not self.request.is_eager:
        raise self.retry(countdown=60 * 2**self.request.retries)
    return result


@shared_task(name="debunk.tasks.deliver_report_notices")
def deliver_report_notices() -> int:
    """Celery beat, every 30 s: send every due outcome notice (new ones are also sent on commit)."""
    from debunk.reports.notices import notices_due

    due = notices_due()
    for notice_id, attempts in due:
        # once per (notice, attempt) for a lease, so that the beat does not pile up copies behind a busy worker
        if cache.add(f"debunk:report-notice-queued:{notice_id}:{attempts}", 1, 60):
            report_notice_send_task.delay(notice_id)
    return len(due)


@shared_task(name="debunk.tasks.send_reporter_messages")
def send_reporter_messages() -> int:
    """Celery beat, every 5 minutes: try again the e-mails to reporters that are due (a failed attempt leaves the
    message pending until REPORT_MAIL_MAX_ATTEMPTS; new ones are sent on commit)."""
    from debunk.reports.notices import reporter_messages_due

    due = reporter_messages_due()
    for message_id, attempts in due:
        if cache.add(f"debunk:reporter-message-queued:{message_id}:{attempts}", 1, 300):
            reporter_message_send_task.delay(message_id)
    return len(due)
