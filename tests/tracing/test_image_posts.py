"""Tracing follows image posts like text posts: an archived post matched by its picture's hash is a post of the rumor
(through its Match row), so the one who posted the picture first is found as the first poster."""

from datetime import timedelta

import pytest

from debunk.api.models import Platform
from debunk.corrections.archive import PostReport, posts_ingest
from debunk.images.services import query_image
from debunk.matching.models import Match
from debunk.tracing.models import FirstPoster
from debunk.tracing.services import trace_rumor
from tests.images.test_match_api import encode, picture, rumor_with_image
from tests.tracing.conftest import CLAIM, T0

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMAGE_OCR = False


def test_the_first_poster_of_a_rumor_posted_an_image(checker, reviewer):
    rumor = rumor_with_image(checker, reviewer, seed=11, claim=CLAIM)
    weibo = Platform.objects.create(code="weibo", name="微博")
    image = query_image(encode(picture(11).resize((800, 600)), quality=70))
    outcomes = posts_ingest(
        platform=weibo,
        reports=[
            PostReport("w1", "", "origin", T0, image=image),  # the picture alone, first
            PostReport("w2", "转发微博", "fan", T0 + timedelta(minutes=5), "w1"),  # a repost of it
            PostReport("w3", "我也看到了：" + CLAIM, "late", T0 + timedelta(hours=2)),  # the text, later
        ],
    )
    assert [[m["rumor_id"] for m in o.matches] for o in outcomes] == [[rumor.pk], [], [rumor.pk]]
    by_image = Match.objects.get(post__platform_post_id="w1")
    assert by_image.via == "image_hash" and by_image.status == "auto"
    trace = trace_rumor(rumor=rumor, by=reviewer)
    assert trace.posts == 3 and trace.roots == 2
    first = trace.first_posters.get(scope_platform__isnull=True, root_index=0)
    assert (first.post.platform_post_id, first.kind, first.subtree_size) == ("w1", FirstPoster.Kind.SOURCE, 2)
    assert first.similarity == by_image.similarity == round(1 - by_image.distance / 256, 4)
    assert trace.first_posters.get(scope_platform=weibo).platform_post_id == "w1"
    assert [p["platform_post_id"] for p in trace.evidence["posts"]] == ["w1", "w2", "w3"]
