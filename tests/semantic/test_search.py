"""Search with the semantic extra: the lexical ranking fused with the nearest debunked rumors (real model)."""

import pytest

from search.backends import reset_backend
from search.fusion import reciprocal_rank_fusion
from search.services import search_cards, search_rumors
from tests.factories import publish_rumor

WATER = "网传某市自来水厂被污染，全市停水三天"
VINEGAR = "网传熏醋和喝醋可以杀死新冠病毒，预防感染"
ENGLISH = "Can vinegar fumes kill the coronavirus?"  # no term in common with the Chinese stock


@pytest.fixture(autouse=True)
def patient(settings):
    """These tests are about ranking, not the time budget: the query's embedding is waited for (one test sets 0)."""
    settings.SEMANTIC_SEARCH_TIMEOUT_MS = 60_000


@pytest.fixture
def stock(semantic_on, checker, reviewer, django_capture_on_commit_callbacks):
    semantic_on.SEARCH_BACKEND = "search.backends.database.DatabaseBackend"
    reset_backend()
    with django_capture_on_commit_callbacks(execute=True):
        water = publish_rumor(checker, reviewer, claim=WATER)
        vinegar = publish_rumor(
            checker, reviewer, claim=VINEGAR, title="熏醋不能杀灭新冠病毒", summary="食醋中的醋酸浓度不足以杀灭病毒。"
        )
    yield {"water": water, "vinegar": vinegar}
    reset_backend()


def ids(hits) -> list[int]:
    return [hit.rumor.pk for hit in hits]


def test_rrf_rewards_agreement_and_keeps_the_first_rankings_order_on_ties():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 4]])
    assert [item for item, _ in fused] == [3, 1, 2, 4]
    assert fused[0][1] == pytest.approx(1 / 63 + 1 / 61)
    assert [item for item, _ in reciprocal_rank_fusion([[5, 6], [6, 5]])] == [5, 6]


def test_a_query_sharing_no_term_finds_the_rumor_only_with_the_extra(stock, settings):
    settings.SEMANTIC_SEARCH_MIN_SCORE = 0.84  # the English query's cosine with the vinegar claim is about 0.86
    page = search_rumors(ENGLISH)
    assert ids(page.hits) == [stock["vinegar"].pk] and page.total == 1
    assert page.hits[0].highlights == {}  # found by meaning: nothing to mark
    settings.SEMANTIC_MATCHING = False
    assert search_rumors(ENGLISH).hits == []


def test_the_floor_keeps_weak_neighbours_out(stock, settings):
    settings.SEMANTIC_SEARCH_MIN_SCORE = 0.95
    assert search_rumors(ENGLISH).hits == []


def test_lexical_hits_come_first_when_the_semantic_ranking_agrees_and_others_follow(stock, settings):
    settings.SEMANTIC_SEARCH_MIN_SCORE = 0.0  # every debunked rumor is a semantic candidate
    page = search_rumors("自来水厂")
    assert ids(page.hits) == [stock["water"].pk, stock["vinegar"].pk]
    assert page.total == 2  # the lexical one, plus the one the semantic ranking added
    assert page.hits[0].highlights  # the lexical hit keeps its marks
    settings.SEMANTIC_MATCHING = False
    assert ids(search_rumors("自来水厂").hits) == [stock["water"].pk]


def test_a_slow_model_leaves_the_lexical_ranking(stock, settings):
    settings.SEMANTIC_SEARCH_MIN_SCORE = 0.0
    settings.SEMANTIC_SEARCH_TIMEOUT_MS = 0
    assert ids(search_rumors("自来水厂").hits) == [stock["water"].pk]
    assert search_cards(ENGLISH) == []


def test_cards_use_their_own_floor(stock, settings):
    settings.SEMANTIC_CARD_MIN_SCORE = 0.84
    assert ids(search_cards(ENGLISH)) == [stock["vinegar"].pk]
    assert search_cards(ENGLISH, semantic_ranking=False) == []
    settings.SEMANTIC_CARD_MIN_SCORE = 0.95
    assert search_cards(ENGLISH) == []


def test_filters_apply_to_the_semantic_candidates(stock, settings):
    settings.SEMANTIC_SEARCH_MIN_SCORE = 0.84
    assert ids(search_rumors(ENGLISH, verdict="false").hits) == [stock["vinegar"].pk]
    assert search_rumors(ENGLISH, verdict="true").hits == []
