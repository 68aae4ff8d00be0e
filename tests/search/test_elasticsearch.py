"""The Elasticsearch backend's compatibility headers come from a setting, not from a test patch."""

import pytest
from elastic_transport import HttpHeaders, NodeConfig, Urllib3HttpNode

from search.backends.elasticsearch import ElasticsearchBackend, compat_node_class

COMPAT = "application/vnd.elasticsearch+json; compatible-with=8"


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("8", COMPAT),
        ("7", "application/vnd.elasticsearch+json; compatible-with=7"),
        ("", "application/json"),
    ],
)
def test_compat_node_rewrites_media_types(monkeypatch, version, expected):
    sent = {}

    def capture(self, method, target, body=None, headers=None, **kwargs):
        sent.update(headers)

    monkeypatch.setattr(Urllib3HttpNode, "perform_request", capture)
    node = compat_node_class(version)(NodeConfig("http", "127.0.0.1", 9200))
    node.perform_request("POST", "/x/_search", b"{}", headers=HttpHeaders({"accept": COMPAT, "content-type": COMPAT}))
    assert sent["accept"] == expected and sent["content-type"] == expected


def test_backend_reads_its_settings(settings):
    settings.ELASTICSEARCH_URL = "http://127.0.0.1:9"
    settings.ELASTICSEARCH_INDEX = "debunk-x"
    settings.ELASTICSEARCH_COMPAT_VERSION = ""
    backend = ElasticsearchBackend()  # no request is made until it is used
    assert backend.alias == "debunk-x"
    node_class = backend.client.transport.node_pool.all()[0].__class__
    assert issubclass(node_class, Urllib3HttpNode) and node_class.__name__ == "CompatNode"


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


@pytest.mark.django_db
def test_unreachable_cluster_is_unavailable(settings, checker, reviewer, django_capture_on_commit_callbacks):
    from search.backends import SearchQuery, SearchUnavailable, reset_backend
    from search.services import search_rumors
    from tests.search.helpers import publish

    settings.SEARCH_BACKEND = "search.backends.elasticsearch.ElasticsearchBackend"
    settings.ELASTICSEARCH_URL = f"http://127.0.0.1:{_closed_port()}"
    settings.ELASTICSEARCH_TIMEOUT = 1
    reset_backend()
    try:
        with pytest.raises(SearchUnavailable):
            ElasticsearchBackend().search(SearchQuery("疫苗"))
        assert search_rumors("疫苗").unavailable
        with django_capture_on_commit_callbacks(execute=True):
            rumor = publish(checker, reviewer, claim="网传疫苗有毒", title="疫苗有毒系谣言")
        rumor.refresh_from_db()
        assert rumor.status == rumor.Status.PUBLISHED
    finally:
        reset_backend()
