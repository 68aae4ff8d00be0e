"""A real Celery worker delivering corrections to a real webhook sink (`manage.py webhook_sink`, a subprocess)
is SIGKILLed mid-way and restarted: in the end every correction reached the sink in exactly one webhook-id
(the sink may see a webhook-id twice, which receivers dedupe; never a correction in two webhook-ids), and none
was lost. Needs PostgreSQL and a Redis broker (.ci/run provides both); skipped with the reason otherwise."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models import Count

from debunk.api.models import Platform
from debunk.core.roles import operator_user
from debunk.corrections.models import Correction, Interaction, WebhookDelivery
from debunk.webhooks.services import endpoint_create, secret_generate
from tests.celery_worker import ROOT, database_url, wait_until
from tests.corrections.delivery_fixtures import make_corrections
from tests.factories import UserFactory, publish_rumor

CORRECTIONS = 600
BATCH = 25
TIMEOUT_SECONDS = 1  # the claim lease is 3 × this + 5 s: a killed worker's delivery is retried after 8 s


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def received(out: Path) -> list[dict]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def corrections_received(out: Path) -> dict[int, set[str]]:
    """Correction id → the webhook-ids it arrived in (duplicates of one webhook-id count once)."""
    seen: dict[int, set[str]] = defaultdict(set)
    for entry in received(out):
        for item in entry["payload"]["data"]["corrections"]:
            seen[item["id"]].add(entry["webhook_id"])
    return seen


class Workers:
    """Celery worker processes on a queue of their own, each in its own process group (killed as a whole)."""

    def __init__(self, env: dict[str, str], queue: str, log: Path) -> None:
        self.env, self.queue, self.log = env, queue, log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        from debunk.celery import app

        name = f"{self.queue}-{uuid.uuid4().hex[:4]}"
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "debunk", "worker", "--pool=prefork", "--concurrency=2"]
                + ["--loglevel=INFO", "--without-gossip", "--without-mingle", "-Q", self.queue]
                + ["-n", f"{name}@%h"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[f"{name}@{os.uname().nodename}"], timeout=1.0):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Celery worker did not start; see {self.log}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes: no shutdown, no acknowledgement, no cleanup."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


@pytest.fixture
def broker(seeded_transactional_db) -> Iterator[tuple[str, dict[str, str]]]:
    """A queue of the test's own and the environment of its workers; tasks of this process go there."""
    from debunk.celery import app

    if not settings.CELERY_BROKER_URL:
        pytest.skip("needs a broker: set CELERY_BROKER_URL (or REDIS_URL) to a Redis server; .ci/run does")
    queue = f"test-dlv-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),  # skips unless PostgreSQL
        "DATABASE_CONN_MAX_AGE": "0",
        "CELERY_QUEUE": queue,
        "WEBHOOK_BATCH": str(BATCH),
        "WEBHOOK_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
        "WEBHOOK_ALLOW_PRIVATE": "1",
    }
    previous = app.conf.task_default_queue, app.conf.task_always_eager
    app.conf.task_default_queue, app.conf.task_always_eager = queue, False
    yield queue, env
    app.conf.task_default_queue, app.conf.task_always_eager = previous


@pytest.fixture
def sink(tmp_path) -> Iterator[tuple[str, str, Path]]:
    """`manage.py webhook_sink` in a subprocess, answering after 0.2 s (so that deliveries are in flight)."""
    port, secret, out = free_port(), secret_generate(), tmp_path / "sink.jsonl"
    log = (tmp_path / "sink.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "webhook_sink", "--port", str(port), "--secret", secret]
        + ["--out", str(out), "--delay", "0.2"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return False

    try:
        assert wait_until(listening, timeout=30), f"the sink did not start; see {log.name}"
        yield f"http://127.0.0.1:{port}/hooks/debunk", secret, out
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.mark.celery_worker
def test_a_killed_worker_loses_nothing_and_sends_nothing_twice(broker, sink, tmp_path):
    from debunk.corrections.tasks import deliver_corrections

    queue, env = broker
    url, secret, out = sink
    author = UserFactory(username="checker", roles=["fact-checker"])
    reviewer = UserFactory(username="reviewer", roles=["reviewer"])
    platform = Platform.objects.create(code="weibo", name="Weibo")
    endpoint_create(platform=platform, url=url, secret=secret, by=operator_user())
    rumors = [publish_rumor(author, reviewer, claim=f"网传第{i}号谣言：自来水厂被污染，全市停水三天") for i in range(2)]
    for i, (rumor, interaction) in enumerate(
        [(rumors[0], Interaction.REPOST), (rumors[0], Interaction.VIEW), (rumors[1], Interaction.SHARE)]
    ):
        make_corrections(platform, rumor, CORRECTIONS // 3, interaction=interaction, prefix=f"p{i}-")
    ids = set(Correction.objects.values_list("pk", flat=True))
    assert len(ids) == CORRECTIONS

    workers = Workers(env, queue, ROOT / "var" / f"celery-{queue}.log")

    def beat_until(check, timeout: float) -> bool:
        """What Celery beat does every 15 s, every half second."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return True
            deliver_corrections.delay()
            time.sleep(0.5)
        return check()

    try:
        workers.start()
        assert beat_until(lambda: len(corrections_received(out)) >= CORRECTIONS // 3, timeout=60), (
            f"nothing arrived at the sink; see {workers.log}"
        )
        workers.kill()
        at_kill = len(corrections_received(out))
        in_flight = WebhookDelivery.objects.exclude(status="delivered").count()
        assert at_kill < CORRECTIONS, "the worker finished before it was killed: nothing was tested"

        workers.start()
        done = beat_until(lambda: Correction.objects.filter(status="delivered").count() == CORRECTIONS, timeout=120)
    finally:
        workers.stop()

    arrived = corrections_received(out)
    statuses = dict(Correction.objects.values_list("status").annotate(n=Count("pk")))
    assert done, f"not every correction was delivered: {len(arrived)} arrived; statuses {statuses}"
    assert set(arrived) == ids, "a correction was lost"
    twice = {pk: hooks for pk, hooks in arrived.items() if len(hooks) != 1}
    assert not twice, f"corrections received in more than one webhook-id: {twice}"
    by_id = dict(WebhookDelivery.objects.values_list("message_id", "pk"))
    for correction in Correction.objects.select_related("delivery"):
        assert arrived[correction.pk] == {correction.delivery.message_id}
    assert all(len(entry["payload"]["data"]["corrections"]) <= BATCH for entry in received(out))
    duplicates = sum(entry["duplicate"] for entry in received(out))
    print(
        f"\nkilled with {at_kill}/{CORRECTIONS} corrections received and {in_flight} deliveries open; "
        f"{len(by_id)} deliveries, {duplicates} webhook-id(s) received again after the restart"
    )
