"""GET /api/v1/corrections (pull feed) and POST /api/v1/corrections/ack (fuzzed with the rest of the API in
tests/api/test_fuzz.py)."""

# ruff: noqa: F811  (fixtures imported from tests.corrections.delivery_fixtures are arguments by name)

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from debunk.api.models import ApiRequestLog
from debunk.corrections.models import Correction
from tests.api.conftest import api_client, make_key, make_platform
from tests.corrections.delivery_fixtures import make_corrections, rumor  # noqa: F401 (pytest fixtures)

FEED = "/api/v1/corrections"
ACK = "/api/v1/corrections/ack"


@pytest.fixture
def corrections(platform, rumor):
    return make_corrections(platform, rumor, 5)


@pytest.fixture
def other(rumor):
    """Another platform with corrections of its own."""
    platform = make_platform(code="douyin", name="Douyin")
    return platform, make_key(platform)[1], make_corrections(platform, rumor, 2, prefix="o")


# --- the feed -------------------------------------------------------------------------------------------------


def test_feed_lists_the_platforms_own_corrections_in_id_order(client_for, corrections, other, rumor):
    Correction.objects.filter(pk=corrections[0].pk).update(status="deferred")
    response = client_for.get(FEED)
    assert response.status_code == 200, response.content
    items = response.json()["results"]
    assert [i["id"] for i in items] == [c.pk for c in corrections[1:]]  # not deferred, not the other platform's
    item = items[0]
    assert item["status"] == "pending" and item["kind"] == "correction" and item["interaction"] == "view"
    assert item["rumor_id"] == rumor.pk and item["card"]["rumor_id"] == rumor.pk
    assert item["user_hash"] == corrections[1].user_hash
    assert item["delivered_at"] is None
    log = ApiRequestLog.objects.get(path="/api/v1/corrections")
    assert log.items == 4


def test_feed_pages_with_a_cursor_and_filters_by_status(client_for, corrections):
    Correction.objects.filter(pk__in=[c.pk for c in corrections[:2]]).update(status="delivered")
    first = client_for.get(FEED, {"page_size": 2}).json()
    assert [i["id"] for i in first["results"]] == [c.pk for c in corrections[:2]]
    second = client_for.get(first["next"]).json()
    assert [i["id"] for i in second["results"]] == [c.pk for c in corrections[2:4]]
    pending = client_for.get(FEED, {"status": "pending"}).json()["results"]
    assert [i["id"] for i in pending] == [c.pk for c in corrections[2:]]


@pytest.mark.parametrize(
    "params,status",
    [
        ({"status": "nope"}, 400),
        ({"cursor": "cD1hYmM="}, 404),  # p=abc
        ({"cursor": "cD0xMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA="}, 200),  # p=10**26: past every id
    ],
)
def test_feed_refuses_bad_parameters(client_for, corrections, params, status):
    assert client_for.get(FEED, params).status_code == status


def test_feed_and_ack_need_a_key(db):
    assert api_client().get(FEED).status_code == 401
    assert api_client().post(ACK, {"items": []}, format="json").status_code == 401


# --- acknowledgements ---------------------------------------------------------------------------------------


def test_ack_moves_statuses_forward_only_and_is_idempotent(client_for, corrections):
    a, b, c = corrections[:3]
    at = timezone.now() - timedelta(minutes=5)
    items = [
        {"id": a.pk, "status": "delivered"},
        {"id": b.pk, "status": "acknowledged", "at": at.isoformat()},
        {"id": c.pk, "status": "clicked"},
    ]
    response = client_for.post(ACK, {"items": items}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["results"] == [
        {"id": a.pk, "status": "delivered"},
        {"id": b.pk, "status": "acknowledged"},
        {"id": c.pk, "status": "clicked"},
    ]
    b.refresh_from_db()
    assert b.acknowledged_at == at and b.delivered_at == at and b.clicked_at is None
    c.refresh_from_db()
    assert c.delivered_at and c.acknowledged_at and c.clicked_at

    again = client_for.post(ACK, {"items": items}, format="json").json()["results"]
    assert again == response.json()["results"]
    back = client_for.post(ACK, {"items": [{"id": c.pk, "status": "delivered"}]}, format="json").json()["results"]
    assert back == [{"id": c.pk, "status": "clicked"}]  # never moves back
    a.refresh_from_db()
    before = a.delivered_at
    client_for.post(ACK, {"items": [{"id": a.pk, "status": "clicked"}]}, format="json")
    a.refresh_from_db()
    assert a.status == "clicked" and a.delivered_at == before and a.acknowledged_at == a.clicked_at


def test_ack_of_another_platforms_or_unknown_id_is_not_found(client_for, corrections, other):
    _platform, _raw, theirs = other
    body = {"items": [{"id": theirs[0].pk, "status": "clicked"}, {"id": 10**12, "status": "clicked"}]}
    results = client_for.post(ACK, body, format="json").json()["results"]
    assert results == [
        {"id": theirs[0].pk, "error": {"id": ["Not found."]}},
        {"id": 10**12, "error": {"id": ["Not found."]}},
    ]
    assert Correction.objects.get(pk=theirs[0].pk).status == "pending"


def test_ack_items_get_their_own_errors(client_for, corrections):
    Correction.objects.filter(pk=corrections[1].pk).update(status="cancelled")
    future = (timezone.now() + timedelta(days=1)).isoformat()
    items = [
        {"id": corrections[0].pk, "status": "delivered", "at": future},
        {"id": corrections[1].pk, "status": "delivered"},
        {"id": corrections[2].pk, "status": "pending"},
        {"id": "x", "status": "clicked"},
        {"id": corrections[3].pk, "status": "clicked", "at": "0001-01-01T00:00:00+14:00"},
        None,
        {"status": "clicked"},
    ]
    response = client_for.post(ACK, {"items": items}, format="json")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert results[0] == {"id": corrections[0].pk, "status": "delivered"}
    delivered_at = Correction.objects.get(pk=corrections[0].pk).delivered_at
    assert delivered_at <= timezone.now()  # a time in the future is taken as now
    assert results[1]["error"] == {"status": ["This correction was cancelled."]}
    assert "status" in results[2]["error"]
    assert results[3]["id"] is None and "id" in results[3]["error"]
    assert "error" in results[4]
    assert results[5] == {"id": None, "error": {"non_field_errors": ["Each item must be an object."]}}
    assert "id" in results[6]["error"]
    assert parse_datetime(Correction.objects.get(pk=corrections[0].pk).delivered_at.isoformat())


@pytest.mark.parametrize(
    "body", [{}, {"items": []}, {"items": "x"}, {"items": [{"id": 1, "status": "clicked"}] * 1001}, []]
)
def test_ack_refuses_a_bad_body(client_for, body):
    assert client_for.post(ACK, body, format="json").status_code == 400
