"""match_text end to end on the database: decisions, thresholds, containment, queue, freshness."""

import pytest

from debunk.api.models import Platform
from debunk.matching.models import AllowListEntry, Match, Post
from debunk.matching.services import match_text, reset_caches
from debunk.stock import rumors as svc
from labels.models import VerdictLabel
from tests.factories import make_rumor, publish_rumor

CLAIM = "紧急通知：某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水，转发给家人朋友！"


@pytest.fixture
def published(checker, reviewer):
    return publish_rumor(checker, reviewer, claim=CLAIM, verdict="false")


@pytest.fixture
def platform(db):
    return Platform.objects.create(code="weibo", name="微博")


def test_exact_repost_is_blocked_with_debunk_and_evidence(published):
    result = match_text(text=CLAIM)
    assert result["matched"] is True
    assert result["action"] == "block"  # the `false` verdict's default action
    [m] = result["matches"]
    assert m["rumor_id"] == published.pk
    assert m["similarity"] == 1.0
    assert m["verdict"]["code"] == "false"
    assert m["debunk"]["title"] == "网传停水三天系谣言"
    assert m["evidence"][0]["post_span"][1] - m["evidence"][0]["post_span"][0] > 20


def test_light_edits_traditional_script_and_emoji_still_match(published):
    edited = "緊急通知!!某市自來水廠被汙染，明天起全市停水三天😱請大家趕緊囤水[蜡烛] 转给家人 http://t.cn/A6x"
    result = match_text(text=edited)
    assert result["matched"], result
    assert result["matches"][0]["rumor_id"] == published.pk


def test_rumor_quoted_inside_a_long_post_matches_by_containment(published):
    long_post = (
        "今天看到朋友圈都在传这个，我特意去问了在水务局工作的亲戚，他说根本没有这回事，大家不要慌。" * 3
        + CLAIM
        + "以上是网上流传的原文，希望大家理性看待，不信谣不传谣，有问题以官方通报为准。" * 3
    )
    result = match_text(text=long_post)
    assert result["matched"]
    match = result["matches"][0]
    assert match["containment"] >= 0.8
    assert match["similarity"] < 0.5


def test_repost_chain_segment_matches(published):
    chain = "太可怕了吧//@小明:真的假的？//@某大V:" + CLAIM
    assert match_text(text=chain)["matches"][0]["similarity"] == 1.0


def test_unrelated_text_does_not_match(published):
    result = match_text(text="今天天气很好，我们一家人去公园散步，看到很多人在放风筝，孩子们玩得很开心。")
    assert result == {**result, "matched": False, "action": "allow", "matches": []}


def test_between_thresholds_goes_to_review_and_the_queue(published, platform):
    verdict = VerdictLabel.objects.get(code="false")
    verdict.match_auto_threshold, verdict.match_review_threshold = 0.99, 0.3
    verdict.save()
    reset_caches()
    text = CLAIM.replace("三天", "一周").replace("囤水", "存水")
    result = match_text(text=text, platform=platform, platform_post_id="p1")
    assert result["action"] == "review"
    assert result["matches"][0]["decision"] == "suspected"
    match = Match.objects.get()
    assert (match.status, match.post.platform_post_id, match.rumor_id) == ("suspected", "p1", published.pk)
    match_text(text=text, platform=platform, platform_post_id="p1")
    assert Post.objects.count() == 1 and Match.objects.count() == 1  # idempotent per post id


def test_matching_writes_nothing_when_decided(published, platform):
    match_text(text=CLAIM, platform=platform, platform_post_id="p2")
    assert not Post.objects.exists() and not Match.objects.exists()


def test_allow_listed_text_stops_matching(published):
    from debunk.matching.fingerprint import exact_hash
    from debunk.matching.normalize import normalize

    AllowListEntry.objects.create(rumor=published, exact_hash=exact_hash(normalize(CLAIM).text))
    assert match_text(text=CLAIM)["matched"] is False


def test_publish_retract_and_variant_change_what_matches(checker, reviewer):
    rumor = make_rumor(checker, claim=CLAIM)
    assert not match_text(text=CLAIM)["matched"]  # drafts never match
    svc.rumor_submit(rumor=rumor, by=checker)
    svc.rumor_publish(rumor=rumor, by=reviewer)
    assert match_text(text=CLAIM)["matched"]
    variant = "重磅消息，本市水源地发现不明化学品，自来水已经不能喝了，千万别用自来水做饭"
    assert not match_text(text=variant)["matched"]
    svc.variant_add(rumor=rumor, by=reviewer, text=variant)
    assert match_text(text=variant)["matched"]
    svc.rumor_retract(rumor=rumor, by=reviewer, reason="撤回测试")
    assert not match_text(text=CLAIM)["matched"]
    assert not match_text(text=variant)["matched"]


def test_short_texts_match_only_exactly(checker, reviewer):
    publish_rumor(checker, reviewer, claim="某地地震了！")
    assert match_text(text="某地地震了")["matched"]
    assert not match_text(text="某地地震了吗？听说是假的")["matched"]


def test_compose_context_warns_the_author(published):
    result = match_text(text=CLAIM, context="compose")
    assert "谣言" in result["warning"]["text"]
    assert "warning" not in match_text(text=CLAIM, context="publish")


def test_a_batch_queues_its_suspected_posts_once_per_post_id(published, platform):
    from debunk.matching.services import MatchRequest, match_many

    verdict = VerdictLabel.objects.get(code="false")
    verdict.match_auto_threshold, verdict.match_review_threshold = 0.99, 0.3
    verdict.save()
    reset_caches()
    text = CLAIM.replace("三天", "一周").replace("囤水", "存水")
    other = text.replace("赶紧", "赶快") + "\x00"
    existing = Post.objects.create(platform=platform, platform_post_id="old", text="first text")
    requests = [
        MatchRequest(text, "publish", "a"),
        MatchRequest(other, "publish", "a"),  # the same post id again: one post, the first text
        MatchRequest(text, "publish", ""),
        MatchRequest(other, "publish", ""),  # no id: a post each
        MatchRequest(text, "publish", "old"),  # an existing post keeps its text
        MatchRequest("今天天气很好，我们一家人去公园散步，看到很多人在放风筝。", "publish", "b"),
        MatchRequest(CLAIM, "publish", "c"),  # decided automatically: not queued
    ]
    results = match_many(requests, platform=platform)
    assert [r["action"] for r in results] == ["review"] * 5 + ["allow", "block"]
    posts = Post.objects.order_by("pk")
    assert [(p.platform_post_id, p.text) for p in posts] == [
        ("old", "first text"),
        ("", text),
        ("", other.replace("\x00", "")),
        ("a", text),
    ]
    assert sorted(Match.objects.values_list("post__platform_post_id", "rumor_id", "status")) == [
        ("", published.pk, "suspected"),
        ("", published.pk, "suspected"),
        ("a", published.pk, "suspected"),
        ("old", published.pk, "suspected"),
    ]
    match_many(requests, platform=platform)  # idempotent per post id, new posts for posts without one
    assert Post.objects.filter(platform_post_id="").count() == 4
    assert Post.objects.exclude(platform_post_id="").count() == 2 and Match.objects.count() == 6
    assert existing.matches.get().similarity == results[4]["matches"][0]["similarity"]
