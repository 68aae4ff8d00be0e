"""The semantic extra's part of search: the debunked rumors nearest to a query by meaning, within a time budget.

The query is embedded in a worker thread started before the lexical search runs (the engine releases the GIL), and
waited for at most SEMANTIC_SEARCH_TIMEOUT_MS after it: a slow or missing model, or a failure, leaves the lexical
ranking alone (`nearest` returns None). A queued embedding whose deadline has passed is skipped, so a backlog
under load drains at once instead of running stale queries.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db.models import Exists, OuterRef

logger = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def enabled() -> bool:
    from debunk.semantic.conf import enabled as semantic_enabled

    return semantic_enabled()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="semantic-query")
        return _executor


def _embed(text: str, deadline: float) -> np.ndarray | None:
    if time.monotonic() > deadline:
        return None  # its request has answered without it
    from debunk.semantic import embedder
    from debunk.semantic.conf import load_model

    load_model()
    return embedder.embed_queries([text])[0]


def start(text: str) -> Future | None:
    """Begin embedding a query (None when the extra is off). Pass the future to `nearest`."""
    if not enabled() or not text.strip():
        return None
    deadline = time.monotonic() + settings.SEMANTIC_SEARCH_TIMEOUT_MS / 1000
    future = _pool().submit(_embed, text, deadline)
    future.deadline = deadline  # type: ignore[attr-defined]
    return future


def nearest(
    future: Future | None,
    *,
    min_score: float,
    category_ids: tuple[int, ...] | None = None,
    verdict: str | None = None,
    published_from: datetime | None = None,
    published_before: datetime | None = None,
) -> list[tuple[int, float]] | None:
    """[(rumor id, cosine)] of the SEMANTIC_SEARCH_CANDIDATES nearest live rumors with a published debunk that pass
    the filters, best first; None when the embedding is not there in time (or failed)."""
    if future is None:
        return None
    try:
        vector = future.result(timeout=max(0.0, future.deadline - time.monotonic()))  # type: ignore[attr-defined]
    except FutureTimeout:
        logger.warning("semantic search: the query was not embedded within %d ms", settings.SEMANTIC_SEARCH_TIMEOUT_MS)
        return None
    except Exception:
        logger.exception("semantic search: embedding the query failed")
        return None
    if vector is None:
        return None
    from debunk.semantic.serving import current_vector_index
    from debunk.stock.models import Debunk, Rumor

    hits = current_vector_index().search(vector, k=settings.SEMANTIC_SEARCH_CANDIDATES, min_score=min_score)[0]
    if not hits:
        return []
    rumors = Rumor.objects.live().filter(pk__in=[h.rumor_id for h in hits])
    rumors = rumors.filter(Exists(Debunk.objects.filter(rumor=OuterRef("pk"), published_at__isnull=False)))
    if category_ids is not None:
        rumors = rumors.filter(category_id__in=category_ids)
    if verdict:
        rumors = rumors.filter(verdict__code=verdict)
    if published_from is not None:
        rumors = rumors.filter(published_at__gte=published_from)
    if published_before is not None:
        rumors = rumors.filter(published_at__lt=published_before)
    keep = set(rumors.values_list("pk", flat=True))
    return [(h.rumor_id, h.score) for h in hits if h.rumor_id in keep]
