"""Scoring the matcher against a labelled repost dataset (`repost_pairs.jsonl`), stratum by stratum.

DB-free: parsing the records and turning match answers into figures. Loading the rumors and asking
`match_text` is the `eval_match` command's job.

Definitions, per stratum (the `rumor_id` prefix before ':'); strata are never pooled:

- **recall**: share of the positives whose answer has a match with decision "matched" pointing to
  their own record's rumor.
- **recall_with_suspected**: the same, counting a "suspected" match to their rumor as found too.
- **precision**: of all the matches returned (both decisions) for the stratum's positives and
  negatives, the share that point to the right rumor. A match is right only when a positive is
  matched to its own record's rumor; a negative matched to any rumor (its record's or another one),
  or any text matched to a rumor other than its record's, is a false match. `None` when no match
  was returned at all.
- **false_match_rate**: share of the negatives whose answer has `matched` true (any decision).
- **false_matches_listed**: how many of the false matches point to a rumor whose record lists the
  text among its *positives* (e.g. a `clef2020` negative is a tweet of another fact-checked claim:
  matching it to that claim is right by the dataset's own labels). A diagnostic, not in precision.
- **reviewable** and **candidate_recall**: how many positives reach the review thresholds when their
  whole normalised text is scored exactly against their rumor (Jaccard or containment of the n-gram
  sets, no index), and the share of those the matcher answers with any decision for their rumor: what
  the LSH candidates and windows miss, apart from the thresholds. A diagnostic.

Records whose `rumor_text` is identical (`same_text_as` lists them) share one rumor, so "their
rumor" is that shared one.
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from debunk.matching.calibration import DEFAULT_SEED, Items, Record, Stage, best_candidates, cross_validate
from debunk.matching.fingerprint import containment, jaccard


@dataclass
class StratumTally:
    """Counts from which one stratum's figures are computed."""

    rumors: set[int] = field(default_factory=set)
    positives: int = 0
    negatives: int = 0
    found: int = 0  # positives with a "matched" decision for their rumor
    found_with_suspected: int = 0  # positives with any decision for their rumor
    matches: int = 0  # every match returned, for positives and negatives
    right_matches: int = 0  # matches of a positive to its own rumor
    negatives_matched: int = 0  # negatives answered with matched=True
    false_listed: int = 0  # false matches to a rumor the dataset lists the text as a positive of
    reviewable: int = 0  # positives whose exact scores against their rumor reach the review thresholds
    reviewable_found: int = 0  # ... answered with any decision for their rumor

    def add_positive(
        self, rumor_id: int, answer: dict[str, Any], listed: Collection[int] = (), *, reviewable: bool = False
    ) -> None:
        """A positive of the record whose rumor is rumor_id; listed: rumors having the text among their positives;
        reviewable: its exact scores against the rumor reach the review thresholds."""
        self.positives += 1
        decisions = {m["decision"] for m in answer["matches"] if m["rumor_id"] == rumor_id}
        self.found += "matched" in decisions
        self.found_with_suspected += bool(decisions)
        self.reviewable += reviewable
        self.reviewable_found += reviewable and bool(decisions)
        self._count_matches(answer, right=rumor_id, listed=listed)

    def add_negative(self, answer: dict[str, Any], listed: Collection[int] = ()) -> None:
        self.negatives += 1
        self.negatives_matched += bool(answer["matched"])
        self._count_matches(answer, right=None, listed=listed)

    def _count_matches(self, answer: dict[str, Any], *, right: int | None, listed: Collection[int]) -> None:
        for match in answer["matches"]:
            self.matches += 1
            if match["rumor_id"] == right:
                self.right_matches += 1
            elif match["rumor_id"] in listed:
                self.false_listed += 1

    def figures(self) -> dict[str, Any]:
        def share(part: int, whole: int) -> float | None:
            return round(part / whole, 4) if whole else None

        return {
            "recall": share(self.found, self.positives),
            "recall_with_suspected": share(self.found_with_suspected, self.positives),
            "precision": share(self.right_matches, self.matches),
            "false_match_rate": share(self.negatives_matched, self.negatives),
            "positives": self.positives,
            "negatives": self.negatives,
            "rumors": len(self.rumors),
            "matches": self.matches,
            "false_matches_listed": self.false_listed,
            "reviewable": self.reviewable,
            "candidate_recall": share(self.reviewable_found, self.reviewable),
        }


def exact_scores(post: np.ndarray, rumor: np.ndarray) -> tuple[float, float]:
    """(Jaccard, containment of the rumor in the post) of two sorted unique n-gram sets (`fingerprint.shingle_hashes`
    of the normalised texts): what the matcher's exact check would find if the index offered the pair."""
    return jaccard(post, rumor), containment(rumor, post)


def figures_by_stratum(tallies: dict[str, StratumTally]) -> dict[str, dict[str, Any]]:
    return {stratum: tallies[stratum].figures() for stratum in sorted(tallies)}


def unique_texts(records: Iterable[Record]) -> list[str]:
    """Every positive and negative text once, in first-seen order (the matcher is asked once per text)."""
    return list(dict.fromkeys(t for r in records for t in (*r.positives, *r.negatives)))


STAGES = ("near_duplicate", "claim")


def near_duplicate_score(similarity: float, containment: float) -> float:
    """One number per near-duplicate candidate, for a single threshold: the larger of its similarity and its
    containment (the engine decides on either, each with its own threshold)."""
    return max(similarity, containment)


def merged_candidates(*lists: dict[str, list[tuple[int, float]]], k: int = 5) -> dict[str, list[tuple[int, float]]]:
    """The combined matcher's suggestions per text: the earlier stages' candidates first, then the later stages'
    rumors not already there, at most k."""
    out: dict[str, list[tuple[int, float]]] = {}
    for text in {t for found in lists for t in found}:
        seen: dict[int, float] = {}
        for found in lists:
            for rumor_id, score in found.get(text, []):
                seen.setdefault(rumor_id, score)
        out[text] = list(seen.items())[:k]
    return out


def staged_figures(
    items: Items,
    candidates: dict[str, dict[str, list[tuple[int, float]]]],
    suspected: dict[str, np.ndarray],
    *,
    target: float,
    folds: int,
    seed: int = DEFAULT_SEED,
) -> dict[str, dict[str, Any]]:
    """Per stratum: the combined cascade (stages in STAGES order) and each stage alone, thresholds chosen by
    cross-validation over the stratum's rumors (`cross_validate`), with top-5 recall and recall_with_suspected.

    `candidates`: per stage, each distinct text's candidates ((rumor id, score), best first); `suspected`: per stage
    and "combined", per item, whether the stock's configured thresholds put the item's own rumor among its matches
    (any decision)."""
    stages, top5 = {}, {}
    for name in STAGES:
        stages[name], top5[name] = best_candidates(items, candidates.get(name, {}), name)
    _, top5["combined"] = best_candidates(items, merged_candidates(*(candidates.get(n, {}) for n in STAGES)), "")
    strata = np.array(items.stratum)
    rumors = np.array(items.rumor)
    out: dict[str, dict[str, Any]] = {}
    for stratum in sorted(set(items.stratum)):
        mask = strata == stratum
        positives = mask & items.positive
        cv = {"target": target, "folds": folds, "seed": seed}
        combined = _block([stages[n] for n in STAGES], mask, rumors, items.positive, cv)
        combined.update(_shares(positives, suspected["combined"], top5["combined"]))
        combined["stages"] = {
            name: {
                **_block([stages[name]], mask, rumors, items.positive, cv),
                **_shares(positives, suspected[name], top5[name]),
            }
            for name in STAGES
        }
        out[stratum] = combined
    return out


def _shares(positives: np.ndarray, suspected: np.ndarray, top5: np.ndarray) -> dict[str, float | None]:
    count = int(positives.sum())
    return {
        "recall_with_suspected": round(int(suspected[positives].sum()) / count, 4) if count else None,
        "top5_recall": round(int(top5[positives].sum()) / count, 4) if count else None,
    }


def _block(
    chain: list[Stage], mask: np.ndarray, rumors: np.ndarray, positive: np.ndarray, cv: dict[str, Any]
) -> dict[str, Any]:
    try:
        done = cross_validate(
            [Stage(s.name, s.scores[mask], s.right[mask]) for s in chain], positive[mask], rumors[mask], **cv
        )
    except ValueError as exc:  # a stratum of one rumor cannot be cross-validated
        return {"recall": None, "precision": None, "false_match_rate": None, "note": str(exc)}
    figures: dict[str, Any] = done.figures()
    figures["fold_thresholds"] = {
        name: [None if t is None else round(t, 4) for t in values] for name, values in done.thresholds.items()
    }
    return figures
