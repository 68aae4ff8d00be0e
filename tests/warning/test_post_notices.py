"""Telling platforms which of their archived posts now match a rumor (`posts.matched`, after the archive re-scan) or
no longer do (`posts.unmatched`, after a retraction or expiry): the notices per platform and their chunks, the signed
webhook, the pull feed GET /api/v1/posts/matches, and a broker outage (the outbox keeps everything)."""

import base64
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from debunk.api.models import Platform
from debunk.core.models import QueuedTask
from debunk.core.outbox import outbox_sweep
from debunk.core.roles import operator_user
from debunk.corrections.archive import PostReport, posts_ingest
from debunk.corrections.tasks import rumor_published_task
from debunk.matching.models import Match
from debunk.matching.services import reset_caches
from debunk.stock import rumors as rumor_services
from debunk.stock.models import Rumor
from debunk.warning.models import PostMatchNotice
from debunk.warning.tasks import deliver_post_match_notices
from debunk.webhooks.models import OutboxMessage
from debunk.webhooks.services import endpoint_create
from tests.api.conftest import api_client, clear_cache, make_key, make_platform  # noqa: F401 (clear_cache: fixture)
from tests.corrections import delivery_fixtures
from tests.factories import make_rumor, publish_rumor
from tests.redis_server import celery_broker, free_port

allow_private, receiver = delivery_fixtures.allow_private, delivery_fixtures.receiver  # pytest fixtures
FEED = "/api/v1/posts/matches"
RUMOR = "紧急通知：某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水，转发给家人朋友！"
OTHER = "今天天气不错，我们去公园散步吧，顺便买点新鲜的水果回家"
MATCHED, UNMATCHED = PostMatchNotice.Event.MATCHED, PostMatchNotice.Event.UNMATCHED


@pytest.fixture(autouse=True)
def fresh_index():
    reset_caches()
    yield
    reset_caches()


@pytest.fixture
def weibo(db) -> Platform:
    return make_platform("weibo", "Weibo")


@pytest.fixture
def douyin(db) -> Platform:
    return make_platform("douyin", "Douyin")


@pytest.fixture
def kuaishou(db) -> Platform:
    return make_platform("kuaishou", "Kuaishou")


@pytest.fixture
def archive(weibo, douyin, kuaishou):
    """Posts archived before the rumor is known: two of weibo's and one of douyin's carry it, kuaishou's do not."""
    posts_ingest(
        platform=weibo,
        reports=[PostReport("w1", RUMOR), PostReport("w2", "转发：" + RUMOR + " 太可怕了"), PostReport("w3", OTHER)],
    )
    posts_ingest(platform=douyin, reports=[PostReport("d1", "【扩散】" + RUMOR), PostReport("d2", OTHER)])
    posts_ingest(platform=kuaishou, reports=[PostReport("k1", OTHER)])


@pytest.fixture
def run_commits(django_capture_on_commit_callbacks):
    """Run on-commit work (Celery tasks are eager in tests) as a committed transaction would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def publish(checker, reviewer, run_commits, **fields) -> Rumor:
    with run_commits():
        return publish_rumor(checker, reviewer, **{"claim": RUMOR, **fields})


def ids_of(platform: Platform, event: str = MATCHED) -> list[list[str]]:
    notices = PostMatchNotice.objects.filter(platform=platform, event=event).order_by("pk")
    return [n.payload["platform_post_ids"] for n in notices]


def test_publishing_tells_each_platform_which_of_its_posts_now_match(
    archive, weibo, douyin, kuaishou, checker, reviewer, run_commits
):
    rumor = publish(checker, reviewer, run_commits)
    assert ids_of(weibo) == [["w1", "w2"]]
    assert ids_of(douyin) == [["d1"]]
    assert ids_of(kuaishou) == []  # none of its posts match: told nothing
    notice = PostMatchNotice.objects.get(platform=weibo)
    payload = notice.payload
    assert notice.rumor_id == rumor.pk and notice.event == "posts.matched"
    assert payload["rumor_id"] == rumor.pk and payload["rumor_status"] == "published"
    assert payload["action"] == rumor.verdict.default_action
    assert payload["label"] == {"code": "false", "text_zh": rumor.verdict.text_zh, "text_en": rumor.verdict.text_en}
    assert payload["debunk"]["title"] == "网传停水三天系谣言"
    assert payload["debunk"]["url"].endswith(f"/rumors/{rumor.pk}/")
    assert payload["matched_at"] and "unmatched_at" not in payload
    # a second re-scan (a variant added) finds nothing new: nobody is told twice
    with run_commits():
        rumor_services.variant_add(rumor=rumor, by=reviewer, text="网传某市停水三天，水厂被污染了，大家快囤水吧")
    assert PostMatchNotice.objects.count() == 2


def test_a_variant_added_later_tells_the_platforms_of_the_posts_it_brings(
    weibo, douyin, checker, reviewer, run_commits
):
    variant = "网传城东化工厂昨晚发生爆炸，有毒气体正在扩散，附近居民请立即撤离并紧闭门窗"
    posts_ingest(platform=douyin, reports=[PostReport("d9", variant)])
    rumor = publish(checker, reviewer, run_commits)
    assert PostMatchNotice.objects.count() == 0  # the claim alone matches none of the archive
    with run_commits():
        rumor_services.variant_add(rumor=rumor, by=reviewer, text=variant)
    assert ids_of(douyin) == [["d9"]] and ids_of(weibo) == []


def test_many_posts_are_told_in_chunks(weibo, checker, reviewer, run_commits, settings):
    settings.POST_MATCH_NOTICE_CHUNK = 2
    posts_ingest(platform=weibo, reports=[PostReport(f"w{i}", f"{RUMOR} 第{i}次转发") for i in range(5)])
    publish(checker, reviewer, run_commits)
    chunks = ids_of(weibo)
    assert [len(c) for c in chunks] == [2, 2, 1]
    assert sorted(ref for c in chunks for ref in c) == [f"w{i}" for i in range(5)]  # each post once
    assert len({n.message_id for n in PostMatchNotice.objects.all()}) == 3


def test_a_retraction_tells_the_platforms_to_lift_their_labels_and_a_comeback_tells_them_again(
    archive, weibo, douyin, kuaishou, checker, reviewer, run_commits
):
    rumor = publish(checker, reviewer, run_commits)
    Match.objects.filter(rumor=rumor, post__platform_post_id="w2").update(status="confirmed")  # confirmed counts too
    w3 = weibo.posts.get(platform_post_id="w3")
    Match.objects.create(post=w3, rumor=rumor, similarity=0.5, containment=0.5, status="rejected")  # never matched
    with run_commits():
        rumor_services.rumor_retract(rumor=rumor, by=reviewer, reason="核实有误")
    assert ids_of(weibo, UNMATCHED) == [["w1", "w2"]]
    assert ids_of(douyin, UNMATCHED) == [["d1"]]
    assert ids_of(kuaishou, UNMATCHED) == []
    payload = PostMatchNotice.objects.get(platform=douyin, event=UNMATCHED).payload
    assert payload["rumor_status"] == "retracted" and payload["unmatched_at"] and "matched_at" not in payload
    assert payload["label"]["code"] == "false" and payload["action"] == rumor.verdict.default_action
    # reopened, reviewed and published again: no post is newly matched, yet the platforms must label them again
    with run_commits():
        rumor_services.rumor_reopen(rumor=rumor, by=reviewer)
        rumor_services.rumor_submit(rumor=rumor, by=checker)
        rumor_services.rumor_publish(rumor=rumor, by=reviewer)
    assert ids_of(weibo) == [["w1", "w2"], ["w1", "w2"]]
    assert ids_of(douyin) == [["d1"], ["d1"]]
    assert ids_of(kuaishou) == []


def test_an_expiry_sends_posts_unmatched(archive, weibo, douyin, checker, reviewer, run_commits):
    rumor = publish(checker, reviewer, run_commits)
    Rumor.objects.filter(pk=rumor.pk).update(valid_until=timezone.now() - timedelta(minutes=1))
    rumor.refresh_from_db()
    with run_commits():
        rumor_services.rumor_expire(rumor=rumor, by=reviewer)
    assert ids_of(weibo, UNMATCHED) == [["w1", "w2"]] and ids_of(douyin, UNMATCHED) == [["d1"]]
    assert PostMatchNotice.objects.get(platform=weibo, event=UNMATCHED).payload["rumor_status"] == "expired"


def test_a_draft_or_a_refused_retraction_sends_nothing(archive, checker, reviewer, run_commits):
    with run_commits():
        rumor = make_rumor(checker, claim=RUMOR)
    rumor_published_task(rumor.pk)  # a stray re-scan of a rumor that is not live
    with pytest.raises(ValidationError):  # a retraction needs a reason: refused, nothing written
        rumor_services.rumor_retract(rumor=publish(checker, reviewer, run_commits), by=reviewer, reason=" ")
    assert not PostMatchNotice.objects.filter(event=UNMATCHED).exists()
    assert PostMatchNotice.objects.filter(event=MATCHED).count() == 2  # the publication's only


# --- the webhook ---------------------------------------------------------------------------------------------------


def test_the_notice_is_pushed_signed_to_the_platforms_webhook_and_agrees_with_the_feed(
    archive, weibo, checker, reviewer, receiver, run_commits
):
    endpoint_create(platform=weibo, url=receiver.url, secret=receiver.secret, by=operator_user())
    rumor = publish(checker, reviewer, run_commits)
    notice = PostMatchNotice.objects.get(platform=weibo)
    assert notice.status == OutboxMessage.Status.DELIVERED
    [arrival] = receiver.received  # the sink checked the signature with the endpoint's secret (401 otherwise)
    assert arrival["webhook_id"] == notice.message_id
    assert arrival["payload"]["type"] == "posts.matched"
    data = arrival["payload"]["data"]
    assert data["rumor_id"] == rumor.pk and data["platform_post_ids"] == ["w1", "w2"]
    client = api_client(make_key(weibo)[1])
    assert [data] == client.get(FEED).json()["results"]  # the webhook and the feed agree
    with run_commits():
        rumor_services.rumor_retract(rumor=rumor, by=reviewer, reason="核实有误")
    assert [r["payload"]["type"] for r in receiver.received] == ["posts.matched", "posts.unmatched"]


def test_the_beat_sends_a_notice_once_an_endpoint_exists_and_retries(
    archive, weibo, checker, reviewer, receiver, run_commits
):
    publish(checker, reviewer, run_commits)
    notice = PostMatchNotice.objects.get(platform=weibo)
    assert notice.status == OutboxMessage.Status.PENDING and notice.last_response == "no active endpoint"
    assert deliver_post_match_notices() == 0  # waiting an hour, or for an endpoint
    receiver.answer(500)
    endpoint_create(platform=weibo, url=receiver.url, secret=receiver.secret, by=operator_user())
    assert deliver_post_match_notices() == 1  # weibo's is due at once (douyin's still waits): sent, and refused
    notice.refresh_from_db()
    assert notice.status == OutboxMessage.Status.RETRYING and notice.last_status_code == 500
    receiver.answer(204)
    PostMatchNotice.objects.filter(pk=notice.pk).update(next_attempt_at=timezone.now())
    assert deliver_post_match_notices() == 1  # a new attempt: a new lease
    notice.refresh_from_db()
    assert notice.status == OutboxMessage.Status.DELIVERED and notice.attempts == 2
    assert [r["webhook_id"] for r in receiver.received] == [notice.message_id]  # sent once it was accepted


def test_a_broker_outage_loses_no_notice(archive, weibo, douyin, checker, reviewer, receiver, run_commits):
    endpoint_create(platform=weibo, url=receiver.url, secret=receiver.secret, by=operator_user())
    rumor = publish(checker, reviewer, run_commits)
    receiver.received.clear()
    with celery_broker(f"redis://127.0.0.1:{free_port()}/0"), run_commits():  # nothing listens there
        rumor_services.rumor_retract(rumor=rumor, by=reviewer, reason="核实有误")
    notices = list(PostMatchNotice.objects.filter(event=UNMATCHED).order_by("platform_id"))
    assert [n.payload["platform_post_ids"] for n in notices] == [["w1", "w2"], ["d1"]]  # written with the retraction
    kept = list(QueuedTask.objects.filter(task="debunk.tasks.deliver_post_match_notice").values_list("args", flat=True))
    assert sorted(kept) == sorted([[n.pk] for n in notices])  # their sends wait in the outbox
    assert receiver.received == []
    assert outbox_sweep(older_than=timedelta(0)) >= 2  # the broker is back (here: eager)
    assert [r["payload"]["data"]["id"] for r in receiver.received] == [notices[0].pk]  # douyin has no endpoint
    assert PostMatchNotice.objects.get(pk=notices[0].pk).status == OutboxMessage.Status.DELIVERED


# --- the pull feed -------------------------------------------------------------------------------------------------


def test_the_feed_pages_filters_and_shows_only_the_callers_notices(
    archive, weibo, douyin, checker, reviewer, run_commits, settings
):
    settings.POST_MATCH_NOTICE_CHUNK = 1
    rumor = publish(checker, reviewer, run_commits)
    with run_commits():
        rumor_services.rumor_retract(rumor=rumor, by=reviewer, reason="核实有误")
    client = api_client(make_key(weibo)[1])
    first = client.get(FEED, {"page_size": 3})
    assert first.status_code == 200
    page = first.json()
    assert [(r["event"], r["platform_post_ids"]) for r in page["results"]] == [
        ("posts.matched", ["w1"]),
        ("posts.matched", ["w2"]),
        ("posts.unmatched", ["w1"]),
    ]
    rest = client.get(page["next"]).json()
    assert [(r["event"], r["platform_post_ids"]) for r in rest["results"]] == [("posts.unmatched", ["w2"])]
    assert rest["next"] is None
    item = page["results"][0]
    assert set(item) == {
        "id",
        "event",
        "created_at",
        "rumor_id",
        "rumor_status",
        "action",
        "label",
        "debunk",
        "platform_post_ids",
        "matched_at",
    }
    only = client.get(FEED, {"event": "posts.unmatched"}).json()["results"]
    assert [r["platform_post_ids"] for r in only] == [["w1"], ["w2"]]
    theirs = api_client(make_key(douyin)[1]).get(FEED).json()["results"]
    assert [(r["event"], r["platform_post_ids"]) for r in theirs] == [
        ("posts.matched", ["d1"]),
        ("posts.unmatched", ["d1"]),
    ]
    assert (
        len(client.get(FEED, {"event": ""}).json()["results"]) == 4
    )  # an empty query value is no filter (lenient GET)
    for bad in [{"event": "posts.deleted"}, {"event": "POSTS.MATCHED"}, {"page_size": "x", "event": "matched"}]:
        response = client.get(FEED, bad)
        assert response.status_code == 400 and "event" in response.json()
    for cursor in ["not base64!", base64.b64encode(b"p=not-a-number").decode()]:
        assert client.get(FEED, {"cursor": cursor}).status_code == 404
    assert api_client().get(FEED).status_code in (401, 403)
