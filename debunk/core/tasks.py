"""Celery tasks of the core: the outbox sweep (see debunk/core/outbox.py).

Task names are pinned (`debunk.tasks.<name>`) so that queued tasks and the beat schedule survive moves."""

from celery import shared_task


@shared_task(name="debunk.tasks.outbox_sweep")
def outbox_sweep() -> int:
    """Celery beat, every OUTBOX_SWEEP_SECONDS: send the tasks left in the outbox while the broker was down."""
    from debunk.core.outbox import outbox_sweep as sweep

    return sweep()
