"""The platform-facing reads: search cards, the pinned rumor card, and the sample library sync + ClaimReview feed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from debunk.api.models import ApiRequestLog
from debunk.stock import rumors as rumor_services
from tests.api.conftest import api_client
from tests.factories import make_rumor, publish_rumor

VACCINE = "网传接种新冠疫苗后会改变人体基因，专家呼吁立即停止接种"
WATER = "网传某市自来水厂被污染，全市停水三天，请大家赶紧囤水"


@pytest.fixture
def vaccine(checker, reviewer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return publish_rumor(checker, reviewer, claim=VACCINE, category="epidemics", title="接种疫苗会改变基因？假的")


@pytest.fixture
def water(checker, reviewer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # search indexes after commit
        return publish_rumor(checker, reviewer, claim=WATER, category="livelihood")


def test_search_cards_for_a_query_touching_a_rumor(client_for, vaccine, water, settings):
    settings.PUBLIC_BASE_URL = "https://debunk.example.org"
    response = client_for.get("/api/v1/search/cards", {"q": "新冠疫苗 改变基因"})
    assert response.status_code == 200
    cards = response.json()["cards"]
    assert [c["rumor_id"] for c in cards] == [vaccine.pk]
    card = cards[0]
    assert card["verdict"]["code"] == "false" and card["label_text"].endswith("接种疫苗会改变基因？假的")
    assert card["debunk"]["url"] == f"https://debunk.example.org/rumors/{vaccine.pk}/"
    log = ApiRequestLog.objects.get(path="/api/v1/search/cards")
    assert (log.outcome, log.items) == ("cards", 1)


def test_search_cards_none_for_unrelated_queries(client_for, vaccine, water):
    for q in ("今天天气很好适合出门散步", "best pizza recipe", "疫情"):
        assert client_for.get("/api/v1/search/cards", {"q": q}).json() == {"cards": []}, q


@pytest.mark.parametrize(
    "params,field",
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "疫苗", "limit": "0"}, "limit"),
        ({"q": "a\x00"}, "q"),
    ],
)
def test_search_cards_bad_input(client_for, params, field):
    response = client_for.get("/api/v1/search/cards", params)
    assert response.status_code == 400 and field in response.json()


def test_public_reads_need_a_key(db, vaccine):
    for path in (
        "/api/v1/search/cards?q=疫苗",
        f"/api/v1/rumors/{vaccine.pk}/card",
        "/api/v1/rumors",
        "/api/v1/feed/claimreview",
    ):
        assert api_client().get(path).status_code == 401, path
        assert api_client("dbk_wrong").get(path).status_code == 401, path


def test_rumor_card_to_pin_above_comments(client_for, vaccine, checker):
    response = client_for.get(f"/api/v1/rumors/{vaccine.pk}/card")
    assert response.status_code == 200
    body = response.json()
    assert body["rumor_id"] == vaccine.pk and body["debunk"]["title"] == "接种疫苗会改变基因？假的"
    assert body["label_text"].startswith(vaccine.verdict.text_zh)
    draft = make_rumor(checker, claim="草稿谣言不能被置顶到评论区上方")
    assert client_for.get(f"/api/v1/rumors/{draft.pk}/card").status_code == 404
    for bad in ("999999", "-1", "abc", "9" * 30):
        response = client_for.get(f"/api/v1/rumors/{bad}/card")
        assert response.status_code == 404 and response["Content-Type"] == "application/json", bad


def test_rumor_list_filters_and_cursor_pages(client_for, vaccine, water, checker, reviewer):
    extra = [publish_rumor(checker, reviewer, claim=f"{WATER}，版本{i}", category="livelihood") for i in range(3)]
    make_rumor(checker, claim="草稿不属于样本库，同步时不应出现")
    first = client_for.get("/api/v1/rumors", {"page_size": 2})
    assert first.status_code == 200
    body = first.json()
    seen = [r["id"] for r in body["results"]]
    while body["next"]:
        body = client_for.get(body["next"]).json()
        seen += [r["id"] for r in body["results"]]
    assert seen == [vaccine.pk, water.pk] + [r.pk for r in extra]  # oldest change first, each once
    only = client_for.get("/api/v1/rumors", {"category": "public_emergencies"}).json()["results"]
    assert [r["id"] for r in only] == [vaccine.pk]  # epidemics is under public_emergencies
    assert client_for.get("/api/v1/rumors", {"verdict": "true"}).json()["results"] == []
    assert client_for.get("/api/v1/rumors", {"category": "no_such_category"}).json()["results"] == []
    row = only[0]
    assert row["claim"] == VACCINE and row["status"] == "published" and row["card"]["debunk"]["title"]


def test_rumor_list_updated_since_brings_withdrawn_rumors(client_for, vaccine, water, reviewer):
    since = timezone.now()
    rumor_services.rumor_retract(rumor=water, by=reviewer, reason="核实有误")
    results = client_for.get("/api/v1/rumors", {"updated_since": since.isoformat()}).json()["results"]
    assert [(r["id"], r["status"]) for r in results] == [(water.pk, "retracted")]
    results = client_for.get("/api/v1/rumors").json()["results"]
    assert [r["id"] for r in results] == [vaccine.pk]
    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert client_for.get("/api/v1/rumors", {"updated_since": future}).json()["results"] == []


@pytest.mark.parametrize(
    "params,field",
    [
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"updated_since": "0001-01-01T00:00:00"}, "updated_since"),
        ({"verdict": "not a slug"}, "verdict"),
    ],
)
def test_rumor_list_bad_filters(client_for, params, field):
    response = client_for.get("/api/v1/rumors", params)
    assert response.status_code == 400 and field in response.json()


def test_rumor_list_bad_cursor(client_for, vaccine):
    assert client_for.get("/api/v1/rumors", {"cursor": "garbage"}).status_code == 404


def test_claimreview_feed(client_for, vaccine, water, reviewer):
    rumor_services.rumor_retract(rumor=water, by=reviewer, reason="核实有误")
    body = client_for.get("/api/v1/feed/claimreview", {"updated_since": "2000-01-01T00:00:00Z"}).json()
    assert [r["claimReviewed"] for r in body["results"]] == [VACCINE]  # a feed of reviews: published only
    review = body["results"][0]
    assert review["@type"] == "ClaimReview" and review["reviewRating"]["alternateName"]
