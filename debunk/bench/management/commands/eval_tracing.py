"""Measure first-poster tracing on a propagation dataset (Weibo CED or Twitter15/16), without the database.

The scenarios and what counts as right are defined in debunk.tracing.evaluation; the algorithm is
debunk.tracing.origins.trace_cascade, the one `trace_rumor` runs.
"""

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from debunk.bench.tracing_eval import SCENARIOS, evaluate, read_cascades
from debunk.tracing.services import clock_skew_seconds

LABELS = {
    "as_given": "(a) as given",
    "source_dropped": "(b) source dropped (right only if flagged earliest_known)",
    "coarse_times": "(c) times coarsened to the hour",
    "two_platforms": "(d) split across two platforms, clock skew ±{skew:g} s",
}


class Command(BaseCommand):
    help = "Evaluate source identification on a propagation JSON Lines dataset (four scenarios)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, help="propagation.jsonl or propagation_twitter1516.jsonl")
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")
        parser.add_argument("--limit", type=int, help="Evaluate only the first N cascades.")
        parser.add_argument("--skew", type=float, help="Clock skew in seconds (default: TRACING_CLOCK_SKEW_SECONDS).")

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["dataset"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file (the datasets live in ../shared/datasets/).")
        skew = opts["skew"] if opts["skew"] is not None else clock_skew_seconds()
        started = time.perf_counter()
        cascades = read_cascades(path)
        if opts["limit"] is not None:
            cascades = (c for i, c in enumerate(cascades) if i < opts["limit"])
        try:
            result = evaluate(cascades, skew_seconds=skew)
        except ValueError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        if not result["cascades"]:
            raise CommandError(f"{path}: no cascade to evaluate.")
        result["seconds"] = round(time.perf_counter() - started, 1)
        if opts["json"]:
            self.stdout.write(json.dumps(result, sort_keys=True))
            return
        self.stdout.write(f"{path.name}: {result['cascades']} cascades, {result['seconds']} s")
        for name in SCENARIOS:
            row = result[name]
            self.stdout.write(
                f"{LABELS[name].format(skew=skew):60} accuracy {result['accuracy_' + name]:.2%} "
                f"({row['right']}/{row['cascades']}), flagged earliest_known {row['flagged_earliest_known']:.2%}, "
                f"within skew {row['flagged_within_skew']:.2%}"
            )
