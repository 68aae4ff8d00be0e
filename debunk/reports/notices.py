"""Telling the outcome of a report: an e-mail to a reporter who left a contact (`ReporterMessage`), and a signed
webhook to the platform that forwarded it (`ReportNotice`; the same outcome is in its pull feed).

`outcome_notify` writes the rows in the caller's transaction; the sending is queued through the outbox, so a
broker outage loses nothing.
"""

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from debunk.reports.models import ReporterMessage, ReportNotice, RumorReport
from debunk.webhooks.services import OPEN, OutboxKind, outbox_attempt

EVENT = "report.outcome"


def outcome_payload(report: RumorReport) -> dict[str, Any]:
    """What a platform is told of its forwarded report (the webhook's `data`, the feed's item)."""
    return {
        "id": report.pk,
        "external_id": report.external_id,
        "outcome": report.outcome,
        "rumor_id": report.rumor_id,
        "outcome_at": report.outcome_at.isoformat() if report.outcome_at else None,
        "cluster_id": report.content.cluster_id,
    }


def _message(report: RumorReport) -> tuple[str, str]:
    with translation.override(report.language or "zh-hans"):
        subject = _("Your rumor report #%(id)s") % {"id": report.pk}
        lines = {
            RumorReport.Outcome.DEBUNKED: _("A published debunk applies to what you reported."),
            RumorReport.Outcome.DRAFTED: _("Fact-checkers are preparing a debunk of what you reported."),
            RumorReport.Outcome.DISMISSED: _("Fact-checkers looked into your report and closed it."),
        }
        body = [_("Thank you for your report."), str(lines.get(report.outcome, ""))]
        if report.rumor_id and report.outcome == RumorReport.Outcome.DEBUNKED:
            body.append(_("Read the debunk: %(path)s") % {"path": f"/rumors/{report.rumor_id}/"})
    return subject, "\n\n".join(line for line in body if line)


def outcome_notify(reports: list[RumorReport]) -> None:
    """Queue the outcome of each report to its reporter (when a contact was given) and its platform."""
    from debunk.core.outbox import enqueue
    from debunk.reports.tasks import report_notice_send_task, reporter_message_send_task

    messages = []
    for report in reports:
        if report.contact:
            subject, body = _message(report)
            messages.append(ReporterMessage(report=report, to=report.contact, subject=subject, body=body))
    notices = [
        ReportNotice(
            report=report,
            platform_id=report.platform_id,
            message_id=f"msg_{uuid.uuid4().hex}",
            payload=outcome_payload(report),
        )
        for report in reports
        if report.platform_id is not None
    ]
    for message in ReporterMessage.objects.bulk_create(messages):
        enqueue(reporter_message_send_task, message.pk)
    for notice in ReportNotice.objects.bulk_create(notices):
        enqueue(report_notice_send_task, notice.pk)


# --- sending -------------------------------------------------------------------------------------------------------


class ReportNotices(OutboxKind):
    """An outcome notice goes to its platform's current endpoint; without one it waits for one (the platform reads
    GET /api/v1/reports/outcomes meanwhile)."""

    model = ReportNotice
    name = "report outcome notice"

    def body(self, message: ReportNotice) -> bytes:
        event = {"type": EVENT, "timestamp": message.created_at.isoformat(), "data": message.payload}
        return json.dumps(event, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


NOTICES = ReportNotices()


def notice_attempt(*, notice_id: int) -> str:
    """Send one outcome notice if due (debunk.webhooks.services.outbox_attempt)."""
    return outbox_attempt(kind=NOTICES, message_id=notice_id)


def reporter_message_send(*, message_id: int) -> str:
    """Send one e-mail to a reporter through Django's mail backend, once: pending → sent, or failed after
    REPORT_MAIL_MAX_ATTEMPTS attempts (each failure is kept on the row)."""
    with transaction.atomic():
        message = ReporterMessage.objects.select_for_update().filter(pk=message_id).first()
        if message is None or message.status != ReporterMessage.Status.PENDING:
            return "skipped"
        message.attempts += 1
        try:
            send_mail(message.subject, message.body, None, [message.to])
        except Exception as exc:
            message.last_error = str(exc)[:2000]
            if message.attempts >= settings.REPORT_MAIL_MAX_ATTEMPTS:
                message.status = ReporterMessage.Status.FAILED
            message.save(update_fields=["attempts", "last_error", "status"])
            return "failed"
        message.status, message.sent_at = ReporterMessage.Status.SENT, timezone.now()
        message.save(update_fields=["attempts", "status", "sent_at"])
    return "sent"


# --- the beat's retries --------------------------------------------------------------------------------------------

MAIL_FIRST_RETRY = timedelta(minutes=5)  # then 10, 20, 40… minutes between attempts
MAIL_GRACE = timedelta(seconds=60)  # a new message is sent on commit: the beat leaves it alone this long


def notices_due(*, now: datetime | None = None) -> list[tuple[int, int]]:
    """(id, attempts) of the outcome notices whose next attempt is due, oldest first."""
    now = now or timezone.now()
    due = ReportNotice.objects.filter(status__in=OPEN, next_attempt_at__lte=now).order_by("next_attempt_at")
    return list(due.values_list("pk", "attempts")[:1000])


def reporter_messages_due(*, now: datetime | None = None) -> list[tuple[int, int]]:
    """(id, attempts) of the pending e-mails to reporters due for an attempt, oldest first: a message never tried
    once MAIL_GRACE has passed (its task was lost), one tried k times MAIL_FIRST_RETRY × (2^k − 1) after it was
    written (5, 15, 35, 75… minutes)."""
    now = now or timezone.now()
    pending = ReporterMessage.objects.filter(
        status=ReporterMessage.Status.PENDING, created_at__lte=now - MAIL_GRACE
    ).order_by("created_at", "pk")
    due = []
    for pk, attempts, created_at in pending.values_list("pk", "attempts", "created_at")[:1000]:
        if attempts == 0 or created_at + MAIL_FIRST_RETRY * (2 ** min(attempts, 20) - 1) <= now:
            due.append((pk, attempts))
    return due
