"""A rumor with a small cascade in the post archive: a source on weibo, reposts, a copy on douyin, an orphan."""

from datetime import UTC, datetime, timedelta

import pytest

from debunk.api.models import Platform
from debunk.matching.fingerprints import fingerprint_fields
from debunk.matching.models import Fingerprint, Match, Post
from tests.factories import make_rumor

CLAIM = "网传某市自来水厂被污染，全市停水三天，请大家赶紧囤水"
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def archive_post(platform, post_id, text, minutes, *, parent=None, parent_ref="", author="", rumor=None, sim=0.9):
    post = Post.objects.create(
        platform=platform,
        platform_post_id=post_id,
        text=text,
        author_hash=author or f"h-{post_id}",
        posted_at=T0 + timedelta(minutes=minutes),
        parent=parent,
        parent_platform_post_id=parent_ref or (parent.platform_post_id if parent else ""),
        archived=True,
    )
    Fingerprint.objects.create(source=Fingerprint.Source.POST, post=post, **fingerprint_fields(text))
    if rumor is not None:
        Match.objects.create(post=post, rumor=rumor, similarity=sim, containment=sim, status=Match.Status.AUTO)
    return post


@pytest.fixture
def cascade(checker):
    rumor = make_rumor(checker, claim=CLAIM)
    weibo = Platform.objects.create(code="weibo", name="微博")
    douyin = Platform.objects.create(code="douyin", name="抖音")
    source = archive_post(weibo, "w1", CLAIM, 0, rumor=rumor, sim=1.0, author="h-origin")
    star = archive_post(weibo, "w2", "转发微博", 5, parent=source, author="h-star")
    for i in range(4):
        archive_post(weibo, f"w3{i}", "", 10 + i, parent=star, author=f"h-fan{i}")  # reposts, never matched
    copy = archive_post(douyin, "d1", "朋友圈在传//" + CLAIM, 3, rumor=rumor, sim=0.8)  # another platform
    archive_post(douyin, "d2", "", 20, parent=copy)
    orphan = archive_post(weibo, "w9", "又看到了//" + CLAIM, 600, parent_ref="deleted-1", rumor=rumor, sim=0.7)
    Match.objects.create(
        post=archive_post(weibo, "w8", "无关的内容，今天天气很好，适合出门", 1),
        rumor=rumor,
        similarity=0.3,
        containment=0.3,
        status=Match.Status.REJECTED,
    )
    return {"rumor": rumor, "source": source, "star": star, "copy": copy, "orphan": orphan, "weibo": weibo}
