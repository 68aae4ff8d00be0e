"""Tasks queued after a commit survive an unreachable broker (a transactional outbox).

`enqueue(task, *args)` writes a QueuedTask row in the caller's transaction and, once it commits, sends the task
and deletes the row. If the broker cannot be reached the failure is logged, never raised: the write stands, and
`outbox_sweep` (Celery beat every OUTBOX_SWEEP_SECONDS, and `manage.py outbox_sweep`) sends the rows older than
OUTBOX_GRACE_SECONDS once the broker is back.

No double send in the normal path: the commit-time send and the sweep each take the row with
SELECT … FOR UPDATE SKIP LOCKED and delete it in the same transaction as the send, so one of them sends it. A send
accepted by the broker whose row could not be deleted (the database failed just then) is sent again by the sweep:
the tasks are idempotent, as every Celery task here is (delivery is at-least-once anyway).

In eager mode (no broker: CELERY_TASK_ALWAYS_EAGER) nothing is stored: the task runs in-process after commit.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from celery import Task
from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from debunk.core.models import QueuedTask

logger = logging.getLogger(__name__)


def _app() -> Any:
    from debunk.celery import app

    return app


def eager() -> bool:
    """True when tasks run in-process (no broker configured, or tests running tasks eagerly)."""
    return bool(_app().conf.task_always_eager)


def enqueue(task: Task, *args: Any) -> None:
    """Run `task(*args)` once the current transaction commits (at once outside a transaction). Arguments must be
    JSON values (ids, lists of ids, strings): tasks take ids."""
    if eager():
        transaction.on_commit(lambda: task.delay(*args))
        return
    row = QueuedTask.objects.create(task=task.name, args=list(args))
    transaction.on_commit(lambda: _send_row(row.pk, task.name))


@contextmanager
def _broker() -> Iterator[Any]:
    """A connection of its own that fails at once when the broker is unreachable (the default retries for
    seconds, and a request would wait that long for each task)."""
    with _app().connection_for_write(transport_options={"max_retries": 0}) as conn:
        conn.ensure_connection(max_retries=0)
        yield conn


def _publish(conn: Any, name: str, args: list[Any]) -> None:
    _app().send_task(name, args=args, connection=conn, retry=False)


def _locked(rows: QuerySet[QueuedTask]) -> QuerySet[QueuedTask]:
    if connection.features.has_select_for_update_skip_locked:
        return rows.select_for_update(skip_locked=True)
    return rows


def _send_one(conn: Any | None, pk: int) -> bool:
    """Take the row, send its task, delete it, in one transaction; False if another sender took it first.
    Without `conn`, a connection is opened only once the row is ours."""
    with transaction.atomic():
        row = _locked(QueuedTask.objects.filter(pk=pk)).first()
        if row is None:
            return False
        if conn is None:
            with _broker() as own:
                _publish(own, row.task, row.args)
        else:
            _publish(conn, row.task, row.args)
        row.delete()
    return True


def _send_row(pk: int, name: str) -> None:
    """The commit-time send of one row; logs (never raises) when the broker is unreachable."""
    try:
        _send_one(None, pk)
    except Exception:
        logger.exception("task %s kept in the outbox (row %s): the broker could not be reached", name, pk)


def outbox_sweep(*, older_than: timedelta | None = None, limit: int = 1000) -> int:
    """Send the queued tasks older than `older_than` (default OUTBOX_GRACE_SECONDS), oldest first; returns how
    many were sent. Stops at the first failure: the broker is still down, the rows wait for the next sweep."""
    grace = timedelta(seconds=settings.OUTBOX_GRACE_SECONDS) if older_than is None else older_than
    due = QueuedTask.objects.filter(created_at__lte=timezone.now() - grace).order_by("created_at", "pk")
    ids = list(due.values_list("pk", flat=True)[:limit])
    if not ids:
        return 0
    if eager():
        return _sweep_eager(ids)
    sent = 0
    try:
        with _broker() as conn:
            for pk in ids:
                sent += _send_one(conn, pk)
    except Exception:
        logger.exception("outbox sweep: the broker could not be reached (%d of %d sent)", sent, len(ids))
    if sent:
        logger.info("outbox sweep: %d queued task(s) sent", sent)
    return sent


def _sweep_eager(ids: list[int]) -> int:
    """Rows left from a time with a broker, now run in-process (each taken, then run)."""
    app = _app()
    app.loader.import_default_modules()
    sent = 0
    for row in QueuedTask.objects.filter(pk__in=ids).order_by("created_at", "pk"):
        if QueuedTask.objects.filter(pk=row.pk).delete()[0]:
            app.tasks[row.task].apply(args=row.args)
            sent += 1
    return sent
