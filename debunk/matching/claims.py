"""The claim tier: rumor texts found in posts that reword them, by a char n-gram TF-IDF inverted index (pure: numpy
and scipy only, no Django).

The near-duplicate engine (MinHash LSH, `debunk.matching.index`) finds copies; a post that tells the same claim in
other words shares few of its 3-grams with the rumor, but it shares the claim's *distinctive* n-grams (names,
places, numbers, rare words). This index weighs n-grams by how rare they are, so a reworded post still scores.

Terms. A text is normalised (`normalize_text`: NFKC, lower case, Simplified Chinese, letters/digits/CJK only), with
whitespace kept as a word boundary. CJK runs (digits join them in a text that has CJK) give char bigrams; other runs
(Latin etc.) are words: each word is a term, plus its char 3- to 5-grams. Every term is hashed to a 64-bit id (a
polynomial hash over the code points, vectorised over a whole batch, then a splitmix64 finaliser); the vocabulary is
the sorted unique ids of the snapshot's texts. An id is looked up in its bucket (`vocab_off`, in the snapshot: where
the ids with each value of the top BUCKET_BITS bits start), a binary search among tens of ids rather than over the
whole vocabulary (`search_reference` keeps the whole-vocabulary search).

Weights. IDF = ln((1 + N) / (1 + df)) + 1, with df counted over the stock's texts plus the `background` texts (recent
archive posts: boilerplate such as "新冠肺炎确诊病例" is common there, so it weighs little). A term in more than
max(MIN_PRUNE_DF, MAX_DF_SHARE × N) texts is pruned: neither indexed nor counted in a post (common n-grams make long
posting lists, and the product a near-dense scan). TF is binary (a term counts once per text: claims are short).

Search. The inverted index is a CSR matrix terms × texts holding idf / ‖text‖ (‖text‖² = Σ idf² of its terms). A
batch of posts (posts × terms, idf where present) times it is one sparse product P[post, text] = Σ idf² / ‖text‖
over the shared terms, from which both measures follow: cosine = P / ‖post‖ and containment = P / ‖text‖ (the
idf²-weighted share of the text's terms present in the post). A post's terms the snapshot never saw count in ‖post‖
at the unseen-term IDF. The best text of each rumor stands for the rumor; the k best rumors are returned, each with
its evidence: the post's stretches made of shared terms ("石正丽", "第三宿主"), highest IDF first.

Compiled search. `search` computes the same cells as that product (`search_reference` keeps the product: the tests
hold one to the other) with `compiled.claim_cells`, MaxScore over the inverted index: each term's largest idf / |t|
(`inv_max`, in the snapshot) bounds what it adds to any text's score; a post's longest posting lists are set aside
while their bounds add up to at most ASIDE_BUDGET × min_score, the others are summed into a dense accumulator, and
only the texts that can still pass min_score get the set-aside terms from their forward lists. With min_score 0
every posting list is visited (the product's work). The caller passes the lowest threshold it acts on.

Score (what the per-label thresholds apply to): SCORE_WEIGHT × cosine + (1 − SCORE_WEIGHT) × containment, with
SCORE_WEIGHT = 0.5. Cosine alone penalises a post that carries the claim among much else; containment alone ranks
a long rumor text that a post half-repeats too low and short texts too high. Chosen on claims_zh_checked.jsonl
(`manage.py eval_claims`: 160 queries in 42 claim groups, 111 stock posts, 1,403 real posts as negatives; 5-fold
CV over claim groups, thresholds for precision ≥ 0.95 chosen on the training folds only). What was tried there, in
recall at CV precision ≥ 0.95 / top-5 recall / top-1 among the 63 rewordings (differences of 0.01–0.02 are one to
three queries: the choice is among near-equals):

- two products, sublinear TF, IDF-weighted containment, char 2+3-grams, pruning at 5%: weight 0 (containment)
  0.64 / 0.96 / 0.56; 0.25: 0.66 / 0.96 / 0.60; 0.5: 0.66 / 0.96 / 0.67; 0.75: 0.66 / 0.96 / 0.65; 1 (cosine):
  0.65 / 0.96 / 0.63; bigrams only 0.66 / 0.98 / 0.63; 1–3-grams 0.66 / 0.97 / 0.63; 2–4-grams 0.66 / 0.96 / 0.65;
  pruning at 2% / 20% / none: 0.66 / 0.95 / 0.63, 0.66 / 0.96 / 0.65, 0.66 / 0.97 / 0.63;
- one product (binary TF, idf² containment: the form kept, it halves the work), bigrams: pruning floor 50 texts
  0.66 / 0.96 / 0.59, floor 100 0.65 / 0.97 / 0.63, floor 200 0.66 / 0.97 / 0.63, no pruning 0.68 / 0.98 / 0.65;
  at floor 50: weight 0.75 0.66 / 0.96 / 0.56, weight 1 0.64 / 0.96 / 0.59, 2+3-grams 0.66 / 0.95 / 0.62; at floor
  200 (kept): weight 0.25 0.66 / 0.97 / 0.60, 0.6 0.66 / 0.97 / 0.62, 0.75 0.66 / 0.97 / 0.62 (CV precision 0.94).
- again, with the score floor and `calibration.select_threshold` (kept: 0.650 / 0.969 / 0.635, CV precision 0.954):
  weight 0.4 0.650 / 0.969 / 0.635; 0.6 0.650 / 0.969 / 0.619; pruning floor 400 0.675 / 0.975 / 0.651; no pruning
  0.675 / 0.975 / 0.651 (weight 0.4: the same; 0.6: 0.681 / 0.975 / 0.651 at CV precision 0.948); CJK 1+2-grams
  0.669 / 0.975 / 0.651 (CV precision 0.947; weight 0.6: 0.669 / 0.975 / 0.667 at 0.939); 2+3-grams 0.656 / 0.950 /
  0.635. The variants that reach 0.65 on rewordings do so by one query of 63, and each costs speed at 100,000 rumors
  (longer posting lists, or single characters as terms), unmeasured: none was adopted.

Pruning is what keeps a batch cheap at 100,000 rumor texts (a term is then in at most ~200 texts); its cost in
quality at that scale is not measured by this small dataset, where the floor of 200 texts prunes little.

Deltas. After `clone`, `add` and `remove_rumor` change a small in-memory part: added texts are weighted with the
snapshot's IDF (a term the snapshot never saw gets the unseen-term IDF) and searched by a small matrix of their own;
removed and superseded snapshot texts are masked out of the results.

Snapshots. `save` writes the arrays with `np.save`; `load` memory-maps them (`mmap_mode="r"`), so the processes of a
machine share one copy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from debunk.matching import compiled
from debunk.matching.normalize import normalize_text

__all__ = ["ClaimEntry", "ClaimHit", "ClaimIndex", "terms_of"]

CJK_NGRAMS = (2,)
WORD_NGRAMS = (3, 4, 5)
MAX_DF_SHARE = 0.002  # terms in more than this share of the texts (stock + background) are pruned...
MIN_PRUNE_DF = 200  # ...when also in more than this many texts (a small index prunes little)
SCORE_WEIGHT = 0.5  # score = w × cosine + (1 - w) × containment
MAX_TERMS = 5  # evidence terms per hit
ASIDE_BUDGET = 0.6  # share of min_score the posting lists the kernel skips may add up to (compiled.claim_cells)
FORMAT = 3  # of the saved arrays (2: with inv_max; 3: with vocab_off)
BUCKET_BITS = 16  # the vocabulary's look-up table: one bucket per value of an id's top bits
ARRAYS = (
    "entry_ids",
    "rumor_ids",
    "vocab",
    "vocab_off",
    "idf",
    "inv_indptr",
    "inv_indices",
    "inv_data",
    "inv_max",
    "norms",
    "fwd_indptr",
    "fwd_indices",
    "meta",
)

_BOUNDARY = "\u01c2"  # "ǂ": a letter normalize_text keeps as it is, put where whitespace was (a word boundary)
_SPACE_RE = re.compile(r"\s+")
_P = np.uint64(0x9E3779B97F4A7C15)  # odd: invertible modulo 2^64
_P_INV = np.uint64(pow(int(_P), -1, 1 << 64))
_SALT_WORD = np.uint64(0xD6E8FEB86659FD93)
_SALT_N = np.uint64(0xA0761D6478BD642F)
_B = ord(_BOUNDARY)


@dataclass(frozen=True)
class ClaimEntry:
    """One indexed text."""

    entry_id: int  # unique per indexed text (the claim: the rumor id; a variant: -variant id)
    rumor_id: int
    text: str  # raw; the index normalises it


@dataclass(frozen=True)
class ClaimHit:
    """A rumor whose claim a post may carry."""

    rumor_id: int
    score: float  # in [0, 1]: what the per-label claim thresholds apply to (best text of the rumor)
    containment: float  # IDF-weighted share of the rumor text's n-grams present in the post (precise containment)
    terms: tuple[str, ...]  # up to 5 shared distinctive n-grams (evidence), most distinctive first


# ---- terms ------------------------------------------------------------------------------------------------------


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, vectorised (wrapping uint64 arithmetic)."""
    with np.errstate(over="ignore"):
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return h ^ (h >> np.uint64(31))


def _is_cjk(codes: np.ndarray) -> np.ndarray:
    return (
        ((codes >= 0x3400) & (codes <= 0x9FFF))
        | ((codes >= 0x3040) & (codes <= 0x30FF))
        | ((codes >= 0xAC00) & (codes <= 0xD7AF))
        | ((codes >= 0xF900) & (codes <= 0xFAFF))
        | (codes >= 0x20000)
    )


@dataclass
class _Occurrences:
    """Every term occurrence of a batch of texts, in no particular order."""

    count: int  # texts
    owner: np.ndarray  # int64 text of each occurrence
    ids: np.ndarray  # uint64 term id
    start: np.ndarray  # int64 position in `joined`
    length: np.ndarray  # int64 characters
    joined: str  # the normalised texts end to end, boundaries as _BOUNDARY

    def text(self, row: int) -> str:
        start = int(self.start[row])
        return self.joined[start : start + int(self.length[row])]


@dataclass
class _Terms:
    """The unique terms of a batch of texts: for text i, rows off[i]:off[i + 1] (sorted by id within a text)."""

    off: np.ndarray  # int64, texts + 1
    ids: np.ndarray  # uint64 term ids
    tf: np.ndarray  # float64 occurrences in the text
    start: np.ndarray  # int64 first occurrence in `joined`
    length: np.ndarray  # int64 characters
    joined: str

    def text(self, row: int) -> str:
        start = int(self.start[row])
        return self.joined[start : start + int(self.length[row])]


def _normalise(text: str) -> str:
    """normalize_text with whitespace kept as word boundaries (collapsed, none at the ends)."""
    return normalize_text(_SPACE_RE.sub(_BOUNDARY, text.strip())).strip(_BOUNDARY)


_POWERS = np.ones(1, dtype=np.uint64)
_INVERSES = np.ones(1, dtype=np.uint64)


def _powers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """P^i and P^-i modulo 2^64 for i < size (grown by doubling, kept for the next batch)."""
    global _POWERS, _INVERSES
    if _POWERS.size < size:
        grown = 1 << (size - 1).bit_length()
        with np.errstate(over="ignore"):
            powers = np.empty(grown, dtype=np.uint64)
            powers[0] = 1
            powers[1:] = np.cumprod(np.full(grown - 1, _P, dtype=np.uint64))
            inverses = np.empty(grown, dtype=np.uint64)
            inverses[0] = 1
            inverses[1:] = np.cumprod(np.full(grown - 1, _P_INV, dtype=np.uint64))
        _POWERS, _INVERSES = powers, inverses  # replaced whole: a concurrent reader sees old or new
    return _POWERS, _INVERSES


def occurrences(texts: list[str]) -> _Occurrences:
    """Every term occurrence of each text (module docstring), for a whole batch at once, vectorised."""
    normalised = [_normalise(t) for t in texts]
    lengths = np.fromiter((len(t) for t in normalised), dtype=np.int64, count=len(normalised))
    joined = _BOUNDARY.join(normalised) + _BOUNDARY
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    size = codes.size if texts else 0
    if not size:
        empty = np.empty(0, np.int64)
        return _Occurrences(len(texts), empty, np.empty(0, np.uint64), empty, empty, "")
    text_of = np.repeat(np.arange(len(texts), dtype=np.int64), lengths + 1)  # the trailing boundary too
    cjk = _is_cjk(codes)
    cjk_texts = np.unique(text_of[cjk])
    has_cjk = np.zeros(len(texts), dtype=bool)
    has_cjk[cjk_texts] = True
    digit = (codes >= 0x30) & (codes <= 0x39)
    cls = np.where(codes == _B, 0, np.where(cjk | (digit & has_cjk[text_of]), 1, 2)).astype(np.int8)
    change = np.empty(size, dtype=bool)  # a new run (of one class, between boundaries) starts here
    change[0] = True
    change[1:] = cls[1:] != cls[:-1]
    run = np.cumsum(change)
    powers, inverses = _powers(size + 1)
    with np.errstate(over="ignore"):
        prefix = np.zeros(size + 1, dtype=np.uint64)
        np.cumsum(codes * powers[:size], out=prefix[1:])

    starts_all, lengths_all, salts = [], [], []
    for kind, ngrams in ((1, CJK_NGRAMS), (2, WORD_NGRAMS)):
        for n in ngrams:
            if size < n:
                continue
            first = np.flatnonzero((cls[: size - n + 1] == kind) & (run[: size - n + 1] == run[n - 1 :]))
            starts_all.append(first)
            lengths_all.append(np.full(first.size, n, dtype=np.int64))
            salts.append(np.full(first.size, (kind * int(_SALT_N)) % (1 << 64), dtype=np.uint64))
    run_start = np.flatnonzero(change)  # whole words: runs of class 2
    run_end = np.append(run_start[1:], size)
    words = cls[run_start] == 2
    starts_all.append(run_start[words])
    lengths_all.append(run_end[words] - run_start[words])
    salts.append(np.full(int(words.sum()), _SALT_WORD, dtype=np.uint64))

    start = np.concatenate(starts_all)
    length = np.concatenate(lengths_all)
    salt = np.concatenate(salts)
    with np.errstate(over="ignore"):
        raw = (prefix[start + length] - prefix[start]) * inverses[start]
        ids = _mix(raw + salt + length.astype(np.uint64) * _SALT_N)
    return _Occurrences(len(texts), text_of[start], ids, start, length, joined)


def terms_of(texts: list[str]) -> _Terms:
    """The unique terms of each text with their counts and first occurrence."""
    occ = occurrences(texts)
    owner, ids, start, length = occ.owner, occ.ids, occ.start, occ.length
    order = np.lexsort((start, ids, owner))
    owner, ids, start, length = owner[order], ids[order], start[order], length[order]
    new = np.ones(ids.size, dtype=bool)
    if ids.size:
        new[1:] = (ids[1:] != ids[:-1]) | (owner[1:] != owner[:-1])
    firsts = np.flatnonzero(new)
    tf = np.diff(np.append(firsts, ids.size)).astype(np.float64)
    off = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner[firsts], minlength=len(texts)), out=off[1:])
    return _Terms(off, ids[firsts], tf, start[firsts], length[firsts], occ.joined)


def _lookup(vocab: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position, found) of each id in the sorted vocabulary; the ids are sorted first (a binary search over
    increasing keys reuses the cache; in the given order it cost several times as much at 2M terms)."""
    if not vocab.size or not ids.size:
        return np.zeros(ids.size, dtype=np.int64), np.zeros(ids.size, dtype=bool)
    order = np.argsort(ids)
    pos = np.empty(ids.size, dtype=np.int64)
    pos[order] = np.searchsorted(vocab, ids[order])
    np.minimum(pos, vocab.size - 1, out=pos)
    return pos, vocab[pos] == ids


def _bucket_offsets(vocab: np.ndarray) -> np.ndarray:
    """Where each bucket (ids sharing their top BUCKET_BITS bits) starts in the sorted vocabulary, and its end."""
    bounds = np.arange(1 << BUCKET_BITS, dtype=np.uint64) << np.uint64(64 - BUCKET_BITS)
    return np.append(np.searchsorted(vocab, bounds), vocab.size).astype(np.int64)


def _bucket_lookup(vocab: np.ndarray, off: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`_lookup` through the bucket offsets: a binary search among the few ids of the id's bucket."""
    return compiled.bucket_lookup(np.asarray(vocab), np.asarray(off), 64 - BUCKET_BITS, ids.astype(np.uint64))


def _idf(df: np.ndarray, n: int) -> np.ndarray:
    return np.log((1.0 + n) / (1.0 + df)) + 1.0


def _score(cosine: np.ndarray, containment: np.ndarray) -> np.ndarray:
    return SCORE_WEIGHT * cosine + (1.0 - SCORE_WEIGHT) * containment


# ---- the index --------------------------------------------------------------------------------------------------


def _text_term_matrix(texts: list[str], vocab: np.ndarray | None, chunk: int = 10_000) -> tuple:
    """(vocab, texts × vocab CSR of term counts) for texts; with `vocab` given, only its terms are counted."""
    owners, ids = [], []
    for i in range(0, len(texts), chunk):
        occ = occurrences(texts[i : i + chunk])
        owners.append(occ.owner + i)
        ids.append(occ.ids)
    owner = np.concatenate(owners) if owners else np.empty(0, np.int64)
    term = np.concatenate(ids) if ids else np.empty(0, np.uint64)
    if vocab is None:
        vocab, col = np.unique(term, return_inverse=True)
    else:
        col, found = _lookup(vocab, term)
        owner, col = owner[found], col[found]
    counts = sparse.csr_matrix(
        (np.ones(owner.size, dtype=np.float64), (owner, col.astype(np.int64))), shape=(len(texts), vocab.size)
    )
    counts.sum_duplicates()
    return vocab, counts


def _build_arrays(entries: list[ClaimEntry], background: list[str]) -> dict[str, np.ndarray]:
    entries = sorted(entries, key=lambda e: e.entry_id)
    ids = [e.entry_id for e in entries]
    if len(set(ids)) != len(ids):
        raise ValueError("entry ids must be unique")
    vocab, counts = _text_term_matrix([e.text for e in entries], None)
    df = np.bincount(counts.indices, minlength=vocab.size).astype(np.float64)
    if background:
        df += np.bincount(_text_term_matrix(background, vocab)[1].indices, minlength=vocab.size)
    n = len(entries) + len(background)
    idf = _idf(df, n)
    pruned = (df > MAX_DF_SHARE * n) & (df > MIN_PRUNE_DF)
    owner = np.repeat(np.arange(len(entries), dtype=np.int64), np.diff(counts.indptr))
    col = counts.indices.astype(np.int64)
    keep = ~pruned[col]
    owner, col = owner[keep], col[keep]
    norm = np.sqrt(np.bincount(owner, weights=idf[col] ** 2, minlength=len(entries)))
    data = idf[col] / norm[owner] if owner.size else idf[col]
    fwd_indptr = np.zeros(len(entries) + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=len(entries)), out=fwd_indptr[1:])
    order = np.argsort(col, kind="stable")  # the inverted index: the same cells by term, texts ascending
    inv_indptr = np.zeros(vocab.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(col, minlength=vocab.size), out=inv_indptr[1:])
    rumor_ids = np.array([e.rumor_id for e in entries], dtype=np.int64)
    inv_data = data[order].astype(np.float32)
    inv_max = np.zeros(vocab.size, dtype=np.float32)  # per term, the largest idf / |t| of its posting list
    heads = inv_indptr[:-1][np.diff(inv_indptr) > 0]
    if heads.size:
        inv_max[np.diff(inv_indptr) > 0] = np.maximum.reduceat(inv_data, heads)
    return {
        "entry_ids": np.array(ids, dtype=np.int64),
        "rumor_ids": rumor_ids,
        "vocab": vocab.astype(np.uint64),
        "vocab_off": _bucket_offsets(vocab.astype(np.uint64)),
        "idf": np.where(pruned, 0.0, idf).astype(np.float32),  # 0 marks a pruned term
        "inv_indptr": inv_indptr,
        "inv_indices": owner[order].astype(np.int32),
        "inv_data": inv_data,
        "inv_max": inv_max,
        "norms": norm.astype(np.float32),
        "fwd_indptr": fwd_indptr,
        "fwd_indices": col.astype(np.int32),
        "meta": np.array([n, FORMAT], dtype=np.int64),
    }


@dataclass
class _Delta:
    """An added text weighted with the snapshot's IDF."""

    entry: ClaimEntry
    ids: np.ndarray  # uint64 term ids, sorted
    idf: np.ndarray  # per term (the snapshot's, the unseen-term IDF for a term it never saw)
    norm: float  # sqrt of the sum of idf²


class ClaimIndex:
    """A snapshot of the stock's texts plus deltas (module docstring). Writers are serialised by the caller;
    `clone` gives a copy whose deltas change without disturbing readers of the original."""

    def __init__(
        self,
        entries: Iterable[ClaimEntry] = (),
        *,
        version: int = 0,
        background: Iterable[str] = (),
        arrays: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.version = version
        self.snapshot_version = version
        self._a = arrays if arrays is not None else _build_arrays(list(entries), list(background))
        a = self._a
        self._n = int(a["meta"][0])
        self._unseen_idf = float(_idf(np.zeros(1), self._n)[0])
        texts, terms = len(a["entry_ids"]), len(a["vocab"])
        self._inv = sparse.csr_matrix(
            (np.asarray(a["inv_data"]), np.asarray(a["inv_indices"]), np.asarray(a["inv_indptr"])), shape=(terms, texts)
        )
        self._added: dict[int, _Delta] = {}
        self._removed: set[int] = set()  # snapshot entry ids removed or superseded
        self._dead: np.ndarray | None = None
        self._delta_matrix: tuple | None = None
        norms = np.asarray(a["norms"])
        self._min_norm = float(norms[norms > 0].min(initial=np.inf))

    # ---- snapshot files ---------------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name in ARRAYS:
            np.save(directory / f"{name}.npy", np.asarray(self._a[name]), allow_pickle=False)

    @classmethod
    def load(cls, directory: Path, version: int) -> ClaimIndex:
        """Memory-map a saved snapshot: the pages are shared by every process that maps it."""
        arrays = {name: np.load(directory / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in ARRAYS}
        if int(arrays["meta"][1]) != FORMAT:
            raise ValueError(f"claim index format {int(arrays['meta'][1])}, expected {FORMAT}")
        return cls(version=version, arrays=arrays)

    def nbytes(self) -> int:
        return int(sum(np.asarray(self._a[name]).nbytes for name in ARRAYS))

    # ---- deltas -----------------------------------------------------------------------------------------------
    def clone(self, version: int) -> ClaimIndex:
        other = ClaimIndex.__new__(ClaimIndex)
        other.__dict__.update(self.__dict__)
        other.version = version
        other._added = dict(self._added)
        other._removed = set(self._removed)
        other._dead = None
        other._delta_matrix = None
        return other

    def add(self, entry: ClaimEntry) -> None:
        """Index one more text (replacing the text of the same entry id) with the snapshot's IDF."""
        terms = terms_of([entry.text])
        a = self._a
        pos, known = _bucket_lookup(a["vocab"], a["vocab_off"], terms.ids)
        idf = np.where(known, np.asarray(a["idf"])[pos] if known.any() else 0.0, self._unseen_idf).astype(np.float64)
        keep = idf > 0  # pruned terms stay out
        ids, idf = terms.ids[keep], idf[keep]
        norm = float(np.sqrt((idf**2).sum())) or 1.0
        self._removed.add(entry.entry_id)  # supersedes a snapshot text with its id, if any
        self._added[entry.entry_id] = _Delta(entry, ids, idf, norm)
        self._dead = None
        self._delta_matrix = None

    def remove_rumor(self, rumor_id: int) -> None:
        """Drop every text of a rumor, in the snapshot and in the deltas."""
        a = self._a
        rows = np.flatnonzero(np.asarray(a["rumor_ids"]) == rumor_id)
        self._removed.update(np.asarray(a["entry_ids"])[rows].tolist())
        for entry_id in [k for k, d in self._added.items() if d.entry.rumor_id == rumor_id]:
            del self._added[entry_id]
            self._removed.add(entry_id)
        self._dead = None
        self._delta_matrix = None

    @property
    def delta_size(self) -> int:
        """Texts added or replaced plus snapshot texts removed since the snapshot."""
        return len(self._added) + len(self._removed - self._added.keys())

    def __len__(self) -> int:
        """Live texts: the snapshot's not removed or replaced, plus the added ones."""
        return int((~self._dead_rows()).sum()) + len(self._added)

    def _dead_rows(self) -> np.ndarray:
        if self._dead is None:
            ids = np.asarray(self._a["entry_ids"])
            gone = np.fromiter(self._removed, dtype=np.int64, count=len(self._removed))
            self._dead = np.isin(ids, gone) if gone.size else np.zeros(ids.size, dtype=bool)
        return self._dead

    def _deltas(self) -> tuple:
        """The added texts as matrices over their own vocabulary (built when first needed after a change)."""
        if self._delta_matrix is None:
            deltas = list(self._added.values())
            ids = np.concatenate([d.ids for d in deltas]) if deltas else np.empty(0, np.uint64)
            vocab, col = np.unique(ids, return_inverse=True)
            counts = np.array([d.ids.size for d in deltas], dtype=np.int64)
            row = np.repeat(np.arange(len(deltas)), counts)
            shape = (vocab.size, len(deltas))
            idf = np.zeros(vocab.size)
            norms = np.array([d.norm for d in deltas])
            data = np.empty(0, np.float32)
            if deltas:
                idf[col] = np.concatenate([d.idf for d in deltas])  # one IDF per term: the snapshot's
                data = (idf[col] / norms[row]).astype(np.float32)
            self._delta_matrix = (
                vocab,
                sparse.csr_matrix((data, (col, row)), shape=shape),
                norms,
                np.array([d.entry.rumor_id for d in deltas], dtype=np.int64),
                deltas,
                idf,
            )
        return self._delta_matrix

    # ---- search -----------------------------------------------------------------------------------------------
    def search(self, texts: list[str], *, k: int = 5, min_score: float = 0.0) -> list[list[ClaimHit]]:
        """For each text, the (at most k) rumors it may carry, best first: only hits scoring above min_score (the
        lowest threshold the caller acts on: most of the work on an unrelated post's weak hits is then skipped).
        The snapshot is searched by a compiled kernel (`compiled.claim_cells`) that visits few posting lists."""
        return self._search(texts, k, min_score, reference=False)

    def search_reference(self, texts: list[str], *, k: int = 5, min_score: float = 0.0) -> list[list[ClaimHit]]:
        """`search` by one sparse product over the whole inverted index: the reference the compiled kernel is held
        to (tests/matching/test_claims.py)."""
        return self._search(texts, k, min_score, reference=True)

    def _search(self, texts: list[str], k: int, min_score: float, *, reference: bool) -> list[list[ClaimHit]]:
        out: list[list[ClaimHit]] = [[] for _ in texts]
        if not texts or k <= 0:
            return out
        a = self._a
        n = len(texts)
        occ = occurrences(texts)
        if reference:
            pos, known = _lookup(a["vocab"], occ.ids)
        else:
            pos, known = _bucket_lookup(a["vocab"], a["vocab_off"], occ.ids)
        idf = np.asarray(a["idf"])[pos] if known.any() else np.zeros(pos.size, dtype=np.float32)
        snap = known & (idf > 0)  # pruned terms count nowhere
        unknown = _distinct_per_owner(occ.owner[~known], occ.ids[~known], n)
        parts = []
        present = _presence(occ.owner[snap], pos[snap], n, len(a["vocab"]), np.asarray(a["idf"]))
        # a post's norm: its distinct live terms' idf², a term the snapshot never saw at the unseen-term IDF
        norm = np.sqrt(present.power(2).sum(axis=1).A1 + unknown * self._unseen_idf**2)
        norm[norm == 0] = 1.0
        if present.nnz and len(a["entry_ids"]) and not reference:
            qi, ti, ct, score = compiled.claim_cells(
                present.indptr.astype(np.int64),
                present.indices.astype(np.int64),
                norm.astype(np.float64),
                np.asarray(a["idf"]),
                np.asarray(a["inv_max"]),
                np.asarray(a["inv_indptr"]),
                np.asarray(a["inv_indices"]),
                np.asarray(a["inv_data"]),
                np.asarray(a["norms"]),
                np.asarray(a["fwd_indptr"]),
                np.asarray(a["fwd_indices"]),
                self._dead_rows(),
                SCORE_WEIGHT,
                float(min_score),
                ASIDE_BUDGET,
            )
            parts.append((qi, ti, ct, np.asarray(self._a["rumor_ids"])[ti], score))
        elif present.nnz and len(a["entry_ids"]):
            scale = _bound_scale(norm, self._min_norm)
            product = _scaled_rows(present, scale) @ self._inv
            parts.append(self._scored(product, scale, norm, a["norms"], min_score, None))
        if self._added:
            dvocab, dmatrix, dnorms, drumors, _, didf = self._deltas()
            dpos, dknown = _lookup(dvocab, occ.ids)
            dknown &= ~known | snap
            if dknown.any():
                dpresent = _presence(occ.owner[dknown], dpos[dknown], n, dvocab.size, didf)
                scale = _bound_scale(norm, float(dnorms[dnorms > 0].min(initial=np.inf)))
                product = _scaled_rows(dpresent, scale) @ dmatrix
                parts.append(self._scored(product, scale, norm, dnorms, min_score, drumors))
        parts = [p for p in parts if p[0].size]
        if not parts:
            return out
        qi, ti, ct, rumor, score = (np.concatenate(x) for x in zip(*parts, strict=True))
        # best text per (query, rumor), then the k best rumors per query
        order = np.lexsort((-ct, -score, rumor, qi))
        qi, ti, ct, rumor, score = qi[order], ti[order], ct[order], rumor[order], score[order]
        first = np.ones(qi.size, dtype=bool)
        first[1:] = (qi[1:] != qi[:-1]) | (rumor[1:] != rumor[:-1])
        qi, ti, ct, rumor, score = qi[first], ti[first], ct[first], rumor[first], score[first]
        order = np.lexsort((rumor, -ct, -score, qi))
        qi, ti, ct, rumor, score = qi[order], ti[order], ct[order], rumor[order], score[order]
        top = (np.arange(qi.size) - np.searchsorted(qi, qi, side="left")) < k
        qi, ti, ct, rumor, score = qi[top], ti[top], ct[top], rumor[top], score[top]
        evidence = self._evidence(occ, np.where(known, pos, -1), qi, ti, reference=reference)
        for q_i, c, r, s, terms in zip(qi.tolist(), ct.tolist(), rumor.tolist(), score.tolist(), evidence, strict=True):
            out[q_i].append(ClaimHit(r, float(s), float(c), terms))
        return out

    def _evidence(
        self, occ: _Occurrences, col: np.ndarray, qi: np.ndarray, ti: np.ndarray, *, reference: bool
    ) -> list[tuple[str, ...]]:
        """The evidence terms of each hit (post qi, text ti). Snapshot texts: all hits of the batch in one compiled
        step (`compiled.claim_evidence`, the occurrences' vocabulary columns `col` looked up in the text's sorted
        forward list); delta texts (and the reference search): `_evidence_reference` per hit."""
        n = occ.count
        out: list[tuple[str, ...]] = [()] * qi.size
        snap = ti >= 0
        if not reference and snap.any():
            order = np.lexsort((occ.start, occ.owner))
            qoff = np.searchsorted(occ.owner[order], np.arange(n + 1)).astype(np.int64)
            codes = np.frombuffer(occ.joined.encode("utf-32-le"), dtype=np.uint32)
            a = self._a
            rows = np.flatnonzero(snap)
            ev_s, ev_e, ev_n = compiled.claim_evidence(
                qi[rows].astype(np.int64),
                ti[rows].astype(np.int64),
                qoff,
                col[order].astype(np.int64),
                occ.start[order],
                occ.start[order] + occ.length[order],
                codes,
                np.asarray(a["idf"]),
                np.asarray(a["fwd_indptr"]),
                np.asarray(a["fwd_indices"]),
                MAX_TERMS,
            )
            joined = occ.joined
            spans = zip(rows.tolist(), ev_s.tolist(), ev_e.tolist(), ev_n.tolist(), strict=True)
            for row, starts, ends, count in spans:
                out[row] = tuple(joined[starts[i] : ends[i]] for i in range(count))
            if snap.all():
                return out
        by_owner = np.argsort(occ.owner, kind="stable")
        bounds = np.searchsorted(occ.owner[by_owner], np.arange(n + 1))
        for row in np.flatnonzero(~snap if not reference else np.ones(qi.size, dtype=bool)).tolist():
            q_i = int(qi[row])
            out[row] = self._evidence_reference(occ, by_owner[bounds[q_i] : bounds[q_i + 1]], int(ti[row]))
        return out

    def _scored(
        self,
        product: sparse.csr_matrix,
        scale: np.ndarray,
        qnorm: np.ndarray,
        tnorm: np.ndarray,
        min_score: float,
        rumors: np.ndarray | None,
    ) -> tuple[np.ndarray, ...]:
        """(query, text, containment, rumor, score) of the product's cells scoring above min_score; delta texts are
        numbered -1, -2, … (rumors given), snapshot texts from 0 with the removed ones left out.

        product[q, t] = scale[q] × P with P = Σ idf² / |t| over the shared terms: cosine = P / |q|, containment =
        P / |t|. scale[q] = w / |q| + (1 - w) / (smallest |t|) makes the product a bound on the score, so one
        comparison over its cells leaves only the few worth scoring exactly."""
        cells = np.flatnonzero(product.data > min_score * (1 - 1e-5))  # float32 rounding of the bound
        qi = np.searchsorted(product.indptr, cells, side="right") - 1
        ti = product.indices[cells].astype(np.int64)
        p = product.data[cells].astype(np.float64) / scale[qi]
        cos = np.minimum(p / qnorm[qi], 1.0)
        ct = np.minimum(p / np.asarray(tnorm)[ti], 1.0)
        score = _score(cos, ct)
        keep = score > min_score
        qi, ti, ct, score = qi[keep], ti[keep], ct[keep], score[keep]
        if rumors is not None:
            return qi, -1 - ti, ct, rumors[ti], score
        dead = self._dead_rows()
        if dead.any():
            alive = ~dead[ti]
            qi, ti, ct, score = qi[alive], ti[alive], ct[alive], score[alive]
        return qi, ti, ct, np.asarray(self._a["rumor_ids"])[ti], score

    def _evidence_reference(self, occ: _Occurrences, mine: np.ndarray, text: int) -> tuple[str, ...]:
        """The post's stretches made of terms it shares with the text, most distinctive first (the highest IDF
        of a shared term in the stretch), as the post writes them: "石正丽", not "石正" and "正丽"."""
        if text >= 0:
            a = self._a
            cols = np.asarray(a["fwd_indices"][a["fwd_indptr"][text] : a["fwd_indptr"][text + 1]])
            tids = np.asarray(a["vocab"])[cols]
            tidf = np.asarray(a["idf"])[cols].astype(np.float64)
            order = np.argsort(tids)
            tids, tidf = tids[order], tidf[order]
        else:
            delta = self._deltas()[4][-1 - text]
            tids, tidf = delta.ids, delta.idf
        if not tids.size or not mine.size:
            return ()
        at = np.searchsorted(tids, occ.ids[mine]).clip(0, tids.size - 1)
        shared = tids[at] == occ.ids[mine]
        if not shared.any():
            return ()
        start, end = occ.start[mine][shared], occ.start[mine][shared] + occ.length[mine][shared]
        weight = tidf[at[shared]]
        order = np.argsort(start, kind="stable")
        start, end, weight = start[order], end[order], weight[order]
        reach = np.maximum.accumulate(end)
        opens = np.ones(start.size, dtype=bool)  # a stretch starts where no earlier term reaches
        opens[1:] = start[1:] >= reach[:-1]
        heads = np.flatnonzero(opens)
        tails = np.append(heads[1:], start.size) - 1
        best = np.maximum.reduceat(weight, heads)
        rank = np.lexsort((start[heads], -(reach[tails] - start[heads]), -best))
        chosen: list[str] = []
        for i in rank.tolist():
            term = occ.joined[int(start[heads[i]]) : int(reach[tails[i]])]
            if term not in chosen:
                chosen.append(term)
            if len(chosen) == MAX_TERMS:
                break
        return tuple(chosen)


def _presence(owner: np.ndarray, col: np.ndarray, n: int, width: int, idf: np.ndarray) -> sparse.csr_matrix:
    """posts × terms, the term's idf where the post has it (once, however often it occurs)."""
    present = sparse.csr_matrix((np.ones(owner.size, dtype=np.float32), (owner, col)), shape=(n, width))
    present.sum_duplicates()
    present.data = np.asarray(idf)[present.indices].astype(np.float32)
    return present


def _distinct_per_owner(owner: np.ndarray, ids: np.ndarray, n: int) -> np.ndarray:
    """How many distinct ids each owner has."""
    if not ids.size:
        return np.zeros(n)
    with np.errstate(over="ignore"):
        keys = _mix(ids + owner.astype(np.uint64) * _SALT_WORD)  # an (owner, id) pair as one 64-bit hash
    _, first = np.unique(keys, return_index=True)
    return np.bincount(owner[first], minlength=n).astype(np.float64)


def _bound_scale(qnorm: np.ndarray, min_tnorm: float) -> np.ndarray:
    """Per post, the factor that turns P into an upper bound of its score with any text (`ClaimIndex._scored`)."""
    return (SCORE_WEIGHT / qnorm + (1.0 - SCORE_WEIGHT) / min_tnorm).astype(np.float32)


def _scaled_rows(matrix: sparse.csr_matrix, scale: np.ndarray) -> sparse.csr_matrix:
    data = (matrix.data * np.repeat(scale, np.diff(matrix.indptr))).astype(np.float32)
    return sparse.csr_matrix((data, matrix.indices, matrix.indptr), shape=matrix.shape)
