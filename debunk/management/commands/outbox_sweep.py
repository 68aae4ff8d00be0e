"""Send the Celery tasks left in the outbox while the broker was unreachable (the beat does it every
OUTBOX_SWEEP_SECONDS; this is for operators, e.g. right after a broker outage)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from debunk.core.models import QueuedTask
from debunk.core.outbox import outbox_sweep


class Command(BaseCommand):
    help = "Send the Celery tasks queued while the broker was unreachable (older than --older-than seconds)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=float,
            default=None,
            metavar="SECONDS",
            help="Only tasks queued at least this long ago (default: OUTBOX_GRACE_SECONDS; 0: all).",
        )

    def handle(self, *args: Any, older_than: float | None, **options: Any) -> None:
        from datetime import timedelta

        if older_than is not None and older_than < 0:
            raise CommandError("--older-than must be 0 or more seconds.")
        grace = None if older_than is None else timedelta(seconds=older_than)
        sent = outbox_sweep(older_than=grace)
        left = QueuedTask.objects.count()
        self.stdout.write(f"{sent} task(s) sent, {left} left in the outbox.")
        if left and not sent:
            raise CommandError(f"{left} task(s) left in the outbox and none could be sent: is the broker reachable?")
