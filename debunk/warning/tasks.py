"""Celery tasks of early warning. Task names are pinned (`debunk.tasks.<name>`) so that queued tasks and the beat
schedule survive moves."""

from celery import shared_task
from django.core.cache import cache

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
