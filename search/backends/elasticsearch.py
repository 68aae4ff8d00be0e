"""The Elasticsearch backend (Elasticsearch 8/9 with the official client; OpenSearch-compatible servers too).

The index lives behind an alias (ELASTICSEARCH_INDEX): a rebuild creates a new index, bulk-loads it, swaps the alias
in one atomic request and drops the old index, so searches never see a half-built index. Texts are converted to
Simplified script before they are sent (Elasticsearch has no OpenCC), then analysed by `debunk_text`: the standard
tokenizer, cjk_width, lowercase, cjk_bigram, English stop words and the Snowball (Porter2) stemmer (which also drops
a possessive 's), the same terms as search.analysis. Every field is copied into `all`, which is scored (BM25 over the
fields as one, like the database backend) and carries the coverage threshold as a minimum_should_match; the claim's
and the title's own matches add CLAIM_TITLE_BOOST, so that they weigh more than the body.

The client always asks for `compatible-with=<its major version>` media types; ELASTICSEARCH_COMPAT_VERSION rewrites
them (another version) or drops them (empty: plain application/json, which OpenSearch requires).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.utils.html import escape
from elastic_transport import Urllib3HttpNode
from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError, helpers

from search.analysis import clean, query_terms, simplify
from search.backends.base import (
    BackendHit,
    BackendResult,
    ProgressCallback,
    RumorDocument,
    SearchBackend,
    SearchQuery,
    SearchUnavailable,
    minimum_should_match,
)
from search.backends.database import HIGHLIGHT_CHARS

_COMPAT_RE = re.compile(r"application/vnd\.elasticsearch\+([\w.-]+); ?compatible-with=\d+")
_PRE, _POST = "\ue000", "\ue001"  # private-use marks around highlighted words, replaced after escaping
BULK_CHUNK = 500
# Scoring: BM25 on `all` (every field as one, like the database backend's pseudo-field), plus this much of the claim's
# and the title's own match, so that they weigh more than the body.
CLAIM_TITLE_BOOST = 0.3
SINGLE_CJK = re.compile(r"^[\u3400-\u9fff\uf900-\ufaff]$")

INDEX_SETTINGS: dict[str, Any] = {
    "analysis": {
        "filter": {
            "debunk_stop": {"type": "stop", "stopwords": "_english_"},
            "debunk_stemmer": {"type": "snowball", "language": "English"},
        },
        "analyzer": {
            "debunk_text": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["cjk_width", "lowercase", "cjk_bigram", "debunk_stop", "debunk_stemmer"],
            },
            # one token per CJK character: serves one-character queries on claims and titles
            "debunk_chars": {"type": "custom", "tokenizer": "standard", "filter": ["cjk_width", "lowercase"]},
        },
    }
}
_TEXT = {"type": "text", "analyzer": "debunk_text", "copy_to": "all"}
_TEXT_WITH_CHARS = {**_TEXT, "fields": {"chars": {"type": "text", "analyzer": "debunk_chars"}}}
INDEX_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "rumor_id": {"type": "long"},
        "claim": _TEXT_WITH_CHARS,
        "title": _TEXT_WITH_CHARS,
        "body": _TEXT,
        "all": {"type": "text", "analyzer": "debunk_text"},
        "category_id": {"type": "long"},
        "verdict": {"type": "keyword"},
        "published_at": {"type": "date"},
        "has_debunk": {"type": "boolean"},
    },
}


def compat_node_class(version: str) -> type[Urllib3HttpNode]:
    """A transport node that sends `compatible-with=<version>` media types, or plain JSON when version is empty."""

    replacement = rf"application/vnd.elasticsearch+\1; compatible-with={version}" if version else r"application/\1"

    class CompatNode(Urllib3HttpNode):
        def perform_request(self, method: str, target: str, body: bytes | None = None, headers=None, **kwargs: Any):
            if headers is not None:
                headers = headers.copy()
                for name in ("accept", "content-type"):
                    if headers.get(name):
                        headers[name] = _COMPAT_RE.sub(replacement, headers[name])
            return super().perform_request(method, target, body=body, headers=headers, **kwargs)

    return CompatNode


def _snippet(fragments: list[str]) -> str:
    return escape(" … ".join(fragments)).replace(_PRE, "<mark>").replace(_POST, "</mark>")


class ElasticsearchBackend(SearchBackend):
    def __init__(
        self,
        url: str | None = None,
        *,
        index: str | None = None,
        compat_version: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self.alias = index or settings.ELASTICSEARCH_INDEX
        version = settings.ELASTICSEARCH_COMPAT_VERSION if compat_version is None else compat_version
        self.client = Elasticsearch(
            url or settings.ELASTICSEARCH_URL,
            node_class=compat_node_class(version),
            request_timeout=timeout or settings.ELASTICSEARCH_TIMEOUT,
            max_retries=1,
        )

    # --- writing ------------------------------------------------------------------------------------------------

    @staticmethod
    def _source(doc: RumorDocument) -> dict[str, Any]:
        return {
            "rumor_id": doc.rumor_id,
            "claim": simplify(doc.claim),
            "title": simplify(doc.title),
            "body": simplify(doc.body),
            "category_id": doc.category_id,
            "verdict": doc.verdict,
            "published_at": doc.published_at.isoformat() if doc.published_at else None,
            "has_debunk": doc.has_debunk,
        }

    def _actions(self, index: str, documents: Iterable[RumorDocument]) -> Iterator[dict[str, Any]]:
        for doc in documents:
            yield {"_op_type": "index", "_index": index, "_id": str(doc.rumor_id), "_source": self._source(doc)}

    def _create_index(self) -> str:
        name = f"{self.alias}-{time.time_ns() // 1000}"
        self.client.indices.create(index=name, settings=INDEX_SETTINGS, mappings=INDEX_MAPPINGS)
        return name

    def _alias_targets(self) -> list[str]:
        try:
            return sorted(self.client.indices.get_alias(name=self.alias))
        except NotFoundError:
            return []

    def _ensure_alias(self) -> None:
        if not self._alias_targets():
            name = self._create_index()
            self.client.indices.update_aliases(actions=[{"add": {"index": name, "alias": self.alias}}])

    def index(self, documents: Iterable[RumorDocument]) -> int:
        docs = list(documents)
        if not docs:
            return 0
        try:
            self._ensure_alias()
            written, _errors = helpers.bulk(self.client, self._actions(self.alias, docs), refresh="wait_for")
        except (ApiError, TransportError, helpers.BulkIndexError) as exc:
            raise SearchUnavailable(str(exc)) from exc
        return written

    def delete(self, rumor_ids: Iterable[int]) -> None:
        actions = [{"_op_type": "delete", "_index": self.alias, "_id": str(pk)} for pk in rumor_ids]
        if not actions:
            return
        try:
            if not self._alias_targets():
                return
            helpers.bulk(self.client, actions, refresh="wait_for", raise_on_error=False)
        except (ApiError, TransportError) as exc:
            raise SearchUnavailable(str(exc)) from exc

    def rebuild(self, documents: Iterable[RumorDocument], *, progress: ProgressCallback | None = None) -> int:
        try:
            new = self._create_index()
            written = 0
            for ok, _item in helpers.streaming_bulk(
                self.client, self._actions(new, documents), chunk_size=BULK_CHUNK, raise_on_error=True
            ):
                written += ok
                if progress:
                    progress(1)
            self.client.indices.refresh(index=new)
            old = self._alias_targets()
            self.client.indices.update_aliases(
                actions=[{"add": {"index": new, "alias": self.alias}}]
                + [{"remove": {"index": name, "alias": self.alias}} for name in old]
            )
            for name in old:
                self.client.indices.delete(index=name)
        except (ApiError, TransportError, helpers.BulkIndexError) as exc:
            raise SearchUnavailable(str(exc)) from exc
        return written

    # --- reading ------------------------------------------------------------------------------------------------

    def count(self) -> int:
        try:
            return int(self.client.count(index=self.alias)["count"])
        except NotFoundError:
            return 0
        except (ApiError, TransportError) as exc:
            raise SearchUnavailable(str(exc)) from exc

    def _filters(self, query: SearchQuery) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = []
        if query.category_ids is not None:
            filters.append({"terms": {"category_id": list(query.category_ids)}})
        if query.verdict:
            filters.append({"term": {"verdict": query.verdict}})
        if query.published_from or query.published_before:
            bounds = {}
            if query.published_from:
                bounds["gte"] = query.published_from.isoformat()
            if query.published_before:
                bounds["lt"] = query.published_before.isoformat()
            filters.append({"range": {"published_at": bounds}})
        if query.debunked_only:
            filters.append({"term": {"has_debunk": True}})
        return filters

    def search(self, query: SearchQuery) -> BackendResult:
        words = query_terms(query.text)
        if not words or query.limit <= 0:
            return BackendResult([], 0)
        text = simplify(" ".join(words)) if SINGLE_CJK.match(words[0]) and len(words) == 1 else None
        if text is not None:  # one CJK character: look for it in claims and titles, character by character
            fields = {"claim": "claim.chars", "title": "title.chars"}
            must = {"multi_match": {"query": text, "fields": list(fields.values())}}
            should: list[dict[str, Any]] = []
        else:
            text = simplify(clean(query.text))
            fields = {"claim": "claim", "title": "title", "body": "body"}
            msm = minimum_should_match(query.min_coverage)
            must = {"match": {"all": {"query": text, "minimum_should_match": msm}}}
            should = [{"match": {f: {"query": text, "boost": CLAIM_TITLE_BOOST}}} for f in ("claim", "title")]
        body: dict[str, Any] = {
            "query": {"bool": {"must": [must], "filter": self._filters(query), "should": should}},
            "sort": [{"has_debunk": "desc"}, {"_score": "desc"}, {"rumor_id": "asc"}],
            "track_scores": True,
            "track_total_hits": True,
            "from": query.offset,
            "size": query.limit,
            "_source": False,
        }
        if query.highlight:
            body["highlight"] = {
                "pre_tags": [_PRE],
                "post_tags": [_POST],
                "require_field_match": False,  # the query runs on `all`: highlight its terms in every field
                "fields": {
                    f: {"number_of_fragments": 0}
                    if n != "body"
                    else {"fragment_size": HIGHLIGHT_CHARS["body"], "number_of_fragments": 1}
                    for n, f in fields.items()
                },
            }
        try:
            response = self.client.search(index=self.alias, **body)
        except NotFoundError:
            return BackendResult([], 0)
        except (ApiError, TransportError) as exc:
            raise SearchUnavailable(str(exc)) from exc
        names = {f: n for n, f in fields.items()}
        hits = [
            BackendHit(
                rumor_id=int(hit["_id"]),
                score=float(hit.get("_score") or 0.0),
                highlights={names[f]: _snippet(frags) for f, frags in hit.get("highlight", {}).items() if f in names},
            )
            for hit in response["hits"]["hits"]
        ]
        return BackendResult(hits, int(response["hits"]["total"]["value"]))
