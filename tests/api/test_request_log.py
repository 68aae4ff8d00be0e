"""Every request of an authenticated platform is logged (route, status, latency, outcome, items), never its
body; a platform reads only its own log."""

import logging
from datetime import timedelta
from unittest import mock

import pytest
from django.db import DatabaseError
from django.utils import timezone

from debunk.api.models import ApiRequestLog
from debunk.api.tasks import purge_api_logs
from tests.api.conftest import api_client, make_key, make_platform

pytestmark = pytest.mark.urls("tests.api.urls")
MARKER = "MARKER-网传某地自来水有毒-7f3a"


def test_a_request_is_logged_with_latency(client_for, key, platform):
    client_for.get("/api/v1/ping?x=1")
    log = ApiRequestLog.objects.get()
    assert (log.platform, log.api_key, log.method, log.path) == (platform, key[0], "GET", "/api/v1/ping")
    assert (log.status_code, log.outcome, log.items) == (200, "ok", 0)
    assert log.latency_ms > 0


def test_views_set_outcome_and_items_and_the_body_is_never_kept(client_for, caplog):
    caplog.set_level(logging.INFO)
    response = client_for.post("/api/v1/test/echo", {"posts": [{"text": MARKER}, {"text": MARKER}]}, format="json")
    assert response.json() == {"count": 2}
    log = ApiRequestLog.objects.get()
    assert (log.path, log.outcome, log.items, log.method) == ("/api/v1/test/echo", "echoed", 2, "POST")
    row = ApiRequestLog.objects.filter(pk=log.pk).values().get()
    assert not [value for value in row.values() if MARKER in str(value)]
    assert MARKER not in caplog.text
    line = next(r.getMessage() for r in caplog.records if r.name == "debunk.api")
    assert line.startswith("api platform=weibo path=/api/v1/test/echo status=200 ms=") and "outcome=echoed" in line


def test_unauthenticated_requests_are_not_logged(db):
    api_client().get("/api/v1/ping")
    api_client("garbage").get("/api/v1/ping")
    assert not ApiRequestLog.objects.exists()


def test_errors_after_authentication_are_logged(client_for):
    client_for.post("/api/v1/ping", {"text": MARKER}, format="json")  # GET only
    log = ApiRequestLog.objects.get()
    assert (log.status_code, log.outcome) == (405, "client_error")


def test_an_unhandled_error_is_logged_as_500(client_for):
    client_for.raise_request_exception = False
    assert client_for.get("/api/v1/test/boom").status_code == 500
    log = ApiRequestLog.objects.get()
    assert (log.status_code, log.outcome) == (500, "server_error")


def test_a_failed_log_write_does_not_break_the_response(client_for, caplog):
    with mock.patch.object(ApiRequestLog.objects, "create", side_effect=DatabaseError("disk full")):
        response = client_for.get("/api/v1/ping")
    assert response.status_code == 200
    assert "api request log not written" in caplog.text
    assert client_for.get("/api/v1/ping").status_code == 200  # the connection is still usable


def make_log(platform, key, minutes_ago: int, **fields) -> ApiRequestLog:
    values = {"method": "GET", "path": "/api/v1/ping", "status_code": 200, "latency_ms": 1.0, "outcome": "ok"}
    return ApiRequestLog.objects.create(
        platform=platform, api_key=key, created_at=timezone.now() - timedelta(minutes=minutes_ago), **values | fields
    )


def test_a_platform_reads_only_its_own_log(platform, key):
    other = make_platform(code="douyin", name="Douyin")
    other_key, other_raw = make_key(other)
    make_log(platform, key[0], 5, path="/mine")
    make_log(other, other_key, 5, path="/theirs")
    api_client(other_raw).get("/api/v1/ping")
    results = api_client(key[1]).get("/api/v1/logs").json()["results"]
    assert [row["path"] for row in results] == ["/mine"]
    assert results[0]["api_key"] == key[0].display_prefix
    assert "platform" not in results[0]
    theirs = api_client(other_raw).get("/api/v1/logs").json()["results"]
    assert {row["path"] for row in theirs} == {"/theirs", "/api/v1/ping"}


def test_the_log_is_newest_first_paginated_and_filtered(platform, key):
    for minutes in (50, 40, 30, 20, 10):
        make_log(platform, key[0], minutes, items=minutes)
    client = api_client(key[1])
    page = client.get("/api/v1/logs", {"page_size": 2}).json()
    assert [row["items"] for row in page["results"]] == [10, 20]
    seen = [row["items"] for row in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [row["items"] for row in page["results"]]
    assert seen == [10, 20, 30, 40, 50]
    since = (timezone.now() - timedelta(minutes=25)).isoformat()
    results = client.get("/api/v1/logs", {"since": since}).json()["results"]
    assert [row["items"] for row in results if row["path"] == "/api/v1/ping"] == [10, 20]
    assert [row["path"] for row in results[:3]] == ["/api/v1/logs"] * 3  # the calls above, newest first
    assert ApiRequestLog.objects.first().items == len(results)  # the last call logged how many it listed


def test_a_bad_since_is_400(client_for):
    response = client_for.get("/api/v1/logs", {"since": "yesterday"})
    assert response.status_code == 400
    assert "since" in response.json()


def test_old_request_logs_are_purged(client_for, settings):
    client_for.get("/api/v1/ping")
    client_for.get("/api/v1/ping")
    old, recent = ApiRequestLog.objects.order_by("pk")
    ApiRequestLog.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=91))
    settings.API_LOG_RETENTION_DAYS = 90
    assert purge_api_logs() == 1
    assert list(ApiRequestLog.objects.values_list("pk", flat=True)) == [recent.pk]
    settings.API_LOG_RETENTION_DAYS = 0
    ApiRequestLog.objects.update(created_at=timezone.now() - timedelta(days=1000))
    assert purge_api_logs() == 0 and ApiRequestLog.objects.count() == 1
