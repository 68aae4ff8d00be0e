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

import json
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from debunk.matching.fingerprint import containment, jaccard


class MalformedRecord(ValueError):
    """A dataset line that cannot be evaluated."""


@dataclass(frozen=True)
class Record:
    line: int
    rumor_id: str
    stratum: str
    lang: str
    rumor_text: str
    positives: tuple[str, ...]
    negatives: tuple[str, ...]


def _texts(raw: dict[str, Any], key: str) -> tuple[str, ...]:
    items = raw.get(key, [])
    if not isinstance(items, list):
        raise MalformedRecord(f"'{key}' is not a list")
    texts = []
    for i, item in enumerate(items):
        text = item.get("text") if isinstance(item, dict) else None
        if not isinstance(text, str):
            raise MalformedRecord(f"'{key}[{i}]' has no string 'text'")
        texts.append(text)
    return tuple(texts)


def parse_record(line: str, number: int) -> Record:
    """One JSON line → Record; MalformedRecord says what is wrong."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise MalformedRecord(f"not JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(raw, dict):
        raise MalformedRecord("not a JSON object")
    rumor_id = raw.get("rumor_id")
    if not isinstance(rumor_id, str) or ":" not in rumor_id or not rumor_id.split(":", 1)[0]:
        raise MalformedRecord("'rumor_id' is not a string of the form 'stratum:id'")
    rumor_text = raw.get("rumor_text")
    if not isinstance(rumor_text, str) or not rumor_text.strip():
        raise MalformedRecord("'rumor_text' is missing or blank")
    lang = raw.get("lang")
    return Record(
        line=number,
        rumor_id=rumor_id,
        stratum=rumor_id.split(":", 1)[0],
        lang=lang if isinstance(lang, str) else "",
        rumor_text=rumor_text,
        positives=_texts(raw, "positives"),
        negatives=_texts(raw, "negatives"),
    )


def read_records(data: bytes, *, limit: int | None = None) -> Iterator[Record | tuple[int, str]]:
    """Records of a JSON Lines file, or (line number, reason) for each malformed line; blank lines are skipped."""
    count = 0
    for number, raw_line in enumerate(data.splitlines(), start=1):
        if limit is not None and count >= limit:
            return
        try:
            line = raw_line.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, f"not UTF-8 (byte {exc.start})"
            continue
        if not line.strip():
            continue
        try:
            record = parse_record(line, number)
        except MalformedRecord as exc:
            yield number, str(exc)
            continue
        count += 1
        yield record


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
