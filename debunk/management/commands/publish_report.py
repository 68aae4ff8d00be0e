import argparse
from datetime import date

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse
from django.utils import timezone

from debunk.core.roles import operator_user
from debunk.sanctions.models import Report
from debunk.sanctions.reports import report_publish_period


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a date such as 2026-11-09 is expected, got {text!r}") from None


class Command(BaseCommand):
    help = (
        "Publish a public report now (Celery beat publishes them on Mondays and on the 1st): the last full week or "
        "month, or the one starting on --period-start. A period already published is left as it is."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=Report.Kind.values)
        parser.add_argument(
            "--period-start",
            type=_day,
            default=None,
            help="First day of the period (YYYY-MM-DD): a Monday for weekly, the 1st for monthly; default: the last "
            "full period.",
        )

    def handle(self, *args, kind: str, period_start: date | None = None, **options) -> None:
        try:
            report, published = report_publish_period(kind=kind, period_start=period_start, by=operator_user())
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        period = f"{report.period_start} to {report.period_end} (exclusive)"
        url = reverse("report-detail", args=[report.pk])
        published_at = timezone.localtime(report.published_at)
        if published:
            self.stdout.write(self.style.SUCCESS(f"Published the {kind} report of {period}: {url}"))
        else:
            self.stdout.write(
                self.style.WARNING(
                    f"The {kind} report of {period} was already published on {published_at:%Y-%m-%d %H:%M} ({url}); "
                    "nothing changed."
                )
            )
