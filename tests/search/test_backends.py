"""One suite for every search backend (tests/search/conftest.py: database, osmem-server, ELASTICSEARCH_URL)."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from debunk.stock import rumors as rumor_services
from labels.models import Category
from search.backends import RumorDocument, SearchQuery, get_backend
from search.services import search_cards, search_rumors
from tests.search.helpers import publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def stock(search_backend, checker, reviewer, django_capture_on_commit_callbacks):
    """A few published rumors, indexed by the on-commit task as in production."""
    with django_capture_on_commit_callbacks(execute=True):
        rumors = {
            "vaccine": publish(
                checker,
                reviewer,
                claim="网传新冠疫苗接种后会导致不孕不育",
                title="疫苗导致不孕系谣言",
                body="国家卫健委表示，目前没有证据显示接种疫苗会影响生育。",
                category="epidemics",
            ),
            "water": publish(
                checker,
                reviewer,
                claim="网传某市自来水厂被污染，全市停水三天",
                title="停水三天系谣言",
                body="自来水厂运行正常，供水未受影响。",
                category="livelihood",
                verdict="misleading",
            ),
            "autism": publish(
                checker,
                reviewer,
                claim="Vaccines cause autism in children",
                title="No, vaccines do not cause autism",
                body="Large studies of vaccinated and unvaccinated children found no link.",
                category="epidemics",
            ),
        }
    return rumors


def ids(page) -> list[int]:
    return [hit.rumor.pk for hit in page.hits]


def test_two_character_word_is_found(stock):
    page = search_rumors("疫苗")
    assert ids(page) == [stock["vaccine"].pk]
    assert page.total == 1


def test_traditional_query_finds_simplified_text(stock):
    assert ids(search_rumors("疫苗接種後不孕")) == [stock["vaccine"].pk]
    assert ids(search_rumors("自來水廠")) == [stock["water"].pk]


def test_one_character_query_finds_claims_holding_it(stock):
    assert ids(search_rumors("孕")) == [stock["vaccine"].pk]


def test_english_stemming_and_stop_words(stock):
    assert ids(search_rumors("vaccination causing autism")) == [stock["autism"].pk]
    assert ids(search_rumors("Vaccinated CHILDREN")) == [stock["autism"].pk]
    assert search_rumors("the of and").total == 0  # only stop words: nothing to look for


def test_filters_category_with_descendants_verdict_and_dates(stock):
    parent = Category.objects.get(code="public_emergencies")  # epidemics is one of its children
    assert ids(search_rumors("谣言", category=parent.pk)) == [stock["vaccine"].pk]
    assert ids(search_rumors("谣言", category=Category.objects.get(code="livelihood").pk)) == [stock["water"].pk]
    assert ids(search_rumors("谣言", verdict="misleading")) == [stock["water"].pk]
    today = timezone.localdate()
    assert len(search_rumors("谣言", date_from=today, date_to=today).hits) == 2
    assert search_rumors("谣言", date_to=today - timedelta(days=1)).total == 0
    assert search_rumors("谣言", date_from=today + timedelta(days=1)).total == 0


def test_pagination(search_backend, checker, reviewer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        made = [
            publish(checker, reviewer, claim=f"网传第{n}区明天停电一整天", title=f"第{n}区停电系谣言") for n in range(5)
        ]
    first = search_rumors("停电", per_page=2)
    assert (first.total, len(first.hits), first.num_pages, first.has_next, first.has_previous) == (5, 2, 3, True, False)
    last = search_rumors("停电", per_page=2, page=3)
    assert (len(last.hits), last.has_next, last.has_previous) == (1, False, True)
    seen = ids(first) + ids(search_rumors("停电", per_page=2, page=2)) + ids(last)
    assert sorted(seen) == sorted(r.pk for r in made)
    beyond = search_rumors("停电", per_page=2, page=9)
    assert (beyond.hits, beyond.total) == ([], 5)


def test_highlights_are_escaped_with_marks(search_backend, checker, reviewer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        publish(checker, reviewer, claim="<script>alert(1)</script> 网传疫苗有毒", title="疫苗有毒？假的")
    hit = search_rumors("疫苗").hits[0]
    assert "<mark>疫苗</mark>" in hit.highlights["claim"]
    assert "&lt;script&gt;" in hit.highlights["claim"] and "<script>" not in hit.highlights["claim"]
    assert "<mark>疫苗</mark>" in hit.highlights["title"]
    assert hasattr(hit.highlights["claim"], "__html__")  # marked safe


def test_english_highlight(stock):
    hit = search_rumors("autism").hits[0]
    assert "<mark>autism</mark>" in hit.highlights["claim"]


def test_deletion_removes_from_the_index(stock):
    get_backend().delete([stock["water"].pk])
    assert search_rumors("停水").total == 0
    assert get_backend().search(SearchQuery("停水")).total == 0


def test_retraction_removes_from_results_and_index(stock, reviewer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        rumor_services.rumor_retract(rumor=stock["vaccine"], by=reviewer, reason="wrong verdict")
    assert search_rumors("疫苗").total == 0
    assert get_backend().search(SearchQuery("疫苗")).hits == []


def test_debunk_edit_is_reindexed(stock, checker, django_capture_on_commit_callbacks):
    from debunk.stock.debunks import debunk_save

    debunk = stock["water"].debunks.get()
    debunk.title = "自来水水质检测合格"
    with django_capture_on_commit_callbacks(execute=True):
        debunk_save(debunk=debunk, by=checker)
    assert ids(search_rumors("水质检测")) == [stock["water"].pk]


def test_cards_relevance_threshold(stock):
    cards = search_cards("新冠疫苗会导致不孕吗")
    assert [hit.rumor.pk for hit in cards] == [stock["vaccine"].pk]
    assert search_cards("今天天气很好适合出去玩") == []
    assert search_cards("best pizza recipe with cheese") == []
    assert search_cards("疫苗") != []  # a short query touching a rumor still gets its card


def test_backend_ranks_debunked_first_then_by_score(search_backend):
    backend = get_backend()
    now = datetime(2025, 5, 1, tzinfo=UTC)
    docs = [
        RumorDocument(1, "停水停水停水", "停水", "停水", has_debunk=False, published_at=now),
        RumorDocument(2, "明天停水", "", "", has_debunk=True, published_at=now),
        RumorDocument(3, "停水三天", "停水通知", "", has_debunk=True, published_at=now),
        RumorDocument(4, "今天天气很好", "", "", has_debunk=True, published_at=now),
    ]
    assert backend.rebuild(docs) == 4
    result = backend.search(SearchQuery("停水"))
    assert [h.rumor_id for h in result.hits] == [3, 2, 1]
    assert result.total == 3
    assert [h.rumor_id for h in backend.search(SearchQuery("停水", debunked_only=True)).hits] == [3, 2]


def test_backend_coverage_threshold_is_the_same_rule(search_backend):
    backend = get_backend()
    backend.rebuild([RumorDocument(1, "vaccines cause autism", has_debunk=True)])
    # three terms (vaccin, caus, autism): coverage 0.6 needs 3 − floor(3 × 0.4) = 2 of them
    assert backend.search(SearchQuery("vaccine pizza cheese", min_coverage=0.6)).hits == []
    assert [h.rumor_id for h in backend.search(SearchQuery("vaccine autism cheese", min_coverage=0.6)).hits] == [1]


def test_rebuild_replaces_everything(search_backend):
    backend = get_backend()
    backend.rebuild([RumorDocument(1, "停水三天", has_debunk=True)])
    backend.rebuild([RumorDocument(2, "停电三天", has_debunk=True)])
    assert backend.count() == 1
    assert backend.search(SearchQuery("三天")).hits[0].rumor_id == 2


def test_empty_query_gives_an_empty_page(stock):
    page = search_rumors("   ")
    assert (page.hits, page.total, page.num_pages) == ([], 0, 1)
    assert search_cards("") == []


def test_dates_are_days_in_the_site_time_zone(search_backend):
    backend = get_backend()
    backend.rebuild([RumorDocument(1, "停水", has_debunk=True, published_at=datetime(2025, 1, 1, 17, tzinfo=UTC))])
    # 17:00 UTC on 1 January is 01:00 on 2 January in Asia/Shanghai
    from search.services import _day_start

    assert backend.search(SearchQuery("停水", published_from=_day_start(date(2025, 1, 2)))).total == 1
    assert backend.search(SearchQuery("停水", published_before=_day_start(date(2025, 1, 2)))).total == 0
