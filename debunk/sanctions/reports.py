"""Public reports (weekly, monthly) and the work ledger.

A report covers the last full week (Monday to Monday) or calendar month, in the display time zone: rumors
published by category, sanctions that took effect by measure, and the typical cases reviewers chose (their
public summary, never an account). Publishing is idempotent: one report per kind and period.
The work ledger is every audit event of a period as CSV, for assessment (administrators only).
"""

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from debunk.core.audit import audit_record
from debunk.core.models import AuditEvent
from debunk.core.roles import ADMINISTRATOR, require_perm, system_user
from debunk.sanctions.models import Report, Sanction
from debunk.stock.models import Rumor

APPLIED = (Sanction.Status.ACTIVE, Sanction.Status.EXPIRED, Sanction.Status.LIFTED)


def period_of(*, kind: str, today: date) -> tuple[date, date]:
    """The last full period before `today`: [start, end)."""
    if kind == Report.Kind.WEEKLY:
        end = today - timedelta(days=today.weekday())
        return end - timedelta(days=7), end
    end = today.replace(day=1)
    return (end - timedelta(days=1)).replace(day=1), end


def period_starting(*, kind: str, start: date, today: date | None = None) -> tuple[date, date]:
    """The full period [start, end) that begins on `start`: a Monday for a week, the 1st for a month; it must be
    over (before `today`), since a report's figures are final once published."""
    if kind not in Report.Kind.values:
        raise ValidationError({"kind": _("A report is weekly or monthly.")})
    if kind == Report.Kind.WEEKLY:
        if start.weekday() != 0:
            raise ValidationError({"period_start": _("A weekly report starts on a Monday.")})
        end = start + timedelta(days=7)
    else:
        if start.day != 1:
            raise ValidationError({"period_start": _("A monthly report starts on the 1st of a month.")})
        end = (start + timedelta(days=31)).replace(day=1)
    if end > (today or timezone.localdate()):
        raise ValidationError({"period_start": _("This period is not over yet: its report would change.")})
    return start, end


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    zone = timezone.get_current_timezone()
    return datetime.combine(start, time.min, zone), datetime.combine(end, time.min, zone)


def report_data(*, start: date, end: date) -> dict[str, Any]:
    """The figures of a report for [start, end)."""
    since, until = _bounds(start, end)
    rumors = (
        Rumor.objects.filter(published_at__gte=since, published_at__lt=until)
        .values("category__code", "category__name_zh", "category__name_en")
        .annotate(n=Count("pk"))
        .order_by("-n", "category__code")
    )
    sanctions = Sanction.objects.filter(approved_at__gte=since, approved_at__lt=until, status__in=[*APPLIED])
    by_measure = sanctions.values("measure").annotate(n=Count("pk")).order_by("measure")
    typical = sanctions.filter(typical_case=True).select_related("rumor__category").order_by("approved_at", "pk")
    return {
        "rumors_by_category": [
            {"category": r["category__code"], "name_zh": r["category__name_zh"], "name_en": r["category__name_en"]}
            | {"count": r["n"]}
            for r in rumors
        ],
        "sanctions_by_measure": [{"measure": r["measure"], "count": r["n"]} for r in by_measure],
        "typical_cases": [
            {
                "measure": s.measure,
                "days": s.days,
                "rumor_id": s.rumor_id,
                "claim": s.rumor.claim if s.rumor else "",
                "category": s.rumor.category.code if s.rumor else "",
                "summary": s.case_summary,
            }
            for s in typical
        ],
    }


def report_publish(*, kind: str, today: date | None = None) -> Report:
    """Publish the report of the last full period (the existing one if it was already published): Celery beat."""
    start, _end = period_of(kind=kind, today=today or timezone.localdate())
    by = system_user("system-reports", ADMINISTRATOR)
    return report_publish_period(kind=kind, period_start=start, by=by, today=today)[0]


def report_publish_period(
    *, kind: str, period_start: date | None = None, by: Any, today: date | None = None
) -> tuple[Report, bool]:
    """Publish the report of the period starting on `period_start` (default: the last full one) on demand, from
    the admin or the publish_report command; (report, True) when published now, (the existing report, False)
    when that period's report was already published: never a second one. The software acts as a system user
    (beat: `system-reports`; the command: the operator)."""
    require_perm(by, "debunk.add_report")
    today = today or timezone.localdate()
    if period_start is None:
        if kind not in Report.Kind.values:
            raise ValidationError({"kind": _("A report is weekly or monthly.")})
        start, end = period_of(kind=kind, today=today)
    else:
        start, end = period_starting(kind=kind, start=period_start, today=today)
    existing = Report.objects.filter(kind=kind, period_start=start).first()
    if existing is not None:
        return existing, False
    report = Report(kind=kind, period_start=start, period_end=end, data=report_data(start=start, end=end))
    try:
        with transaction.atomic():
            report.save()
            audit_record(
                actor=by,
                action="report.publish",
                target=report,
                changes={"period": [None, str(start)]},
            )
    except IntegrityError:  # published meanwhile by a duplicate task or another administrator
        return Report.objects.get(kind=kind, period_start=start), False
    return report, True


def report_csv(report: Report) -> str:
    """The report as CSV: one section per table."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "key", "count", "detail"])
    for row in report.data.get("rumors_by_category", []):
        writer.writerow(["rumors_by_category", row["category"], row["count"], row.get("name_zh", "")])
    for row in report.data.get("sanctions_by_measure", []):
        writer.writerow(["sanctions_by_measure", row["measure"], row["count"], ""])
    for row in report.data.get("typical_cases", []):
        writer.writerow(["typical_case", row["measure"], 1, f"{row['claim']} — {row['summary']}"])
    return out.getvalue()


# --- the work ledger -------------------------------------------------------------------------------------------

LEDGER_HEADER = ["id", "at", "actor", "action", "record_type", "record_id", "record", "reason", "changes"]


class _Echo:
    def write(self, value: str) -> str:
        return value


def ledger_lines(*, start: datetime, end: datetime) -> Iterator[str]:
    """CSV lines of every audit event in [start, end), oldest first (streamed, not held in memory)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(LEDGER_HEADER)
    events = (
        AuditEvent.objects.filter(at__gte=start, at__lt=end).select_related("actor", "target_type").order_by("at", "pk")
    )
    for e in events.iterator(chunk_size=2000):
        yield writer.writerow(
            [
                e.pk,
                e.at.isoformat(),
                e.actor.get_username() if e.actor else "",
                e.action,
                f"{e.target_type.app_label}.{e.target_type.model}",
                e.target_id,
                e.target_repr,
                e.reason,
                e.changes,
            ]
        )


def ledger_export(*, by: Any, start: datetime, end: datetime) -> Iterator[str]:
    """The ledger for an administrator; the export itself is audited."""
    if by is None or not by.has_perm("debunk.export_ledger"):
        raise PermissionDenied(_("You do not have permission to do this."))
    audit_record(actor=by, action="ledger.export", target=by, changes={"period": [start.isoformat(), end.isoformat()]})
    return ledger_lines(start=start, end=end)


def ledger_response(lines: Iterator[str], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
