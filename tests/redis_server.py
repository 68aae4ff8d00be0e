"""A throwaway redis-server on a free 127.0.0.1 port that a test can stop and start again (a broker outage), and
a context that points this process's Celery app at it."""

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """`start()` / `stop()` a real redis-server (no persistence: a restart starts empty, as after a crash)."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server not installed: apt-get install -y redis-server (.ci/services.sh does)")
        self.binary, self.directory, self.port = binary, directory, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = open(self.directory / "redis.log", "a")  # noqa: SIM115 (closed below: the server keeps its own fd)
        self.process = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
            + ["--dir", str(self.directory)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start; see {self.directory / 'redis.log'}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=2)

    def queued(self, queue: str) -> int:
        """Messages waiting in a Celery queue (its Redis list, priority lists included)."""
        client = self.client()
        return sum(client.llen(key) for key in client.keys(f"{queue}*") if client.type(key) == b"list")


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    yield server
    server.stop()


@contextmanager
def celery_broker(url: str, queue: str | None = None) -> Iterator[str]:
    """Send this process's tasks to the broker at `url` (a queue of their own) instead of running them eagerly;
    yields the queue name."""
    from debunk.celery import app

    queue = queue or f"test-{uuid.uuid4().hex[:8]}"
    conf = app.conf
    previous = conf.broker_url, conf.task_default_queue, conf.task_always_eager
    previous_env = os.environ.get("CELERY_BROKER_URL")  # Celery reads it before its own configuration
    _reset_pools(app)
    conf.broker_url, conf.task_default_queue, conf.task_always_eager = url, queue, False
    os.environ["CELERY_BROKER_URL"] = url
    try:
        yield queue
    finally:
        _reset_pools(app)
        conf.broker_url, conf.task_default_queue, conf.task_always_eager = previous
        if previous_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = previous_env


def _reset_pools(app) -> None:
    """Forget the pooled broker connections: they point at the previous broker (the next use makes new pools)."""
    app._pool = None
    app.amqp._producer_pool = None
