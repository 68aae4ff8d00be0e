"""A real worker killed in the middle of a fan-out: nothing lost, nothing twice (run by .ci/run on
PostgreSQL with a Redis broker; skipped with the reason otherwise)."""

import contextlib
import os
import signal
import subprocess
import uuid
from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from debunk.api.models import Platform
from debunk.core.roles import FACT_CHECKER, REVIEWER
from debunk.corrections.archive import PostReport, posts_ingest
from debunk.corrections.models import Correction, Exposure
from debunk.matching.models import Match
from tests.celery_worker import spawn_worker, stop_worker, tasks_to, wait_until
from tests.factories import UserFactory, publish_rumor

RUMOR = "紧急通知：某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水，转发给家人朋友！"
USERS = 6000


def crash(worker: subprocess.Popen) -> None:
    """SIGKILL the worker and its prefork child running the task, as a machine failure would."""
    children = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True).stdout.split()
    for pid in [worker.pid, *map(int, children)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.wait(timeout=30)


@pytest.mark.celery_worker
def test_killed_fanout_resumes_without_duplicates(seeded_transactional_db):
    platform = Platform.objects.create(code="weibo", name="Weibo")
    posts_ingest(platform=platform, reports=[PostReport("p1", RUMOR)])  # archived before the rumor is known
    at = timezone.now() - timedelta(hours=1)
    Exposure.objects.bulk_create(
        Exposure(platform=platform, platform_post_id="p1", post_id=None, user_hash=f"{i:064x}", interaction=5, at=at)
        for i in range(USERS)
    )
    Exposure.objects.update(post=platform.posts.get())
    checker = UserFactory(username="checker", roles=[FACT_CHECKER])
    reviewer = UserFactory(username="reviewer", roles=[REVIEWER])
    queue = f"test-{uuid.uuid4().hex[:8]}"
    # Many small transactions; quick redelivery. The first worker sweeps for abandoned tasks every second under a
    # Redis lock: killed during a sweep, it leaves that lock held, so the lock must expire soon too.
    slow = {
        "CORRECTIONS_CHUNK": "20",
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "CELERY_UNACKED_RESTORE_SECONDS": "1",
        "CELERY_UNACKED_MUTEX_SECONDS": "3",
    }
    with tasks_to(queue):
        first = spawn_worker(queue, slow, name=f"{queue}-a")
        try:
            rumor = publish_rumor(checker, reviewer, claim=RUMOR)  # after commit: re-scan, then fan-out, on the worker
            assert wait_until(Correction.objects.exists, timeout=60, interval=0.05), f"no fan-out; see {first.log.name}"
            crash(first)
            done_at_crash = Correction.objects.count()
            assert 0 < done_at_crash < USERS, "the fan-out finished before the crash: raise USERS"
        finally:
            stop_worker(first)
        second = spawn_worker(queue, slow, name=f"{queue}-b")  # the unacknowledged task comes back to it
        try:
            assert wait_until(lambda: Correction.objects.count() >= USERS, timeout=120), (
                f"the fan-out did not resume: {Correction.objects.count()} of {USERS}; see {second.log.name}"
            )
        finally:
            stop_worker(second)
    assert Match.objects.get(post__platform_post_id="p1").rumor_id == rumor.pk
    per_user = Correction.objects.values("user_hash").annotate(n=Count("pk"))
    assert per_user.count() == USERS and max(r["n"] for r in per_user) == 1
