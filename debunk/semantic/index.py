"""The vector index of rumor texts (pure: numpy only): unit vectors of the rumors' claims and variants, searched by
dot product (the cosine), best text of each rumor first.

A snapshot is an (N, 384) float32 matrix with the rumor and entry id of each row, saved with `np.save` and
memory-mapped (`mmap_mode="r"`), so every worker of a machine shares one copy. Rumors changed since the snapshot are
deltas: their snapshot rows are masked and their current vectors kept in a small in-memory matrix. The interface
is the one `debunk.matching.serving.IndexServer` serves (build from entries, save, load, clone, remove a rumor, add
an entry, delta_size). A search is one matrix product: at 10,000 rows about 4 M multiply-adds a query, well under a
millisecond; a scan stays cheap up to a few hundred thousand texts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = 1  # of the saved arrays
ARRAYS = ("vectors", "rumor_ids", "entry_ids")


@dataclass(frozen=True)
class VectorEntry:
    """One embedded rumor text: its ClaimEmbedding id, its rumor, its unit vector."""

    entry_id: int
    rumor_id: int
    vector: np.ndarray  # (dimensions,) float32


@dataclass(frozen=True)
class VectorHit:
    rumor_id: int
    score: float  # the cosine of the rumor's nearest text
    entry_id: int  # that text's entry


def _matrix(entries: list[VectorEntry], dimensions: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if entries:
        vectors = np.stack([np.asarray(e.vector, dtype=np.float32).reshape(-1) for e in entries])
    else:
        vectors = np.zeros((0, dimensions or 0), np.float32)
    rumor_ids = np.array([e.rumor_id for e in entries], dtype=np.int64)
    entry_ids = np.array([e.entry_id for e in entries], dtype=np.int64)
    return np.ascontiguousarray(vectors, dtype=np.float32), rumor_ids, entry_ids


class VectorIndex:
    """A snapshot (possibly memory-mapped) plus deltas; `search` answers from both."""

    def __init__(
        self,
        entries: Iterable[VectorEntry] = (),
        version: int = 0,
        *,
        arrays: dict[str, np.ndarray] | None = None,
        dimensions: int | None = None,
    ) -> None:
        if arrays is None:
            vectors, rumor_ids, entry_ids = _matrix(list(entries), dimensions)
            arrays = {"vectors": vectors, "rumor_ids": rumor_ids, "entry_ids": entry_ids}
        n = arrays["vectors"].shape[0]
        if arrays["vectors"].ndim != 2 or arrays["rumor_ids"].shape != (n,) or arrays["entry_ids"].shape != (n,):
            raise ValueError("vectors must be (N, d) with one rumor id and one entry id per row")
        self._a = arrays
        self.version = version
        self.snapshot_version = version
        self._removed: frozenset[int] = frozenset()  # rumors whose snapshot rows are superseded
        self._added: dict[int, list[VectorEntry]] = {}  # rumor id -> its texts now
        self._cache: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    # ---- size ----------------------------------------------------------------------------------------
    @property
    def dimensions(self) -> int:
        if self._a["vectors"].shape[1]:
            return int(self._a["vectors"].shape[1])
        for entries in self._added.values():
            for entry in entries:
                return int(np.asarray(entry.vector).size)
        return 0

    def __len__(self) -> int:
        keep, delta, _, _ = self._delta()
        return int(keep.sum()) + delta.shape[0] if keep is not None else len(self._a["rumor_ids"]) + delta.shape[0]

    @property
    def delta_size(self) -> int:
        return len(self._removed)

    # ---- snapshot files ------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write the snapshot's arrays (deltas are not saved: a snapshot is built from all entries)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name in ARRAYS:
            np.save(directory / f"{name}.npy", np.asarray(self._a[name]), allow_pickle=False)

    @classmethod
    def load(cls, directory: Path, version: int) -> VectorIndex:
        """Memory-map a saved snapshot: its pages are shared by every process that maps it."""
        directory = Path(directory)
        arrays = {name: np.load(directory / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in ARRAYS}
        return cls(version=version, arrays=arrays)

    # ---- deltas --------------------------------------------------------------------------------------
    def clone(self, version: int) -> VectorIndex:
        other = VectorIndex(version=version, arrays=self._a)
        other.snapshot_version = self.snapshot_version
        other._removed = self._removed
        other._added = {k: list(v) for k, v in self._added.items()}
        return other

    def remove_rumor(self, rumor_id: int) -> None:
        self._removed = self._removed | {rumor_id}
        self._added.pop(rumor_id, None)
        self._cache = None

    def add(self, entry: VectorEntry) -> None:
        vector = np.asarray(entry.vector, dtype=np.float32).reshape(-1)
        if self.dimensions and vector.size != self.dimensions:
            raise ValueError(f"a vector of {vector.size} dimensions in an index of {self.dimensions}")
        self._removed = self._removed | {entry.rumor_id}
        self._added.setdefault(entry.rumor_id, []).append(VectorEntry(entry.entry_id, entry.rumor_id, vector))
        self._cache = None

    def _delta(self) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]:
        """The snapshot rows still valid (None: all), and the delta matrix with its rumor and entry ids."""
        if self._cache is None:
            keep = None
            if self._removed and len(self._a["rumor_ids"]):
                keep = ~np.isin(self._a["rumor_ids"], np.fromiter(self._removed, np.int64))
            vectors, rumor_ids, entry_ids = _matrix(
                [e for es in self._added.values() for e in es], self._a["vectors"].shape[1]
            )
            self._cache = (keep, vectors, rumor_ids, entry_ids)
        return self._cache

    # ---- queries -------------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, *, k: int = 5, min_score: float = -1.0) -> list[list[VectorHit]]:
        """For each query vector (rows of an (m, d) array, unit length), up to k rumors by the cosine of their
        nearest text, best first (ties by rumor id), only those scoring at least min_score."""
        queries = np.asarray(queries, dtype=np.float32)
        if queries.ndim == 1:
            queries = queries.reshape(1, -1)
        if k <= 0 or queries.shape[0] == 0:
            return [[] for _ in range(queries.shape[0])]
        keep, delta, delta_rumors, delta_entries = self._delta()
        base = self._a["vectors"]
        if queries.shape[1] != base.shape[1] and base.shape[0]:
            raise ValueError(f"queries of {queries.shape[1]} dimensions in an index of {base.shape[1]}")
        parts_scores, parts_rumors, parts_entries = [], [], []
        if base.shape[0]:
            scores = np.asarray(base) @ queries.T  # (n, m)
            if keep is not None:
                scores[~keep] = -np.inf
            parts_scores.append(scores)
            parts_rumors.append(np.asarray(self._a["rumor_ids"]))
            parts_entries.append(np.asarray(self._a["entry_ids"]))
        if delta.shape[0]:
            parts_scores.append(delta @ queries.T)
            parts_rumors.append(delta_rumors)
            parts_entries.append(delta_entries)
        if not parts_scores:
            return [[] for _ in range(queries.shape[0])]
        scores = np.concatenate(parts_scores)
        rumors = np.concatenate(parts_rumors)
        entries = np.concatenate(parts_entries)
        return [self._top(scores[:, j], rumors, entries, k, min_score) for j in range(queries.shape[0])]

    @staticmethod
    def _top(scores: np.ndarray, rumors: np.ndarray, entries: np.ndarray, k: int, min_score: float) -> list[VectorHit]:
        n = scores.shape[0]
        want = min(n, k * 8)  # rows enough for k distinct rumors unless a rumor has many texts
        while True:
            rows = np.argpartition(-scores, want - 1)[:want] if want < n else np.arange(n)
            rows = rows[np.lexsort((rumors[rows], -scores[rows]))]
            hits: list[VectorHit] = []
            seen: set[int] = set()
            for row in rows:
                score = float(scores[row])
                if score < min_score or score == -np.inf:
                    break
                rumor = int(rumors[row])
                if rumor not in seen:
                    seen.add(rumor)
                    hits.append(VectorHit(rumor, score, int(entries[row])))
                    if len(hits) == k:
                        return hits
            if want >= n or (rows.size and float(scores[rows[-1]]) < min_score):
                return hits
            want = min(n, want * 4)
