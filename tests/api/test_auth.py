"""`Authorization: Api-Key …`: who gets in, who gets 401 or 403, and how fast a revocation bites."""

import json
import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from debunk.api.keys import api_key_authenticate, api_key_revoke
from debunk.api.models import ApiKey
from debunk.core.roles import operator_user
from tests.api.conftest import api_client, make_key

PING = "/api/v1/ping"


def test_valid_key(client_for):
    response = client_for.get(PING)
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_request_user_is_the_platform_principal(key, platform, rf):
    from rest_framework.request import Request

    from debunk.api.auth import ApiKeyAuthentication, ApiPrincipal

    request = Request(rf.get(PING, HTTP_AUTHORIZATION=f"Api-Key {key[1]}"), authenticators=[ApiKeyAuthentication()])
    principal = request.user
    assert isinstance(principal, ApiPrincipal)
    assert principal.is_authenticated and not principal.is_staff and not principal.has_perm("debunk.view_rumor")
    assert (principal.platform, principal.api_key, request.auth) == (platform, key[0], key[0])


def test_missing_header_is_401_with_challenge(db):
    response = api_client().get(PING)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert set(response.json()) == {"detail"}


@pytest.mark.parametrize(
    "header",
    [
        "Bearer {raw}",  # another scheme: not ours, so not authenticated
        "Token {raw}",
        "Api-Key",
        "Api-Key {raw} extra",
        "Api-Key garbage",
        "Api-Key dbk_zzzzzzzz_" + "a" * 43,  # well-formed, unknown prefix
    ],
)
def test_bad_headers_are_401(key, header):
    client = api_client()
    client.credentials(HTTP_AUTHORIZATION=header.format(raw=key[1]))
    response = client.get(PING)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert "detail" in response.json()


def test_right_prefix_wrong_secret_is_401(key):
    raw = key[1]
    wrong = raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB")
    response = api_client(wrong).get(PING)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid API key."}


def test_scheme_is_case_insensitive(key):
    assert api_client(key[1], scheme="api-key").get(PING).status_code == 200


def test_revoked_key_is_401(key):
    api_key_revoke(key=key[0], by=operator_user())
    response = api_client(key[1]).get(PING)
    assert response.status_code == 401
    assert response.json() == {"detail": "API key revoked"}


def test_inactive_platform_is_403(key, platform):
    platform.is_active = False
    platform.save()
    response = api_client(key[1]).get(PING)
    assert response.status_code == 403
    assert response.json() == {"detail": "This platform is inactive."}


def test_revocation_through_the_service_is_immediate(client_for, key):
    assert client_for.get(PING).status_code == 200  # the lookup is now cached
    api_key_revoke(key=key[0], by=operator_user())
    assert client_for.get(PING).status_code == 401


def test_revocation_elsewhere_bites_when_the_cache_expires(client_for, key, settings):
    """Another process revoking the key (its cache is not ours) takes effect within API_KEY_CACHE_SECONDS."""
    settings.API_KEY_CACHE_SECONDS = 1
    assert client_for.get(PING).status_code == 200
    ApiKey.objects.filter(pk=key[0].pk).update(revoked_at=timezone.now())
    assert client_for.get(PING).status_code == 200  # still cached
    time.sleep(1.1)  # the cache entry expires
    assert client_for.get(PING).status_code == 401


def test_the_cache_holds_plain_data_and_authenticates_from_it(client_for, key, platform):
    """Ids, flags, prefix, hash, dates as strings: JSON-serialisable, never a pickled model instance."""
    assert client_for.get(PING).status_code == 200
    cached = cache.get(f"debunk:api-key:v2:{key[0].prefix}")
    assert isinstance(cached, dict)
    assert json.loads(json.dumps(cached)) == cached
    assert cached["key"]["key_hash"] == key[0].key_hash and cached["key"]["revoked_at"] is None
    assert cached["platform"]["code"] == "weibo" and cached["platform"]["is_active"] is True
    with CaptureQueriesContext(connection) as queries:
        found = api_key_authenticate(key[1])
        assert (found.pk, found.platform.pk, found.platform.code, found.platform.is_active) == (
            key[0].pk,
            platform.pk,
            "weibo",
            True,
        )
        assert found.created_at == key[0].created_at and found.platform.created_at == platform.created_at
    assert not queries.captured_queries  # everything came from the cache, nothing deferred
    assert api_key_authenticate(key[1][:-1] + ("A" if key[1][-1] != "A" else "B")) is None  # the hash still decides


def test_revocation_without_cache_is_immediate(client_for, key, settings):
    settings.API_KEY_CACHE_SECONDS = 0
    assert client_for.get(PING).status_code == 200
    ApiKey.objects.filter(pk=key[0].pk).update(revoked_at=timezone.now())
    response = client_for.get(PING)
    assert response.status_code == 401
    assert response.json() == {"detail": "API key revoked"}


def test_unknown_keys_are_cached_too(key):
    client = api_client("dbk_zzzzzzzz_" + "a" * 43)
    assert client.get(PING).status_code == 401
    with CaptureQueriesContext(connection) as queries:
        assert client.get(PING).status_code == 401
    assert not [q for q in queries if "debunk_apikey" in q["sql"]]


def test_last_used_is_written_at_most_once_a_minute(client_for, key):
    assert key[0].last_used_at is None
    client_for.get(PING)
    key[0].refresh_from_db()
    first = key[0].last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        client_for.get(PING)
    key[0].refresh_from_db()
    assert key[0].last_used_at == first
    assert not [q for q in queries if "debunk_apikey" in q["sql"]]  # no lookup, no update: cached


def test_a_warm_request_costs_one_insert(client_for):
    client_for.get(PING)
    with CaptureQueriesContext(connection) as queries:
        assert client_for.get(PING).status_code == 200
    writes = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]
    assert len(writes) == 1 and writes[0].startswith("INSERT INTO") and "debunk_apirequestlog" in writes[0]


def test_two_platforms_are_told_apart(platform):
    from tests.api.conftest import make_platform

    other = make_platform(code="douyin", name="Douyin")
    _k1, raw1 = make_key(platform)
    _k2, raw2 = make_key(other)
    assert api_client(raw1).get(PING).status_code == 200
    assert api_client(raw2).get(PING).status_code == 200


@pytest.mark.urls("tests.api.urls")
def test_versioned_writes_in_api_views_have_no_user(client_for):
    """The platform principal is not a Django user: history records written during an API call have none."""
    from labels.models import Category

    response = client_for.post("/api/v1/test/touch-category")
    assert response.status_code == 200 and response.json() == {"platform": "weibo"}
    assert Category.history.order_by("-history_id").first().history_user is None
