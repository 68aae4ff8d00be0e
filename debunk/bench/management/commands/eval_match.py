"""Measure matching on a labelled repost dataset: recall, precision and false matches per stratum.

Each record's `rumor_text` is loaded as a published rumor (with a one-line debunk) through the rumor
services, by two system accounts, inside a transaction that is rolled back at the end: the database
is left as it was found (PostgreSQL sequences, which no transaction rolls back, do move on). Every
positive and negative text then goes through `match_text`, the code path of the match API, once per
distinct text (its answer does not change within a run). The figures are defined in
`debunk.matching.evaluation`. Live rumors already in the database stay in the index, as in production:
a match to one of them is a false match, and their number is reported (`other_live_rumors`). Run it on
an empty database (`DATABASE_URL=sqlite:////tmp/eval.sqlite3`, migrated) for figures of the dataset
alone.
"""

import json
import sys
import time
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from tqdm import tqdm

from debunk.bench.matching_eval import (
    STAGES,
    StratumTally,
    exact_scores,
    figures_by_stratum,
    near_duplicate_score,
    staged_figures,
    unique_texts,
)
from debunk.core.roles import FACT_CHECKER, REVIEWER, system_user
from debunk.matching.calibration import DEFAULT_FOLDS, Record, claim_candidates, items_of, read_records
from debunk.matching.fingerprint import shingle_hashes
from debunk.matching.matcher import prepare, score_prepared
from debunk.matching.normalize import normalize_text
from debunk.matching.services import match_text, reset_caches, score_floor
from debunk.matching.serving import current_index
from debunk.stock import debunks as debunk_services
from debunk.stock import rumors as rumor_services
from debunk.stock.models import Rumor
from labels.models import Category, VerdictLabel

CONFIGURED = ("recall", "recall_with_suspected", "precision", "false_match_rate")
AUTHOR, PUBLISHER = "system-evaluator", "system-reviewer"
VERDICT, CATEGORY = "false", "other"
ROLLED_BACK = "The rumors are loaded in a transaction that is rolled back at the end: the database is left unchanged."
DEFINITIONS = """\
recall:                positives answered with a "matched" decision for their own rumor / positives
recall_with_suspected: positives answered with any decision ("matched" or "suspected") for their rumor / positives
precision:             matches pointing to the right rumor / all matches returned for the stratum's texts
                       (right = a positive matched to its own rumor; a negative matched to any rumor, or any
                       text matched to another rumor, is a false match; "-" when nothing matched)
false_match_rate:      negatives answered with matched=true (any decision) / negatives
false_matches_listed:  false matches to a rumor whose record lists the text among its positives (right by the
                       dataset's own labels, e.g. clef2020 negatives are tweets of other fact-checked claims)
Records with an identical rumor_text (same_text_as) share one rumor.

Cross-validated figures (top of each stratum: the combined matcher; per stage under "stages"). Each text of a
record is scored by each stage against every live rumor; a stage's best candidate decides when its score reaches the
stage's threshold (near_duplicate: max(similarity, containment); claim: the claim index's score). Thresholds are
chosen on all folds but one (rumors split into folds, never their texts), as the threshold of highest recall whose
precision reaches the target, and applied to the held-out fold; the figures pool the held-out decisions. The
combined matcher is the cascade: near_duplicate first, the claim tier on what it left undecided (its threshold
chosen on the undecided training texts).
recall / precision / false_match_rate: as above, of those held-out decisions (best candidate only).
recall_with_suspected: positives whose own rumor the stock's configured thresholds put among its matches (near-
                       duplicate: the match answer; claim: score >= the verdict's claim_review_threshold; combined:
                       the answer, or the claim tier on texts the answer left unmatched while the answers hold no
                       claim stage).
top5_recall:           positives whose own rumor is among the stage's first five candidates (combined: the
                       near-duplicate candidates, then the claim tier's)."""


class Command(BaseCommand):
    help = (
        "Evaluate matching on a repost-pairs JSON Lines dataset, per stratum (rumor_id prefix). "
        "Leaves the database unchanged."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", required=True, help="Path to repost_pairs.jsonl.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")
        parser.add_argument("--limit", type=int, help="Evaluate only the first N records of the file.")
        parser.add_argument(
            "--target-precision",
            type=float,
            default=0.95,
            help="Precision the cross-validated thresholds aim at (default 0.95).",
        )
        parser.add_argument(
            "--folds", type=int, default=DEFAULT_FOLDS, help=f"Folds over rumors (default {DEFAULT_FOLDS})."
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["limit"] is not None and opts["limit"] < 1:
            raise CommandError("--limit must be at least 1.")
        if not 0 < opts["target_precision"] <= 1:
            raise CommandError("--target-precision must be in (0, 1].")
        if opts["folds"] < 2:
            raise CommandError("--folds must be at least 2.")
        started = time.perf_counter()
        data = self._read(opts["dataset"])
        records: list[Record] = []
        malformed = 0
        for item in read_records(data, limit=opts["limit"]):
            if isinstance(item, Record):
                records.append(item)
            else:
                malformed += 1
                self.stderr.write(self.style.WARNING(f"line {item[0]}: skipped, {item[1]}"))
        if not records:
            raise CommandError(f"{opts['dataset']}: no record to evaluate ({malformed} malformed line(s)).")
        if opts["json"]:
            self.stderr.write(ROLLED_BACK)  # stdout holds only the JSON object

        # The index of this run is kept in memory: a snapshot of a state that is rolled back has no
        # place in MATCH_INDEX_DIR, where the serving processes share theirs.
        snapshot_dir, settings.MATCH_INDEX_DIR = settings.MATCH_INDEX_DIR, ""
        try:
            with transaction.atomic():
                try:
                    report = self._evaluate(records, target=opts["target_precision"], folds=opts["folds"])
                finally:
                    transaction.set_rollback(True)
        finally:
            settings.MATCH_INDEX_DIR = snapshot_dir
            reset_caches()  # the loaded index holds rumors that no longer exist
        report["malformed_lines"] = malformed
        report["seconds"] = round(time.perf_counter() - started, 1)
        if opts["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False))
        else:
            self._print_table(report, opts["dataset"], len(records))

    def _read(self, path: str) -> bytes:
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read the dataset {path}: {exc.strerror or exc}") from exc

    def _evaluate(self, records: list[Record], *, target: float, folds: int) -> dict[str, Any]:
        verdict = VerdictLabel.objects.get(code=VERDICT)
        others = Rumor.objects.live().count()
        rumor_of = self._load(records, verdict)
        reset_caches()
        answers = {}
        for text in tqdm(unique_texts(records), desc="Matching", unit="text", file=sys.stderr, disable=None):
            answers[text] = match_text(text=text)
        listed: dict[str, set[int]] = defaultdict(set)  # text → rumors having it among their positives
        for record in records:
            if record.rumor_text in rumor_of:
                for text in record.positives:
                    listed[text].add(rumor_of[record.rumor_text])
        review, containment_review = verdict.match_review_threshold, settings.MATCH_CONTAINMENT_REVIEW
        grams = lru_cache(maxsize=None)(lambda text: shingle_hashes(normalize_text(text)))
        tallies: dict[str, StratumTally] = {}
        for record in records:
            if record.rumor_text not in rumor_of:
                continue
            tally = tallies.setdefault(record.stratum, StratumTally())
            rumor_id = rumor_of[record.rumor_text]
            tally.rumors.add(rumor_id)
            for text in record.positives:
                similarity, contained = exact_scores(grams(text), grams(record.rumor_text))
                reviewable = similarity >= review or contained >= containment_review
                tally.add_positive(rumor_id, answers[text], listed.get(text, ()), reviewable=reviewable)
            for text in record.negatives:
                tally.add_negative(answers[text], listed.get(text, ()))
        configured = figures_by_stratum(tallies)
        staged = self._staged(records, rumor_of, answers, verdict, target=target, folds=folds)
        strata = {}
        for stratum, figures in configured.items():
            strata[stratum] = {
                **figures,
                "configured": {key: figures[key] for key in CONFIGURED},
                **staged[stratum],
            }
        return {
            "strata": strata,
            "cross_validation": {"target_precision": target, "folds": folds, "groups": "rumors"},
            "thresholds": {
                "verdict": VERDICT,
                "auto": verdict.match_auto_threshold,
                "review": verdict.match_review_threshold,
                "containment_auto": settings.MATCH_CONTAINMENT_AUTO,
                "containment_review": settings.MATCH_CONTAINMENT_REVIEW,
                "claim_auto": verdict.claim_auto_threshold,
                "claim_review": verdict.claim_review_threshold,
            },
            "other_live_rumors": others,
        }

    def _staged(
        self,
        records: list[Record],
        rumor_of: dict[str, int],
        answers: dict[str, dict[str, Any]],
        verdict: VerdictLabel,
        *,
        target: float,
        folds: int,
    ) -> dict[str, dict[str, Any]]:
        """Each stage's candidates for every text, scored against every live rumor, then the cross-validated
        figures per stratum (matching_eval.staged_figures)."""
        texts = list(answers)
        index = current_index()
        near: dict[str, list[tuple[int, float]]] = {}
        for start in tqdm(
            range(0, len(texts), 256), desc="Near-duplicate scores", unit="batch", file=sys.stderr, disable=None
        ):
            chunk = texts[start : start + 256]
            for text, found in zip(chunk, score_prepared(index, prepare(chunk), min_score=score_floor()), strict=True):
                ranked = sorted(
                    ((s.rumor_id, near_duplicate_score(s.similarity, s.containment)) for s in found),
                    key=lambda pair: (-pair[1], pair[0]),
                )
                near[text] = ranked
        live = dict(Rumor.objects.live().values_list("pk", "claim"))
        claim = claim_candidates(
            live,
            texts,
            progress=lambda it: tqdm(it, desc="Claim scores", unit="batch", file=sys.stderr, disable=None),
        )
        items = items_of(records, rumor_of)
        review = verdict.claim_review_threshold
        suspected = {name: np.zeros(len(items), dtype=bool) for name in (*STAGES, "combined")}
        for i, (text, own) in enumerate(zip(items.texts, items.rumor, strict=True)):
            if not items.positive[i]:
                continue
            matches = answers[text]["matches"]
            by_stage = {m.get("stage", "near_duplicate") for m in matches if m["rumor_id"] == own}
            suspected["near_duplicate"][i] = "near_duplicate" in by_stage
            suspected["claim"][i] = any(rid == own and score >= review for rid, score in claim[text])
            if any("stage" in m for m in matches) or answers[text]["matched"]:
                suspected["combined"][i] = bool(by_stage)  # the answer holds the claim tier's matches (or it
                # had no say: the near-duplicate engine decided the post)
            else:  # no claim tier in the answers yet: as it would run, on the posts nothing else decided
                suspected["combined"][i] = suspected["claim"][i]
        return staged_figures(items, {"near_duplicate": near, "claim": claim}, suspected, target=target, folds=folds)

    def _load(self, records: list[Record], verdict: VerdictLabel) -> dict[str, int]:
        """Publish one rumor per distinct rumor_text; returns text → rumor id."""
        author = system_user(AUTHOR, FACT_CHECKER)
        publisher = system_user(PUBLISHER, REVIEWER)
        category = Category.objects.get(code=CATEGORY)
        rumor_of: dict[str, int] = {}
        for record in tqdm(records, desc="Loading rumors", unit="record", file=sys.stderr, disable=None):
            if record.rumor_text in rumor_of:
                continue  # same_text_as: one rumor for byte-identical texts
            try:
                rumor = rumor_services.rumor_create(
                    by=author, claim=record.rumor_text, category=category, verdict=verdict
                )
                debunk_services.debunk_create(
                    rumor=rumor,
                    by=author,
                    title=f"评测：{record.rumor_id}",
                    summary="评测用辟谣。",
                    body="评测用辟谣。",
                    language="en" if record.lang == "en" else "zh-hans",
                )
                rumor_services.rumor_submit(rumor=rumor, by=author)
                rumor_services.rumor_publish(rumor=rumor, by=publisher)
            except ValidationError as exc:
                self.stderr.write(self.style.WARNING(f"line {record.line}: rumor not loaded, {' '.join(exc.messages)}"))
                continue
            rumor_of[record.rumor_text] = rumor.pk
        return rumor_of

    def _print_table(self, report: dict[str, Any], path: str, count: int) -> None:
        t = report["thresholds"]
        out = self.stdout.write
        out(
            f"{count} record(s) of {path}, {report['malformed_lines']} malformed line(s) skipped, "
            f"{report['seconds']} s."
        )
        out(ROLLED_BACK)
        out(
            f"Verdict {t['verdict']!r}: similarity auto {t['auto']}, review {t['review']}; "
            f"containment auto {t['containment_auto']}, review {t['containment_review']}."
        )
        if report["other_live_rumors"]:
            out(f"{report['other_live_rumors']} live rumor(s) already in the database are matched against too.")
        out("")
        out(
            f"Cross-validated over rumors ({report['cross_validation']['folds']} folds, thresholds aiming at precision "
            f"{report['cross_validation']['target_precision']}, chosen on the other folds, never in-sample):"
        )
        staged = ["recall", "precision", "false_match_rate", "recall_with_suspected", "top5_recall"]
        widths = [len(c) + 2 for c in staged]
        out(f"{'stratum':<10}{'stage':<16}" + "".join(f"{c:>{w}}" for c, w in zip(staged, widths, strict=True)))
        for stratum, figures in report["strata"].items():
            for stage, block in [("combined", figures), *figures["stages"].items()]:
                cells = ["-" if block.get(c) is None else f"{block[c]:.4f}" for c in staged]
                out(f"{stratum:<10}{stage:<16}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))
        out("")
        out("The matcher as configured (the stock's thresholds):")
        columns = [
            "recall",
            "recall_with_suspected",
            "precision",
            "false_match_rate",
            "positives",
            "negatives",
            "rumors",
            "matches",
            "false_matches_listed",
            "reviewable",
            "candidate_recall",
        ]
        out("")
        widths = [len(c) + 2 for c in columns]
        out(f"{'stratum':<10}" + "".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
        for stratum, figures in report["strata"].items():
            cells = []
            for c in columns:
                value = figures["configured"].get(c, figures[c])
                cells.append("-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value))
            out(f"{stratum:<10}" + "".join(f"{cell:>{w}}" for cell, w in zip(cells, widths, strict=True)))
        out("")
        out(DEFINITIONS)
