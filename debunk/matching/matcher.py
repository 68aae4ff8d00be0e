"""From a post's text to scored rumor matches: normalise, fingerprint, gather candidates, decide exactly.

Pure functions over a MatchIndex: no database, so the same code serves the API, evaluations and
benchmarks, and can be tested against a brute-force scan.
"""

from dataclasses import dataclass, field
from functools import lru_cache
from hashlib import sha256

import numpy as np

from debunk.matching import compiled
from debunk.matching.fingerprint import (
    SHINGLE_SIZE,
    SHORT_TEXT,
    containment,
    exact_hash,
    hash_ngrams,
    jaccard,
    permutations,
    positional_shingles,
)
from debunk.matching.index import _MULT, _SALT, MatchIndex
from debunk.matching.normalize import Normalized, normalize, normalize_segments, normalize_text

# Windows of long posts, for a rumor quoted inside them: (n-grams per window, n-grams between starts).
# A quoted rumor of about a window's length is then at most half a stride from some window, so that
# window's Jaccard with it is at least (48-12)/(48+12) = 0.6, a candidate with probability ≥ 0.98.
WINDOWS = ((48, 24), (96, 24), (192, 48))
MIN_EVIDENCE = 4  # shortest shared run, in normalised characters, reported as evidence


@dataclass
class Scored:
    """The best evidence that a post carries one rumor."""

    rumor_id: int
    fp_id: int
    similarity: float  # exact Jaccard of n-gram sets, best over the post and its repost segments
    containment: float  # |R ∩ P| / |R| over the whole post
    spans: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)  # (post, rumor), original


def score_text(index: MatchIndex, text: str, *, min_score: float = 0.3) -> list[Scored]:
    """Every rumor whose similarity or containment reaches min_score, best first (one row per rumor)."""
    return score_batch(index, [text], min_score=min_score)[0]


def score_batch(index: MatchIndex, texts: list[str], *, min_score: float = 0.3) -> list[list[Scored]]:
    """score_text for many posts at once: one compiled pass over all their n-grams and the index.

    A post is its whole normalised text plus, for a repost chain, each segment ("parts"). Candidates
    come from the parts' MinHash bands, from windows of longer posts (a rumor quoted inside a longer
    text) and from exact normalised text; exact Jaccard and containment on n-gram sets then decide.
    `score_batch_reference` is the same in numpy, and the tests hold the two to the same answers.
    """
    return score_prepared(index, prepare(texts), min_score=min_score)


@dataclass
class Prepared:
    """The normalised parts of a batch of posts, laid end to end for the compiled matcher."""

    count: int  # posts
    parts: list[str]
    part_post: np.ndarray  # int64 per part
    post_parts: np.ndarray  # int64, count + 1: post i's parts are post_parts[i]:post_parts[i + 1], whole text first
    whole: np.ndarray  # bool per part
    digests: list[bytes]  # sha256 of each part
    normalized: list[Normalized | None] | None = None  # each post's whole text with offsets, when asked for
    hashes: np.ndarray | None = None  # after scoring: every part's positional n-gram hashes...
    hoff: np.ndarray | None = None  # ...part k's being hashes[hoff[k]:hoff[k + 1]]

    @property
    def exact(self) -> list[str]:
        return [d.hex() for d in self.digests]

    def exact_hash(self, post: int) -> str | None:
        """The exact hash of a post's normalised text (None for a text that normalises to nothing)."""
        first = self.post_parts[post]
        return self.digests[first].hex() if first < self.post_parts[post + 1] else None

    def grams(self, post: int) -> np.ndarray | None:
        """Positional n-gram hashes of a post's normalised text, once scored."""
        if self.hashes is None or self.post_parts[post] == self.post_parts[post + 1]:
            return None
        first = self.post_parts[post]
        return self.hashes[self.hoff[first] : self.hoff[first + 1]]


def prepare(texts: list[str], *, offsets: bool = False) -> Prepared:
    """Normalise a batch; with offsets, keep each post's Normalized (for evidence) instead of its text only."""
    parts: list[str] = []
    part_post: list[int] = []
    whole: list[bool] = []
    post_parts = [0]
    kept: list[Normalized | None] | None = [] if offsets else None
    for i, raw in enumerate(texts):
        chain = "//@" in raw  # a repost chain: each segment is matched on its own too
        if kept is not None or chain:
            full = normalize(raw)
            normalized = full.text
            if kept is not None:
                kept.append(full if normalized else None)
        else:
            normalized = normalize_text(raw)
        if normalized:
            parts.append(normalized)
            part_post.append(i)
            whole.append(True)
            if chain:
                for segment in (s.text for s in normalize_segments(raw, full)):
                    if segment and segment != normalized:
                        parts.append(segment)
                        part_post.append(i)
                        whole.append(False)
        post_parts.append(len(parts))
    return Prepared(
        len(texts),
        parts,
        np.array(part_post, dtype=np.int64),
        np.array(post_parts, dtype=np.int64),
        np.array(whole, dtype=bool),
        [sha256(p.encode("utf-8")).digest() for p in parts],
        kept,
    )


_WINDOWS = np.array(WINDOWS, dtype=np.int64)


@lru_cache(maxsize=1)
def _permutations64() -> tuple[np.ndarray, np.ndarray]:
    a, b = permutations()
    return a.astype(np.uint64), b.astype(np.uint64)


def score_prepared(index: MatchIndex, batch: Prepared, *, min_score: float = 0.3) -> list[list[Scored]]:
    results: list[list[Scored]] = [[] for _ in range(batch.count)]
    if not batch.parts:
        return results
    a64, b64 = _permutations64()
    arr = index.arrays
    cps = np.frombuffer("".join(batch.parts).encode("utf-32-le"), dtype=np.uint32)
    lengths = np.fromiter(map(len, batch.parts), dtype=np.int64, count=len(batch.parts))
    part_keys = np.fromiter((int.from_bytes(d[:8], "big") for d in batch.digests), dtype=np.uint64)
    post, row, sim, cont, keys, key_post, hashes, hoff = compiled.match_parts(
        cps,
        lengths,
        batch.whole,
        batch.part_post,
        batch.post_parts,
        part_keys,
        a64,
        b64,
        _WINDOWS,
        SHORT_TEXT,
        _MULT,
        _SALT,
        index.shift,
        arr["lsh_filter"],
        arr["lsh_off"],
        arr["lsh_tags"],
        arr["lsh_rows"],
        arr["exact_keys"],
        arr["exact_rows"],
        index.dead_rows(),
        arr["short"],
        arr["sh_off"],
        arr["sh_data"],
        float(min_score),
    )
    batch.hashes, batch.hoff = hashes, hoff
    found = zip(
        post.tolist(),
        arr["fp_ids"][row].tolist(),
        arr["rumor_ids"][row].tolist(),
        sim.tolist(),
        cont.tolist(),
        strict=True,
    )
    if index.has_deltas:
        found = list(found) + _delta_scores(index, batch, keys, key_post, hashes, hoff, min_score)
    best: list[dict[int, Scored]] = [{} for _ in range(batch.count)]
    for p, fp_id, rumor_id, s, c in found:
        current = best[p].get(rumor_id)
        if current is None or (s, c) > (current.similarity, current.containment):
            best[p][rumor_id] = Scored(rumor_id, fp_id, round(s, 4), round(c, 4))
    for p, rows in enumerate(best):
        if rows:
            results[p] = sorted(rows.values(), key=_rank, reverse=True)
    return results


def _rank(s: Scored) -> tuple[float, float, int]:
    """Best first; ties by rumor id (and, within a rumor, the lowest fingerprint id is kept)."""
    return max(s.similarity, s.containment), s.similarity, -s.rumor_id


def _delta_scores(index, batch, keys, key_post, hashes, hoff, min_score) -> list[tuple[int, int, int, float, float]]:
    """(post, fp id, rumor id, similarity, containment) for the entries added since the snapshot (few: numpy)."""
    pairs: dict[tuple[int, int], bool] = {}
    for p, fps in zip(key_post.tolist(), index.delta_candidates(keys), strict=True):
        for fp_id in fps:
            pairs.setdefault((p, fp_id), False)
    for k, exact in enumerate(batch.exact):
        for fp_id in index.added_exact(exact):
            pairs[(int(batch.part_post[k]), fp_id)] = True
    added = index.added_entries()
    out = []
    for (p, fp_id), exact_hit in sorted(pairs.items()):
        entry = added[fp_id]
        parts = range(batch.post_parts[p], batch.post_parts[p + 1])
        if entry.signature is None:
            sim = cont = 1.0 if exact_hit else 0.0
        else:
            sets = [np.unique(hashes[hoff[k] : hoff[k + 1]]) for k in parts]
            sim = max(jaccard(own, entry.shingles) for own in sets)
            cont = containment(entry.shingles, sets[0])
        if max(sim, cont) >= min_score:
            out.append((p, fp_id, entry.rumor_id, sim, cont))
    return out


def score_batch_reference(index: MatchIndex, texts: list[str], *, min_score: float = 0.3) -> list[list[Scored]]:
    """score_batch in numpy: the reference the compiled path is tested against."""
    parts = _Parts(texts)
    if not parts.count:
        return [[] for _ in texts]
    signatures, owners = _signatures(parts)
    candidates: list[set[int]] = [set() for _ in texts]
    if len(signatures):
        posts, fp_ids = index.candidates_by_owner(signatures, owners)
        bounds = np.searchsorted(posts, np.arange(len(texts) + 1))
        fp_list = fp_ids.tolist()
        for post in np.flatnonzero(np.diff(bounds)).tolist():
            candidates[post].update(fp_list[bounds[post] : bounds[post + 1]])
    exact_hits: list[set[int]] = [set() for _ in texts]
    for k, fp_ids in index.exact_matches_many(parts.exact):
        exact_hits[parts.post[k]] |= fp_ids
    sets = parts.shingle_sets()
    results = []
    for post in range(len(texts)):
        own = parts.of_post[post]
        best: dict[int, Scored] = {}
        for fp_id in sorted(candidates[post] | exact_hits[post]):
            found = index.lookup(fp_id)
            if found is None:
                continue
            rumor_id, shingles, short = found
            if short:  # a short rumor text matches its exact normalised text only
                sim = cont = 1.0 if fp_id in exact_hits[post] else 0.0
            else:
                sim = max(jaccard(sets[k], shingles) for k in own)
                cont = containment(shingles, sets[own[0]])
            if max(sim, cont) < min_score:
                continue
            current = best.get(rumor_id)
            if current is None or (sim, cont) > (current.similarity, current.containment):
                best[rumor_id] = Scored(rumor_id, fp_id, round(sim, 4), round(cont, 4))
        results.append(sorted(best.values(), key=_rank, reverse=True))
    return results


BLOCK = 12  # n-grams per block: every window is a run of whole blocks


def _signatures(parts: "_Parts") -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures of each part and of the windows of long whole parts, with the post they belong to.

    Each part's n-grams are laid out in blocks of BLOCK (the last block padded), so one plain reduction
    gives every block's minimum under all 128 permutations. A part's signature is the minimum of its
    blocks; windows of 4, 8 and 16 blocks (starting every 2, 2 and 4 blocks) come from doubling running
    minima. The work is one pass over the n-grams, whatever the number of windows.
    """
    a, b = permutations()
    width, maximum = a.size, np.iinfo(np.uint32).max
    counts = parts.counts
    nblocks = -(-counts // BLOCK)
    if not nblocks.sum():
        return np.empty((0, width), dtype=np.uint32), np.empty(0, dtype=np.int64)
    first_block = np.concatenate([[0], np.cumsum(nblocks)[:-1]])
    dest = np.repeat(first_block * BLOCK - parts.offsets[:-1], counts) + np.arange(parts.hashes.size)
    laid_out = np.zeros(int(nblocks.sum()) * BLOCK, dtype=np.uint32)
    laid_out[dest] = parts.hashes
    values = laid_out[:, None] * a[None, :] + b[None, :]  # (padded n-grams, 128): rows of 128 contiguous
    padding = np.ones(laid_out.size, dtype=bool)
    padding[dest] = False
    values[padding] = maximum
    blocks = values.reshape(-1, BLOCK, width).min(axis=1)  # (blocks, 128)
    block_part = np.repeat(np.arange(parts.count), nblocks)
    block_pos = np.arange(block_part.size) - first_block[block_part]
    sigs, owners = [], []
    hashed = np.flatnonzero((parts.lengths >= SHORT_TEXT) & (counts > 0))
    if hashed.size:  # a part's signature: the minimum of its own blocks (paired bounds, sentinel at the end)
        padded = np.concatenate([blocks, np.full((1, width), maximum, np.uint32)])
        bounds = np.stack([first_block[hashed], first_block[hashed] + nblocks[hashed]], axis=1).ravel()
        sigs.append(np.minimum.reduceat(padded, bounds, axis=0)[0::2])
        owners.append(parts.post[hashed])
    span, running = 1, blocks
    long_whole = parts.is_whole[block_part]
    for window, stride in WINDOWS:
        per = window // BLOCK  # 4, 8, 16 blocks
        while span < per:
            shifted = np.full_like(running, maximum)
            shifted[:-span] = running[span:]
            running = np.minimum(running, shifted)
            span *= 2
        fits = long_whole & (counts[block_part] > window * 1.2)
        fits &= (block_pos + per <= nblocks[block_part]) & (block_pos % (stride // BLOCK) == 0)
        chosen = np.flatnonzero(fits)
        if chosen.size:
            sigs.append(running[chosen])
            owners.append(parts.post[block_part[chosen]])
    if not sigs:
        return np.empty((0, width), dtype=np.uint32), np.empty(0, dtype=np.int64)
    return np.ascontiguousarray(np.concatenate(sigs)), np.concatenate(owners)


class _Parts:
    """The normalised parts of a batch of posts, with all their n-gram hashes in one array."""

    def __init__(self, texts: list[str]) -> None:
        post, text, whole = [], [], []
        self.of_post: list[list[int]] = [[] for _ in texts]
        for i, raw in enumerate(texts):
            normalized = normalize(raw).text
            if not normalized:
                continue
            pieces = [normalized]
            if "//@" in raw:  # a repost chain: each segment is matched on its own too
                pieces += [s.text for s in normalize_segments(raw) if s.text and s.text != normalized]
            for j, piece in enumerate(pieces):
                self.of_post[i].append(len(text))
                post.append(i)
                text.append(piece)
                whole.append(j == 0)
        self.count = len(text)
        self.post = np.array(post, dtype=np.int64)
        self.is_whole = np.array(whole, dtype=bool)
        self.texts = text
        self.lengths = np.array([len(t) for t in text], dtype=np.int64)
        self.exact = [exact_hash(t) for t in text]
        # n-grams of the joined texts, minus those that straddle two parts
        starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]) if self.count else np.empty(0, np.int64)
        joined = np.frombuffer("".join(text).encode("utf-32-le"), dtype=np.uint32)
        all_hashes = hash_ngrams(joined, SHINGLE_SIZE)
        owner = np.repeat(np.arange(self.count), self.lengths)[: all_hashes.size]
        keep = np.arange(all_hashes.size) + SHINGLE_SIZE <= (starts + self.lengths)[owner]
        self.hashes = all_hashes[keep]
        self.counts = np.bincount(owner[keep], minlength=self.count)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)])

    def shingle_sets(self) -> list[np.ndarray]:
        """Sorted unique n-gram hashes of each part (one sort for the whole batch)."""
        owner = np.repeat(np.arange(self.count, dtype=np.uint64), self.counts)
        combined = np.sort((owner << np.uint64(32)) | self.hashes.astype(np.uint64))
        first = np.ones(combined.size, dtype=bool)
        first[1:] = combined[1:] != combined[:-1]
        combined = combined[first]
        h = (combined & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        o = (combined >> np.uint64(32)).astype(np.int64)
        bounds = np.searchsorted(o, np.arange(self.count + 1))
        return [h[bounds[k] : bounds[k + 1]] for k in range(self.count)]


Span = tuple[tuple[int, int], tuple[int, int]]  # (post span, rumor span) in original offsets
EVIDENCE_RUNS = 5  # at most this many spans a match


def evidence(post: Normalized, rumor_text: str, post_grams: np.ndarray | None = None) -> list[Span]:
    """Shared runs of text as (post span, rumor span) in original offsets, longest first (at most 5).

    A run is a stretch of consecutive post n-grams that all occur in the rumor; it is placed in the rumor
    where its first n-gram first occurs. Linear in the texts' lengths, unlike a diff. `post_grams` are the
    post's positional n-gram hashes when the caller has them (`Prepared.grams`).
    """
    if post_grams is None:
        post_grams = positional_shingles(post.text)
    return _evidence(post_grams, np.array([0, post_grams.size], np.int64), [0], [post], [rumor_text])[0]


def evidence_many(batch: Prepared, pairs: list[tuple[int, str]]) -> list[list[Span]]:
    """evidence() of many (post of a scored batch prepared with offsets, rumor text) pairs, in one compiled call."""
    if not pairs:
        return []
    if batch.hashes is None or batch.normalized is None:
        raise ValueError("evidence_many needs a batch prepared with offsets and scored")
    whole = [int(batch.post_parts[p]) for p, _ in pairs]  # a post's first part is its whole text
    posts = [batch.normalized[p] for p, _ in pairs]
    return _evidence(batch.hashes, batch.hoff, whole, posts, [text for _, text in pairs])


def _evidence(
    grams: np.ndarray, goff: np.ndarray, pair_part: list[int], posts: list[Normalized], rumor_texts: list[str]
) -> list[list[Span]]:
    rumors: dict[str, int] = {}
    pair_rumor = [rumors.setdefault(text, len(rumors)) for text in rumor_texts]
    cached = [_rumor_grams(text) for text in rumors]
    roff = np.zeros(len(cached) + 1, np.int64)
    np.cumsum([c[1].size for c in cached], out=roff[1:])
    runs = compiled.evidence_runs(
        grams,
        goff,
        np.array(pair_part, np.int64),
        np.concatenate([c[1] for c in cached]),
        roff,
        np.concatenate([c[2] for c in cached]),
        np.array(pair_rumor, np.int64),
        SHINGLE_SIZE,
        MIN_EVIDENCE,
        EVIDENCE_RUNS,
    ).tolist()
    out = []
    for post, r, rows in zip(posts, pair_rumor, runs, strict=True):
        rumor = cached[r][0]
        spans = []
        for start, length, r_start in rows:
            if start < 0:
                break
            r_end = min(r_start + length, len(rumor.text))
            spans.append((post.span_to_original(start, start + length), rumor.span_to_original(r_start, r_end)))
        out.append(spans)
    return out


def evidence_reference(post: Normalized, rumor_text: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """evidence in numpy (the reference its compiled runs are tested against)."""
    rumor = normalize(rumor_text)
    rumor_grams = positional_shingles(rumor.text)
    first_in_rumor: dict[int, int] = {}
    for position, gram in enumerate(rumor_grams.tolist()):
        first_in_rumor.setdefault(gram, position)
    post_grams = positional_shingles(post.text)
    if not post_grams.size or not rumor_grams.size:
        return []
    shared = np.flatnonzero(np.isin(post_grams, rumor_grams))
    if not shared.size:
        return []
    breaks = np.flatnonzero(np.diff(shared) > 1)
    starts = np.concatenate([[shared[0]], shared[breaks + 1]])
    lengths = np.concatenate([shared[breaks], [shared[-1]]]) - starts + SHINGLE_SIZE
    order = [i for i in np.argsort(-lengths, kind="stable").tolist() if lengths[i] >= MIN_EVIDENCE][:5]
    spans = []
    for i in order:
        start, length = int(starts[i]), int(lengths[i])
        r_start = first_in_rumor[int(post_grams[start])]
        r_end = min(r_start + length, len(rumor.text))
        spans.append((post.span_to_original(start, start + length), rumor.span_to_original(r_start, r_end)))
    return spans


@lru_cache(maxsize=4096)
def _rumor_grams(text: str) -> tuple[Normalized, np.ndarray, np.ndarray]:
    """A rumor's normalised text, its sorted unique n-grams and where each first occurs: rumors recur in
    every match against them, so this is computed once per process."""
    rumor = normalize(text)
    unique, first = np.unique(positional_shingles(rumor.text), return_index=True)
    return rumor, unique, first.astype(np.int64)


__all__ = ["Scored", "evidence", "evidence_many", "score_batch", "score_batch_reference", "score_text"]
