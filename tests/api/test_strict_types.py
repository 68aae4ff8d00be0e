"""Every field of the API's JSON bodies is enforced as the OpenAPI schema types it: a number where a string is
documented (or a string where an integer is) is a 400 with the field's error, or the item's own error in a batch,
and nothing is written. DRF would otherwise coerce `{"text": 5}` into the text "5"."""

import pytest

from debunk.corrections.models import Exposure
from debunk.matching.models import Post
from debunk.sanctions.models import BannedIdentity, Sanction
from tests.factories import publish_rumor
from tests.sanctions.conftest import account
from tests.sanctions.test_api import make_sanction

pytestmark = pytest.mark.django_db


@pytest.fixture
def rumor(checker, reviewer):
    return publish_rumor(checker, reviewer, severity=3)


NOT_A_STRING = "Not a valid string."
NOT_AN_INTEGER = "A valid integer is required."
AT = "2026-11-02T10:00:00+08:00"
HASH = "a" * 64


@pytest.mark.parametrize(
    "payload, field, message",
    [
        ({"text": 5}, "text", NOT_A_STRING),
        ({"text": 5.5}, "text", NOT_A_STRING),
        ({"text": False}, "text", NOT_A_STRING),
        ({"text": {"zh": "谣言"}}, "text", NOT_A_STRING),
        ({"text": "ok", "platform_post_id": 12}, "platform_post_id", NOT_A_STRING),
        ({"text": "ok", "context": 0}, "context", '"0" is not a valid choice.'),
    ],
)
def test_match(client_for, rumor, payload, field, message):
    response = client_for.post("/api/v1/match", payload, format="json")
    assert response.status_code == 400
    assert response.json() == {field: [message]}
    assert not Post.objects.exists()


def test_match_batch_items_get_their_own_type_errors(client_for, rumor):
    items = [
        {"id": "n", "text": 5},
        {"id": 3, "text": rumor.claim},
        {"id": "c", "text": rumor.claim, "context": 2},
        {"id": "ok", "text": rumor.claim},
    ]
    results = client_for.post("/api/v1/match/batch", {"items": items}, format="json").json()["results"]
    assert results[0] == {"id": "n", "error": {"text": [NOT_A_STRING]}}
    assert results[1] == {"id": None, "error": {"id": [NOT_A_STRING]}}
    assert results[2]["error"] == {"context": ['"2" is not a valid choice.']}
    assert results[3]["id"] == "ok" and results[3]["matched"] is True


@pytest.mark.parametrize(
    "item, field",
    [
        ({"platform_post_id": 1, "text": "一条帖子"}, "platform_post_id"),
        ({"platform_post_id": "p1", "text": 1}, "text"),
        ({"platform_post_id": "p1", "text": "一条帖子", "author_ref": 99}, "author_ref"),
        ({"platform_post_id": "p1", "text": "一条帖子", "parent_post_id": 0}, "parent_post_id"),
    ],
)
def test_posts(client_for, item, field):
    body = client_for.post("/api/v1/posts", {"items": [item]}, format="json").json()
    assert body["results"][0]["error"] == {field: [NOT_A_STRING]}
    assert not Post.objects.exists()


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"platform_post_id": 1}, "platform_post_id", NOT_A_STRING),
        ({"user_ref": 12345}, "user_ref", NOT_A_STRING),
        ({"interaction": 1}, "interaction", '"1" is not a valid choice.'),
    ],
)
def test_exposures(client_for, change, field, message):
    item = {"platform_post_id": "p1", "user_ref": "u1", "interaction": "view", "at": AT} | change
    body = client_for.post("/api/v1/exposures", {"items": [item]}, format="json").json()
    assert body["accepted"] == 0 and body["errors"][0]["error"] == {field: [message]}
    assert not Exposure.objects.exists()


@pytest.mark.parametrize(
    "item, field, message",
    [
        ({"id": "1", "status": "delivered"}, "id", NOT_AN_INTEGER),
        ({"id": True, "status": "delivered"}, "id", NOT_AN_INTEGER),
        ({"id": 1, "status": 1}, "status", '"1" is not a valid choice.'),
    ],
)
def test_corrections_ack(client_for, item, field, message):
    body = client_for.post("/api/v1/corrections/ack", {"items": [item]}, format="json").json()
    assert body["results"][0]["error"] == {field: [message]}


def test_sanction_appeal(client_for, platform, reviewer):
    sanction = make_sanction(platform, "a1", by=reviewer)
    response = client_for.post(f"/api/v1/sanctions/{sanction.pk}/appeal", {"text": 12}, format="json")
    assert response.status_code == 400 and response.json() == {"text": [NOT_A_STRING]}
    sanction.refresh_from_db()
    assert sanction.appeal == ""


def test_blacklist_identities(client_for, platform, reviewer):
    sanction = make_sanction(platform, "a1", measure="blacklist", by=reviewer)
    for payload, errors in [
        ({"sanction_id": str(sanction.pk), "hashes": [HASH]}, {"sanction_id": [NOT_AN_INTEGER]}),
        ({"sanction_id": True, "hashes": [HASH]}, {"sanction_id": [NOT_AN_INTEGER]}),
        ({"sanction_id": sanction.pk, "hashes": [int("1" * 64)]}, {"hashes": {"0": [NOT_A_STRING]}}),
    ]:
        response = client_for.post("/api/v1/blacklist/identities", payload, format="json")
        assert response.status_code == 400 and response.json() == errors
    assert not BannedIdentity.objects.exists()


def test_an_integral_float_is_an_integer_as_json_schema_says(client_for, platform, reviewer, reviewer2):
    sanction = make_sanction(platform, "a1", measure="blacklist", by=reviewer, second=reviewer2)
    payload = {"sanction_id": float(sanction.pk), "hashes": [HASH]}
    response = client_for.post("/api/v1/blacklist/identities", payload, format="json")
    assert response.status_code == 200 and response.json() == {"linked": 1}


def test_blacklist_check_answers_a_non_string_hash_with_its_own_error(client_for):
    body = client_for.post("/api/v1/blacklist/check", {"hashes": [5, HASH]}, format="json").json()
    assert body["results"][0] == {"hash": None, "error": ["Not a 64-hex hash."]}
    assert body["results"][1]["banned"] is False
    assert account("x") not in str(body) and Sanction.objects.count() == 0
