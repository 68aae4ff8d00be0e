"""Publishing and retracting change what another serving process matches within 5 seconds, no restart."""

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from debunk.core.roles import FACT_CHECKER, REVIEWER
from debunk.stock import rumors as svc
from debunk.stock.attachments import attachment_add
from debunk.stock.models import Attachment
from tests.celery_worker import database_url
from tests.factories import UserFactory, make_rumor

CLAIM = "紧急通知：某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水，转发给家人朋友！"
ROOT = Path(__file__).resolve().parents[2]


class Matcher:
    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("matcher_process.py"))],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}

    def match(self, text: str | dict) -> dict:
        self.proc.stdin.write(json.dumps(text) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def seconds_until(self, text: str | dict, matched: bool, timeout: float = 10.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.match(text)["matched"] is matched:
                return time.monotonic() - started
            time.sleep(0.05)
        raise AssertionError(f"the other process still says matched={not matched} after {timeout} s")

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture
def two_matchers(seeded_transactional_db, settings, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MATCH_INDEX_DIR": str(tmp_path / "shared-index"),
        "MATCH_INDEX_POLL_SECONDS": "1",
        "DJANGO_SETTINGS_MODULE": "debunk.settings",
        "PYTHONPATH": str(ROOT),
    }
    matchers = [Matcher(env), Matcher(env)]
    yield matchers
    for m in matchers:
        m.close()


def test_publish_and_retract_reach_other_processes_within_5_seconds(two_matchers):
    checker = UserFactory(username="checker", roles=[FACT_CHECKER])
    reviewer = UserFactory(username="reviewer", roles=[REVIEWER])
    rumor = make_rumor(checker, claim=CLAIM)
    for m in two_matchers:
        assert m.match(CLAIM)["matched"] is False
    svc.rumor_submit(rumor=rumor, by=checker)
    svc.rumor_publish(rumor=rumor, by=reviewer)
    for m in two_matchers:
        assert m.seconds_until(CLAIM, matched=True) < 5
    svc.rumor_retract(rumor=rumor, by=reviewer, reason="freshness test")
    for m in two_matchers:
        assert m.seconds_until(CLAIM, matched=False) < 5


def test_rumor_images_reach_other_processes_within_5_seconds(two_matchers, settings, tmp_path):
    """Publishing a rumor with an image, adding an image to a published rumor and retracting it: the image index of
    both other processes follows within 5 s, from a snapshot the machine's processes share."""
    from tests.images.test_match_api import b64, encode, picture

    settings.MEDIA_ROOT = tmp_path / "media"
    checker = UserFactory(username="checker", roles=[FACT_CHECKER])
    reviewer = UserFactory(username="reviewer", roles=[REVIEWER])
    rumor = make_rumor(checker, claim=CLAIM)
    first, second = ({"image": b64(encode(picture(seed)))} for seed in (31, 32))
    attachment_add(
        rumor=rumor, by=checker, upload=io.BytesIO(encode(picture(31))), name="a.jpg", role=Attachment.Role.RUMOR_IMAGE
    )
    for m in two_matchers:
        assert m.match(first)["matched"] is False
    svc.rumor_submit(rumor=rumor, by=checker)
    svc.rumor_publish(rumor=rumor, by=reviewer)
    for m in two_matchers:
        assert m.seconds_until(first, matched=True) < 5
        assert m.match(second)["matched"] is False
    attachment_add(
        rumor=rumor, by=reviewer, upload=io.BytesIO(encode(picture(32))), name="b.jpg", role=Attachment.Role.RUMOR_IMAGE
    )
    for m in two_matchers:
        assert m.seconds_until(second, matched=True) < 5
    svc.rumor_retract(rumor=rumor, by=reviewer, reason="freshness test")
    for m in two_matchers:
        assert m.seconds_until(first, matched=False) < 5
    snapshots = list((tmp_path / "shared-index").glob("*/images/v*/complete"))
    assert snapshots, "the image index snapshot is shared on disk"


def test_claim_index_follows_publish_and_retract_within_5_seconds(two_matchers, tmp_path):
    """A reworded post (no near-duplicate of the claim) is found by the claim index of both other processes within
    5 s of the publish, and no more within 5 s of the retraction."""
    from labels.models import VerdictLabel
    from tests.matching.test_claim_tier import CLAIM as CLAIM_TIER_CLAIM
    from tests.matching.test_claim_tier import REVIEW, REWORDED

    VerdictLabel.objects.filter(code="false").update(claim_review_threshold=REVIEW)
    checker = UserFactory(username="checker", roles=[FACT_CHECKER])
    reviewer = UserFactory(username="reviewer", roles=[REVIEWER])
    rumor = make_rumor(checker, claim=CLAIM_TIER_CLAIM, verdict="false")
    for m in two_matchers:
        assert m.match(REWORDED)["matched"] is False
    svc.rumor_submit(rumor=rumor, by=checker)
    svc.rumor_publish(rumor=rumor, by=reviewer)
    for m in two_matchers:
        assert m.seconds_until(REWORDED, matched=True) < 5
        assert m.match(REWORDED)["stages"] == ["claim"]
    svc.rumor_retract(rumor=rumor, by=reviewer, reason="freshness test")
    for m in two_matchers:
        assert m.seconds_until(REWORDED, matched=False) < 5
    assert list((tmp_path / "shared-index").glob("*/claims/v*/complete")), "the claim snapshot is shared on disk"
