"""The match index off the request path: a request answers from the current snapshot plus deltas, never waits for
a snapshot build (held by another process here), and the process swaps to the background build's snapshot."""

import subprocess
import sys
import time

import pytest

from debunk.core.roles import FACT_CHECKER, REVIEWER
from debunk.matching import serving
from debunk.matching.models import IndexChange
from debunk.matching.services import match_text
from debunk.stock import rumors as svc
from tests.factories import UserFactory, make_rumor

CLAIMS = [
    "紧急通知：某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水，转发给家人朋友！",
    "网传吃香蕉会感染新型病毒，专家提醒近期不要购买进口水果，已有多人住院治疗，请互相转告。",
    "有人说用手机充电时打电话会爆炸，某地已经发生三起事故，千万不要边充电边通话，赶快告诉家里老人。",
    "震惊！微信下月起开始收费，每条消息收取一毛钱，转发这条消息到十个群就可以免费使用。",
    "最新消息：本市所有中小学明天起停课一周，教育局已经发布通知，请家长做好准备安排。",
    "听说喝盐水可以预防流感病毒，医院的专家都在推荐，每天早上空腹喝一杯效果最好，转给需要的人。",
]
PROMPT = 1.0  # seconds: a match request that had to build a snapshot would not answer within this


@pytest.fixture
def people(seeded_transactional_db):
    return UserFactory(username="checker", roles=[FACT_CHECKER]), UserFactory(username="reviewer", roles=[REVIEWER])


def publish(people, claim: str):
    checker, reviewer = people
    rumor = make_rumor(checker, claim=claim)
    svc.rumor_submit(rumor=rumor, by=checker)
    svc.rumor_publish(rumor=rumor, by=reviewer)
    return rumor


def timed_match(text: str) -> tuple[float, dict]:
    started = time.perf_counter()
    result = match_text(text=text)
    return time.perf_counter() - started, result


def snapshot_versions() -> list[int]:
    root = serving._database_dir()
    return sorted(
        v for p in root.iterdir() if (v := serving._name_version(p)) is not None and (p / "complete").exists()
    )


class LockHolder:
    """Another process holding the machine's snapshot-build lock, as a process in the middle of a build does."""

    def __init__(self, path) -> None:
        code = (
            "import fcntl, sys\n"
            f"f = open({str(path)!r}, 'w')\n"
            "fcntl.flock(f, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout.readline().strip() == "locked"

    def release(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def test_requests_never_wait_for_a_snapshot_build_and_swap_to_it_when_done(people, settings):
    settings.MATCH_INDEX_MAX_DELTA = 2
    publish(people, CLAIMS[0])
    index = serving.current_index()  # the process's first load: builds the first snapshot
    first_snapshot = index.snapshot_version
    assert snapshot_versions() == [first_snapshot]

    holder = LockHolder(serving._database_dir() / ".lock")
    try:
        for claim in CLAIMS[1:5]:
            publish(people, claim)
        latest = serving.latest_version()
        seconds, result = timed_match(CLAIMS[4])
        # Answered promptly, from the first snapshot plus the deltas, with the latest changes.
        assert result["matched"] is True and result["index_version"] == latest
        assert seconds < PROMPT, f"a match request took {seconds:.2f} s while another process held the build lock"
        index = serving.current_index()
        assert index.snapshot_version == first_snapshot and index.delta_size > settings.MATCH_INDEX_MAX_DELTA
        # The background build found the lock taken and gave up at once, building nothing.
        assert serving.wait_for_build(timeout=5)
        assert snapshot_versions() == [first_snapshot]
        # Still prompt and fresh while the lock stays held: a retraction shows at once.
        rumor = publish(people, CLAIMS[5])
        svc.rumor_retract(rumor=rumor, by=people[1], reason="serving test")
        seconds, result = timed_match(CLAIMS[5])
        assert result["matched"] is False and seconds < PROMPT
    finally:
        holder.release()

    # Lock free: the next poll starts a background build; the one after swaps to its snapshot.
    assert match_text(text=CLAIMS[3])["matched"] is True
    assert serving.wait_for_build(timeout=60)
    latest = serving.latest_version()
    assert snapshot_versions()[-1] == latest
    index = serving.current_index()
    assert index.snapshot_version == latest and index.delta_size == 0
    assert match_text(text=CLAIMS[3])["matched"] is True
    assert match_text(text=CLAIMS[5])["matched"] is False


def test_a_reload_everything_change_is_built_in_the_background(people, settings):
    publish(people, CLAIMS[0])
    before = serving.current_index().snapshot_version
    holder = LockHolder(serving._database_dir() / ".lock")
    try:
        IndexChange.objects.create(rumor_id=None)
        everything = serving.latest_version()
        seconds, result = timed_match(CLAIMS[0])
        assert result["matched"] is True and seconds < PROMPT  # the previous snapshot answers meanwhile
        assert serving.current_index().snapshot_version == before
        assert serving.wait_for_build(timeout=5)
    finally:
        holder.release()
    match_text(text=CLAIMS[0])
    assert serving.wait_for_build(timeout=60)
    assert serving.current_index().snapshot_version == everything > before


def test_in_memory_snapshots_are_also_built_in_the_background(people, settings):
    settings.MATCH_INDEX_DIR = ""
    settings.MATCH_INDEX_MAX_DELTA = 1
    publish(people, CLAIMS[0])
    before = serving.current_index().snapshot_version
    publish(people, CLAIMS[1])
    publish(people, CLAIMS[2])
    assert match_text(text=CLAIMS[2])["matched"] is True  # deltas; a build starts in a thread
    assert serving.wait_for_build(timeout=60)
    index = serving.current_index()
    assert index.snapshot_version > before and index.version == serving.latest_version()
    assert match_text(text=CLAIMS[1])["matched"] is True
