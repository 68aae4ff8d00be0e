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
ARRAYS = (
    "fp_ids",
    "rumor_ids",
    "short",
    "sh_off",
    "sh_data",
    "lsh_filter",
    "lsh_off",
    "lsh_tags",
    "lsh_rows",
    "exact_keys",
    "exact_rows",
)
FORMAT = 3  # of the saved arrays (part of the snapshot's name): 2 = bucketed LSH table, 3 = with its key filter
_LOW32 = np.uint64(0xFFFFFFFF)


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


KEYS_PER_BUCKET = 2


def bucket_bits(keys: int) -> int:
    """log2 of the LSH table's bucket count: about KEYS_PER_BUCKET keys a bucket, at least two buckets."""
    return max(1, (max(keys, 1) // KEYS_PER_BUCKET - 1).bit_length())


def bucketed(keys: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The LSH table: entries ordered by key, whose top bits are the bucket; `off[b]:off[b + 1]` are bucket
    b's entries, each holding the key's low 32 bits (a tag to tell keys of one bucket apart) and its row.
    A lookup reads two offsets and scans a bucket of about two entries, instead of a binary search."""
    bits = bucket_bits(keys.size)
    order = np.argsort(keys, kind="stable")
    keys, rows = keys[order], rows[order]
    buckets = keys >> np.uint64(64 - bits)
    off = np.searchsorted(buckets, np.arange((1 << bits) + 1, dtype=np.uint64)).astype(np.uint32)
    return off, (keys & _LOW32).astype(np.uint32), rows.astype(np.int32)


FILTER_BITS_PER_KEY = 8


def key_filter(keys: np.ndarray) -> np.ndarray:
    """A bit per value of the keys' low bits (about FILTER_BITS_PER_KEY bits a stored key, a power of two), set
    where some stored key has those low bits: most band keys of a post are stored nowhere, and this array (4 MB
    for 100,000 fingerprints) answers that from the processor's cache, where the table's offsets (larger) would
    be read from memory. As uint64 words; bit b of the filter is bit b % 64 of word b // 64."""
    bits = max(64, 1 << (max(keys.size, 1) * FILTER_BITS_PER_KEY - 1).bit_length())
    words = np.zeros(bits // 64, dtype=np.uint64)
    low = keys & np.uint64(bits - 1)
    np.bitwise_or.at(words, (low >> np.uint64(6)).astype(np.int64), np.uint64(1) << (low & np.uint64(63)))
    return words


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
    else:
        keys, rows = np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int32)
    lsh_off, lsh_tags, lsh_rows = bucketed(keys, rows)
    ekeys = np.fromiter((exact_key(e.exact) for e in items), dtype=np.uint64, count=n)
    eorder = np.argsort(ekeys, kind="stable")
    return {
        "fp_ids": np.fromiter((e.fp_id for e in items), dtype=np.int64, count=n),
        "rumor_ids": np.fromiter((e.rumor_id for e in items), dtype=np.int64, count=n),
        "short": np.fromiter((e.signature is None for e in items), dtype=bool, count=n),
        "sh_off": sh_off,
        "sh_data": sh_data,
        "lsh_filter": key_filter(keys),
        "lsh_off": lsh_off,
        "lsh_tags": lsh_tags,
        "lsh_rows": lsh_rows,
        "exact_keys": ekeys[eorder],
        "exact_rows": eorder.astype(np.int32),
    }


class MatchIndex:
    """A snapshot plus deltas. Readers never see a half-applied change: writers are serialised by the caller."""

    def __init__(self, entries: Iterable[Entry] = (), version: int = 0, arrays: dict[str, np.ndarray] | None = None):
        self.version = version
        self.snapshot_version = version  # the version of the snapshot arrays; `version` moves on with the deltas
        self._a = _read_only(arrays if arrays is not None else build_arrays(entries))
        self._shift = 64 - (len(self._a["lsh_off"]) - 1).bit_length() + 1
        self._dead: np.ndarray | None = None  # snapshot rows superseded by the deltas (built when first needed)
        self._plain: dict[str, np.ndarray] | None = None
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

    # ---- what the compiled matcher reads ------------------------------------------------------
    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """The snapshot arrays as plain ndarray views (numba's dispatcher types an np.memmap argument much more
        slowly than an ndarray: it showed in single-post calls)."""
        if self._plain is None:
            self._plain = {name: np.asarray(array) for name, array in self._a.items()}
        return self._plain

    @property
    def shift(self) -> int:
        """A band key's bucket is key >> shift."""
        return self._shift

    @property
    def has_deltas(self) -> bool:
        return bool(self._added)

    def dead_rows(self) -> np.ndarray:
        """bool per snapshot row: removed since the snapshot, or superseded by an added entry."""
        if self._dead is None:
            ids = self._a["fp_ids"]
            gone = np.fromiter(self._removed | self._added.keys(), dtype=np.int64)
            self._dead = np.isin(ids, gone) if gone.size else np.zeros(len(ids), dtype=bool)
        return self._dead

    def added_entries(self) -> dict[int, Entry]:
        return self._added

    def delta_candidates(self, keys: np.ndarray) -> list[list[int]]:
        """For each row of band keys, the added entries' fp ids sharing one of them."""
        delta = self._delta
        return [sorted({f for k in row for f in delta.get(k, ()) if f in self._added}) for row in keys.tolist()]

    def added_exact(self, exact: str) -> set[int]:
        return set(self._added_exact.get(exact, ()))

    # ---- deltas ---------------------------------------------------------------------------------
    def clone(self, version: int) -> "MatchIndex":
        """A copy sharing the snapshot arrays, with its own deltas (readers of self are undisturbed)."""
        other = MatchIndex(version=version, arrays=self._a)
        other.snapshot_version = self.snapshot_version
        other._added = dict(self._added)
        other._added_exact = defaultdict(set, {k: set(v) for k, v in self._added_exact.items()})
        other._delta = defaultdict(list, {k: list(v) for k, v in self._delta.items()})
        other._removed = set(self._removed)
        return other

    def add(self, entry: Entry) -> None:
        self._dead = None
        self.remove(entry.fp_id)
        self._removed.discard(entry.fp_id)
        self._added[entry.fp_id] = entry
        self._added_exact[entry.exact].add(entry.fp_id)
        if entry.signature is not None:
            for key in band_keys(entry.signature[None, :])[0].tolist():
                self._delta[key].append(entry.fp_id)

    def remove(self, fp_id: int) -> None:
        self._dead = None
        entry = self._added.pop(fp_id, None)
        if entry is not None:
            self._added_exact[entry.exact].discard(fp_id)
        self._removed.add(fp_id)

    def remove_rumor(self, rumor_id: int) -> None:
        """Drop every fingerprint of a rumor, in the snapshot and in the deltas."""
        rows = np.flatnonzero(self._a["rumor_ids"] == rumor_id)
        for fp_id in self._a["fp_ids"][rows].tolist():
            self._removed.add(fp_id)
        self._dead = None
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
        from debunk.matching import compiled

        a = self._a
        keys = band_keys(signatures) if len(signatures) else np.empty((0, BANDS), dtype=np.uint64)
        codes = compiled.lsh_pairs(
            keys,
            owners.astype(np.int64),
            self._shift,
            a["lsh_filter"],
            a["lsh_off"],
            a["lsh_tags"],
            a["lsh_rows"],
            self.dead_rows(),
        )
        pair_owner = [codes >> 32]
        pair_fp = [a["fp_ids"][codes & 0xFFFFFFFF]]
        if self._added:
            delta = self.delta_candidates(keys)
            extra = [(o, f) for o, found in zip(owners.tolist(), delta, strict=True) for f in found]
            if extra:
                pair_owner.append(np.array([o for o, _ in extra], dtype=np.int64))
                pair_fp.append(np.array([f for _, f in extra], dtype=np.int64))
        combined = np.unique((np.concatenate(pair_owner) << 40) | np.concatenate(pair_fp))  # fp ids < 2^40
        return combined >> 40, combined & ((1 << 40) - 1)

    def nbytes(self) -> int:
        """Bytes of the snapshot arrays (index structures and the shingle sets it keeps)."""
        return int(sum(self._a[name].nbytes for name in ARRAYS))


def _read_only(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays as read-only views (as memory-mapped ones are), so the compiled kernels see one type."""
    out = {}
    for name, array in arrays.items():
        if array.flags.writeable:
            array = array.view()
            array.flags.writeable = False
        out[name] = array
    return out
