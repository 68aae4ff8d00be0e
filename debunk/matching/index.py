"""The match index: MinHash LSH bands and shingle sets in flat numpy arrays (a snapshot that can be
saved and memory-mapped, so every worker on a machine shares one copy), plus small in-memory deltas for
rumors changed since the snapshot.

Candidates come from 32 bands × 4 rows, chosen for recall: a pair at Jaccard 0.7 becomes a candidate with
probability 1 - (1 - 0.7^4)^32 ≈ 0.99985 (25 × 5 would miss 1% of pairs at exactly 0.7, and datasketch's
threshold=0.7 about a third of those at 0.7–0.8); the exact Jaccard / containment on the stored shingle sets then
decides, so false candidates cost time, never precision.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from debunk.matching.fingerprint import NUM_PERM

BANDS, ROWS = 32, 4
_RNG = np.random.RandomState(20261121)
_MULT = _RNG.randint(1, 2**63, size=ROWS, dtype=np.int64).astype(np.uint64) | np.uint64(1)
_SALT = _RNG.randint(1, 2**63, size=BANDS, dtype=np.int64).astype(np.uint64) << np.uint64(1)
ARRAYS = ("fp_ids", "rumor_ids", "short", "sh_off", "sh_data", "lsh_keys", "lsh_rows", "exact_keys", "exact_rows")


@dataclass(frozen=True)
class Entry:
    """One indexed text: a rumor's claim or variant."""

    fp_id: int
    rumor_id: int
    shingles: np.ndarray  # sorted unique uint32
    signature: np.ndarray | None  # None for short texts
    exact: str  # sha256 hex of the normalised text


def band_keys(signatures: np.ndarray) -> np.ndarray:
    """(n, 128) uint32 signatures → (n, BANDS) uint64 keys, salted per band so that all bands share one
    sorted array (one searchsorted per query instead of one per band)."""
    bands = signatures[:, : BANDS * ROWS].astype(np.uint64).reshape(-1, BANDS, ROWS)
    return (bands * _MULT).sum(axis=2, dtype=np.uint64) ^ _SALT


def exact_key(exact: str) -> int:
    return int(exact[:16], 16)


def build_arrays(entries: Iterable[Entry]) -> dict[str, np.ndarray]:
    """The snapshot arrays for a set of entries (ordered by fp_id)."""
    items = sorted(entries, key=lambda e: e.fp_id)
    n = len(items)
    lengths = np.fromiter((e.shingles.size for e in items), dtype=np.int64, count=n)
    sh_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=sh_off[1:])
    sh_data = np.concatenate([e.shingles for e in items]).astype(np.uint32) if n else np.empty(0, np.uint32)
    hashed = [i for i, e in enumerate(items) if e.signature is not None]
    if hashed:
        keys = band_keys(np.stack([items[i].signature for i in hashed])).ravel()  # (m * BANDS,)
        rows = np.repeat(np.array(hashed, dtype=np.int32), BANDS)
        order = np.argsort(keys, kind="stable")
        lsh_keys, lsh_rows = keys[order], rows[order]
    else:
        lsh_keys, lsh_rows = np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int32)
    ekeys = np.fromiter((exact_key(e.exact) for e in items), dtype=np.uint64, count=n)
    eorder = np.argsort(ekeys, kind="stable")
    return {
        "fp_ids": np.fromiter((e.fp_id for e in items), dtype=np.int64, count=n),
        "rumor_ids": np.fromiter((e.rumor_id for e in items), dtype=np.int64, count=n),
        "short": np.fromiter((e.signature is None for e in items), dtype=bool, count=n),
        "sh_off": sh_off,
        "sh_data": sh_data,
        "lsh_keys": lsh_keys,
        "lsh_rows": lsh_rows,
        "exact_keys": ekeys[eorder],
        "exact_rows": eorder.astype(np.int32),
    }


class MatchIndex:
    """A snapshot plus deltas. Readers never see a half-applied change: writers are serialised by the caller."""

    def __init__(self, entries: Iterable[Entry] = (), version: int = 0, arrays: dict[str, np.ndarray] | None = None):
        self.version = version
        self._a = arrays if arrays is not None else build_arrays(entries)
        self._added: dict[int, Entry] = {}
        self._added_exact: dict[str, set[int]] = defaultdict(set)
        self._delta: dict[int, list[int]] = defaultdict(list)
        self._removed: set[int] = set()

    # ---- snapshot files -------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name in ARRAYS:
            np.save(directory / f"{name}.npy", self._a[name], allow_pickle=False)

    @classmethod
    def load(cls, directory: Path, version: int) -> "MatchIndex":
        """Memory-map a saved snapshot: the pages are shared by every process that maps it."""
        arrays = {name: np.load(directory / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in ARRAYS}
        return cls(version=version, arrays=arrays)

    # ---- deltas ---------------------------------------------------------------------------------
    def clone(self, version: int) -> "MatchIndex":
        """A copy sharing the snapshot arrays, with its own deltas (readers of self are undisturbed)."""
        other = MatchIndex(version=version, arrays=self._a)
        other._added = dict(self._added)
        other._added_exact = defaultdict(set, {k: set(v) for k, v in self._added_exact.items()})
        other._delta = defaultdict(list, {k: list(v) for k, v in self._delta.items()})
        other._removed = set(self._removed)
        return other

    def add(self, entry: Entry) -> None:
        self.remove(entry.fp_id)
        self._removed.discard(entry.fp_id)
        self._added[entry.fp_id] = entry
        self._added_exact[entry.exact].add(entry.fp_id)
        if entry.signature is not None:
            for key in band_keys(entry.signature[None, :])[0].tolist():
                self._delta[key].append(entry.fp_id)

    def remove(self, fp_id: int) -> None:
        entry = self._added.pop(fp_id, None)
        if entry is not None:
            self._added_exact[entry.exact].discard(fp_id)
        self._removed.add(fp_id)

    def remove_rumor(self, rumor_id: int) -> None:
        """Drop every fingerprint of a rumor, in the snapshot and in the deltas."""
        rows = np.flatnonzero(self._a["rumor_ids"] == rumor_id)
        for fp_id in self._a["fp_ids"][rows].tolist():
            self._removed.add(fp_id)
        for fp_id in [f for f, e in self._added.items() if e.rumor_id == rumor_id]:
            self.remove(fp_id)

    @property
    def delta_size(self) -> int:
        return len(self._added) + len(self._removed)

    # ---- reads ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return (
            len(self._a["fp_ids"])
            - len(self._snapshot_removed())
            + sum(1 for fp_id in self._added if self._row(fp_id) < 0)
        )

    def _snapshot_removed(self) -> set[int]:
        ids = self._a["fp_ids"]
        if not self._removed or not len(ids):
            return set()
        probe = np.fromiter(self._removed, dtype=np.int64)
        pos = np.searchsorted(ids, probe).clip(0, len(ids) - 1)
        return set(probe[ids[pos] == probe].tolist())

    def _row(self, fp_id: int) -> int:
        ids = self._a["fp_ids"]
        pos = int(np.searchsorted(ids, fp_id))
        return pos if pos < len(ids) and ids[pos] == fp_id else -1

    def lookup(self, fp_id: int) -> tuple[int, np.ndarray, bool] | None:
        """(rumor id, shingle set, is short) of a live fingerprint, or None."""
        entry = self._added.get(fp_id)
        if entry is not None:
            return entry.rumor_id, entry.shingles, entry.signature is None
        if fp_id in self._removed:
            return None
        row = self._row(fp_id)
        if row < 0:
            return None
        a = self._a
        shingles = np.asarray(a["sh_data"][a["sh_off"][row] : a["sh_off"][row + 1]])
        return int(a["rumor_ids"][row]), shingles, bool(a["short"][row])

    def exact_matches(self, exact: str) -> set[int]:
        a = self._a
        key = np.uint64(exact_key(exact))
        lo = np.searchsorted(a["exact_keys"], key, side="left")
        hi = np.searchsorted(a["exact_keys"], key, side="right")
        found = set(a["fp_ids"][a["exact_rows"][lo:hi]].tolist()) if hi > lo else set()
        found |= self._added_exact.get(exact, set())
        return found - (self._removed - self._added.keys())

    def exact_matches_many(self, exacts: list[str]) -> list[tuple[int, set[int]]]:
        """(position in `exacts`, fp ids) for every text whose exact normalised text is indexed."""
        a = self._a
        out: list[tuple[int, set[int]]] = []
        table = a["exact_keys"]
        if table.size:
            keys = np.array([exact_key(e) for e in exacts], dtype=np.uint64)
            lo = np.searchsorted(table, keys, side="left")
            hit = table[np.minimum(lo, table.size - 1)] == keys
            for k in np.flatnonzero(hit).tolist():
                out.append((k, self.exact_matches(exacts[k])))
        if self._added_exact:
            out += [(k, self.exact_matches(e)) for k, e in enumerate(exacts) if self._added_exact.get(e)]
        return [(k, ids) for k, ids in out if ids]

    def candidates(self, signature: np.ndarray | None, exact: str) -> set[int]:
        """Fingerprint ids that share a band with the signature, or share the exact normalised text."""
        found = self.exact_matches(exact)
        if signature is not None:
            assert signature.shape == (NUM_PERM,)
            _, fp_ids = self.candidates_by_owner(signature[None, :], np.zeros(1, dtype=np.int64))
            found.update(fp_ids.tolist())
        return found

    def candidates_by_owner(self, signatures: np.ndarray, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fingerprint ids that share a band with any of the signatures, for the signatures of several posts
        at once: unique (owner, fp id) pairs, as two arrays sorted by owner."""
        a = self._a
        keys = band_keys(signatures).ravel()
        who = np.repeat(owners.astype(np.int64), BANDS)
        table = a["lsh_keys"]
        pair_owner: list[np.ndarray] = []
        pair_fp: list[np.ndarray] = []
        if table.size:
            order = np.argsort(keys)  # sorted needles: the binary search reuses its bounds
            keys, who = keys[order], who[order]
            lo = np.searchsorted(table, keys, side="left")
            hit = table[np.minimum(lo, table.size - 1)] == keys
            if hit.any():
                lo, who_hit = lo[hit], who[hit]
                hi = np.searchsorted(table, keys[hit], side="right")
                lengths = hi - lo
                starts = np.repeat(lo - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
                rows = a["lsh_rows"][starts + np.arange(int(lengths.sum()))]
                pair_owner.append(np.repeat(who_hit, lengths))
                pair_fp.append(a["fp_ids"][rows])
        if self._delta:
            extra = [(o, f) for o, k in zip(who.tolist(), keys.tolist(), strict=True) for f in self._delta.get(k, ())]
            if extra:
                pair_owner.append(np.array([o for o, _ in extra], dtype=np.int64))
                pair_fp.append(np.array([f for _, f in extra], dtype=np.int64))
        if not pair_owner:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        combined = np.unique((np.concatenate(pair_owner) << 40) | np.concatenate(pair_fp))  # fp ids < 2^40
        post_of, fp_of = combined >> 40, combined & ((1 << 40) - 1)
        if self._removed:
            gone = np.fromiter(self._removed - self._added.keys(), dtype=np.int64)
            keep = ~np.isin(fp_of, gone)
            post_of, fp_of = post_of[keep], fp_of[keep]
        return post_of, fp_of

    def nbytes(self) -> int:
        """Bytes of the snapshot arrays (index structures and the shingle sets it keeps)."""
        return int(sum(self._a[name].nbytes for name in ARRAYS))
