"""The in-process match index: MinHash LSH bands in sorted numpy arrays, plus an exact-hash map for
short texts, with small in-memory deltas for changes since the last build.

Candidates come from 25 bands × 5 rows (recall-oriented: a pair at Jaccard 0.7 becomes a candidate
with probability 1 - (1 - 0.7^5)^25 ≈ 0.9999); the exact Jaccard / containment on the stored shingle
sets then decides, so false candidates cost time, never precision.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from debunk.matching.fingerprint import NUM_PERM

BANDS, ROWS = 25, 5
_MULT = np.random.RandomState(20261121).randint(1, 2**63, size=ROWS, dtype=np.int64).astype(np.uint64) | np.uint64(1)


@dataclass(frozen=True)
class Entry:
    """One indexed text: a rumor's claim or variant."""

    fp_id: int
    rumor_id: int
    shingles: np.ndarray  # sorted unique uint32
    signature: np.ndarray | None  # None for short texts
    exact: str


def band_keys(signatures: np.ndarray) -> np.ndarray:
    """(n, 128) uint32 signatures → (n, BANDS) uint64 band keys."""
    bands = signatures[:, : BANDS * ROWS].astype(np.uint64).reshape(-1, BANDS, ROWS)
    with np.errstate(over="ignore"):
        return (bands * _MULT).sum(axis=2, dtype=np.uint64)


class MatchIndex:
    """Snapshot arrays plus deltas. Not thread-safe for writes; readers see a consistent object."""

    def __init__(self, entries: Iterable[Entry] = (), version: int = 0) -> None:
        self.version = version
        self._entries: dict[int, Entry] = {}
        self._exact: dict[str, set[int]] = defaultdict(set)
        self._delta: list[dict[int, list[int]]] = [defaultdict(list) for _ in range(BANDS)]
        self._removed: set[int] = set()
        entries = list(entries)
        for entry in entries:
            self._entries[entry.fp_id] = entry
            self._exact[entry.exact].add(entry.fp_id)
        hashed = [e for e in entries if e.signature is not None]
        if hashed:
            keys = band_keys(np.stack([e.signature for e in hashed]))  # (n, BANDS)
            ids = np.array([e.fp_id for e in hashed], dtype=np.int64)
            order = np.argsort(keys, axis=0, kind="stable")
            self._keys = np.take_along_axis(keys, order, axis=0).T.copy()  # (BANDS, n), each row sorted
            self._ids = ids[order].T.copy()
        else:
            self._keys = np.empty((BANDS, 0), dtype=np.uint64)
            self._ids = np.empty((BANDS, 0), dtype=np.int64)

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, entry: Entry) -> None:
        self.remove(entry.fp_id)
        self._removed.discard(entry.fp_id)
        self._entries[entry.fp_id] = entry
        self._exact[entry.exact].add(entry.fp_id)
        if entry.signature is not None:
            for band, key in enumerate(band_keys(entry.signature[None, :])[0]):
                self._delta[band][int(key)].append(entry.fp_id)

    def remove(self, fp_id: int) -> None:
        entry = self._entries.pop(fp_id, None)
        if entry is not None:
            self._exact[entry.exact].discard(fp_id)
            self._removed.add(fp_id)

    def get(self, fp_id: int) -> Entry | None:
        return self._entries.get(fp_id)

    def candidates(self, signature: np.ndarray | None, exact: str) -> set[int]:
        """Fingerprint ids that share a band with the signature, or the exact normalised text."""
        found: set[int] = set(self._exact.get(exact, ()))
        if signature is None:
            return found
        assert signature.shape == (NUM_PERM,)
        keys = band_keys(signature[None, :])[0]
        for band in range(BANDS):
            row = self._keys[band]
            lo = np.searchsorted(row, keys[band], side="left")
            hi = np.searchsorted(row, keys[band], side="right")
            if hi > lo:
                found.update(self._ids[band, lo:hi].tolist())
            extra = self._delta[band].get(int(keys[band]))
            if extra:
                found.update(extra)
        return {fp for fp in found if fp in self._entries}

    def candidates_many(self, signatures: np.ndarray) -> set[int]:
        """Candidates for several signatures at once (windows of a long post)."""
        found: set[int] = set()
        if signatures.size == 0:
            return found
        keys = band_keys(signatures)  # (w, BANDS)
        for band in range(BANDS):
            row = self._keys[band]
            lo = np.searchsorted(row, keys[:, band], side="left")
            hi = np.searchsorted(row, keys[:, band], side="right")
            for a, b in zip(lo[hi > lo], hi[hi > lo], strict=True):
                found.update(self._ids[band, a:b].tolist())
            delta = self._delta[band]
            if delta:
                for key in keys[:, band].tolist():
                    found.update(delta.get(key, ()))
        return {fp for fp in found if fp in self._entries}

    def nbytes(self) -> int:
        """Bytes held by the index structures and the shingle sets it keeps (not Python object overhead)."""
        shingles = sum(e.shingles.nbytes for e in self._entries.values())
        return int(self._keys.nbytes + self._ids.nbytes + shingles)
