"""Search evaluation on CLEF-2020 CheckThat! Task 2 (English tweets → the Snopes fact-check that debunks them):
MAP@5 and Recall@5 of the project's search, and of a plain BM25 baseline on the same queries, in the same run."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from search.backends.base import RumorDocument, SearchBackend, SearchQuery

K = 5
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Dataset:
    claims: list[dict]  # {vclaim_id, vclaim, title}
    queries: list[dict]  # {query_id, text, relevant_vclaim_ids}


def load(vclaims: Path, queries: Path) -> Dataset:
    def read(path: Path) -> list[dict]:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    return Dataset(read(vclaims), read(queries))


def documents(dataset: Dataset) -> list[RumorDocument]:
    """Each verified claim as a debunked rumor: the claim, and the fact-check's title as its debunk title."""
    return [
        RumorDocument(rumor_id=i, claim=c["vclaim"], title=c.get("title") or "", has_debunk=True)
        for i, c in enumerate(dataset.claims, start=1)
    ]


def average_precision(ranked: list[str], relevant: set[str], k: int = K) -> float:
    """The CLEF scorer's AP@k: precision at each relevant hit in the top k, summed, over the number relevant."""
    found, total = 0, 0.0
    for i, item in enumerate(ranked[:k], start=1):
        if item in relevant:
            found += 1
            total += found / i
    return total / len(relevant) if relevant else 0.0


def recall(ranked: list[str], relevant: set[str], k: int = K) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant) if relevant else 0.0


def score(rank: Callable[[str], list[str]], queries: Iterable[dict]) -> tuple[float, float]:
    aps, recalls = [], []
    for q in queries:
        ranked, relevant = rank(q["text"]), set(q["relevant_vclaim_ids"])
        aps.append(average_precision(ranked, relevant))
        recalls.append(recall(ranked, relevant))
    return float(np.mean(aps)), float(np.mean(recalls))


def project_ranker(
    backend: SearchBackend, dataset: Dataset, min_coverage: float, *, limit: int = K
) -> Callable[[str], list[str]]:
    """The project's search: the same backend code and query path as the public pages (no highlights)."""
    ids = {i: c["vclaim_id"] for i, c in enumerate(dataset.claims, start=1)}

    def rank(text: str) -> list[str]:
        result = backend.search(SearchQuery(text=text, min_coverage=min_coverage, limit=limit, highlight=False))
        return [ids[hit.rumor_id] for hit in result.hits]

    return rank


def bm25_ranker(dataset: Dataset) -> Callable[[str], list[str]]:
    """The baseline: rank_bm25's BM25Okapi (default parameters) over lower-cased \\w+ tokens of claim and title."""
    from rank_bm25 import BM25Okapi

    def tokenize(text: str) -> list[str]:
        return _WORD.findall(text.lower())

    bm25 = BM25Okapi([tokenize(f"{c['vclaim']} {c.get('title') or ''}") for c in dataset.claims])
    ids = [c["vclaim_id"] for c in dataset.claims]

    def rank(text: str) -> list[str]:
        scores = bm25.get_scores(tokenize(text))
        top = np.argsort(-scores, kind="stable")[:K]
        return [ids[i] for i in top if scores[i] > 0]

    return rank


# --- the semantic extra: fused ranking ---------------------------------------------------------------------------


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_vectors(
    source: Path, texts: list[str], cache_dir: Path, kind: str, *, query: bool, progress: Callable[[int], None] | None
) -> tuple[np.ndarray, bool]:
    """The vectors of `texts` (drawn from the file `source`; embedded as queries or passages), and whether they came
    from the cache: `cache_dir`/`kind`-model-SHA-256 of `source`.npy, so a changed file or model is embedded again
    (also used by debunk.bench.claims_eval)."""
    from debunk.semantic import embedder

    path = Path(cache_dir) / f"{kind}-{embedder.MODEL}-{file_hash(source)[:16]}.npy"
    if path.is_file():
        vectors = np.load(path, allow_pickle=False)
        if vectors.shape == (len(texts), embedder.DIMENSIONS):
            return vectors, True
    embed = embedder.embed_queries if query else embedder.embed_passages
    parts = []
    for start in range(0, len(texts), 64):
        parts.append(embed(texts[start : start + 64]))
        if progress is not None:
            progress(len(parts[-1]))
    vectors = np.concatenate(parts) if parts else np.zeros((0, embedder.DIMENSIONS), np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial.npy")
    np.save(partial, vectors, allow_pickle=False)
    partial.rename(path)
    return vectors, False


def claim_vectors(
    vclaims: Path, dataset: Dataset, cache_dir: Path, *, progress: Callable[[int], None] | None = None
) -> tuple[np.ndarray, bool]:
    """The claims' passage vectors, (n, 384) float32, and whether they came from the cache.

    Embedding 10,375 claims takes minutes on one core, so the vectors are cached in `cache_dir` under a name made of
    the model and the SHA-256 of the claims file: a changed file or model is embedded again, never mixed up. The
    claim alone is embedded, as the runtime embeds a rumor's claim (not its debunk's title)."""
    texts = [c["vclaim"] for c in dataset.claims]
    return cached_vectors(vclaims, texts, cache_dir, "clef-vclaims", query=False, progress=progress)


def query_vectors(
    queries_path: Path, dataset: Dataset, cache_dir: Path, *, progress: Callable[[int], None] | None = None
) -> tuple[np.ndarray, bool]:
    """Every query's vector (all splits, file order), cached like the claims'."""
    texts = [q["text"] for q in dataset.queries]
    return cached_vectors(queries_path, texts, cache_dir, "clef-queries", query=True, progress=progress)


def fused_ranker(
    lexical: Callable[[str], list[str]],
    dataset: Dataset,
    claims: np.ndarray,
    queries: np.ndarray,
    *,
    depth: int,
    min_score: float,
) -> Callable[[str], list[str]]:
    """The runtime's fusion (search.fusion.reciprocal_rank_fusion) of the lexical top `depth` and the `depth`
    nearest claims scoring at least min_score. `lexical` must rank `depth` deep."""
    from debunk.semantic.index import VectorEntry, VectorIndex
    from search.fusion import reciprocal_rank_fusion

    ids = [c["vclaim_id"] for c in dataset.claims]
    index = VectorIndex(VectorEntry(i, i, v) for i, v in enumerate(claims))
    vector_of = {q["text"]: queries[i] for i, q in enumerate(dataset.queries)}

    def rank(text: str) -> list[str]:
        [hits] = index.search(vector_of[text], k=depth, min_score=min_score)
        semantic = [ids[h.rumor_id] for h in hits]
        return [item for item, _ in reciprocal_rank_fusion([lexical(text), semantic])][:K]

    return rank
