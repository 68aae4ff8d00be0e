import gc
import statistics
import time
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from debunk.bench import matching as bm
from debunk.bench.figures import FiguresCommand
from debunk.matching.index import MatchIndex

CLAIM_ROUNDS = 3


class Command(FiguresCommand):
    help = "Benchmark matching: the project's core against datasketch defaults, exact recall/precision, memory, HTTP."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rumors", type=int, default=100_000, help="Stored fingerprints (default 100,000).")
        parser.add_argument("--queries", type=int, default=2_000, help="Posts matched (default 2,000).")
        parser.add_argument(
            "--datasets",
            default=str(Path(settings.BASE_DIR).parent / "shared" / "datasets"),
            help="Where real rumor texts are read from when present.",
        )
        parser.add_argument("--no-http", action="store_true", help="Skip the gunicorn measurements.")
        parser.add_argument(
            "--no-claims",
            action="store_true",
            help="Skip the claim tier: its cost in the core, and it is off (CLAIM_MATCHING=0) in the HTTP server.",
        )
        parser.add_argument(
            "--stacks",
            default="sqlite",
            help="Comma-separated stacks gunicorn serves the HTTP measurements from, one after the other in this run: "
            "sqlite (embedded, http_* figures) and/or postgres (PostgreSQL + Redis as `make stack` starts them, "
            "pg_http_* figures). Default: sqlite.",
        )
        parser.add_argument(
            "--no-counting",
            action="store_true",
            help="Skip the interception counts' cost (counting_* figures: HTTP batch rounds against a second server "
            "with WARNING_COUNTING=0).",
        )
        parser.add_argument(
            "--no-baseline",
            action="store_true",
            help="Skip datasketch (speed and memory): at 1,000,000 fingerprints its LSH, measured under tracemalloc, "
            "took most of a 24 GB machine.",
        )
        super().add_arguments(parser)

    def handle(self, *args, **opts) -> None:
        from debunk.bench.http_match import BACKENDS

        stacks = [s.strip() for s in opts["stacks"].split(",") if s.strip()]
        unknown = sorted(set(stacks) - set(BACKENDS)) or ([] if stacks else ["(none)"])
        if unknown:
            raise CommandError(f"--stacks: unknown stack {', '.join(unknown)}; choose from {', '.join(BACKENDS)}.")
        figures: dict[str, float | int | str] = {}
        corpus = bm.Corpus()
        started = time.perf_counter()
        real = bm.real_texts(Path(opts["datasets"]))[: opts["rumors"] // 5]
        texts = real + corpus.posts(opts["rumors"] - len(real))
        seconds = time.perf_counter() - started
        self.say(f"stock: {len(real)} real texts + {len(texts) - len(real)} synthetic ({seconds:.1f} s)")
        started = time.perf_counter()
        stock = bm.prepare(texts)
        index = MatchIndex(stock.entries)
        figures["stored_fingerprints"] = len(index)
        queries = bm.make_queries(corpus, stock, opts["queries"])
        self.say(f"stock: fingerprinted and indexed ({time.perf_counter() - started:.1f} s)")

        core = bm.project_core(index)
        baseline, ds_bytes = None, 0.0
        if not opts["no_baseline"]:
            started = time.perf_counter()
            baseline, ds_bytes = bm.datasketch_baseline(stock.normalized)
            self.say(f"baseline: datasketch's MinHashLSH built ({time.perf_counter() - started:.1f} s)")
        # The stock, both indexes and their millions of objects stay alive to the end: out of the cyclic collector's
        # sight, as a serving process keeps its index (serving.py), so that no full collection (long, with so many
        # objects) lands in one side's timing and not the other's.
        gc.collect()
        gc.freeze()
        bm.timed(core, queries[:50])  # warm-up
        core_results, core_lat = bm.timed(core, queries)
        batch_seconds = bm.batch_seconds(index, queries, size=100)
        figures["core_posts_per_s"] = round(len(queries) / batch_seconds, 1)
        figures["core_single_posts_per_s"] = round(len(queries) / core_lat.sum(), 1)
        if baseline is not None:
            bm.timed(baseline, queries[:50])
            base_results, base_lat = bm.timed(baseline, queries)
            figures["baseline_posts_per_s"] = round(len(queries) / base_lat.sum(), 1)
            figures["core_speedup"] = round(base_lat.sum() / batch_seconds, 2)
            figures["core_single_speedup"] = round(base_lat.sum() / core_lat.sum(), 2)
        figures["p50_us"] = round(float(np.percentile(core_lat, 50)) * 1e6, 1)
        figures["p99_us"] = round(float(np.percentile(core_lat, 99)) * 1e6, 1)
        self.say(f"core: {figures['core_posts_per_s']} posts/s; brute-force Jaccard for recall and precision next")

        if not opts["no_claims"]:
            figures.update(self._claim_tier(texts, index, queries))

        # Recall/precision at exact Jaccard ≥ 0.7 of the whole post, so repost-chain queries (which the
        # project matches by their segments on purpose) are left out of this figure.
        plain = [i for i, q in enumerate(queries) if "//@" not in q]
        truth = bm.exact_pairs(stock.entries, [queries[i] for i in plain])
        long_ids = {e.fp_id for e in stock.entries if e.signature is not None}
        found = [{s.fp_id for s in core_results[i] if s.similarity >= 0.7} & long_ids for i in plain]
        figures["recall"], figures["precision"] = (round(x, 4) for x in bm.recall_precision(found, truth))
        if baseline is not None:
            base_found = [set(base_results[i]) & long_ids for i in plain]
            figures["baseline_recall"], figures["baseline_precision"] = (
                round(x, 4) for x in bm.recall_precision(base_found, truth)
            )
        figures["true_pairs"] = sum(len(t) for t in truth)

        cases = list(bm.containment_cases(corpus, stock, min(500, opts["queries"])))
        hits = sum(
            any(s.rumor_id == i and s.containment >= settings.MATCH_CONTAINMENT_AUTO for s in core(post))
            for post, i in cases
        )
        figures["containment_recall"] = round(hits / len(cases), 4)

        figures["index_bytes_per_fp"] = round(index.nbytes() / len(index), 1)
        if baseline is not None:
            figures["datasketch_bytes_per_fp"] = round(ds_bytes / len(index), 1)
            figures["memory_ratio"] = round(figures["index_bytes_per_fp"] / figures["datasketch_bytes_per_fp"], 3)

        if not opts["no_http"]:
            from debunk.bench.http_match import http_figures

            for stack in stacks:
                prefix = "" if stack == "sqlite" else "pg_"
                measured = http_figures(
                    stock,
                    queries,
                    say=lambda m, s=stack: self.say(f"[{s}] {m}"),
                    backend=stack,
                    claims=not opts["no_claims"],
                    counting=not opts["no_counting"],
                )
                figures.update({f"{prefix}{k}": v for k, v in measured.items()})
        self.print_figures(figures)

    def _claim_tier(self, texts: list[str], index: MatchIndex, queries: list[str]) -> dict[str, float | int]:
        """The claim tier's cost in the core, in this run: the near-duplicate batch path alone (at the score floor
        the match path uses) against the same plus the claim tier's search of the posts it left undecided,
        alternated CLAIM_ROUNDS times (medians), on the same stock and queries."""
        figures: dict[str, float | int] = {}
        started = time.perf_counter()
        claims = bm.build_claim_index(texts)
        figures["claim_index_build_s"] = round(time.perf_counter() - started, 1)
        figures["claim_index_bytes_per_entry"] = round(claims.nbytes() / len(texts), 1)
        self.say(f"claims: index of {len(texts)} texts built ({figures['claim_index_build_s']} s)")
        gc.collect()
        gc.freeze()
        bm.batch_seconds_with_claims(index, claims, queries[:200])  # warm-up
        alone, both, searched = [], [], 0
        for _ in range(CLAIM_ROUNDS):
            alone.append(bm.batch_seconds(index, queries, size=100, min_score=0.3))
            seconds, searched = bm.batch_seconds_with_claims(index, claims, queries, size=100)
            both.append(seconds)
        a, b = statistics.median(alone), statistics.median(both)
        figures["core_floor_posts_per_s"] = round(len(queries) / a, 1)
        figures["core_claim_posts_per_s"] = round(len(queries) / b, 1)
        figures["claim_tier_slowdown"] = round(b / a, 2)
        figures["claim_searched_share"] = round(searched / len(queries), 4)
        if b > a and searched:
            figures["claim_search_posts_per_s"] = round(searched / (b - a), 1)
        self.say(
            f"claims: near-duplicate alone {figures['core_floor_posts_per_s']} posts/s, with the claim tier "
            f"{figures['core_claim_posts_per_s']} posts/s ({searched} of {len(queries)} posts searched)"
        )
        return figures
