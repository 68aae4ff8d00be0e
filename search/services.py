"""Public search: what the public pages and the platforms' API call, and keeping the index in step.

Reads go to the configured backend (search.backends) and come back as live rumors fetched with
debunk.stock.selectors.public_rumors(), so nothing retracted or expired is ever shown even if the index lags.
Writes are scheduled on commit and run in a Celery task; a search outage is logged and never fails a save.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from debunk.stock.models import Rumor
from debunk.stock.selectors import public_rumors
from labels.selectors import category_subtree_ids
from search import semantic
from search.backends import BackendHit, SearchQuery, SearchUnavailable, get_backend
from search.documents import live_documents, rumor_document
from search.fusion import reciprocal_rank_fusion

logger = logging.getLogger(__name__)

MAX_PER_PAGE = 100


@dataclass(frozen=True)
class SearchHit:
    rumor: Rumor  # fetched with public_rumors(): live, verdict and category selected, published debunks prefetched
    score: float
    highlights: dict[str, SafeString]  # "claim", "title", "body" → escaped snippet with matches in <mark>


@dataclass(frozen=True)
class SearchPage:
    hits: list[SearchHit]
    total: int
    page: int
    per_page: int
    unavailable: bool = False  # the search engine could not be reached (the page shows no results)

    @property
    def num_pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.num_pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _hydrate(backend_hits: list[BackendHit]) -> list[SearchHit]:
    rumors = public_rumors().in_bulk([hit.rumor_id for hit in backend_hits])
    return [
        SearchHit(
            rumor=rumors[hit.rumor_id],
            score=hit.score,
            highlights={name: mark_safe(html) for name, html in hit.highlights.items()},  # escaped by the backend
        )
        for hit in backend_hits
        if hit.rumor_id in rumors
    ]


def search_rumors(
    q: str,
    *,
    category: int | None = None,
    verdict: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    page: int = 1,
    per_page: int = 20,
) -> SearchPage:
    """A page of live rumors matching q, debunked ones first; filters: a category with its sub-categories, a
    verdict label code, and the day range [date_from, date_to] of publication (in the site's time zone)."""
    page, per_page = max(1, page), min(max(1, per_page), MAX_PER_PAGE)
    q = (q or "").strip()
    if not q:
        return SearchPage([], 0, page, per_page)
    query = SearchQuery(
        text=q,
        category_ids=tuple(category_subtree_ids(category)) if category is not None else None,
        verdict=verdict or None,
        published_from=_day_start(date_from) if date_from else None,
        published_before=_day_start(date_to + timedelta(days=1)) if date_to else None,
        min_coverage=settings.SEARCH_MIN_COVERAGE,
        offset=(page - 1) * per_page,
        limit=per_page,
    )
    depth = settings.SEMANTIC_SEARCH_CANDIDATES
    fuse = query.offset + query.limit <= depth  # the fused ranking covers the first pages; later ones are lexical
    future = semantic.start(q) if fuse else None
    if future is not None:
        query = replace(query, offset=0, limit=depth)
    try:
        result = get_backend().search(query)
    except (SearchUnavailable, OSError):  # OSError: ConnectionError, TimeoutError from a backend
        logger.exception("search failed for a query of %d characters", len(q))
        return SearchPage([], 0, page, per_page, unavailable=True)
    if future is None:
        return SearchPage(_hydrate(result.hits), result.total, page, per_page)
    near = semantic.nearest(
        future,
        min_score=settings.SEMANTIC_SEARCH_MIN_SCORE,
        category_ids=query.category_ids,
        verdict=query.verdict,
        published_from=query.published_from,
        published_before=query.published_before,
    )
    hits, added = _fused(result.hits, near)
    start = (page - 1) * per_page
    return SearchPage(hits[start : start + per_page], result.total + added, page, per_page)


def _fused(lexical: list[BackendHit], near: list[tuple[int, float]] | None) -> tuple[list[SearchHit], int]:
    """The lexical hits fused with the semantic ones (reciprocal-rank fusion), debunked rumors first as the lexical
    ranking has them; returns the hits and how many the semantic ranking added. Without a semantic ranking (None:
    the model was missing or slow) the lexical hits as they are."""
    if near is None:
        return _hydrate(lexical), 0
    by_id = {hit.rumor_id: hit for hit in lexical}
    semantic_ids = [rumor_id for rumor_id, _ in near]
    rumors = public_rumors().in_bulk([*by_id, *semantic_ids])
    lexical_ids = [hit.rumor_id for hit in lexical if hit.rumor_id in rumors]
    semantic_ids = [rumor_id for rumor_id in semantic_ids if rumor_id in rumors]
    fused = reciprocal_rank_fusion([lexical_ids, semantic_ids])
    debunked = {pk for pk, rumor in rumors.items() if rumor.debunks.all()}  # published debunks are prefetched
    fused.sort(key=lambda pair: pair[0] not in debunked)  # stable: debunked first, each part by fused score
    hits = [
        SearchHit(
            rumor=rumors[rumor_id],
            score=score,
            highlights={name: mark_safe(html) for name, html in by_id[rumor_id].highlights.items()}
            if rumor_id in by_id
            else {},  # found by meaning only: nothing to mark
        )
        for rumor_id, score in fused
    ]
    return hits, len(set(semantic_ids) - set(lexical_ids))


def search_cards(q: str, *, limit: int = 3, semantic_ranking: bool = True) -> list[SearchHit]:
    """Debunk cards for a platform's search results: only debunked rumors holding at least
    SEARCH_CARD_MIN_COVERAGE of the query's terms, so an unrelated query gets none. With the semantic extra (and
    `semantic_ranking`), fused with the debunked rumors whose cosine with the query is at least
    SEMANTIC_CARD_MIN_SCORE."""
    q = (q or "").strip()
    if not q or limit <= 0:
        return []
    future = semantic.start(q) if semantic_ranking else None
    query = SearchQuery(
        text=q,
        debunked_only=True,
        min_coverage=settings.SEARCH_CARD_MIN_COVERAGE,
        limit=limit if future is None else max(limit, settings.SEMANTIC_SEARCH_CANDIDATES),
    )
    try:
        result = get_backend().search(query)
    except (SearchUnavailable, OSError):
        logger.exception("card search failed for a query of %d characters", len(q))
        return []
    if future is None:
        return _hydrate(result.hits)
    near = semantic.nearest(future, min_score=settings.SEMANTIC_CARD_MIN_SCORE)
    return _fused(result.hits, near)[0][:limit]


# --- keeping the index in step --------------------------------------------------------------------------------


def rumor_search_schedule(rumor: Rumor) -> None:
    """After the current transaction commits, (re)index the rumor or drop it from the index (a Celery task)."""
    from debunk.core.outbox import enqueue
    from search.tasks import search_index_rumor

    enqueue(search_index_rumor, rumor.pk)  # through the outbox: a broker outage delays it, never loses it


def rumor_search_refresh(*, rumor_id: int) -> bool:
    """Index the rumor if it is live, remove it otherwise; True when it is now in the index.
    Raises the backend's error: the task decides whether to retry."""
    rumor = public_rumors().filter(pk=rumor_id).first()
    backend = get_backend()
    if rumor is None:
        backend.delete([rumor_id])
        return False
    backend.index([rumor_document(rumor)])
    return True


def search_rebuild(*, progress: Callable[[int], None] | None = None) -> int:
    """Rebuild the whole index from the live rumors (after a change of analysis, or to repair missed updates)."""
    return get_backend().rebuild(live_documents(), progress=progress)
