"""The default backend: an inverted index in the project's database (SQLite or PostgreSQL), portable SQL only.

Terms come from search.analysis (CJK bigrams, stemmed English words) and are stored as 64-bit hashes. Each posting
holds the term's BM25 weight in its rumor, with the fields folded into one BM25F-style pseudo-field (claim and debunk
titles weigh more than the body, FIELD_BOOSTS); the idf is applied at query time from live document frequencies,
so adding a rumor never rewrites other rows. A query is one aggregate over the covering index:
``WHERE term IN (…) GROUP BY rumor HAVING COUNT(*) >= required ORDER BY debunked, score``.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import islice

import numpy as np
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Avg

from search.analysis import is_cjk_char, query_terms, terms
from search.backends.base import (
    BackendHit,
    BackendResult,
    ProgressCallback,
    RumorDocument,
    SearchBackend,
    SearchQuery,
    required_terms,
)
from search.highlight import highlight
from search.models import IndexedRumor, Posting

FIELD_BOOSTS = {"claim": 1.0, "title": 1.0, "body": 0.4}
K1, B = 1.2, 0.75
CHUNK = 500  # rows or parameters per statement, well under SQLite's and PostgreSQL's limits
DOC_COUNT_SECONDS = 30.0  # how long the document count used for idf is reused
COMMON_TERM_SHARE = 0.1  # see common_terms
COMMON_TERMS_KEPT = 2
COMMON_TERM_MIN_DOCS = 1000  # below this every term counts (small stocks, tests)
HIGHLIGHT_CHARS = {"claim": 200, "title": 120, "body": 160}


class _TermHashes(dict):
    """term → a stable signed 64-bit hash (collisions are negligible at the index's size), memoised."""

    __slots__ = ()

    def __missing__(self, term: str) -> int:
        value = int.from_bytes(hashlib.blake2b(term.encode(), digest_size=8).digest(), "little", signed=True)
        if len(self) < 1 << 21:
            self[term] = value
        return value


_HASHES = _TermHashes()


def term_hash(term: str) -> int:
    return _HASHES[term]


def _chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _analyse(doc: RumorDocument) -> tuple[Counter[str], float]:
    """Boosted term frequencies and the boosted length of a document."""
    tf: Counter[str] = Counter()
    length = 0.0
    for name, boost in FIELD_BOOSTS.items():
        field_terms = terms(getattr(doc, name))
        length += boost * len(field_terms)
        for term, count in Counter(field_terms).items():
            tf[term] += boost * count
    return tf, length


def _weights(freqs: np.ndarray, lengths: np.ndarray, avg_length: float) -> np.ndarray:
    """BM25's saturated term frequency for each (boosted) frequency, given its document's boosted length."""
    norm = K1 * (1 - B + B * lengths / avg_length) if avg_length > 0 else np.full_like(lengths, K1)
    return freqs * (K1 + 1) / (freqs + norm)


def inverse_document_frequency(n: int, df: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def common_terms(hashes: list[int], df: dict[int, int], n: int) -> set[int]:
    """Terms found in more than COMMON_TERM_SHARE of the documents (网传, 谣言 in a debunk stock): left out of the
    query, like stop words, as long as a rarer term remains; with only common terms, the COMMON_TERMS_KEPT rarest
    are kept. Scanning their postings would cost most of a query's time and they barely change the ranking."""
    if n < COMMON_TERM_MIN_DOCS:
        return set()
    common = {h for h in hashes if df.get(h, 0) > COMMON_TERM_SHARE * n}
    if len(common) == len(hashes):
        common -= set(sorted(common, key=lambda h: df[h])[:COMMON_TERMS_KEPT])
    return common


class DatabaseBackend(SearchBackend):
    """Search in the project's database (`using` picks another connection, for evaluation and benchmarks)."""

    def __init__(self, using: str = DEFAULT_DB_ALIAS) -> None:
        self.using = using
        self._doc_count: tuple[float, int] | None = None

    # --- writing ------------------------------------------------------------------------------------------------

    def _average_length(self) -> float:
        return IndexedRumor.objects.using(self.using).aggregate(avg=Avg("length"))["avg"] or 0.0

    def _remove_postings(self, rumor_ids: list[int]) -> None:
        cursor_sql = f"DELETE FROM {Posting._meta.db_table} WHERE rumor_id = %s AND term IN ({{}})"
        stored = IndexedRumor.objects.using(self.using).filter(rumor_id__in=rumor_ids).values_list("rumor_id", "terms")
        with connections[self.using].cursor() as cursor:
            for rumor_id, blob in stored:
                hashes = np.frombuffer(bytes(blob), dtype="<i8").tolist()
                for part in _chunks(hashes):
                    cursor.execute(cursor_sql.format(", ".join(["%s"] * len(part))), [rumor_id, *part])

    def _write(self, analysed: list[tuple[RumorDocument, Counter[str], float]], avg_length: float) -> int:
        hashes = _HASHES
        term_lists = [[hashes[term] for term in tf] for _, tf, _ in analysed]
        sizes = np.array([len(t) for t in term_lists], dtype=np.int64)
        term_column = np.fromiter((h for t in term_lists for h in t), dtype=np.int64, count=int(sizes.sum()))
        freqs = np.fromiter((f for _, tf, _ in analysed for f in tf.values()), dtype=np.float64, count=len(term_column))
        rumor_column = np.repeat(np.array([doc.rumor_id for doc, _, _ in analysed], dtype=np.int64), sizes)
        lengths = np.repeat(np.array([length for _, _, length in analysed]), sizes)
        weight_column = _weights(freqs, lengths, avg_length or float(lengths.mean() if len(lengths) else 0))
        indexed = [
            IndexedRumor(
                rumor_id=doc.rumor_id,
                claim=doc.claim,
                title=doc.title,
                body=doc.body,
                category_id=doc.category_id,
                verdict=doc.verdict,
                published_at=doc.published_at,
                has_debunk=doc.has_debunk,
                length=length,
                terms=np.asarray(terms, dtype="<i8").tobytes(),
            )
            for (doc, _, length), terms in zip(analysed, term_lists, strict=True)
        ]
        order = np.lexsort((rumor_column, term_column))  # inserting in index order keeps B-tree writes local
        rows = zip(
            term_column[order].tolist(), rumor_column[order].tolist(), weight_column[order].tolist(), strict=True
        )
        IndexedRumor.objects.using(self.using).bulk_create(indexed, batch_size=CHUNK)
        table = Posting._meta.db_table
        with connections[self.using].cursor() as cursor:
            cursor.executemany(f"INSERT INTO {table} (term, rumor_id, weight) VALUES (%s, %s, %s)", rows)
        return len(indexed)

    def index(self, documents: Iterable[RumorDocument]) -> int:
        docs = list({doc.rumor_id: doc for doc in documents}.values())
        if not docs:
            return 0
        ids = [doc.rumor_id for doc in docs]
        with transaction.atomic(using=self.using):
            self._remove_postings(ids)
            IndexedRumor.objects.using(self.using).filter(rumor_id__in=ids).delete()
            written = self._write([(doc, *_analyse(doc)) for doc in docs], self._average_length())
        self._doc_count = None
        return written

    def delete(self, rumor_ids: Iterable[int]) -> None:
        ids = list(rumor_ids)
        with transaction.atomic(using=self.using):
            for part in _chunks(ids):
                self._remove_postings(part)
                IndexedRumor.objects.using(self.using).filter(rumor_id__in=part).delete()
        self._doc_count = None

    def rebuild(self, documents: Iterable[RumorDocument], *, progress: ProgressCallback | None = None) -> int:
        """One transaction: readers see the old index until it commits. The average length, which BM25 needs
        before weighting, is taken from the first batch."""
        iterator = iter(documents)
        written = 0
        with transaction.atomic(using=self.using):
            with connections[self.using].cursor() as cursor:
                cursor.execute(f"DELETE FROM {Posting._meta.db_table}")
                cursor.execute(f"DELETE FROM {IndexedRumor._meta.db_table}")
            avg_length = 0.0
            while batch := list(islice(iterator, 2000)):
                analysed = [(doc, *_analyse(doc)) for doc in {d.rumor_id: d for d in batch}.values()]
                avg_length = avg_length or sum(length for _, _, length in analysed) / len(analysed)
                written += self._write(analysed, avg_length)
                if progress:
                    progress(len(batch))
        self._doc_count = None
        return written

    # --- reading ------------------------------------------------------------------------------------------------

    def count(self) -> int:
        return IndexedRumor.objects.using(self.using).count()

    def _document_count(self) -> int:
        now = time.monotonic()
        if self._doc_count is None or now - self._doc_count[0] > DOC_COUNT_SECONDS:
            self._doc_count = (now, self.count())
        return self._doc_count[1]

    def _filters(self, query: SearchQuery) -> tuple[list[str], list[object]]:
        where: list[str] = []
        params: list[object] = []
        if query.category_ids is not None:
            ids = list(query.category_ids) or [None]
            where.append(f"d.category_id IN ({', '.join(['%s'] * len(ids))})")
            params.extend(ids)
        if query.verdict:
            where.append("d.verdict = %s")
            params.append(query.verdict)
        adapt = connections[self.using].ops.adapt_datetimefield_value  # raw SQL: SQLite stores naive UTC text
        if query.published_from:
            where.append("d.published_at >= %s")
            params.append(adapt(query.published_from))
        if query.published_before:
            where.append("d.published_at < %s")
            params.append(adapt(query.published_before))
        if query.debunked_only:
            where.append("d.has_debunk = %s")
            params.append(True)
        return where, params

    def search(self, query: SearchQuery) -> BackendResult:
        words = query_terms(query.text)  # distinct: a repeated query word does not weigh more (it did worse)
        if not words or query.limit <= 0:
            return BackendResult([], 0)
        if len(words) == 1 and is_cjk_char(words[0]):
            return self._search_character(query, words[0])
        hashes = [term_hash(w) for w in words]
        posting = Posting._meta.db_table
        with connections[self.using].cursor() as cursor:
            cursor.execute(
                f"SELECT term, COUNT(*) FROM {posting} WHERE term IN ({', '.join(['%s'] * len(hashes))}) GROUP BY term",
                hashes,
            )
            df = dict(cursor.fetchall())
            n = max(self._document_count(), 1)
            common = common_terms(hashes, df, n)
            counted = [h for h in hashes if h not in common]
            required = required_terms(len(counted), query.min_coverage)
            present = [h for h in counted if h in df]
            if not present or len(present) < required:
                return BackendResult([], 0)
            sql, params = self._scoring_sql(query, {h: inverse_document_frequency(n, df[h]) for h in present}, required)
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        total = rows[0][2] if rows else 0
        if not rows and query.offset:
            total = self.search(SearchQuery(**{**query.__dict__, "offset": 0, "limit": 1, "highlight": False})).total
        highlights = self._highlights([r[0] for r in rows], set(words)) if query.highlight else {}
        hits = [BackendHit(int(r[0]), float(r[1]), highlights.get(r[0], {})) for r in rows]
        return BackendResult(hits, int(total))

    def _scoring_sql(self, query: SearchQuery, idf: dict[int, float], required: int) -> tuple[str, list[object]]:
        """One statement: postings of the terms → per-rumor score and term count → filters → debunked first, by
        score. Documents are looked up by id sets, not joined row by row: the grouped rows can be tens of thousands."""
        posting, document = Posting._meta.db_table, IndexedRumor._meta.db_table
        case = " ".join("WHEN %s THEN %s" for _ in idf)
        where, filter_params = self._filters(query)
        sql = (
            f"SELECT g.rumor_id, g.score, COUNT(*) OVER () FROM ("
            f" SELECT p.rumor_id AS rumor_id, SUM(p.weight * CASE p.term {case} ELSE 0 END) AS score"
            f" FROM {posting} p WHERE p.term IN ({', '.join(['%s'] * len(idf))})"
            f" GROUP BY p.rumor_id HAVING COUNT(*) >= %s) g"
            + (
                f" WHERE g.rumor_id IN (SELECT d.rumor_id FROM {document} d WHERE {' AND '.join(where)})"
                if where
                else ""
            )
            + f" ORDER BY CASE WHEN g.rumor_id IN (SELECT u.rumor_id FROM {document} u WHERE u.has_debunk = %s)"
            " THEN 1 ELSE 0 END, g.score DESC, g.rumor_id LIMIT %s OFFSET %s"
        )
        params: list[object] = [x for h, value in idf.items() for x in (h, value)]
        params += [*idf, required, *filter_params, False, query.limit, query.offset]
        return sql, params

    def _search_character(self, query: SearchQuery, char: str) -> BackendResult:
        """A one-character query has no bigram to look up: claims and titles holding the character, newest first
        (a scan, fine for a rare kind of query)."""
        document = IndexedRumor._meta.db_table
        where, params = self._filters(query)
        like = f"%{char}%"
        sql = (
            f"SELECT d.rumor_id, COUNT(*) OVER () FROM {document} d WHERE (d.claim LIKE %s OR d.title LIKE %s)"
            + "".join(f" AND {w}" for w in where)
            + " ORDER BY d.has_debunk DESC, d.published_at DESC, d.rumor_id DESC LIMIT %s OFFSET %s"
        )
        with connections[self.using].cursor() as cursor:
            cursor.execute(sql, [like, like, *params, query.limit, query.offset])
            rows = cursor.fetchall()
        total = rows[0][1] if rows else 0
        if not rows and query.offset:
            total = self._search_character(SearchQuery(**{**query.__dict__, "offset": 0, "limit": 1}), char).total
        highlights = self._highlights([r[0] for r in rows], {char}) if query.highlight else {}
        return BackendResult([BackendHit(int(r[0]), 1.0, highlights.get(r[0], {})) for r in rows], int(total))

    def _highlights(self, rumor_ids: list[int], words: set[str]) -> dict[int, dict[str, str]]:
        out: dict[int, dict[str, str]] = {}
        texts = (
            IndexedRumor.objects.using(self.using)
            .filter(rumor_id__in=rumor_ids)
            .values_list("rumor_id", "claim", "title", "body")
        )
        for rumor_id, *fields in texts:
            marked = {}
            for name, text in zip(("claim", "title", "body"), fields, strict=True):
                snippet = highlight(text, words, max_chars=HIGHLIGHT_CHARS[name]) if text else None
                if snippet:
                    marked[name] = snippet
            out[rumor_id] = marked
        return out
