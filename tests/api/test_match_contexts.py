"""The match API's `context` values each do something: `compose` warns the author in words that follow the
verdict label and the request's language, `comment` carries the card to pin above the comments, `search` the
debunk cards for the text as a query."""

import pytest

from debunk.matching.services import reset_caches
from labels.models import VerdictLabel
from tests.factories import publish_rumor

pytestmark = pytest.mark.django_db

WATER = "紧急通知：某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水，转发给家人朋友！"
VACCINE = "网传接种新冠疫苗会改变人体基因，还会导致不孕不育，专家提醒千万不要去打疫苗"
MATCH = "/api/v1/match"


@pytest.fixture
def water(checker, reviewer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # search indexes after commit
        return publish_rumor(checker, reviewer, claim=WATER, title="网传停水三天系谣言")


@pytest.fixture
def vaccine(checker, reviewer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return publish_rumor(
            checker, reviewer, claim=VACCINE, verdict="misleading", category="epidemics", title="疫苗改变基因？误导"
        )


def compose(client, text, **extra):
    response = client.post(MATCH, {"text": text, "context": "compose", **extra.pop("body", {})}, format="json", **extra)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_compose_warning_follows_the_label_and_the_accept_language(client_for, water, vaccine):
    false_en = compose(client_for, WATER)["warning"]  # the test client asks for English
    misleading_en = compose(client_for, VACCINE)["warning"]
    false_zh = compose(client_for, WATER, HTTP_ACCEPT_LANGUAGE="zh-hans")["warning"]
    misleading_zh = compose(client_for, VACCINE, HTTP_ACCEPT_LANGUAGE="zh-hans")["warning"]
    assert false_en == {
        "text": "This looks like a rumor that fact-checkers have shown to be false. Please do not spread it.",
        "rumor_id": water.pk,
    }
    assert misleading_en["text"].startswith("Fact-checkers found a similar claim misleading.")
    assert misleading_en["rumor_id"] == vaccine.pk
    assert false_zh["text"] == "您要发布的内容与已被证实的谣言相符，请勿传播。"
    assert misleading_zh["text"] == "类似说法已被核实为误导信息，请补充背景或核实后再发布。"


def test_a_lang_field_chooses_the_language_of_the_whole_answer(client_for, water):
    body = compose(client_for, WATER, body={"lang": "zh-hans"})  # over the client's Accept-Language: en
    assert body["warning"]["text"] == "您要发布的内容与已被证实的谣言相符，请勿传播。"
    assert body["matches"][0]["verdict"]["text"] == "谣言"
    body = compose(client_for, WATER, body={"lang": "en"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert body["warning"]["text"].startswith("This looks like a rumor") and body["matches"][0]["verdict"]["text"] == (
        "False"
    )
    items = [{"id": "w", "text": WATER, "context": "compose"}]
    batch = client_for.post("/api/v1/match/batch", {"items": items, "lang": "zh-hans"}, format="json").json()
    assert batch["results"][0]["warning"]["text"] == "您要发布的内容与已被证实的谣言相符，请勿传播。"


@pytest.mark.parametrize("lang", ["fr", "", 1, None])
def test_a_bad_lang_is_a_400(client_for, water, lang):
    response = client_for.post(MATCH, {"text": WATER, "lang": lang}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"lang"}
    response = client_for.post("/api/v1/match/batch", {"items": [{"id": "1", "text": WATER}], "lang": lang})
    assert response.status_code == 400 and set(response.json()) == {"lang"}


def test_a_label_without_its_own_wording_is_named_in_the_warning(client_for, water):
    VerdictLabel.objects.filter(code="false").update(code="hoax", text_en="Hoax", text_zh="骗局")
    reset_caches()
    assert compose(client_for, WATER)["warning"]["text"] == (
        "Fact-checkers rated a similar claim “Hoax”. Please check it before publishing."
    )
    warning = compose(client_for, WATER, HTTP_ACCEPT_LANGUAGE="zh-hans")["warning"]
    assert warning["text"] == "类似说法已被核实为“骗局”，请核实后再发布。"


def test_no_warning_for_a_claim_rated_true(checker, reviewer, client_for):
    publish_rumor(checker, reviewer, claim=WATER, verdict="true")
    body = compose(client_for, WATER)
    assert body["matched"] is True and body["action"] == "allow" and "warning" not in body


def test_comment_carries_the_card_to_pin(client_for, water):
    body = client_for.post(MATCH, {"text": WATER, "context": "comment"}, format="json").json()
    card = body["card"]
    assert card["rumor_id"] == water.pk and card["verdict"]["code"] == "false"
    assert card["label_text"] == "谣言：网传停水三天系谣言" and card["debunk"]["url"] == f"/rumors/{water.pk}/"
    assert "cards" not in body and "warning" not in body
    nothing = client_for.post(MATCH, {"text": "今天天气很好，适合出门散步", "context": "comment"}, format="json")
    assert nothing.json()["card"] is None
    assert "card" not in client_for.post(MATCH, {"text": WATER}, format="json").json()  # publish: no card


def test_comment_pins_no_card_for_a_suspected_match(client_for, water):
    VerdictLabel.objects.filter(code="false").update(match_auto_threshold=0.99, match_review_threshold=0.3)
    reset_caches()
    text = WATER.replace("三天", "一周").replace("囤水", "存水")
    body = client_for.post(MATCH, {"text": text, "context": "comment"}, format="json").json()
    assert body["action"] == "review" and body["matches"][0]["decision"] == "suspected"
    assert body["card"] is None


def test_search_carries_the_search_cards_of_the_query(client_for, water, vaccine):
    body = client_for.post(MATCH, {"text": "新冠疫苗 改变基因", "context": "search"}, format="json").json()
    assert [card["rumor_id"] for card in body["cards"]] == [vaccine.pk]
    assert body["matched"] is False and "card" not in body
    unrelated = client_for.post(MATCH, {"text": "best pizza recipe", "context": "search"}, format="json").json()
    assert unrelated["cards"] == []
    items = [
        {"id": "s", "text": "新冠疫苗 改变基因", "context": "search"},
        {"id": "c", "text": WATER, "context": "comment"},
    ]
    results = client_for.post("/api/v1/match/batch", {"items": items}, format="json").json()["results"]
    assert [c["rumor_id"] for c in results[0]["cards"]] == [vaccine.pk] and results[1]["card"]["rumor_id"] == water.pk


def test_the_schema_documents_the_contexts(client_for):
    schema = client_for.get("/api/v1/schema/", {"format": "json"}).json()
    components = schema["components"]["schemas"]
    context = components["SingleInput"]["properties"]["context"]
    assert "`comment`" in context["description"] and "`search`" in context["description"]
    assert set(components["MatchOut"]["properties"]) >= {"warning", "card", "cards"}
    assert "lang" in components["SingleInput"]["properties"] and "lang" in components["BatchInput"]["properties"]
