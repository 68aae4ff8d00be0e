"""POST /api/v1/posts and /api/v1/exposures: the archive, pseudonyms, idempotence, joins and bad items."""

from datetime import UTC, datetime

import pytest

from debunk.api.models import ApiRequestLog
from debunk.core.pseudonyms import pseudonym
from debunk.corrections.models import Exposure
from debunk.matching.models import Fingerprint, Match, Post
from tests.api.conftest import make_key, make_platform
from tests.factories import publish_rumor

RUMOR = "紧急通知：某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水，转发给家人朋友！"
AT = "2026-11-20T08:00:00Z"


@pytest.fixture
def rumor(checker, reviewer):
    return publish_rumor(checker, reviewer, claim=RUMOR)


def post(pid: str, text: str = RUMOR, **extra) -> dict:
    return {"platform_post_id": pid, "text": text, "author_ref": f"author-{pid}", "posted_at": AT, **extra}


def test_posts_are_archived_fingerprinted_and_matched(client_for, platform, rumor):
    response = client_for.post(
        "/api/v1/posts",
        {"items": [post("p1"), post("p2", "今天天气不错，我们去公园散步吧，顺便买点水果")]},
        format="json",
    )
    assert response.status_code == 200
    first, second = response.json()["results"]
    assert first == {"platform_post_id": "p1", "created": True, "matches": [{"rumor_id": rumor.pk, "status": "auto"}]}
    assert second["matches"] == [] and second["created"] is True
    p1 = Post.objects.get(platform_post_id="p1")
    assert p1.archived and p1.posted_at == datetime(2026, 11, 20, 8, tzinfo=UTC)
    assert p1.author_hash == pseudonym(platform, "author-p1") and "author-p1" not in p1.author_hash
    assert Fingerprint.objects.filter(post__in=[p1], source="post").count() == 1
    assert Match.objects.get(post=p1).rumor == rumor


def test_posts_are_idempotent(client_for, rumor):
    client_for.post("/api/v1/posts", {"items": [post("p1")]}, format="json")
    again = client_for.post("/api/v1/posts", {"items": [post("p1"), post("p1")]}, format="json").json()["results"]
    assert [r["created"] for r in again] == [False, False]
    assert (
        Post.objects.count() == 1
        and Match.objects.count() == 1
        and Fingerprint.objects.filter(source="post").count() == 1
    )


def test_parent_links_either_order(client_for):
    client_for.post("/api/v1/posts", {"items": [post("child", "转发一下", parent_post_id="root")]}, format="json")
    client_for.post("/api/v1/posts", {"items": [post("root", "原帖内容比较长一点，便于测试转发的关系")]}, format="json")
    client_for.post("/api/v1/posts", {"items": [post("grandchild", "再转", parent_post_id="child")]}, format="json")
    child = Post.objects.get(platform_post_id="child")
    assert child.parent.platform_post_id == "root"
    assert Post.objects.get(platform_post_id="grandchild").parent == child


def test_posts_bad_items_get_their_own_errors(client_for):
    items = [
        post("ok"),
        {"platform_post_id": "x"},
        "nope",
        post("y", ""),
        post("z", posted_at="yesterday"),
        post("a" * 200),
    ]
    response = client_for.post("/api/v1/posts", {"items": items}, format="json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert results[0]["created"] is True
    assert "text" in results[1]["error"] and results[1]["platform_post_id"] == "x"
    assert "non_field_errors" in results[2]["error"]
    assert "text" in results[3]["error"] and "posted_at" in results[4]["error"]
    assert "platform_post_id" in results[5]["error"]
    assert Post.objects.count() == 1


@pytest.mark.parametrize(
    "body", [{}, {"items": []}, {"items": "x"}, {"items": [post(str(i)) for i in range(1001)]}, [1, 2]]
)
def test_posts_bad_batches(client_for, body):
    assert client_for.post("/api/v1/posts", body, format="json").status_code == 400
    assert Post.objects.count() == 0


def exposure(pid: str, user: str, interaction: str = "view", at: str = AT) -> dict:
    return {"platform_post_id": pid, "user_ref": user, "interaction": interaction, "at": at}


def test_exposures_are_hashed_idempotent_and_joined_later(client_for, platform):
    items = [exposure("p1", "u1"), exposure("p1", "u1"), exposure("p1", "u2", "repost"), exposure("p9", "u3")]
    body = client_for.post("/api/v1/exposures", {"items": items}, format="json").json()
    assert body == {"accepted": 4, "new": 3, "errors": []}
    again = client_for.post("/api/v1/exposures", {"items": items}, format="json").json()
    assert again["new"] == 0 and Exposure.objects.count() == 3
    assert set(Exposure.objects.values_list("user_hash", flat=True)) == {
        pseudonym(platform, u) for u in ("u1", "u2", "u3")
    }
    assert Exposure.objects.filter(post__isnull=True).count() == 3  # no post yet
    client_for.post("/api/v1/posts", {"items": [post("p1", "随便一条帖子的内容，和谣言无关的日常")]}, format="json")
    assert Exposure.objects.filter(post__platform_post_id="p1").count() == 2
    assert Exposure.objects.filter(post__isnull=True).count() == 1


def test_raw_user_ids_are_never_stored_or_logged(client_for, caplog):
    secret = "user-ref-that-must-not-leak-42"
    client_for.post("/api/v1/exposures", {"items": [exposure("p1", secret)]}, format="json")
    client_for.post("/api/v1/posts", {"items": [post("p1", author_ref=secret)]}, format="json")
    assert secret not in caplog.text
    for model in (Exposure, Post, ApiRequestLog):
        for row in model.objects.values():
            assert secret not in str(row)


def test_pseudonyms_differ_per_platform(db):
    a, b = make_platform("a", "A"), make_platform("b", "B")
    assert pseudonym(a, "u1") != pseudonym(b, "u1") and len(pseudonym(a, "u1")) == 64


def test_exposures_bad_items(client_for):
    items = [
        exposure("p1", "u1"),
        exposure("p1", "u2", "stare"),
        exposure("p1", "", "view"),
        exposure("p1", "u3", at="soon"),
        {"user_ref": "u4"},
        7,
    ]
    body = client_for.post("/api/v1/exposures", {"items": items}, format="json").json()
    assert body["accepted"] == 1 and body["new"] == 1
    assert [e["index"] for e in body["errors"]] == [1, 2, 3, 4, 5]
    assert "interaction" in body["errors"][0]["error"] and "at" in body["errors"][2]["error"]
    assert (
        client_for.post("/api/v1/exposures", {"items": [exposure("p", "u")] * 10_001}, format="json").status_code == 400
    )


def test_another_platforms_posts_are_separate(client_for, rumor):
    other = make_platform("douyin", "Douyin")
    _, raw = make_key(other)
    from tests.api.conftest import api_client

    client_for.post("/api/v1/posts", {"items": [post("p1")]}, format="json")
    result = api_client(raw).post("/api/v1/posts", {"items": [post("p1")]}, format="json").json()["results"][0]
    assert result["created"] is True and Post.objects.filter(platform_post_id="p1").count() == 2
