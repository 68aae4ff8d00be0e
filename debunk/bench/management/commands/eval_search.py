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
        if opts["json"]:
            self.stdout.write(json.dumps(figures))
            return
        self.stdout.write(f"{len(queries)} queries over {len(dataset.claims)} fact-checked claims")
        self.stdout.write(f"project search  MAP@5 {map5:.4f}  Recall@5 {recall5:.4f}")
        self.stdout.write(f"BM25 baseline   MAP@5 {bm25_map5:.4f}  Recall@5 {bm25_recall5:.4f}")
