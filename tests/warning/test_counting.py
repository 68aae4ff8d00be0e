"""Interception counts: every match answer to a platform counted per rumor, platform, action and hour (single,
batch, image hash, suspected, a match job's completing answer), the additive flush, a failing flush keeping its
counts, roll-ups and retention, the selectors, the public "spreading now" list, and the off switch."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from debunk.core.roles import FACT_CHECKER, REVIEWER
from debunk.images.services import query_image
from debunk.matching.services import MatchRequest, match_many, reset_caches
from debunk.stock import selectors as stock_selectors
from debunk.warning import counting
from debunk.warning.models import InterceptionCount
from debunk.warning.tasks import rollup_interception_counts
from labels.models import VerdictLabel
from tests.api.conftest import api_client, make_key, make_platform
from tests.factories import UserFactory, publish_rumor

MATCH = reverse("api:match")
BATCH = reverse("api:match-batch")
WATER = "紧急通知：某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水，转发给家人朋友！"
VACCINE = "网传接种新冠疫苗后会改变人体基因，专家呼吁立即停止接种，已经有很多人出现了严重的副作用"
UNRELATED = "今天天气很好，我们一家人去公园散步，看到很多人在放风筝，孩子们玩得很开心。"


@pytest.fixture(autouse=True)
def fresh_counts(settings):
    settings.WARNING_COUNTING = True
    settings.WARNING_FLUSH_SECONDS = 10
    counting.reset()
    yield
    counting.reset()


@pytest.fixture
def water(checker, reviewer):
    return publish_rumor(checker, reviewer, claim=WATER, verdict="false")  # block


@pytest.fixture
def vaccine(checker, reviewer):
    return publish_rumor(checker, reviewer, claim=VACCINE, verdict="misleading", title="接种疫苗改变基因？")  # label


@pytest.fixture
def weibo(db):
    return make_platform("weibo", "Weibo")


@pytest.fixture
def douyin(db):
    return make_platform("douyin", "Douyin")


def rows() -> dict[tuple, int]:
    """{(rumor, platform, action, period): count} of every row (hours summed)."""
    out: dict[tuple, int] = {}
    for r in InterceptionCount.objects.all():
        key = (r.rumor_id, r.platform_id, r.action, r.period)
        out[key] = out.get(key, 0) + r.count
    return out


def answered(client, path, body, on_commit):
    with on_commit(execute=True):  # counts inside a transaction are added when it commits (the test's never does)
        response = client.post(path, body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_single_and_batch_answers_count_per_rumor_platform_action_and_hour(
    water, vaccine, weibo, django_capture_on_commit_callbacks
):
    client = api_client(make_key(weibo)[1])
    answered(client, MATCH, {"text": WATER, "platform_post_id": "p1"}, django_capture_on_commit_callbacks)
    items = [
        {"id": "1", "text": WATER},
        {"id": "2", "text": VACCINE + "，转发"},
        {"id": "3", "text": UNRELATED},
        {"id": "4", "text": VACCINE},
        {"id": "5", "text": ""},  # a bad item: no answer, no count
    ]
    results = answered(client, BATCH, {"items": items}, django_capture_on_commit_callbacks)["results"]
    assert [r.get("action") for r in results] == ["block", "label", "allow", "label", None]
    hour = counting.hour_start(timezone.now())
    assert counting.pending() == {(water.pk, weibo.pk, "block", hour): 2, (vaccine.pk, weibo.pk, "label", hour): 2}
    assert not InterceptionCount.objects.exists()  # not yet due
    assert counting.flush() == 4
    assert rows() == {(water.pk, weibo.pk, "block", "hour"): 2, (vaccine.pk, weibo.pk, "label", "hour"): 2}
    assert InterceptionCount.objects.get(rumor=water).start == hour
    assert counting.pending() == {}
    # nothing of the post is kept: the row's fields are the key and the count
    assert {f.name for f in InterceptionCount._meta.fields} == {
        "id",
        *("rumor", "platform", "action", "period", "start", "count"),
    }


def test_the_flush_adds_to_existing_rows_and_two_platforms_count_apart(water, weibo, douyin):
    for _ in range(2):
        counting.add({(water.pk, weibo.pk, "block", counting.hour_start(timezone.now())): 3})
        counting.add({(water.pk, douyin.pk, "block", counting.hour_start(timezone.now())): 1})
        counting.flush()
    assert rows() == {(water.pk, weibo.pk, "block", "hour"): 6, (water.pk, douyin.pk, "block", "hour"): 2}
    assert InterceptionCount.objects.count() == 2  # one row per key: the upsert added to it


def test_a_suspected_match_counts_as_review(water, weibo, django_capture_on_commit_callbacks):
    verdict = VerdictLabel.objects.get(code="false")
    verdict.match_auto_threshold, verdict.match_review_threshold = 0.99, 0.3
    verdict.save()
    reset_caches()
    text = WATER.replace("三天", "一周").replace("囤水", "存水")
    with django_capture_on_commit_callbacks(execute=True):
        [answer] = match_many([MatchRequest(text, "publish", "p1")], platform=weibo)
    assert answer["matches"][0]["decision"] == "suspected"
    counting.flush()
    assert rows() == {(water.pk, weibo.pk, "review", "hour"): 1}


def test_image_hash_answers_count(checker, reviewer, weibo, django_capture_on_commit_callbacks, settings, tmp_path):
    from tests.images.test_match_api import b64, encode, picture, rumor_with_image

    settings.MEDIA_ROOT = tmp_path / "media"
    rumor = rumor_with_image(checker, reviewer, seed=11)
    client = api_client(make_key(weibo)[1])
    copy = encode(picture(11).resize((700, 525)), quality=45)
    answer = answered(client, MATCH, {"image": b64(copy)}, django_capture_on_commit_callbacks)
    assert answer["matches"][0]["via"] == "image_hash"
    counting.flush()
    assert rows() == {(rumor.pk, weibo.pk, rumor.verdict.default_action, "hour"): 1}


def test_a_match_jobs_answer_counts_only_what_the_text_read_found(
    water, vaccine, weibo, django_capture_on_commit_callbacks
):
    """The pending answer counted the post's text; the job's complete answer (the image's text given as already
    read, as the job gives it) adds the rumor found in the picture only."""
    from tests.images.test_match_api import encode, picture

    image = query_image(encode(picture(5, (320, 240))))
    request = MatchRequest(WATER, "publish", "p9", image=image, ocr="off", ocr_text=VACCINE)
    with django_capture_on_commit_callbacks(execute=True):
        [answer] = match_many([request], platform=weibo)
    assert {(m["rumor_id"], m["via"]) for m in answer["matches"]} == {(water.pk, "text"), (vaccine.pk, "ocr")}
    assert [(k[0], k[2], n) for k, n in counting.pending().items()] == [(vaccine.pk, "label", 1)]


def test_answers_without_a_platform_or_with_counting_off_count_nothing(
    water, weibo, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        match_many([MatchRequest(WATER)])  # an evaluation, an internal call
        settings.WARNING_COUNTING = False
        match_many([MatchRequest(WATER)], platform=weibo)
    assert callbacks == [] and counting.pending() == {}
    counting.flush()
    assert not InterceptionCount.objects.exists()
    settings.WARNING_COUNTING = True  # the same answer, counted
    with django_capture_on_commit_callbacks(execute=True):
        match_many([MatchRequest(WATER)], platform=weibo)
    assert list(counting.pending().values()) == [1]


def test_counts_of_a_rolled_back_transaction_are_dropped(water, weibo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        match_many([MatchRequest(WATER)], platform=weibo)
    assert len(callbacks) == 1 and counting.pending() == {}  # waits for a commit that never comes


def test_a_deleted_rumors_counts_are_dropped_not_blocking_the_flush(water, vaccine, weibo):
    hour = counting.hour_start(timezone.now())
    counting.add({(water.pk, weibo.pk, "block", hour): 1, (vaccine.pk + 1000, weibo.pk, "label", hour): 5})
    assert counting.flush() == 1
    assert rows() == {(water.pk, weibo.pk, "block", "hour"): 1} and counting.pending() == {}


def _rename(table: str, to: str) -> None:
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {qn(table)} RENAME TO {qn(to)}")


@pytest.mark.django_db(transaction=True)
def test_a_failing_flush_keeps_its_counts_and_never_fails_the_answer(seeded_transactional_db, settings):
    """A real database failure: the counts table is gone (renamed) while answers keep coming and flushes are due
    on every count; the answers are given, the counts wait in memory, and land once the table is back."""
    checker = UserFactory(username="checker", roles=[FACT_CHECKER])
    reviewer = UserFactory(username="reviewer", roles=[REVIEWER])
    water = publish_rumor(checker, reviewer, claim=WATER, verdict="false")
    weibo = make_platform()
    client = api_client(make_key(weibo)[1])
    settings.WARNING_FLUSH_SECONDS = 0  # due on every count
    table = InterceptionCount._meta.db_table
    _rename(table, f"{table}_away")
    try:
        for _ in range(3):
            response = client.post(MATCH, {"text": WATER}, format="json")
            assert response.status_code == 200 and response.json()["action"] == "block"
        [(key, n)] = counting.pending().items()
        assert key[:3] == (water.pk, weibo.pk, "block") and n == 3
    finally:
        _rename(f"{table}_away", table)
    assert client.post(MATCH, {"text": WATER}, format="json").status_code == 200  # this flush succeeds
    assert counting.pending() == {}
    assert rows() == {(water.pk, weibo.pk, "block", "hour"): 4}


def test_a_failing_flush_in_a_transaction_keeps_its_counts(water, weibo):
    hour = counting.hour_start(timezone.now())
    counting.add({(water.pk, weibo.pk, "block", hour): 2})
    table = InterceptionCount._meta.db_table
    _rename(table, f"{table}_away")
    try:
        assert counting.flush() == 0
    finally:
        _rename(f"{table}_away", table)
    assert counting.pending() == {(water.pk, weibo.pk, "block", hour): 2}
    assert counting.flush() == 2 and rows() == {(water.pk, weibo.pk, "block", "hour"): 2}


def test_rollup_folds_old_hours_into_days_and_retention_deletes_old_days(water, vaccine, weibo, settings):
    settings.WARNING_HOURLY_DAYS, settings.WARNING_DAILY_DAYS = 14, 400
    now = datetime(2026, 3, 20, 15, 30, tzinfo=UTC)
    old_day = datetime(2026, 3, 1, tzinfo=UTC)  # 19 days ago: folded
    make = InterceptionCount.objects.create
    make(rumor=water, platform=weibo, action="block", start=old_day + timedelta(hours=2), count=3)
    make(rumor=water, platform=weibo, action="block", start=old_day + timedelta(hours=23), count=4)
    make(rumor=water, platform=weibo, action="review", start=old_day + timedelta(hours=5), count=1)
    make(rumor=vaccine, platform=weibo, action="label", start=old_day + timedelta(days=1, hours=1), count=2)
    recent = make(rumor=water, platform=weibo, action="block", start=now - timedelta(days=3), count=9)
    make(rumor=water, platform=weibo, action="block", period="day", start=now - timedelta(days=401), count=50)
    kept_day = make(rumor=water, platform=weibo, action="block", period="day", start=now - timedelta(days=300), count=7)
    result = counting.rollup(now=now)
    assert result == {"days_rolled_up": 2, "hour_rows_folded": 4, "day_rows_deleted": 1}
    days = {
        (r.rumor_id, r.action, r.start): r.count
        for r in InterceptionCount.objects.filter(period="day").exclude(pk=kept_day.pk)
    }
    assert days == {
        (water.pk, "block", old_day): 7,
        (water.pk, "review", old_day): 1,
        (vaccine.pk, "label", old_day + timedelta(days=1)): 2,
    }
    assert list(InterceptionCount.objects.filter(period="hour")) == [recent]
    assert counting.rollup(now=now) == {"days_rolled_up": 0, "hour_rows_folded": 0, "day_rows_deleted": 0}
    # more hours of an already rolled-up day are added to its row
    make(rumor=water, platform=weibo, action="block", start=old_day + timedelta(hours=7), count=5)
    counting.rollup(now=now)
    assert InterceptionCount.objects.get(period="day", rumor=water, action="block", start=old_day).count == 12


def test_the_beat_task_rolls_up(water, weibo):
    InterceptionCount.objects.create(
        rumor=water, platform=weibo, action="block", start=timezone.now() - timedelta(days=30), count=1
    )
    assert rollup_interception_counts.delay().get()["hour_rows_folded"] == 1


def test_public_spreading_rumors_use_the_counts_automatic_hits_included(water, vaccine, weibo):
    now = timezone.now()
    make = InterceptionCount.objects.create
    make(rumor=water, platform=weibo, action="block", start=counting.hour_start(now), count=2)  # no Match row
    make(rumor=vaccine, platform=weibo, action="label", start=counting.hour_start(now), count=5)
    make(rumor=water, platform=weibo, action="review", start=counting.hour_start(now), count=50)  # suspicions: out
    make(rumor=water, platform=weibo, action="block", start=now - timedelta(days=8), count=500)  # too old
    spreading = list(stock_selectors.spreading_rumors(days=7))
    assert [(r.pk, r.recent_matches) for r in spreading] == [(vaccine.pk, 5), (water.pk, 2)]
    assert list(stock_selectors.spreading_rumors(days=7, limit=1)) == [vaccine]


def test_the_benchmarks_in_process_measure_writes_nothing(db):
    from debunk.bench.counting import in_process_us_per_answer

    assert in_process_us_per_answer(rounds=20) > 0
    assert counting.pending() == {} and not InterceptionCount.objects.exists()
