"""The match benchmark's parts: a Chinese corpus, the project's core and datasketch's defaults measured
on the same queries, exact brute force for recall/precision, and index memory.

Everything runs in one process and one run, so the ratios hold on a noisy machine.
"""

import json
import random
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from debunk.matching.fingerprint import SHINGLE_SIZE, SHORT_TEXT, fingerprint
from debunk.matching.index import Entry, MatchIndex
from debunk.matching.matcher import score_batch, score_text
from debunk.matching.normalize import normalize

if TYPE_CHECKING:
    from debunk.matching.claims import ClaimIndex

NOISE = "，。！？、…# 😂🙏[蜡烛]"


def jieba_words() -> tuple[list[str], np.ndarray]:
    """Words and their frequencies from jieba's dictionary (a dev dependency)."""
    import jieba

    words, freqs = [], []
    with open(Path(jieba.__file__).with_name("dict.txt"), encoding="utf-8") as fh:
        for line in fh:
            word, freq, *_ = line.split()
            if all("\u4e00" <= ch <= "\u9fff" for ch in word):
                words.append(word)
                freqs.append(int(freq))
    p = np.array(freqs, dtype=np.float64)
    return words, p / p.sum()


class Corpus:
    """Synthetic posts drawn word by word from jieba's frequencies, plus real texts when available."""

    def __init__(self, seed: int = 20261121) -> None:
        self.words, p = jieba_words()
        self.cdf = np.cumsum(p)
        self.rng = np.random.default_rng(seed)
        self.pyrng = random.Random(seed)
        self._stream: list[str] = []

    def _word(self) -> str:
        if not self._stream:
            picks = np.searchsorted(self.cdf, self.rng.random(65536) * self.cdf[-1])
            self._stream = [self.words[i] for i in picks.tolist()]
        return self._stream.pop()

    def post(self, length: int) -> str:
        out: list[str] = []
        size = 0
        while size < length:
            word = self._word()
            out.append(word)
            size += len(word)
        return "".join(out)[:length]

    def posts(self, count: int, low: int = 40, high: int = 200) -> list[str]:
        return [self.post(self.pyrng.randint(low, high)) for _ in range(count)]

    def edit(self, text: str, rate: float) -> str:
        """Substitute, insert or delete about `rate` of the characters, and sprinkle punctuation/emoji."""
        chars = list(text)
        for _ in range(max(0, round(len(chars) * rate))):
            op = self.pyrng.random()
            pos = self.pyrng.randrange(len(chars)) if chars else 0
            if op < 0.5 and chars:
                chars[pos] = self.post(1)
            elif op < 0.75:
                chars.insert(pos, self.post(1))
            elif chars:
                del chars[pos]
        for _ in range(self.pyrng.randint(0, 4)):
            chars.insert(self.pyrng.randrange(len(chars) + 1), self.pyrng.choice(NOISE))
        return "".join(chars)


def real_texts(datasets: Path) -> list[str]:
    """Rumor texts from ../shared/datasets (read, never copied), when present."""
    texts: list[str] = []
    for name, keys in (("repost_pairs.jsonl", ("rumor_text",)), ("claims_zh_checked.jsonl", ("text",))):
        path = datasets / name
        if path.exists():
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    record = json.loads(line)
                    texts.extend(record[k] for k in keys if record.get(k))
    return texts


@dataclass
class Prepared:
    texts: list[str]
    normalized: list[str]
    entries: list[Entry]


def prepare(texts: list[str]) -> Prepared:
    normalized = [normalize(t).text for t in texts]
    entries = []
    for i, text in enumerate(normalized):
        fp = fingerprint(text)
        entries.append(Entry(i, i, fp.shingles, fp.signature, fp.exact))
    return Prepared(texts, normalized, entries)


def timed(fn: Callable[[str], object], queries: list[str]) -> tuple[list[object], np.ndarray]:
    results, latencies = [], np.empty(len(queries))
    for i, q in enumerate(queries):
        started = time.perf_counter()
        results.append(fn(q))
        latencies[i] = time.perf_counter() - started
    return results, latencies


def project_core(index: MatchIndex) -> Callable[[str], list]:
    return lambda text: score_text(index, text, min_score=0.7)


def batch_seconds(index: MatchIndex, queries: list[str], size: int = 100, min_score: float = 0.7) -> float:
    """Seconds the project's batch path (what /match/batch runs) takes for all queries, `size` at a time."""
    started = time.perf_counter()
    for i in range(0, len(queries), size):
        score_batch(index, queries[i : i + size], min_score=min_score)
    return time.perf_counter() - started


def datasketch_baseline(normalized: list[str]) -> tuple[Callable[[str], list], float]:
    """datasketch with its defaults: MinHash() + update_batch (SHA-1) and MinHashLSH(threshold=0.7).

    Returns the query function and the bytes Python allocated for the LSH structures.
    """
    from datasketch import LeanMinHash, MinHash, MinHashLSH

    def minhash_of(text: str) -> MinHash:
        m = MinHash()
        m.update_batch([text[i : i + SHINGLE_SIZE].encode("utf-8") for i in range(len(text) - SHINGLE_SIZE + 1)])
        return m

    signatures = [LeanMinHash(minhash_of(t)) for t in normalized]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    lsh = MinHashLSH(threshold=0.7)
    with lsh.insertion_session() as session:
        for i, m in enumerate(signatures):
            session.insert(i, m, check_duplication=False)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return (lambda text: lsh.query(minhash_of(normalize(text).text))), used


def exact_pairs(stock: list[Entry], queries: list[str], threshold: float = 0.7) -> list[set[int]]:
    """Brute force: for each query, every stock entry with exact Jaccard ≥ threshold (sparse products).

    Texts under SHORT_TEXT normalised characters match by exact hash only (by design), so pairs
    involving them are not counted here."""
    vocab: dict[int, int] = {}

    def matrix(sets: list[np.ndarray]) -> sparse.csr_matrix:
        rows, cols = [], []
        for r, s in enumerate(sets):
            for h in s.tolist():
                cols.append(vocab.setdefault(h, len(vocab)))
                rows.append(r)
        return sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(sets), 1 << 26))

    stock_sets = [e.shingles for e in stock]
    query_sets = [fingerprint(normalize(q).text).shingles for q in queries]
    s = matrix(stock_sets)
    q = matrix(query_sets)
    inter = (q @ s.T).tocoo()
    sizes_s = np.array([len(x) for x in stock_sets])
    sizes_q = np.array([len(x) for x in query_sets])
    truth: list[set[int]] = [set() for _ in queries]
    union = sizes_q[inter.row] + sizes_s[inter.col] - inter.data
    keep = inter.data / np.maximum(union, 1) >= threshold
    for r, c in zip(inter.row[keep].tolist(), inter.col[keep].tolist(), strict=True):
        if stock[c].signature is not None and len(normalize(queries[r]).text) >= SHORT_TEXT:
            truth[r].add(stock[c].fp_id)
    return truth


def recall_precision(found: list[set[int]], truth: list[set[int]]) -> tuple[float, float]:
    tp = sum(len(f & t) for f, t in zip(found, truth, strict=True))
    reported = sum(len(f) for f in found)
    relevant = sum(len(t) for t in truth)
    return (tp / relevant if relevant else 1.0), (tp / reported if reported else 1.0)


def containment_cases(corpus: Corpus, stock: Prepared, count: int) -> Iterator[tuple[str, int]]:
    """100-character rumors from the stock placed inside 400-character posts."""
    candidates = [i for i, t in enumerate(stock.normalized) if 95 <= len(t) <= 105]
    for _ in range(count):
        i = corpus.pyrng.choice(candidates)
        before = corpus.post(corpus.pyrng.randint(50, 250))
        yield before + stock.texts[i] + corpus.post(300 - len(before)), i


def make_queries(corpus: Corpus, stock: Prepared, count: int) -> list[str]:
    """Half edited copies of stored texts (0–20% of characters changed), a quarter unrelated posts,
    a quarter stored texts with a comment added."""
    rng = corpus.pyrng
    out = []
    for i in range(count):
        source = stock.texts[rng.randrange(len(stock.texts))]
        if i % 4 < 2:
            out.append(corpus.edit(source, rng.uniform(0, 0.2)))
        elif i % 4 == 2:
            out.append(corpus.post(rng.randint(40, 200)))
        else:
            out.append(corpus.post(rng.randint(5, 30)) + "//@某用户:" + source)
    return out


def build_claim_index(texts: list[str]) -> "ClaimIndex":
    """The claim tier's index on the same stock (entry id = rumor id = position, as the text index has them)."""
    from debunk.matching.claims import ClaimEntry, ClaimIndex

    return ClaimIndex([ClaimEntry(i, i, t) for i, t in enumerate(texts)])


def undecided(found: list, auto: float = 0.7, review: float = 0.5, c_auto: float = 0.8, c_review: float = 0.6) -> bool:
    """Whether a post goes on to the claim tier, as debunk.matching.claim_decisions.needs_search has it with the
    default thresholds: no near-duplicate candidate is confident on similarity alone, or one rests on containment
    alone."""

    def level(similarity: float, containment: float) -> int:
        return (
            2
            if similarity >= auto or containment >= c_auto
            else 1
            if similarity >= review or containment >= c_review
            else 0
        )

    confident = False
    for s in found:
        if level(s.similarity, s.containment) > level(s.similarity, 0.0):
            return True
        confident = confident or level(s.similarity, 0.0) == 2
    return not confident


CLAIM_FLOOR = 0.2  # the lowest claim threshold assumed acted on (labels default to 0.45; calibrated ones go lower)


def batch_seconds_with_claims(
    index: MatchIndex, claims: "ClaimIndex", queries: list[str], size: int = 100, min_score: float = CLAIM_FLOOR
) -> tuple[float, int]:
    """Seconds the near-duplicate batch path plus the claim tier on the posts it did not decide take for all
    queries, `size` at a time; and how many posts went to the claim tier. The claim search skips hits under
    `min_score`, as the match path skips those under the lowest threshold a label acts on
    (claim_decisions.score_floor)."""
    searched = 0
    started = time.perf_counter()
    for i in range(0, len(queries), size):
        chunk = queries[i : i + size]
        found = score_batch(index, chunk, min_score=0.3)
        rest = [q for q, f in zip(chunk, found, strict=True) if undecided(f)]
        if rest:
            claims.search(rest, k=5, min_score=min_score)
            searched += len(rest)
    return time.perf_counter() - started, searched
