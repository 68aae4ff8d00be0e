"""Celery tasks of the early warning part.

Task names are pinned (`debunk.tasks.<name>`) so that queued tasks and the beat schedule survive moves."""

from typing import Any

from celery import shared_task
from celery.signals import task_postrun

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
