"""Calibrate the claim tier's thresholds per verdict label on a labelled repost dataset (repost_pairs.jsonl format).

The scoring runs without the database (debunk.matching.calibration.calibrate_claim_thresholds: a ClaimIndex built
in memory on the dataset's rumor texts); the database is read to check the labels and, with --apply, written
through labels.services.verdict_calibrate (one audit event per label), with each threshold's provenance in
VerdictLabel.calibration. Nothing is written when the input is bad or when a label is unknown.

Labels: a record's `verdict` (a verdict label code) when it has one, else --verdict (default "false": the records
of a rumor sample library are rumors shown false, as eval_match loads them).
"""

import json
import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from debunk.core.roles import operator_user
from debunk.matching.calibration import (
    DEFAULT_FOLDS,
    LabelCalibration,
    Record,
    calibrate_claim_thresholds,
    dataset_provenance,
    read_records,
)
from labels.models import VerdictLabel
from labels.services import verdict_calibrate

COMMAND = "calibrate_thresholds"
DEFAULT_VERDICT = "false"


class Command(BaseCommand):
    help = (
        "Choose the claim tier's review and auto thresholds per verdict label by cross-validation over the rumors of "
        "a repost-pairs JSON Lines dataset; --apply writes them (audited) with their provenance."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, help="A JSON Lines file in the repost_pairs.jsonl format.")
        parser.add_argument("--stage", choices=["claim"], default="claim", help="The tier calibrated (claim).")
        parser.add_argument(
            "--target-precision", type=float, default=0.95, help="Precision of the review threshold (default 0.95)."
        )
        parser.add_argument(
            "--auto-precision",
            type=float,
            default=0.98,
            help="Held-out precision the auto threshold must reach, else it stays empty (default 0.98).",
        )
        parser.add_argument(
            "--folds", type=int, default=DEFAULT_FOLDS, help=f"Folds over rumors (default {DEFAULT_FOLDS})."
        )
        parser.add_argument(
            "--verdict",
            default=DEFAULT_VERDICT,
            help=f"Verdict label code of records without a 'verdict' (default {DEFAULT_VERDICT!r}).",
        )
        parser.add_argument("--limit", type=int, help="Use only the first N records.")
        parser.add_argument(
            "--stratum",
            action="append",
            default=[],
            help="Use only the records of this stratum (rumor_id prefix, e.g. checked); repeatable. Default: all.",
        )
        parser.add_argument("--apply", action="store_true", help="Write the thresholds to the verdict labels.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")

    def handle(self, *args: Any, **opts: Any) -> None:
        for name in ("target_precision", "auto_precision"):
            if not 0 < opts[name] <= 1:
                raise CommandError(f"--{name.replace('_', '-')} must be in (0, 1].")
        if opts["folds"] < 2:
            raise CommandError("--folds must be at least 2.")
        if opts["limit"] is not None and opts["limit"] < 1:
            raise CommandError("--limit must be at least 1.")
        path = Path(opts["dataset"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read the dataset {path}: {exc.strerror or exc}") from exc
        records: list[Record] = []
        malformed: list[str] = []
        for item in read_records(data, limit=opts["limit"]):
            if isinstance(item, Record):
                records.append(item)
            else:
                malformed.append(f"line {item[0]}: {item[1]}")
        if malformed:  # a calibration written from part of a file would not say what it was measured on
            raise CommandError(
                f"{path}: {len(malformed)} malformed line(s), nothing calibrated: " + "; ".join(malformed[:5])
            )
        if opts["stratum"]:
            records = [r for r in records if r.stratum in set(opts["stratum"])]
        if not records:
            raise CommandError(f"{path}: no record to calibrate on.")
        codes = {r.verdict or opts["verdict"] for r in records}
        known = set(VerdictLabel.objects.filter(code__in=codes).values_list("code", flat=True))
        if codes - known:
            raise CommandError(f"Unknown verdict label(s): {', '.join(sorted(codes - known))}.")
        try:
            results = calibrate_claim_thresholds(
                records,
                default_verdict=opts["verdict"],
                target=opts["target_precision"],
                auto_target=opts["auto_precision"],
                folds=opts["folds"],
                progress=lambda it: tqdm(it, desc="Claim scores", unit="batch", file=sys.stderr, disable=None),
            )
        except ValueError as exc:
            raise CommandError(f"{path}: {exc}.") from exc
        provenance = dataset_provenance(path, data)
        report = {
            "dataset": provenance,
            "stage": opts["stage"],
            "folds": opts["folds"],
            "records": len(records),
            "strata": sorted({r.stratum for r in records}),
            "labels": {r.verdict: self._label(r) for r in results},
            "applied": False,
        }
        if opts["apply"]:
            report["applied"] = self._apply(results, provenance, opts["folds"])
        if opts["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False))
        else:
            self._print(report)

    @staticmethod
    def _label(result: LabelCalibration) -> dict[str, Any]:
        return {
            "rumors": result.rumors,
            "positives": result.positives,
            "negatives": result.negatives,
            "review": result.review.as_dict() if result.review else None,
            "auto": result.auto.as_dict() if result.auto else None,
            "note": result.note,
        }

    def _apply(self, results: list[LabelCalibration], provenance: str, folds: int) -> bool:
        usable = [r for r in results if r.review is not None and r.review.threshold is not None]
        if not usable:
            raise CommandError("No label got a review threshold reaching the target precision: nothing written.")
        by = operator_user()
        at = timezone.now().isoformat()
        try:
            with transaction.atomic():  # every label or none
                for result in usable:
                    assert result.review is not None and result.auto is not None
                    thresholds = {"claim_review_threshold": result.review.threshold}
                    thresholds["claim_auto_threshold"] = result.auto.threshold
                    calibration = {
                        chosen.field: {
                            "command": COMMAND,
                            "dataset": provenance,
                            "at": at,
                            "precision": chosen.precision,
                            "recall": chosen.recall,
                            "folds": folds,
                            "target_precision": chosen.target,
                        }
                        for chosen in (result.review, result.auto)
                    }
                    verdict_calibrate(
                        verdict=VerdictLabel.objects.get(code=result.verdict),
                        by=by,
                        thresholds=thresholds,
                        calibration=calibration,
                    )
        except ValidationError as exc:
            raise CommandError(f"Not written: {' '.join(exc.messages)}") from exc
        return True

    def _print(self, report: dict[str, Any]) -> None:
        out = self.stdout.write
        out(
            f"{report['records']} record(s) of {report['dataset']} (strata {', '.join(report['strata'])}); "
            f"stage {report['stage']}, {report['folds']} folds."
        )
        out(
            "Expected precision and recall: pooled held-out folds, each threshold chosen on the other folds; the "
            "precision aimed at is raised until the held-out precision reaches the target."
        )
        for code, label in report["labels"].items():
            out("")
            counts = f"{label['rumors']} rumor(s), {label['positives']} positive(s), {label['negatives']} negative(s)"
            out(f"{code}: {counts}")
            if label["note"]:
                out(f"  not calibrated: {label['note']}")
                continue
            for name in ("review", "auto"):
                chosen = label[name]
                value = chosen["threshold"]
                if value is None:
                    value = "none (the claim tier only suggests)" if name == "auto" else "none reaches the target"
                out(
                    f"  {name:<6} threshold {value}; target precision {chosen['target_precision']} "
                    f"(aimed at {chosen['aimed_at']} on the training folds): "
                    f"precision {chosen['precision']}, recall {chosen['recall']}, "
                    f"false-match rate {chosen['false_match_rate']}; per fold {chosen['fold_thresholds']}"
                )
        out("")
        out("Written to the verdict labels." if report["applied"] else "Not written (use --apply).")
