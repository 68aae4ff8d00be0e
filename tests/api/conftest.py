"""Helpers for the API tests: platforms, keys and a client that sends `Authorization: Api-Key …`."""

from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from debunk.api.keys import api_key_create
from debunk.api.models import ApiKey, Platform
from debunk.core.roles import operator_user


@pytest.fixture(autouse=True)
def clear_cache():
    """Key lookups and throttle counters live in the cache: start and end every test with it empty."""
    cache.clear()
    yield
    cache.clear()


def make_platform(code: str = "weibo", name: str = "Weibo", **fields: Any) -> Platform:
    return Platform.objects.create(code=code, name=name, **fields)


def make_key(platform: Platform, name: str = "test") -> tuple[ApiKey, str]:
    return api_key_create(platform=platform, name=name, by=operator_user())


def api_client(raw_key: str | None = None, scheme: str = "Api-Key") -> APIClient:
    """A client in English (error details are translated), authenticated with `raw_key` when given."""
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    if raw_key is not None:
        client.credentials(HTTP_AUTHORIZATION=f"{scheme} {raw_key}")
    return client


@pytest.fixture
def platform(db) -> Platform:
    return make_platform()


@pytest.fixture
def key(platform) -> tuple[ApiKey, str]:
    return make_key(platform)


@pytest.fixture
def client_for(key) -> APIClient:
    return api_client(key[1])
