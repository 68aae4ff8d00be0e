"""Tasks queued after a commit survive an unreachable broker (debunk.core.outbox): against a real redis-server
that is stopped and started again, and a port where nothing listens. Nothing is lost, nothing is sent twice."""

import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from debunk.core.models import QueuedTask
from debunk.core.outbox import enqueue, outbox_sweep
from debunk.stock.models import Rumor
from debunk.stock.tasks import expire_rumor
from tests.factories import publish_rumor
from tests.redis_server import celery_broker, free_port, redis_server  # noqa: F401 (pytest fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def rumor(checker, reviewer) -> Rumor:
    rumor = publish_rumor(checker, reviewer)
    Rumor.objects.filter(pk=rumor.pk).update(valid_until=timezone.now() - timedelta(minutes=1))
    return rumor


def queue_after_commit(capture, *args: int) -> None:
    with capture(execute=True), transaction.atomic():
        for rumor_id in args:
            enqueue(expire_rumor, rumor_id)


def test_eager_runs_in_process_after_commit_and_stores_nothing(rumor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        enqueue(expire_rumor, rumor.pk)
        assert not QueuedTask.objects.exists()
        rumor.refresh_from_db()
        assert rumor.status == Rumor.Status.PUBLISHED  # not before the commit
    rumor.refresh_from_db()
    assert rumor.status == Rumor.Status.EXPIRED


def test_an_unreachable_broker_keeps_the_task_and_logs(rumor, django_capture_on_commit_callbacks, caplog):
    with celery_broker(f"redis://127.0.0.1:{free_port()}/0"):  # nothing listens there
        started = time.monotonic()
        queue_after_commit(django_capture_on_commit_callbacks, rumor.pk)  # does not raise
        assert time.monotonic() - started < 3  # fails at once: no broker retries inside a request
        row = QueuedTask.objects.get()
        assert (row.task, row.args) == ("debunk.tasks.expire_rumor", [rumor.pk])
        assert "kept in the outbox" in caplog.text
        assert outbox_sweep(older_than=timedelta(0)) == 0  # still down: kept for the next sweep
        with pytest.raises(CommandError, match="none could be sent"):
            call_command("outbox_sweep", "--older-than", "0")
    assert QueuedTask.objects.count() == 1


def test_a_rolled_back_write_queues_nothing(rumor, redis_server, django_capture_on_commit_callbacks):  # noqa: F811
    redis_server.start()
    with celery_broker(redis_server.url) as queue, django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            enqueue(expire_rumor, rumor.pk)
            raise RuntimeError("the write fails")
        assert not QueuedTask.objects.exists() and redis_server.queued(queue) == 0


def test_the_normal_path_sends_once(rumor, redis_server, django_capture_on_commit_callbacks):  # noqa: F811
    redis_server.start()
    with celery_broker(redis_server.url) as queue:
        queue_after_commit(django_capture_on_commit_callbacks, rumor.pk)
        assert not QueuedTask.objects.exists()  # the broker took it: the row is gone
        assert redis_server.queued(queue) == 1
        assert outbox_sweep(older_than=timedelta(0)) == 0
        assert redis_server.queued(queue) == 1


def test_an_outage_loses_nothing_and_the_sweep_sends_once(
    rumor,
    redis_server,  # noqa: F811
    django_capture_on_commit_callbacks,
    checker,
    reviewer,
):
    other = publish_rumor(checker, reviewer, claim="另一条谣言：喝醋可以预防流感，转发给家人。")
    redis_server.start()
    with celery_broker(redis_server.url) as queue:
        redis_server.stop()  # the broker goes down
        queue_after_commit(django_capture_on_commit_callbacks, rumor.pk, other.pk)
        assert QueuedTask.objects.count() == 2
        assert outbox_sweep(older_than=timedelta(0)) == 0
        redis_server.start()  # back, empty
        assert outbox_sweep() == 0  # younger than OUTBOX_GRACE_SECONDS: maybe still being sent on commit
        QueuedTask.objects.update(created_at=timezone.now() - timedelta(minutes=5))
        call_command("outbox_sweep")
        assert not QueuedTask.objects.exists()
        assert redis_server.queued(queue) == 2
        assert outbox_sweep(older_than=timedelta(0)) == 0  # nothing twice
        assert redis_server.queued(queue) == 2


def test_the_command_refuses_a_negative_age(db):
    with pytest.raises(CommandError, match="0 or more"):
        call_command("outbox_sweep", "--older-than", "-1")
