"""POST /api/v1/match and /match/batch: the contract, bad input as 400s, and what gets logged."""

import json

import pytest
from django.db import DatabaseError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from debunk.api.models import ApiRequestLog
from debunk.matching.api import MAX_TEXT, BatchItemInput, MatchInput, _plain_item
from debunk.matching.models import Match, Post
from tests.api.conftest import api_client
from tests.factories import publish_rumor

CLAIM = "紧急通知：某市自来水厂被污染，明天起全市停水三天，请大家赶紧囤水，转发给家人朋友！"


@pytest.fixture
def rumor(checker, reviewer):
    return publish_rumor(checker, reviewer, claim=CLAIM)


def test_match_contract(client_for, rumor):
    response = client_for.post(
        "/api/v1/match", {"text": CLAIM, "platform_post_id": "9", "context": "comment"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"matched", "action", "matches", "index_version", "took_ms", "card"}  # card: context comment
    assert body["card"]["rumor_id"] == rumor.pk
    assert (body["matched"], body["action"]) == (True, "block")
    match = body["matches"][0]
    assert set(match) == {
        "rumor_id",
        "via",
        "stage",
        "similarity",
        "containment",
        "decision",
        "verdict",
        "label_text",
        "debunk",
        "evidence",
    }
    assert match["debunk"]["url"] == f"/rumors/{rumor.pk}/" and match["via"] == "text"
    assert match["stage"] == "near_duplicate"
    start, end = match["evidence"][0]["post_span"]
    assert CLAIM[start:end] in CLAIM and end - start >= 20


def test_no_match_answer(client_for, rumor):
    body = client_for.post("/api/v1/match", {"text": "今天去公园散步，天气真好"}, format="json").json()
    assert (body["matched"], body["action"], body["matches"]) == (False, "allow", [])


@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 20_001}, "text"),
        ({"text": 42}, "text"),  # a number is not a string (DRF would coerce it to "42")
        ({"text": True}, "text"),
        ({"text": "ok", "platform_post_id": 7}, "platform_post_id"),
        ({"text": "ok", "context": 1}, "context"),
        ({"text": ["a"]}, "text"),
        ({"text": "ok", "context": "publish-now"}, "context"),
        ({"text": "ok", "platform_post_id": "x" * 200}, "platform_post_id"),
    ],
)
def test_bad_input_is_a_400_with_field_errors(client_for, rumor, payload, field):
    response = client_for.post("/api/v1/match", payload, format="json")
    if field is None:
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert field in response.json()


def test_invalid_json_is_a_400(client_for):
    response = client_for.generic("POST", "/api/v1/match", "{not json", content_type="application/json")
    assert response.status_code == 400


def test_missing_key_is_401(db):
    response = api_client().post("/api/v1/match", {"text": CLAIM}, format="json")
    assert response.status_code == 401


def test_batch_keeps_order_and_isolates_bad_items(client_for, rumor):
    items = [
        {"id": "a", "text": CLAIM},
        {"id": "b", "text": ""},
        "not an object",
        {"text": "无 id"},
        {"id": "e", "text": "今天天气很好，适合出门散步"},
    ]
    response = client_for.post("/api/v1/match/batch", {"items": items}, format="json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r.get("id") for r in results] == ["a", "b", None, None, "e"]
    assert results[0]["action"] == "block"
    assert "text" in results[1]["error"]
    assert "non_field_errors" in results[2]["error"]
    assert "id" in results[3]["error"]
    assert results[4]["action"] == "allow"


@pytest.mark.parametrize("payload", [{}, {"items": []}, {"items": "x"}, {"items": [{"id": "1", "text": "t"}] * 1001}])
def test_bad_batches_are_400(client_for, payload):
    assert client_for.post("/api/v1/match/batch", payload, format="json").status_code == 400


def test_matching_logs_outcome_never_text_and_writes_no_post(client_for, rumor):
    marker = "独一无二的标记文本"
    client_for.post("/api/v1/match", {"text": CLAIM + marker, "platform_post_id": "p"}, format="json")
    log = ApiRequestLog.objects.get(path__contains="match")
    assert (log.outcome, log.items, log.status_code) == ("block", 1, 200)
    assert marker not in str(ApiRequestLog.objects.values().get())
    assert not Post.objects.exists()


def test_null_item_gets_its_own_error(client_for, rumor):
    response = client_for.post("/api/v1/match/batch", {"items": [None, {"id": "a", "text": CLAIM}]}, format="json")
    assert response.status_code == 200
    first, second = response.json()["results"]
    assert "non_field_errors" in first["error"]
    assert second["action"] == "block"


@pytest.mark.parametrize("query", ["since=0001-01-01", "cursor=cD0x", "cursor=cD16eno="])
def test_log_listing_refuses_bad_parameters_without_a_500(client_for, query):
    response = client_for.get(f"/api/v1/logs?{query}")
    assert response.status_code in (400, 404)


def test_nul_characters_in_text_are_accepted_and_ignored(client_for, rumor):
    response = client_for.post("/api/v1/match", {"text": CLAIM[:10] + "\x00" + CLAIM[10:]}, format="json")
    assert response.status_code == 200
    assert response.json()["action"] == "block"


def test_schema_states_the_non_blank_rule(client_for):
    schema = client_for.get("/api/v1/schema/?format=json").json()
    text = schema["components"]["schemas"]["SingleInput"]["properties"]["text"]
    assert text["pattern"] == "\\S"


_VALUES = st.one_of(
    st.text(max_size=6),
    st.sampled_from(
        ["", " ", " a", "a ", "a\n", "\x00", "a\x00", "\ud800", "x" * 128, "x" * 129, "publish", "compose"]
    ),
    st.sampled_from(["search", "comment", "Publish", "t" * MAX_TEXT, "t" * (MAX_TEXT + 1), " \t\n", "\u3000"]),
    st.integers(-2, 2),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.lists(st.text(max_size=2), max_size=2),
)
_ITEMS = st.one_of(
    st.dictionaries(st.sampled_from(["id", "text", "platform_post_id", "context", "other"]), _VALUES),
    _VALUES,
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_ITEMS)
def test_plainly_valid_items_skip_the_serializers_with_the_same_data(raw):
    """The views' fast path: wherever it takes an item, the serializer accepts it with exactly the same data."""
    for with_id, serializer in ((False, MatchInput), (True, BatchItemInput)):
        data = _plain_item(raw, with_id=with_id)
        if data is None:
            continue
        form = serializer(data=raw)
        assert form.is_valid(), form.errors
        assert dict(form.validated_data) == data


@pytest.mark.parametrize(
    "raw",
    [
        {"text": "正常的帖子"},
        {"text": "正常的帖子", "id": "1", "context": "compose", "platform_post_id": "p-1"},
        {"text": " 空格开头也照原样 ", "id": "x", "extra": 1},
    ],
)
def test_ordinary_items_take_the_fast_path(raw):
    assert _plain_item(raw, with_id=False) is not None
    assert (_plain_item(raw, with_id=True) is not None) == ("id" in raw)


def test_batch_answers_are_the_same_through_the_fast_path_and_the_serializer(client_for, rumor, monkeypatch):
    from debunk.matching import api as match_views

    items = [
        {"id": "a", "text": CLAIM, "platform_post_id": "p1", "context": "compose"},
        {"id": " b ", "text": CLAIM},  # trimmed by the serializer
        {"id": "c", "text": 42},  # not a string: an error either way
        {"id": "d", "text": "今天天气很好，适合出门散步"},
        {"id": "e", "text": "   "},
    ]

    def answer():
        results = client_for.post("/api/v1/match/batch", {"items": items}, format="json").json()["results"]
        return [{k: v for k, v in r.items() if k != "took_ms"} for r in results]

    fast = answer()
    monkeypatch.setattr(match_views, "_plain_item", lambda raw, with_id: None)
    assert answer() == fast
    assert [r["id"] for r in fast] == ["a", "b", "c", "d", "e"] and fast[0]["warning"] and fast[4]["error"]


def test_match_answers_are_the_bytes_json_renderer_makes(client_for, rumor):
    from rest_framework.renderers import JSONRenderer

    from debunk.matching.api import MatchJSONRenderer

    items = [
        {"id": "a", "text": CLAIM, "context": "compose"},
        {"id": "b", "text": "今天天气很好，适合出门散步"},
        {"id": "c", "text": ""},
        "not an object",
    ]
    body = client_for.post("/api/v1/match/batch", {"items": items}, format="json").json()
    assert body["results"][0]["matches"][0]["evidence"]  # a full answer: verdict, debunk, evidence, warning
    sample = {"x": [1.5, 0.1 + 0.2, 0.0001, 0.0, 12345.678, None, True, '引号"\\\n\t']}
    for data in (body, body["results"][0], sample):
        assert MatchJSONRenderer().render(data) == JSONRenderer().render(data)
    tiny = {"x": [1e-05, 1e16]}  # written 1e-5 and 1e16 rather than 1e-05 and 1e+16: the same numbers
    assert json.loads(MatchJSONRenderer().render(tiny)) == json.loads(JSONRenderer().render(tiny)) == tiny
    for data in ({"text": "a\u2028b\u2029"}, {"x": "\ud800"}):  # left to JSONRenderer
        try:
            expected = JSONRenderer().render(data)
        except UnicodeEncodeError:
            continue
        assert MatchJSONRenderer().render(data) == expected
    indented = "application/json; indent=4"
    assert MatchJSONRenderer().render(body, indented) == JSONRenderer().render(body, indented)


@pytest.fixture
def between_thresholds(rumor):
    """The rumor's verdict made strict, so that an edited copy of its claim falls between the thresholds."""
    verdict = rumor.verdict
    verdict.match_auto_threshold, verdict.match_review_threshold = 0.99, 0.3
    verdict.save()
    return CLAIM.replace("三天", "一周").replace("囤水", "存水")


def test_suspected_posts_are_queued_with_the_request_log(client_for, between_thresholds):
    items = [{"id": "a", "text": between_thresholds, "platform_post_id": "s1"}, {"id": "b", "text": "今天天气很好"}]
    response = client_for.post("/api/v1/match/batch", {"items": items}, format="json")
    assert [r["action"] for r in response.json()["results"]] == ["review", "allow"]
    queued = Match.objects.get()
    assert (queued.status, queued.post.platform_post_id, queued.post.text) == ("suspected", "s1", between_thresholds)
    log = ApiRequestLog.objects.get()
    assert (log.outcome, log.items, log.status_code) == ("batch:allow,review", 2, 200)


def test_a_failed_queue_write_is_a_500_that_is_logged_and_leaves_nothing(client_for, between_thresholds, monkeypatch):
    def broken(**kwargs):
        Post.objects.create(platform=kwargs["platform"], text="half written")
        raise DatabaseError("disk full")

    monkeypatch.setattr("debunk.matching.services.queue_suspected_many", broken)
    client_for.raise_request_exception = False
    response = client_for.post("/api/v1/match", {"text": between_thresholds}, format="json")
    assert response.status_code == 500
    assert not Post.objects.exists() and not Match.objects.exists()
    log = ApiRequestLog.objects.get()
    assert (log.status_code, log.outcome) == (500, "server_error")


def test_debunk_links_are_absolute_with_a_public_base_url(client_for, rumor, settings):
    settings.PUBLIC_BASE_URL = "https://debunk.example.org"
    body = client_for.post("/api/v1/match", {"text": CLAIM}, format="json").json()
    assert body["matches"][0]["debunk"]["url"] == f"https://debunk.example.org/rumors/{rumor.pk}/"


def test_a_non_object_item_error_is_in_the_request_language(client_for, rumor):
    body = {"items": [7]}
    zh = client_for.post("/api/v1/match/batch", body, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    en = client_for.post("/api/v1/match/batch", body, format="json").json()  # the API tests' client asks for English
    assert zh["results"][0]["error"] == {"non_field_errors": ["每一项都必须是 JSON 对象。"]}
    assert en["results"][0]["error"] == {"non_field_errors": ["Each item must be an object."]}
