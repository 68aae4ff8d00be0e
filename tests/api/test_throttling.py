"""Per-key rate limits: 429 with Retry-After, one budget per key, a separate budget for batch endpoints."""

import pytest

from debunk.api.models import ApiRequestLog
from debunk.api.throttling import ApiKeyRateThrottle
from tests.api.conftest import api_client, make_key

pytestmark = pytest.mark.urls("tests.api.urls")
NOW = 60 * 16_667 + 20.0  # 20 s into a one-minute window


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    """A fixed clock, so that a window never rolls over in the middle of a test."""
    monkeypatch.setattr(ApiKeyRateThrottle, "timer", staticmethod(lambda: NOW))


def test_over_the_rate_is_429_with_retry_after(client_for, settings):
    settings.API_THROTTLE_RATE = "3/min"
    assert [client_for.get("/api/v1/ping").status_code for _ in range(3)] == [200, 200, 200]
    response = client_for.get("/api/v1/ping")
    assert response.status_code == 429
    assert response["Retry-After"] == "40"  # the rest of the window
    assert "detail" in response.json()
    assert ApiRequestLog.objects.filter(status_code=429, outcome="throttled").count() == 1


def test_the_budget_is_per_key(client_for, platform, settings):
    settings.API_THROTTLE_RATE = "2/min"
    for _ in range(2):
        client_for.get("/api/v1/ping")
    assert client_for.get("/api/v1/ping").status_code == 429
    _key, other = make_key(platform, name="second")
    assert api_client(other).get("/api/v1/ping").status_code == 200


def test_the_next_window_starts_afresh(client_for, settings, monkeypatch):
    settings.API_THROTTLE_RATE = "1/min"
    assert client_for.get("/api/v1/ping").status_code == 200
    assert client_for.get("/api/v1/ping").status_code == 429
    monkeypatch.setattr(ApiKeyRateThrottle, "timer", staticmethod(lambda: NOW + 60))
    assert client_for.get("/api/v1/ping").status_code == 200


def test_batch_endpoints_have_their_own_rate(client_for, settings):
    settings.API_THROTTLE_RATE = "100/min"
    settings.API_BATCH_THROTTLE_RATE = "2/min"
    assert [client_for.get("/api/v1/test/batch").status_code for _ in range(3)] == [200, 200, 429]
    assert client_for.get("/api/v1/ping").status_code == 200


def test_unauthenticated_requests_are_refused_not_counted(db, settings):
    settings.API_THROTTLE_RATE = "1/min"
    assert [api_client().get("/api/v1/ping").status_code for _ in range(3)] == [401, 401, 401]
