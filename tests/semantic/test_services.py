"""Rumors embedded on publish, served by the vector index, and posts given semantic suggestions (real model)."""

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import translation

from debunk.api.models import Platform
from debunk.core.models import AuditEvent
from debunk.matching import serving
from debunk.matching.models import IndexChange, Match, Post
from debunk.matching.services import match_text
from debunk.semantic import embedder
from debunk.semantic import services as semantic
from debunk.semantic.models import ClaimEmbedding
from debunk.semantic.serving import SEMANTIC, current_vector_index
from debunk.stock import rumors as svc
from labels.models import VerdictLabel
from tests.factories import make_rumor, publish_rumor

WATER = "网传某市自来水厂被污染，全市停水三天"
WATER_REWORDED = "听说咱们市的水厂出了污染事故，要停水整整三天，大家快去买水"
VINEGAR = "网传熏醋和喝醋可以杀死新冠病毒，预防感染"
VINEGAR_REWORDED = "家里烧点醋熏一熏就能把冠状病毒杀死，不会被传染"
PARK = "周末去公园看樱花，人特别多，拍了好多照片"

pytestmark = pytest.mark.usefixtures("semantic_on")


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """`with commit():` runs what the services queue after their commit (the test's transaction never commits)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def query(text: str, k: int = 5) -> list[int]:
    return [h.rumor_id for h in current_vector_index().search(embedder.embed_queries([text]), k=k)[0]]


def test_the_extra_is_served_only_when_on(settings):
    assert SEMANTIC in serving.servers()
    settings.SEMANTIC_MATCHING = False
    assert SEMANTIC not in serving.servers()


def test_publish_stores_the_embeddings_bumps_the_version_and_the_index_serves_them(checker, reviewer, commit):
    with commit():
        rumor = make_rumor(checker, claim=WATER)
        svc.variant_add(rumor=rumor, by=checker, text="自来水厂出事了，要停水三天")
    assert not ClaimEmbedding.objects.exists()  # a draft is not embedded
    with commit():
        other = publish_rumor(checker, reviewer, claim=VINEGAR)
        svc.rumor_submit(rumor=rumor, by=checker)
        svc.rumor_publish(rumor=rumor, by=reviewer)

    rows = ClaimEmbedding.objects.filter(rumor=rumor)
    assert sorted(r.variant_id is not None for r in rows) == [False, True]
    claim_row = rows.get(variant=None)
    assert claim_row.model == embedder.MODEL and claim_row.dimensions == embedder.DIMENSIONS
    assert claim_row.text_hash == semantic.text_hash(WATER)
    stored = embedder.from_bytes(claim_row.vector)
    assert np.allclose(stored, embedder.embed_passages([WATER])[0], atol=1e-5)
    assert AuditEvent.objects.filter(action="rumor.embed", target_id=str(rumor.pk)).count() == 1
    embedded_at = IndexChange.objects.filter(rumor_id=rumor.pk).latest("pk").pk
    assert embedded_at == IndexChange.objects.latest("pk").pk  # the embedding bumped the version after the publish

    assert query(WATER_REWORDED)[0] == rumor.pk
    assert query(VINEGAR_REWORDED)[0] == other.pk


def test_embedding_is_idempotent_and_follows_text_changes(checker, reviewer, commit):
    with commit():
        rumor = publish_rumor(checker, reviewer, claim=WATER)
    versions = IndexChange.objects.count()
    assert semantic.rumor_embed(rumor.pk) == 0  # nothing changed: nothing written, no version bump
    assert IndexChange.objects.count() == versions
    with commit():
        variant = svc.variant_add(rumor=rumor, by=reviewer, text=WATER_REWORDED)  # embedded by the task
    assert ClaimEmbedding.objects.get(variant=variant).text_hash == semantic.text_hash(WATER_REWORDED)
    with commit():
        svc.rumor_update(rumor=rumor, by=reviewer, claim=VINEGAR)
    assert ClaimEmbedding.objects.get(rumor=rumor, variant=None).text_hash == semantic.text_hash(VINEGAR)
    assert ClaimEmbedding.objects.filter(rumor=rumor).count() == 2


def test_a_retracted_rumor_leaves_the_index(checker, reviewer, commit):
    with commit():
        rumor = publish_rumor(checker, reviewer, claim=WATER)
    assert query(WATER_REWORDED) == [rumor.pk]
    with commit():
        svc.rumor_retract(rumor=rumor, by=reviewer, reason="核实有误")
    assert query(WATER_REWORDED) == []
    assert semantic.rumor_embed(rumor.pk) == 0


def test_semantic_reindex_embeds_what_is_missing(checker, reviewer, settings, capsys):
    settings.SEMANTIC_MATCHING = False  # published without the extra: nothing embedded
    first = publish_rumor(checker, reviewer, claim=WATER)
    second = publish_rumor(checker, reviewer, claim=VINEGAR)
    assert not ClaimEmbedding.objects.exists()
    settings.SEMANTIC_MATCHING = True
    with translation.override("en"):
        call_command("semantic_reindex")
        assert "2 rumor texts embedded" in capsys.readouterr().out
        assert set(ClaimEmbedding.objects.values_list("rumor_id", flat=True)) == {first.pk, second.pk}
        call_command("semantic_reindex")
        assert "0 rumor texts embedded" in capsys.readouterr().out
    assert query(VINEGAR_REWORDED)[0] == second.pk


def test_semantic_reindex_says_when_the_extra_is_off(settings):
    from django.core.management.base import CommandError

    settings.SEMANTIC_MATCHING = False
    with pytest.raises(CommandError, match="SEMANTIC_MATCHING"):
        call_command("semantic_reindex")


# --- suggestions -----------------------------------------------------------------------------------------------


@pytest.fixture
def platform(db):
    return Platform.objects.create(code="weibo", name="微博")


@pytest.fixture
def stock(checker, reviewer, commit):
    with commit():
        return {
            "water": publish_rumor(checker, reviewer, claim=WATER),
            "vinegar": publish_rumor(checker, reviewer, claim=VINEGAR),
        }


def suggestions(post: Post) -> list[tuple[int, int, str, str]]:
    return list(
        Match.objects.filter(post=post, stage=Match.Stage.SEMANTIC)
        .order_by("rank")
        .values_list("rank", "rumor_id", "status", "via")
    )


def test_suggestions_are_suspected_ranked_with_their_cosine_and_audited(stock, platform, settings):
    settings.SEMANTIC_SUGGEST_MIN_SCORE = 0.0  # every rumor is a candidate: ranks 1..2
    post = Post.objects.create(platform=platform, text=VINEGAR_REWORDED)
    assert semantic.suggest([post.pk]) == 2
    rows = suggestions(post)
    assert rows == [(1, stock["vinegar"].pk, "suspected", "text"), (2, stock["water"].pk, "suspected", "text")]
    best = Match.objects.get(post=post, rank=1)
    expected = float(embedder.embed_passages([VINEGAR])[0] @ embedder.embed_queries([VINEGAR_REWORDED])[0])
    assert best.similarity == pytest.approx(expected, abs=1e-4)
    assert not Match.objects.filter(status=Match.Status.AUTO).exists()
    event = AuditEvent.objects.get(action="match.suggest")
    assert event.target_id == str(post.pk)


def test_the_floor_keeps_unrelated_rumors_out(stock, platform):
    related = Post.objects.create(platform=platform, text=VINEGAR_REWORDED)
    unrelated = Post.objects.create(platform=platform, text=PARK)
    semantic.suggest([related.pk, unrelated.pk])
    assert [r[1] for r in suggestions(related)] == [stock["vinegar"].pk]
    assert suggestions(unrelated) == []


def test_suggesting_twice_writes_nothing_more_and_existing_matches_are_skipped(stock, platform, settings):
    settings.SEMANTIC_SUGGEST_MIN_SCORE = 0.0
    post = Post.objects.create(platform=platform, text=VINEGAR_REWORDED)
    Match.objects.create(post=post, rumor=stock["vinegar"], similarity=0.5, containment=0.5, status="suspected")
    assert semantic.suggest([post.pk]) == 1
    assert suggestions(post) == [(1, stock["water"].pk, "suspected", "text")]
    events = AuditEvent.objects.count()
    assert semantic.suggest([post.pk]) == 0
    assert AuditEvent.objects.count() == events
    assert Match.objects.filter(post=post).count() == 2


def test_posts_the_match_api_queues_as_suspected_get_suggestions(stock, platform, settings, commit, checker, reviewer):
    verdict = VerdictLabel.objects.get(code="false")
    verdict.match_auto_threshold, verdict.match_review_threshold = 0.99, 0.3
    verdict.save()
    settings.SEMANTIC_SUGGEST_MIN_SCORE = 0.0
    settings.CLAIM_MATCHING = (
        False  # the claim tier would suggest the water rumor itself (tests/matching/test_claim_tier.py)
    )
    claim = "紧急通知：某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水，转发给家人朋友！"
    with commit():
        copied = publish_rumor(checker, reviewer, claim=claim)
    text = claim.replace("三天", "一周").replace("囤水", "存水")  # a near copy: suspected by the text matcher
    with commit():
        result = match_text(text=text, platform=platform, platform_post_id="p1")
    assert result["matches"][0]["decision"] == "suspected"
    post = Post.objects.get(platform_post_id="p1")
    # the text tier's match stays as it is; the semantic task suggested the other rumors, the water one first
    assert Match.objects.get(post=post, rumor=copied).stage == Match.Stage.NEAR_DUPLICATE
    assert suggestions(post) == [
        (1, stock["water"].pk, "suspected", "text"),
        (2, stock["vinegar"].pk, "suspected", "text"),
    ]


def test_nothing_is_queued_when_the_extra_is_off(stock, platform, settings, commit):
    settings.SEMANTIC_MATCHING = False
    post = Post.objects.create(platform=platform, text=VINEGAR_REWORDED)
    with commit() as callbacks:
        semantic.suggest_later([post.pk])
    assert callbacks == []
    assert semantic.suggest([post.pk]) == 0
    assert suggestions(post) == []


def test_suggestions_wait_for_a_broker_unless_asked_for(stock, platform, settings, commit):
    settings.SEMANTIC_SUGGEST = False  # the default without a broker: the task would run inside the match request
    post = Post.objects.create(platform=platform, text=VINEGAR_REWORDED)
    with commit() as callbacks:
        semantic.suggest_later([post.pk])
    assert callbacks == []
    assert suggestions(post) == []
    settings.SEMANTIC_SUGGEST = True
    with commit() as callbacks:
        semantic.suggest_later([post.pk])
    assert callbacks and suggestions(post)
