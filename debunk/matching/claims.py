"""The claim tier: rumor texts found in posts that reword them, by a char n-gram TF-IDF inverted index (pure: numpy
and scipy only, no Django).

The near-duplicate engine (MinHash LSH, `debunk.matching.index`) finds copies; a post that tells the same claim in
other words shares few of its 3-grams with the rumor, but it shares the claim's *distinctive* n-grams (names,
places, numbers, rare words). This index weighs n-grams by how rare they are, so a reworded post still scores.

Terms. A text is normalised (`normalize_text`: NFKC, lower case, Simplified Chinese, letters/digits/CJK only), with
whitespace kept as a word boundary. CJK runs (digits join them in a text that has CJK) give char 2- and 3-grams;
other runs (Latin etc.) are words: each word is a term, plus its char 3- to 5-grams. Every term is hashed to a
64-bit id (a polynomial hash over the code points, vectorised, then a splitmix64 finaliser); the vocabulary is the
sorted unique ids of the snapshot's texts.

Weights. IDF = ln((1 + N) / (1 + df)) + 1, with df counted over the stock's texts plus the `background` texts (recent
archive posts: boilerplate such as "新冠肺炎确诊病例" is common there, so it weighs little). A term whose df is above
MAX_DF_SHARE of N (and above MIN_PRUNE_DF texts) is pruned: it is neither indexed nor counted in a query (common
n-grams would make the posting lists long and the product a near-dense scan). A text's vector is sublinear TF
(1 + ln tf) × IDF, L2-normalised.

Search. The inverted index is a CSR matrix terms × texts; a batch of posts is one sparse product with it (cosine of
every post with every text sharing a term) plus one with the IDF-share matrix (containment: the IDF-weighted share
of the text's terms present in the post). The best text of each rumor stands for the rumor; the k best rumors are
returned. Terms unknown to the snapshot count in the post's norm at the IDF of an unseen term.

Score (what the per-label thresholds apply to): `SCORE_WEIGHT` × cosine + (1 − SCORE_WEIGHT) × containment.
Chosen by data: on claims_zh_checked (`manage.py eval_claims`, 5-fold CV over claim groups, thresholds for precision
≥ 0.95 chosen on training folds only) see `docs/architecture.md` and the eval's output; the variants tried are listed
at SCORE_WEIGHT below.

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

from debunk.matching.normalize import normalize_text

__all__ = ["ClaimEntry", "ClaimHit", "ClaimIndex", "terms_of"]

CJK_NGRAMS = (2,)
WORD_NGRAMS = (3, 4, 5)
MAX_DF_SHARE = 0.002  # terms in more than this share of the texts (stock + background) are pruned...
MIN_PRUNE_DF = 50  # ...when also in more than this many texts (a small index prunes nothing)
SCORE_WEIGHT = 0.5  # score = w × cosine + (1 - w) × containment
MAX_TERMS = 5  # evidence terms per hit
FORMAT = 1  # of the saved arrays
ARRAYS = (
    "entry_ids",
    "rumor_ids",
    "vocab",
    "idf",
    "inv_indptr",
    "inv_indices",
    "inv_cos",
    "inv_cont",
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
    owner, col, tf = owner[keep], col[keep], counts.data[keep]
    weight = (1.0 + np.log(tf)) * idf[col]
    norm = np.sqrt(np.bincount(owner, weights=weight**2, minlength=len(entries)))
    total = np.bincount(owner, weights=idf[col], minlength=len(entries))
    cos = weight / norm[owner] if owner.size else weight
    cont = idf[col] / total[owner] if owner.size else weight
    fwd_indptr = np.zeros(len(entries) + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=len(entries)), out=fwd_indptr[1:])
    order = np.argsort(col, kind="stable")  # the inverted index: the same cells by term, texts ascending
    inv_indptr = np.zeros(vocab.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(col, minlength=vocab.size), out=inv_indptr[1:])
    rumor_ids = np.array([e.rumor_id for e in entries], dtype=np.int64)
    return {
        "entry_ids": np.array(ids, dtype=np.int64),
        "rumor_ids": rumor_ids,
        "vocab": vocab.astype(np.uint64),
        "idf": np.where(pruned, 0.0, idf).astype(np.float32),  # 0 marks a pruned term
        "inv_indptr": inv_indptr,
        "inv_indices": owner[order].astype(np.int32),
        "inv_cos": cos[order].astype(np.float32),
        "inv_cont": cont[order].astype(np.float32),
        "fwd_indptr": fwd_indptr,
        "fwd_indices": col.astype(np.int32),
        "meta": np.array([n, FORMAT], dtype=np.int64),
    }


@dataclass
class _Delta:
    """An added text weighted with the snapshot's IDF."""

    entry: ClaimEntry
    ids: np.ndarray  # uint64 term ids, sorted
    cos: np.ndarray
    cont: np.ndarray
    idf: np.ndarray


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
        self._inv_cos = sparse.csr_matrix(
            (np.asarray(a["inv_cos"]), np.asarray(a["inv_indices"]), np.asarray(a["inv_indptr"])), shape=(terms, texts)
        )
        self._inv_cont = sparse.csr_matrix(
            (np.asarray(a["inv_cont"]), np.asarray(a["inv_indices"]), np.asarray(a["inv_indptr"])),
            shape=(terms, texts),
        )
        self._added: dict[int, _Delta] = {}
        self._removed: set[int] = set()  # snapshot entry ids removed or superseded
        self._dead: np.ndarray | None = None
        self._delta_matrix: tuple | None = None
        self._delta_idf = np.zeros(0)

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
        pos, known = _lookup(a["vocab"], terms.ids)
        idf = np.where(known, np.asarray(a["idf"])[pos] if known.any() else 0.0, self._unseen_idf).astype(np.float64)
        keep = idf > 0  # pruned terms stay out
        ids, tf, idf = terms.ids[keep], terms.tf[keep], idf[keep]
        weight = (1.0 + np.log(tf)) * idf
        norm = float(np.sqrt((weight**2).sum())) or 1.0
        total = float(idf.sum()) or 1.0
        self._removed.add(entry.entry_id)  # supersedes a snapshot text with its id, if any
        self._added[entry.entry_id] = _Delta(entry, ids, weight / norm, idf / total, idf)
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
        ids = np.asarray(self._a["entry_ids"])
        return int((~self._dead_rows()).sum()) + len(self._added) if ids.size or self._added else 0

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
            cos = np.concatenate([d.cos for d in deltas]).astype(np.float32) if deltas else np.empty(0, np.float32)
            cont = np.concatenate([d.cont for d in deltas]).astype(np.float32) if deltas else np.empty(0, np.float32)
            idf = np.zeros(vocab.size)
            if deltas:
                idf[col] = np.concatenate([d.idf for d in deltas])  # one IDF per term: the snapshot's
            self._delta_idf = idf
            self._delta_matrix = (
                vocab,
                sparse.csr_matrix((cos, (col, row)), shape=shape),
                sparse.csr_matrix((cont, (col, row)), shape=shape),
                np.array([d.entry.rumor_id for d in deltas], dtype=np.int64),
                deltas,
            )
        return self._delta_matrix

    # ---- search -----------------------------------------------------------------------------------------------
    def search(self, texts: list[str], *, k: int = 5, min_score: float = 0.0) -> list[list[ClaimHit]]:
        """For each text, the (at most k) rumors it may carry, best first: only hits scoring above min_score (the
        lowest threshold the caller acts on: most of the work on an unrelated post's weak hits is then skipped)."""
        out: list[list[ClaimHit]] = [[] for _ in texts]
        if not texts or k <= 0:
            return out
        a = self._a
        n = len(texts)
        occ = occurrences(texts)
        pos, known = _lookup(a["vocab"], occ.ids)
        idf = np.asarray(a["idf"])[pos] if known.any() else np.zeros(pos.size, dtype=np.float32)
        snap = known & (idf > 0)  # pruned terms count nowhere
        unknown = np.bincount(occ.owner[~known], minlength=n)
        counts = sparse.csr_matrix(
            (np.ones(int(snap.sum()), dtype=np.float32), (occ.owner[snap], pos[snap])), shape=(n, len(a["vocab"]))
        )
        counts.sum_duplicates()
        rows = np.repeat(np.arange(n), np.diff(counts.indptr))
        weight = (1.0 + np.log(counts.data)) * np.asarray(a["idf"])[counts.indices]
        # a term the snapshot never saw counts in the norm at the unseen-term IDF, each occurrence as its own term
        norm = np.sqrt(np.bincount(rows, weights=weight**2, minlength=n) + unknown * self._unseen_idf**2)
        norm[norm == 0] = 1.0

        parts = []
        if counts.nnz and len(a["entry_ids"]):
            qc = sparse.csr_matrix(
                ((weight / norm[rows]).astype(np.float32), counts.indices, counts.indptr), counts.shape
            )
            qb = sparse.csr_matrix((np.ones(counts.nnz, np.float32), counts.indices, counts.indptr), counts.shape)
            parts.append(self._scored(qc @ self._inv_cos, qb @ self._inv_cont, min_score, None))
        if self._added:
            dvocab, dcos, dcont, drumors, _ = self._deltas()
            live = ~known | snap
            dpos, dknown = _lookup(dvocab, occ.ids)
            dknown &= live
            if dknown.any():
                dcounts = sparse.csr_matrix(
                    (np.ones(int(dknown.sum()), dtype=np.float32), (occ.owner[dknown], dpos[dknown])),
                    shape=(n, dvocab.size),
                )
                dcounts.sum_duplicates()
                drows = np.repeat(np.arange(n), np.diff(dcounts.indptr))
                didf = self._delta_idf[dcounts.indices]
                dweight = (1.0 + np.log(dcounts.data)) * didf / norm[drows]
                qc = sparse.csr_matrix((dweight.astype(np.float32), dcounts.indices, dcounts.indptr), dcounts.shape)
                qb = sparse.csr_matrix((np.ones(dcounts.nnz, np.float32), dcounts.indices, dcounts.indptr), qc.shape)
                parts.append(self._scored(qc @ dcos, qb @ dcont, min_score, drumors))
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
        by_owner = np.argsort(occ.owner, kind="stable")
        bounds = np.searchsorted(occ.owner[by_owner], np.arange(n + 1))
        for q_i, t_i, c, r, s in zip(
            qi.tolist(), ti.tolist(), ct.tolist(), rumor.tolist(), score.tolist(), strict=True
        ):
            mine = by_owner[bounds[q_i] : bounds[q_i + 1]]
            out[q_i].append(ClaimHit(r, float(s), float(c), self._evidence(occ, mine, t_i)))
        return out

    def _scored(self, cos: sparse.csr_matrix, cont: sparse.csr_matrix, min_score: float, rumors: np.ndarray | None):
        """(query, text, containment, rumor, score) of the product cells scoring above min_score; delta texts are
        numbered -1, -2, … (rumors given), snapshot texts from 0 with the removed ones left out."""
        if not (np.array_equal(cos.indptr, cont.indptr) and np.array_equal(cos.indices, cont.indices)):
            cos.sort_indices()  # the same sparsity: equal once both are in order
            cont.sort_indices()
        cv = np.minimum(cos.data, 1.0)
        ct = np.minimum(cont.data, 1.0)
        score = _score(cv.astype(np.float64), ct.astype(np.float64))
        keep = score > min_score
        qi = np.repeat(np.arange(cos.shape[0]), np.diff(cos.indptr))[keep]
        ti = cos.indices[keep].astype(np.int64)
        ct, score = ct[keep].astype(np.float64), score[keep]
        if rumors is not None:
            return qi, -1 - ti, ct, rumors[ti], score
        dead = self._dead_rows()
        if dead.any():
            alive = ~dead[ti]
            qi, ti, ct, score = qi[alive], ti[alive], ct[alive], score[alive]
        return qi, ti, ct, np.asarray(self._a["rumor_ids"])[ti], score

    def _evidence(self, occ: _Occurrences, mine: np.ndarray, text: int) -> tuple[str, ...]:
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
        spans: list[list[float]] = []
        for s_, e_, w_ in zip(start.tolist(), end.tolist(), weight.tolist(), strict=True):
            if spans and s_ < spans[-1][1]:  # overlapping terms make one stretch
                spans[-1][1] = max(spans[-1][1], e_)
                spans[-1][2] = max(spans[-1][2], w_)
            else:
                spans.append([s_, e_, w_])
        chosen: list[str] = []
        for s_, e_, _ in sorted(spans, key=lambda x: (-x[2], -(x[1] - x[0]), x[0])):
            term = occ.joined[int(s_) : int(e_)]
            if term not in chosen:
                chosen.append(term)
            if len(chosen) == MAX_TERMS:
                break
        return tuple(chosen)
