"""Deciding who gets a correction: retroactive re-scan on publish, arrival matching, ranking, one per user
and rumor, the daily cap, updates on retraction and verdict change, retention."""

from datetime import timedelta

import pytest
from django.utils import timezone

from debunk.core.pseudonyms import pseudonym
from debunk.corrections.models import Correction, Exposure
from debunk.corrections.services import corrections_fanout, corrections_release_deferred
from debunk.corrections.tasks import purge_exposures
from debunk.matching.models import Match, Post
from debunk.stock import rumors as rumor_services
from labels.models import VerdictLabel
from tests.factories import make_rumor, publish_rumor

RUMOR = "紧急通知：某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水，转发给家人朋友！"
OTHER = "今天天气不错，我们去公园散步吧，顺便买点新鲜的水果回家"


@pytest.fixture
def run_commits(django_capture_on_commit_callbacks):
    """Run on-commit work (Celery tasks are eager in tests) as a committed transaction would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def send(client, path, items, run_commits):
    with run_commits():
        response = client.post(path, {"items": items}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def posts(client, run_commits, *specs):
    items = [{"platform_post_id": pid, "text": text, "posted_at": "2026-11-20T08:00:00Z"} for pid, text in specs]
    return send(client, "/api/v1/posts", items, run_commits)


def exposures(client, run_commits, *specs):
    items = [{"platform_post_id": p, "user_ref": u, "interaction": i, "at": at} for p, u, i, at in specs]
    return send(client, "/api/v1/exposures", items, run_commits)


def publish(checker, reviewer, run_commits, **fields):
    with run_commits():
        return publish_rumor(checker, reviewer, **{"claim": RUMOR, **fields})


def test_publishing_rescans_the_archive_and_corrects_exposed_users(
    client_for, platform, checker, reviewer, run_commits
):
    posts(client_for, run_commits, ("p1", RUMOR), ("p2", "转发：" + RUMOR + " 太可怕了"), ("p3", OTHER))
    exposures(
        client_for,
        run_commits,
        ("p1", "u1", "view", "2026-11-20T09:00:00Z"),
        ("p1", "u1", "repost", "2026-11-20T08:30:00Z"),
        ("p2", "u1", "like", "2026-11-20T10:00:00Z"),
        ("p2", "u2", "comment", "2026-11-20T09:00:00Z"),
        ("p3", "u3", "repost", "2026-11-20T09:00:00Z"),  # saw only an unrelated post
    )
    assert not Correction.objects.exists()
    rumor = publish(checker, reviewer, run_commits)
    assert set(Match.objects.filter(rumor=rumor).values_list("post__platform_post_id", "status")) == {
        ("p1", "auto"),
        ("p2", "auto"),
    }
    corrections = {c.user_hash: c for c in Correction.objects.filter(rumor=rumor)}
    assert set(corrections) == {pseudonym(platform, "u1"), pseudonym(platform, "u2")}
    u1 = corrections[pseudonym(platform, "u1")]
    assert u1.get_interaction_display() == "repost" and u1.exposed_at.hour == 10  # strongest tier, latest time
    assert all(c.status == "pending" and c.kind == "correction" for c in corrections.values())
    assert corrections_fanout(rumor_id=rumor.pk) == 0  # idempotent: one per user and rumor


def test_posts_and_exposures_arriving_after_publication(client_for, platform, checker, reviewer, run_commits):
    rumor = publish(checker, reviewer, run_commits)
    exposures(client_for, run_commits, ("p1", "early", "view", "2026-11-20T09:00:00Z"))  # before its post
    posts(client_for, run_commits, ("p1", RUMOR))
    assert Correction.objects.filter(rumor=rumor, user_hash=pseudonym(platform, "early")).count() == 1
    exposures(client_for, run_commits, ("p1", "late", "share", "2026-11-20T11:00:00Z"))  # after it matched
    assert Correction.objects.filter(rumor=rumor).count() == 2


def test_suspected_matches_and_unpublished_rumors_send_nothing(client_for, checker, reviewer, run_commits):
    with run_commits():
        make_rumor(checker, claim=RUMOR)  # a draft
    posts(client_for, run_commits, ("p1", RUMOR))
    exposures(client_for, run_commits, ("p1", "u1", "view", "2026-11-20T09:00:00Z"))
    assert not Correction.objects.exists() and not Match.objects.exists()


def test_daily_cap_defers_and_releases(client_for, platform, checker, reviewer, run_commits, settings):
    settings.CORRECTIONS_DAILY_CAP = 2
    texts = [f"{RUMOR[:-1]}第{n}号通知，消息来源于某群聊截图，请勿相信{n * 7}" for n in range(3)]
    posts(client_for, run_commits, *[(f"p{n}", t) for n, t in enumerate(texts)])
    exposures(client_for, run_commits, *[(f"p{n}", "u1", "view", "2026-11-20T09:00:00Z") for n in range(3)])
    rumors = [publish(checker, reviewer, run_commits, claim=t) for t in texts]
    statuses = [Correction.objects.get(rumor=r).status for r in rumors]
    assert statuses == ["pending", "pending", "deferred"]
    assert corrections_release_deferred() == 0  # not before tomorrow
    tomorrow = timezone.now() + timedelta(days=1, hours=1)
    Correction.objects.filter(status="pending").update(created_at=timezone.now() - timedelta(days=1))
    assert corrections_release_deferred(now=tomorrow) == 1
    assert Correction.objects.get(rumor=rumors[2]).status == "pending"


def test_retraction_cancels_unsent_and_updates_received(client_for, platform, checker, reviewer, run_commits):
    posts(client_for, run_commits, ("p1", RUMOR))
    exposures(
        client_for,
        run_commits,
        ("p1", "u1", "view", "2026-11-20T09:00:00Z"),
        ("p1", "u2", "view", "2026-11-20T09:00:00Z"),
    )
    rumor = publish(checker, reviewer, run_commits)
    Correction.objects.filter(user_hash=pseudonym(platform, "u1")).update(status="delivered")
    with run_commits():
        rumor_services.rumor_retract(rumor=rumor, by=reviewer, reason="核实有误")
    rows = set(Correction.objects.values_list("user_hash", "kind", "status"))
    assert rows == {
        (pseudonym(platform, "u1"), "correction", "delivered"),
        (pseudonym(platform, "u1"), "update", "pending"),
        (pseudonym(platform, "u2"), "correction", "cancelled"),
    }


def test_verdict_change_sends_an_update_each_time(client_for, platform, checker, reviewer, run_commits):
    posts(client_for, run_commits, ("p1", RUMOR))
    exposures(client_for, run_commits, ("p1", "u1", "view", "2026-11-20T09:00:00Z"))
    rumor = publish(checker, reviewer, run_commits)
    Correction.objects.update(status="clicked")
    for code in ("misleading", "inaccurate"):
        with run_commits():
            rumor_services.rumor_update(rumor=rumor, by=reviewer, verdict=VerdictLabel.objects.get(code=code))
    assert Correction.objects.filter(kind="update").count() == 2
    with run_commits():
        rumor_services.rumor_update(rumor=rumor, by=reviewer, severity=5)  # not a verdict change
    assert Correction.objects.filter(kind="update").count() == 2


def test_exposures_are_purged_after_retention(client_for, run_commits, settings):
    exposures(
        client_for,
        run_commits,
        ("p1", "old", "view", "2026-01-01T00:00:00Z"),
        ("p1", "new", "view", timezone.now().isoformat()),
    )
    settings.CORRECTIONS_RETENTION_DAYS = 90
    assert purge_exposures() == 1 and Exposure.objects.count() == 1
    assert Post.objects.count() == 0


def test_rescan_skips_texts_allow_listed_for_the_rumor(client_for, checker, reviewer, run_commits):
    from debunk.matching.models import AllowListEntry, Fingerprint

    posts(client_for, run_commits, ("p1", RUMOR), ("p2", "转发：" + RUMOR + " 太可怕了"))
    exposures(client_for, run_commits, ("p1", "u1", "view", "2026-11-20T09:00:00Z"))
    with run_commits():
        rumor = make_rumor(checker, claim=RUMOR)
    p1 = Fingerprint.objects.get(post__platform_post_id="p1")
    AllowListEntry.objects.create(rumor=rumor, exact_hash=p1.exact_hash)
    with run_commits():
        rumor_services.rumor_submit(rumor=rumor, by=checker)
        rumor_services.rumor_publish(rumor=rumor, by=reviewer)
    assert list(Match.objects.filter(rumor=rumor).values_list("post__platform_post_id", flat=True)) == ["p2"]
    assert not Correction.objects.exists()  # u1 saw only the allow-listed post
