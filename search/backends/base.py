"""The search backend interface: what the services need from a search engine, and nothing more."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime


class SearchUnavailable(Exception):
    """The search engine could not be reached or refused the request."""


@dataclass(frozen=True)
class RumorDocument:
    """One live rumor as the search engines see it (built by search.documents)."""

    rumor_id: int
    claim: str
    title: str = ""  # the titles of its published debunks
    body: str = ""  # their summaries and texts, as plain text
    category_id: int | None = None
    verdict: str = ""
    published_at: datetime | None = None
    has_debunk: bool = False


@dataclass(frozen=True)
class SearchQuery:
    text: str
    category_ids: tuple[int, ...] | None = None  # None: any; the services expand a category to its subtree
    verdict: str | None = None
    published_from: datetime | None = None  # inclusive
    published_before: datetime | None = None  # exclusive
    debunked_only: bool = False
    min_coverage: float = 0.0  # share of the query's terms a hit must contain (see required_terms)
    offset: int = 0
    limit: int = 20
    highlight: bool = True


@dataclass(frozen=True)
class BackendHit:
    rumor_id: int
    score: float
    highlights: dict[str, str] = field(default_factory=dict)  # field → escaped HTML with <mark>, not marked safe


@dataclass(frozen=True)
class BackendResult:
    hits: list[BackendHit]
    total: int


def required_terms(count: int, coverage: float) -> int:
    """How many of a query's `count` terms a hit must contain: all but floor(count × (1 − coverage)), at least one.

    The same rule as Elasticsearch's negative-percentage minimum_should_match ("-40%" for coverage 0.6), so both
    backends apply a threshold identically.
    """
    if count <= 0:
        return 0
    coverage = min(max(coverage, 0.0), 1.0)
    return max(1, count - math.floor(count * (1 - coverage) + 1e-9))


def minimum_should_match(coverage: float) -> str:
    """Elasticsearch's spelling of required_terms."""
    coverage = min(max(coverage, 0.0), 1.0)
    return f"-{round((1 - coverage) * 100)}%"


ProgressCallback = Callable[[int], None]


class SearchBackend(ABC):
    """A search engine holding RumorDocuments. Implementations raise SearchUnavailable when unreachable."""

    @abstractmethod
    def index(self, documents: Iterable[RumorDocument]) -> int:
        """Add or replace these documents; returns how many were written."""

    @abstractmethod
    def delete(self, rumor_ids: Iterable[int]) -> None:
        """Remove these rumors (missing ones are ignored)."""

    @abstractmethod
    def rebuild(self, documents: Iterable[RumorDocument], *, progress: ProgressCallback | None = None) -> int:
        """Replace the whole index with these documents, serving the old one until the new one is complete."""

    @abstractmethod
    def search(self, query: SearchQuery) -> BackendResult:
        """Matching rumors, those with a published debunk first, then by descending score."""

    @abstractmethod
    def count(self) -> int:
        """How many documents the index holds."""
