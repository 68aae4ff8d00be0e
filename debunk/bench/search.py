"""The search benchmark's parts: synthetic Chinese debunks and queries from jieba's word frequencies (reusing the
match benchmark's corpus), and timing of the backend's query path."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np

from debunk.bench.matching import Corpus
from search.backends.base import RumorDocument, SearchBackend, SearchQuery

VERDICTS = ("false", "misleading", "unproven", "true")


def synthetic_documents(corpus: Corpus, count: int, seed: int = 7) -> Iterator[RumorDocument]:
    """Debunks shaped like real ones: a claim of 20–120 characters, a title of 10–30, a summary and a text of
    100–400 together, over 40 categories and four years."""
    rng = random.Random(seed)
    start = datetime(2022, 1, 1, tzinfo=UTC)
    for i in range(1, count + 1):
        yield RumorDocument(
            rumor_id=i,
            claim=corpus.post(rng.randint(20, 120)),
            title=corpus.post(rng.randint(10, 30)),
            body=corpus.post(rng.randint(100, 400)),
            category_id=rng.randint(1, 40),
            verdict=rng.choice(VERDICTS),
            published_at=start + timedelta(minutes=rng.randint(0, 4 * 365 * 24 * 60)),
            has_debunk=True,
        )


def queries(corpus: Corpus, claims: list[str], count: int, seed: int = 11) -> list[str]:
    """Half: 2–8 words drawn by frequency, separated by spaces; half: a 4–16 character excerpt of a stored claim
    (someone pasting part of a rumor)."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        if i % 2:
            out.append(" ".join(corpus._word() for _ in range(rng.randint(2, 8))))
        else:
            claim = rng.choice(claims)
            length = rng.randint(4, 16)
            start = rng.randint(0, max(0, len(claim) - length))
            out.append(claim[start : start + length])
    return out


def time_queries(backend: SearchBackend, texts: list[str], **query: object) -> tuple[np.ndarray, list[int]]:
    """Seconds per query and the number of hits of each, through backend.search (highlights included)."""
    latencies = np.empty(len(texts))
    totals = []
    for i, text in enumerate(texts):
        started = time.perf_counter()
        result = backend.search(SearchQuery(text=text, **query))
        latencies[i] = time.perf_counter() - started
        totals.append(result.total)
    return latencies, totals
