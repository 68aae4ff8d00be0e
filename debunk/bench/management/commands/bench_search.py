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
        self.print_figures(figures)


def backend_cursor(alias: str):
    from django.db import connections

    return connections[alias].cursor()
