"""A real Celery worker process for tests: same broker, the test database, a queue of its own."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("another process shares the test database: needs PostgreSQL (set DATABASE_URL); .ci/run does")
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def spawn_worker(queue: str, extra_env: dict[str, str] | None = None, name: str = "") -> subprocess.Popen:
    """A worker process consuming `queue` (its log in var/), ready when it answers a ping."""
    from debunk.celery import app

    name = name or queue
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_QUEUE": queue,
        "DATABASE_CONN_MAX_AGE": "0",
        **(extra_env or {}),
    }
    log = open(ROOT / "var" / f"celery-{name}.log", "w")  # noqa: SIM115 (closed with the process)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "debunk", "worker", "--pool=prefork", "--concurrency=1"]
        + ["--loglevel=INFO", "--without-gossip", "--without-mingle", "-Q", queue, "-n", f"{name}@%h"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    worker.log = log
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[f"{name}@{os.uname().nodename}"], timeout=1.0):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"Celery worker did not start; see {log.name}")
    return worker


def stop_worker(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.terminate()
        worker.wait(timeout=30)
    worker.log.close()


@contextmanager
def tasks_to(queue: str) -> Iterator[None]:
    """Send this process's tasks through the broker to `queue` instead of running them eagerly."""
    from debunk.celery import app

    if not settings.CELERY_BROKER_URL:
        pytest.skip("needs a broker: set CELERY_BROKER_URL (or REDIS_URL) to a Redis server; .ci/run does")
    previous = app.conf.task_default_queue, app.conf.task_always_eager
    app.conf.task_default_queue, app.conf.task_always_eager = queue, False
    try:
        yield
    finally:
        app.conf.task_default_queue, app.conf.task_always_eager = previous


def start_worker() -> Iterator[subprocess.Popen]:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    with tasks_to(queue):
        worker = spawn_worker(queue)
        try:
            yield worker
        finally:
            stop_worker(worker)


def wait_until(check, timeout: float = 30.0, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False
