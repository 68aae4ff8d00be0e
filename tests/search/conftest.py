"""Search backends for the tests: the database always, Elasticsearch through osmem-server (an in-memory
OpenSearch-compatible server, started once per session on 127.0.0.1 and a free port) and through
ELASTICSEARCH_URL when it is set. A backend that cannot run is skipped with the reason (osmem must run in CI)."""

import os
import uuid

import pytest

from search.backends import reset_backend

DATABASE = "search.backends.database.DatabaseBackend"
ELASTICSEARCH = "search.backends.elasticsearch.ElasticsearchBackend"
BACKENDS = ["database", "osmem", "elasticsearch"]


def pytest_configure(config):
    config.addinivalue_line("markers", "search_server: needs a search server (osmem-server or ELASTICSEARCH_URL)")


@pytest.fixture(scope="session")
def osmem_search_server():
    """An osmem-server process for the whole session (its pytest plugin's own fixture freezes the base)."""
    try:
        from osmem_server import OsmemServer

        server = OsmemServer.start(japanese=False, addr="127.0.0.1:0")
    except Exception as exc:  # missing wheel for this platform, binary that does not start…
        if os.environ.get("CI"):
            pytest.fail(f"osmem-server must run in CI: {exc}")
        pytest.skip(f"osmem-server unavailable: {exc}")
    yield server
    server.close()


def _use_elasticsearch(settings, url: str, compat: str) -> str:
    settings.SEARCH_BACKEND = ELASTICSEARCH
    settings.ELASTICSEARCH_URL = url
    settings.ELASTICSEARCH_COMPAT_VERSION = compat
    settings.ELASTICSEARCH_INDEX = f"debunk-test-{uuid.uuid4().hex[:12]}"
    return settings.ELASTICSEARCH_INDEX


def _drop_indices(alias: str) -> None:
    from search.backends import get_backend

    backend = get_backend()
    for name in backend._alias_targets():
        backend.client.indices.delete(index=name)


@pytest.fixture(params=BACKENDS)
def search_backend(request, settings):
    """The name of the backend under test, configured in settings (SEARCH_BACKEND) for the services to use."""
    name = request.param
    alias = None
    if name == "database":
        settings.SEARCH_BACKEND = DATABASE
    elif name == "osmem":
        server = request.getfixturevalue("osmem_search_server")
        alias = _use_elasticsearch(settings, server.url, compat="")  # OpenSearch refuses compatible-with media types
    else:
        url = os.environ.get("ELASTICSEARCH_URL")
        if not url:
            pytest.skip("ELASTICSEARCH_URL is not set: no real Elasticsearch cluster to test against")
        alias = _use_elasticsearch(settings, url, compat=os.environ.get("ELASTICSEARCH_COMPAT_VERSION", "8"))
    reset_backend()
    yield name
    if alias is not None:
        _drop_indices(alias)
    reset_backend()


@pytest.fixture
def database_search(settings):
    settings.SEARCH_BACKEND = DATABASE
    reset_backend()
    yield
    reset_backend()
