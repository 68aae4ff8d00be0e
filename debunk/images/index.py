"""The image hash index: N 256-bit PDQ hashes with their rumor ids, queried by Hamming distance (pure: no Django).

Hashes are stored as an (N, 4) uint64 array (the 32 bytes read big-endian). A query is answered by multi-index
hashing: the 256 bits are cut into 16 chunks of 16 bits and, for each chunk, the rows are kept sorted by the
chunk's value (a CSR table: `chunk_rows[j]` with bucket starts `chunk_starts[j]`). Two hashes within distance d
differ by at most r = d // 16 bits in at least one chunk (pigeonhole: 16 chunks each differing by > r bits make
more than d), so probing, for each chunk, the buckets of every value within r bits of the query's chunk (17
buckets for d <= 31, 137 for d <= 47) finds every answer; each candidate is then checked on its full distance.
A candidate found through several chunks is kept only through the first chunk that finds it.

At 1,000,000 random hashes and d = 31 a query touches ~4,000 candidates instead of the whole 32 MB array that a
scan reads (`bench_image_index` measures both in the same run). When the buckets to probe hold more than a
quarter of the rows (many near-identical stored hashes, or d > 47), the query falls back to a compiled scan,
so it is never much slower than one.

`plain_scan` is the numpy reference the tests and the benchmark compare with. `save`/`load` write and memory-map
the arrays (`np.save`), so the processes of a machine can share one snapshot.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

HASH_BYTES = 32
CHUNKS = 16
CHUNK_VALUES = 1 << 16
MAX_RADIUS = 2  # per-chunk probe radius beyond which the query scans (697 buckets per chunk at r = 3)
SCAN_FRACTION = 4  # scan when the probed buckets hold more than 1 / SCAN_FRACTION of the rows
ARRAYS = ("hashes", "rumor_ids", "chunk_rows", "chunk_starts")
FORMAT = 1  # of the saved arrays


def _flip_masks(max_radius: int) -> tuple[np.ndarray, list[int]]:
    """16-bit masks ordered by their number of set bits, and how many have at most r bits set, for each r."""
    masks = np.arange(CHUNK_VALUES, dtype=np.uint64)
    weights = np.bitwise_count(masks)
    keep = masks[weights <= max_radius]
    keep = keep[np.argsort(np.bitwise_count(keep), kind="stable")]
    counts = [int((np.bitwise_count(keep) <= r).sum()) for r in range(max_radius + 1)]
    return keep, counts


_FLIPS, _FLIP_COUNTS = _flip_masks(MAX_RADIUS)


# ---- hash conversion -----------------------------------------------------------------------------
def hash_words(value: Any) -> np.ndarray:
    """One hash as a (4,) uint64 array. Takes 32 bytes, 64 hex digits, a (4,) uint64 array or an object with
    `.bits` (`hashing.PdqHash`); anything else, or a wrong length, is a `ValueError`."""
    bits = getattr(value, "bits", value)
    if isinstance(bits, str):
        if len(bits) != 2 * HASH_BYTES:
            raise ValueError(f"a hash in hex is {2 * HASH_BYTES} hex digits, got {len(bits)} characters")
        try:
            bits = bytes.fromhex(bits)
        except ValueError:
            raise ValueError(f"a hash in hex is {2 * HASH_BYTES} hex digits") from None
    if isinstance(bits, (bytes, bytearray, memoryview)):
        bits = bytes(bits)
        if len(bits) != HASH_BYTES:
            raise ValueError(f"a hash is {HASH_BYTES} bytes, got {len(bits)}")
        return np.frombuffer(bits, dtype=">u8").astype(np.uint64)
    if isinstance(bits, np.ndarray):
        if bits.shape != (4,) or bits.dtype != np.uint64:
            raise ValueError(f"a hash array is (4,) uint64, got {bits.shape} {bits.dtype}")
        return np.ascontiguousarray(bits)
    raise ValueError(f"not a hash: {type(value).__name__}")


def hashes_array(values: Iterable[Any] | np.ndarray) -> np.ndarray:
    """Many hashes as an (N, 4) uint64 array (an (N, 4) uint64 array is taken as it is)."""
    if isinstance(values, np.ndarray) and values.ndim == 2:
        if values.shape[1] != 4 or values.dtype != np.uint64:
            raise ValueError(f"a hash array is (N, 4) uint64, got {values.shape} {values.dtype}")
        return np.ascontiguousarray(values)
    rows = [hash_words(v) for v in values]
    if not rows:
        return np.zeros((0, 4), np.uint64)
    return np.stack(rows)


def words_to_bytes(words: np.ndarray) -> bytes:
    return np.asarray(words, dtype=np.uint64).astype(">u8").tobytes()


def _check_distance(max_distance: int) -> int:
    if isinstance(max_distance, bool) or not isinstance(max_distance, (int, np.integer)):
        raise ValueError("max_distance must be an integer")
    if not 0 <= max_distance <= 256:
        raise ValueError("max_distance must be between 0 and 256")
    return int(max_distance)


# ---- the numpy reference -------------------------------------------------------------------------
def plain_scan(hashes: np.ndarray, query: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows within max_distance of the query and their distances, by a plain numpy scan (the baseline)."""
    distances = np.bitwise_count(np.bitwise_xor(hashes, query)).sum(axis=1, dtype=np.int64)
    rows = np.flatnonzero(distances <= max_distance)
    return rows, distances[rows]


# ---- compiled kernels ----------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True, inline="always")
def _chunk(word, j):
    return np.int64((word >> np.uint64(48 - 16 * (j & 3))) & np.uint64(0xFFFF))


@njit(cache=True)
def _probed_rows(chunk_starts, query, flips, nflips):
    """How many rows the buckets a query probes hold (with repeats across chunks)."""
    total = 0
    for j in range(chunk_starts.shape[0]):
        qj = _chunk(query[j >> 2], j)
        for f in range(nflips):
            key = qj ^ np.int64(flips[f])
            total += chunk_starts[j, key + 1] - chunk_starts[j, key]
    return total


@njit(cache=True)
def _mih(hashes, chunk_rows, chunk_starts, query, max_distance, radius, flips, nflips, out_rows, out_dist):
    q0, q1, q2, q3 = query[0], query[1], query[2], query[3]
    found = 0
    for j in range(chunk_starts.shape[0]):
        qj = _chunk(query[j >> 2], j)
        for f in range(nflips):
            key = qj ^ np.int64(flips[f])
            for p in range(chunk_starts[j, key], chunk_starts[j, key + 1]):
                row = chunk_rows[j, p]
                d = (
                    _popcount(hashes[row, 0] ^ q0)
                    + _popcount(hashes[row, 1] ^ q1)
                    + _popcount(hashes[row, 2] ^ q2)
                    + _popcount(hashes[row, 3] ^ q3)
                )
                if d > max_distance:
                    continue
                seen = False  # found through an earlier chunk already
                for k in range(j):
                    if _popcount(np.uint64(_chunk(hashes[row, k >> 2], k) ^ _chunk(query[k >> 2], k))) <= radius:
                        seen = True
                        break
                if not seen:
                    out_rows[found] = row
                    out_dist[found] = d
                    found += 1
    return found


@njit(cache=True)
def _scan(hashes, query, max_distance, out_rows, out_dist):
    q0, q1, q2, q3 = query[0], query[1], query[2], query[3]
    found = 0
    for row in range(hashes.shape[0]):
        d = (
            _popcount(hashes[row, 0] ^ q0)
            + _popcount(hashes[row, 1] ^ q1)
            + _popcount(hashes[row, 2] ^ q2)
            + _popcount(hashes[row, 3] ^ q3)
        )
        if d <= max_distance:
            out_rows[found] = row
            out_dist[found] = d
            found += 1
    return found


# ---- the index -----------------------------------------------------------------------------------
def build_arrays(hashes: np.ndarray, rumor_ids: np.ndarray) -> dict[str, np.ndarray]:
    """The index arrays for (N, 4) uint64 hashes and their N rumor ids."""
    n = hashes.shape[0]
    chunk_rows = np.empty((CHUNKS, n), np.int32)
    chunk_starts = np.zeros((CHUNKS, CHUNK_VALUES + 1), np.int64)
    for j in range(CHUNKS):
        keys = ((hashes[:, j >> 2] >> np.uint64(48 - 16 * (j & 3))) & np.uint64(0xFFFF)).astype(np.uint16)
        chunk_rows[j] = np.argsort(keys, kind="stable")
        np.cumsum(np.bincount(keys, minlength=CHUNK_VALUES), out=chunk_starts[j, 1:])
    return {"hashes": hashes, "rumor_ids": rumor_ids, "chunk_rows": chunk_rows, "chunk_starts": chunk_starts}


class ImageHashIndex:
    """Immutable once built: a new stock is a new index (or a new snapshot to load)."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        n = arrays["hashes"].shape[0]
        if arrays["hashes"].shape != (n, 4) or arrays["hashes"].dtype != np.uint64:
            raise ValueError("hashes must be an (N, 4) uint64 array")
        if arrays["rumor_ids"].shape != (n,):
            raise ValueError("rumor_ids must have one id per hash")
        if arrays["chunk_rows"].shape != (CHUNKS, n) or arrays["chunk_starts"].shape != (CHUNKS, CHUNK_VALUES + 1):
            raise ValueError("the chunk tables do not fit the hashes")
        # Plain ndarray views: numba types an np.memmap argument apart (and compiles again for it).
        self._a = {name: np.asarray(arrays[name]).view(np.ndarray) for name in ARRAYS}

    @classmethod
    def build(cls, hashes: Iterable[Any] | np.ndarray, rumor_ids: Sequence[int] | np.ndarray) -> "ImageHashIndex":
        """An index of hashes (see `hashes_array`) with the rumor id of each; a rumor may have many hashes."""
        array = hashes_array(hashes)
        ids = np.asarray(rumor_ids, dtype=np.int64).reshape(-1)
        if ids.shape[0] != array.shape[0]:
            raise ValueError(f"{array.shape[0]} hashes but {ids.shape[0]} rumor ids")
        return cls(build_arrays(array, ids))

    def __len__(self) -> int:
        return int(self._a["hashes"].shape[0])

    @property
    def hashes(self) -> np.ndarray:
        return self._a["hashes"]

    @property
    def rumor_ids(self) -> np.ndarray:
        return self._a["rumor_ids"]

    def nbytes(self) -> int:
        return sum(int(a.nbytes) for a in self._a.values())

    # ---- snapshot files ----------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name in ARRAYS:
            np.save(directory / f"{name}.npy", self._a[name], allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> "ImageHashIndex":
        """Memory-map a saved index: the pages are shared by every process that maps it."""
        directory = Path(directory)
        return cls({name: np.load(directory / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in ARRAYS})

    # ---- queries -----------------------------------------------------------------------------------
    def query_rows(self, query: Any, max_distance: int, method: str = "auto") -> tuple[np.ndarray, np.ndarray]:
        """Rows within max_distance of the query and their distances, unordered. method: auto (multi-index
        hashing unless scanning is cheaper), mih, scan (compiled) or numpy (the plain numpy scan)."""
        words = hash_words(query)
        d = _check_distance(max_distance)
        a = self._a
        n = len(self)
        if method == "numpy":
            return plain_scan(a["hashes"], words, d)
        radius = d // CHUNKS
        if method not in ("auto", "mih", "scan"):
            raise ValueError(f"unknown method {method!r}")
        if method == "mih" and radius > MAX_RADIUS:
            raise ValueError(f"multi-index hashing answers max_distance < {CHUNKS * (MAX_RADIUS + 1)}")
        use_scan = method == "scan" or radius > MAX_RADIUS
        if not use_scan:
            nflips = _FLIP_COUNTS[radius]
            probed = _probed_rows(a["chunk_starts"], words, _FLIPS, nflips)
            use_scan = method == "auto" and probed * SCAN_FRACTION > n
        if use_scan:
            rows, dist = np.empty(n, np.int64), np.empty(n, np.int64)
            found = _scan(a["hashes"], words, d, rows, dist)
        else:
            rows, dist = np.empty(probed, np.int64), np.empty(probed, np.int64)
            found = _mih(a["hashes"], a["chunk_rows"], a["chunk_starts"], words, d, radius, _FLIPS, nflips, rows, dist)
        return rows[:found], dist[:found]

    def query(self, query: Any, max_distance: int, method: str = "auto") -> list[tuple[int, int]]:
        """[(rumor_id, distance)] within max_distance, nearest first (ties by rumor id), one per rumor (its
        nearest hash)."""
        rows, dist = self.query_rows(query, max_distance, method)
        return self._by_rumor(rows, dist)

    def query_batch(
        self, queries: Iterable[Any], max_distance: int, method: str = "auto"
    ) -> list[list[tuple[int, int]]]:
        """`query` for each of many hashes (validated all before any is answered)."""
        words = [hash_words(q) for q in queries]
        _check_distance(max_distance)
        return [self.query(w, max_distance, method) for w in words]

    def _by_rumor(self, rows: np.ndarray, dist: np.ndarray) -> list[tuple[int, int]]:
        if rows.size == 0:
            return []
        ids = self._a["rumor_ids"][rows]
        order = np.lexsort((ids, dist))
        ids, dist = ids[order], dist[order]
        _, first = np.unique(ids, return_index=True)  # the nearest row of each rumor (rows are sorted by distance)
        ids, dist = ids[first], dist[first]
        order = np.lexsort((ids, dist))
        return [(int(i), int(d)) for i, d in zip(ids[order], dist[order], strict=True)]


# ---- the served stock index: a snapshot plus deltas ----------------------------------------------------
STOCK_FORMAT = 1  # of a saved ImageStockIndex (the hash index's arrays plus `image_ids`)


@dataclass(frozen=True)
class ImageEntry:
    """One stored rumor image: its fingerprint's id, its rumor, and its hashes (the 8 dihedral variants, so a
    mirrored or rotated copy is found by a plain query)."""

    image_id: int
    rumor_id: int
    hashes: np.ndarray  # (k, 4) uint64


@dataclass(frozen=True)
class ImageHit:
    rumor_id: int
    distance: int
    image_id: int  # the stored image nearest to the query


class ImageStockIndex:
    """The rumor images a serving process matches against: an immutable `ImageHashIndex` snapshot plus deltas (the
    images of rumors changed since, kept in a small array scanned in full; rows of those rumors in the snapshot are
    ignored). The interface is the one `debunk.matching.serving.IndexServer` serves."""

    def __init__(
        self,
        entries: Iterable[ImageEntry] = (),
        version: int = 0,
        *,
        base: ImageHashIndex | None = None,
        image_ids: np.ndarray | None = None,
    ) -> None:
        if base is None:
            entries = list(entries)
            hashes = np.concatenate([e.hashes for e in entries]) if entries else np.empty((0, 4), np.uint64)
            counts = [len(e.hashes) for e in entries]
            base = ImageHashIndex.build(hashes, np.repeat([e.rumor_id for e in entries], counts).astype(np.int64))
            image_ids = np.repeat([e.image_id for e in entries], counts).astype(np.int64)
        assert image_ids is not None and image_ids.shape == (len(base),)
        self.version = version
        self.snapshot_version = version
        self._base = base
        self._image_ids = image_ids
        self._removed: frozenset[int] = frozenset()  # rumors whose snapshot rows are superseded
        self._added: dict[int, list[ImageEntry]] = {}  # rumor id -> its images now
        self._delta: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # hashes, rumor ids, image ids

    def __len__(self) -> int:
        return len(self._base) + sum(len(e.hashes) for es in self._added.values() for e in es)

    def save(self, directory: Path) -> None:
        self._base.save(directory)
        np.save(Path(directory) / "image_ids.npy", self._image_ids, allow_pickle=False)

    @classmethod
    def load(cls, directory: Path, version: int) -> "ImageStockIndex":
        ids = np.load(Path(directory) / "image_ids.npy", mmap_mode="r", allow_pickle=False)
        return cls(version=version, base=ImageHashIndex.load(directory), image_ids=np.asarray(ids).view(np.ndarray))

    def clone(self, version: int) -> "ImageStockIndex":
        other = ImageStockIndex(version=version, base=self._base, image_ids=self._image_ids)
        other.snapshot_version = self.snapshot_version
        other._removed = self._removed
        other._added = {k: list(v) for k, v in self._added.items()}
        return other

    def remove_rumor(self, rumor_id: int) -> None:
        self._removed = self._removed | {rumor_id}
        self._added.pop(rumor_id, None)
        self._delta = None

    def add(self, entry: ImageEntry) -> None:
        self._removed = self._removed | {entry.rumor_id}
        self._added.setdefault(entry.rumor_id, []).append(entry)
        self._delta = None

    @property
    def delta_size(self) -> int:
        return len(self._removed)

    def _delta_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._delta is None:
            entries = [e for es in self._added.values() for e in es]
            counts = [len(e.hashes) for e in entries]
            self._delta = (
                np.concatenate([e.hashes for e in entries]) if entries else np.empty((0, 4), np.uint64),
                np.repeat([e.rumor_id for e in entries], counts).astype(np.int64),
                np.repeat([e.image_id for e in entries], counts).astype(np.int64),
            )
        return self._delta

    def query(self, query: Any, max_distance: int) -> list[ImageHit]:
        """The rumors with an image within max_distance of the query hash, nearest first (ties by rumor id), one
        per rumor (its nearest image)."""
        words = hash_words(query)
        rows, dist = self._base.query_rows(words, max_distance)
        rumor_ids, image_ids = self._base.rumor_ids[rows], self._image_ids[rows]
        if self._removed and rows.size:
            keep = ~np.isin(rumor_ids, np.fromiter(self._removed, np.int64))
            rumor_ids, image_ids, dist = rumor_ids[keep], image_ids[keep], dist[keep]
        hashes, delta_rumors, delta_images = self._delta_arrays()
        if len(hashes):
            drows, ddist = plain_scan(hashes, words, max_distance)
            rumor_ids = np.concatenate([rumor_ids, delta_rumors[drows]])
            image_ids = np.concatenate([image_ids, delta_images[drows]])
            dist = np.concatenate([dist, ddist])
        best: dict[int, ImageHit] = {}
        for r, d, i in sorted(
            zip(rumor_ids.tolist(), dist.tolist(), image_ids.tolist(), strict=True), key=lambda t: (t[1], t[0], t[2])
        ):
            best.setdefault(r, ImageHit(r, d, i))
        return sorted(best.values(), key=lambda h: (h.distance, h.rumor_id))
