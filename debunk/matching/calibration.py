"""Choosing match thresholds by cross-validation over rumors, and reading labelled repost datasets. Pure (numpy).

Shared by the runtime's `calibrate_thresholds` command and the evaluations in debunk.bench (which import it; it
never imports them). Everything here works on one *item* per (labelled text, rumor record) pair:

- `scores[i]`: the score of the item's best candidate rumor at one stage (NaN when the stage offered none);
- `right[i]`: that best candidate is a rumor the dataset pairs the text with: the item's own rumor for a positive,
  or, for any item, a rumor whose record lists the text among its positives or whose text it is (a `clef2020`
  negative is a tweet of another fact-checked claim, a `checked` negative often another claim's post: matching it to
  that claim is right by the dataset's own labels, and no false match);
- `positive[i]`: the item is a positive (recall is counted over positives);
- `groups[i]`: the item's rumor. Folds split rumors, never the texts of one rumor, so no held-out rumor has been
  seen when its threshold was chosen.

A threshold `t` *decides* an item when its best score is ≥ t: the item is matched to its best candidate. Precision is
the share of decided items that are right; recall the share of positives decided right.

`select_threshold` picks, on the items it is given, the threshold of highest recall among those whose precision
reaches the target (the highest of them if several do: lowering it further would only add wrong decisions).
`cross_validate` runs that choice k times, each time on every fold but one, and applies each threshold to the fold
left out only: the pooled held-out decisions give precision and recall that no
threshold was fitted to (never in-sample). Stages form a cascade (the near-duplicate engine first, the claim tier on
what it did not decide): each later stage's threshold is chosen on the training items the earlier ones left
undecided.
"""

import hashlib
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_FOLDS = 5
DEFAULT_SEED = 20260513


@dataclass(frozen=True)
class Stage:
    """One stage's best candidate per item."""

    name: str
    scores: np.ndarray  # float, NaN: no candidate
    right: np.ndarray  # bool


@dataclass(frozen=True)
class Selection:
    threshold: float | None  # None: no threshold reaches the target (the stage decides nothing)
    precision: float | None  # on the items the choice was made on; None when nothing is decided
    recall: float | None


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def select_threshold(scores: np.ndarray, right: np.ndarray, positives: int, target: float) -> Selection:
    """The threshold with the highest recall among those whose precision on these items is ≥ target (the highest
    such threshold when several reach that recall; None if none reaches the target); `positives` is the recall's
    denominator."""
    scores = np.asarray(scores, dtype=np.float64)
    right = np.asarray(right, dtype=bool)
    have = ~np.isnan(scores)
    s, r = scores[have], right[have]
    if not len(s):
        return Selection(None, None, 0.0 if positives else None)
    order = np.argsort(-s, kind="stable")
    s, r = s[order], r[order]
    hits = np.cumsum(r)
    # a threshold is a distinct score: it decides every item scoring at least as much (ties go together)
    last_of_tie = np.r_[s[1:] != s[:-1], True]
    decided = np.arange(1, len(s) + 1)[last_of_tie]
    correct = hits[last_of_tie]
    ok = np.flatnonzero(correct >= target * decided - 1e-12)
    if not len(ok):
        return Selection(None, None, 0.0 if positives else None)
    # the most right decisions among the qualifying thresholds; of those, the highest threshold (a lower one would
    # only add wrong decisions)
    best = ok[np.argmax(correct[ok])]
    return Selection(
        float(s[last_of_tie][best]), float(correct[best] / decided[best]), _share(float(correct[best]), positives)
    )


def assign_folds(groups: np.ndarray, folds: int, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Fold number per item: the distinct groups shuffled (seeded) and dealt round-robin into min(folds, groups)
    folds. ValueError under 2 groups or 2 folds."""
    if folds < 2:
        raise ValueError("at least 2 folds are needed")
    unique, inverse = np.unique(np.asarray(groups), return_inverse=True)
    if len(unique) < 2:
        raise ValueError("at least 2 rumors are needed to cross-validate")
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of_group = np.empty(len(unique), dtype=np.int64)
    fold_of_group[order] = np.arange(len(unique)) % min(folds, len(unique))
    return fold_of_group[inverse]


@dataclass(frozen=True)
class CrossValidated:
    """Pooled held-out decisions of a cascade of stages, thresholds chosen on the other folds."""

    stages: tuple[str, ...]
    target: float
    fold: np.ndarray  # per item
    thresholds: dict[str, list[float | None]]  # per stage, per fold
    decided_by: np.ndarray  # per item: index of the stage that decided it on its held-out fold, -1: none
    right: np.ndarray  # per item: decided, and right
    positive: np.ndarray

    @property
    def decided(self) -> np.ndarray:
        return self.decided_by >= 0

    def figures(self, mask: np.ndarray | None = None) -> dict[str, Any]:
        """precision, recall and false_match_rate of the held-out decisions (of the items in `mask`)."""
        m = np.ones(len(self.fold), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        decided, right, positive = self.decided[m], self.right[m], self.positive[m]
        negatives = int((~positive).sum())
        found = int((right & positive).sum())

        def rounded(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {
            "recall": rounded(_share(found, int(positive.sum()))),
            "precision": rounded(_share(int(right.sum()), int(decided.sum()))),
            "false_match_rate": rounded(_share(int((decided & ~positive & ~right).sum()), negatives)),
            "decided": int(decided.sum()),
        }


def cross_validate(
    stages: Sequence[Stage],
    positive: np.ndarray,
    groups: np.ndarray,
    *,
    target: float,
    folds: int = DEFAULT_FOLDS,
    seed: int = DEFAULT_SEED,
) -> CrossValidated:
    """k-fold cross-validation over groups (rumors) of a cascade of stages (one stage: that stage alone)."""
    positive = np.asarray(positive, dtype=bool)
    fold = assign_folds(groups, folds, seed)
    n = len(positive)
    decided_by = np.full(n, -1, dtype=np.int64)
    right = np.zeros(n, dtype=bool)
    thresholds: dict[str, list[float | None]] = {stage.name: [] for stage in stages}
    for k in range(int(fold.max()) + 1):
        train, test = fold != k, fold == k
        open_train, open_test = train.copy(), test.copy()  # not decided yet by an earlier stage
        for number, stage in enumerate(stages):
            chosen = select_threshold(
                stage.scores[open_train], stage.right[open_train], int(positive[train].sum()), target
            )
            thresholds[stage.name].append(chosen.threshold)
            if chosen.threshold is None:
                continue
            with np.errstate(invalid="ignore"):
                passes = stage.scores >= chosen.threshold  # NaN compares False
            here = open_test & passes
            decided_by[here] = number
            right[here] = stage.right[here]
            open_train &= ~passes
            open_test &= ~here
    return CrossValidated(tuple(s.name for s in stages), target, fold, thresholds, decided_by, right, positive)


def fit(stages: Sequence[Stage], positive: np.ndarray, *, target: float) -> dict[str, Selection]:
    """The thresholds chosen on every item (what to apply after cross-validation has measured the choice), with
    their in-sample precision and recall (for information only: the honest figures are cross_validate's)."""
    positive = np.asarray(positive, dtype=bool)
    open_items = np.ones(len(positive), dtype=bool)
    chosen: dict[str, Selection] = {}
    for stage in stages:
        selection = select_threshold(stage.scores[open_items], stage.right[open_items], int(positive.sum()), target)
        chosen[stage.name] = selection
        if selection.threshold is not None:
            with np.errstate(invalid="ignore"):
                open_items &= ~(stage.scores >= selection.threshold)
    return chosen


def median_threshold(values: list[float | None]) -> float | None:
    """The median of the folds' thresholds, None when any fold found none."""
    if not values or any(v is None for v in values):
        return None
    return float(np.median([v for v in values if v is not None]))


# ---------------------------------------------------------------------------------------------------------------
# Labelled repost datasets (repost_pairs.jsonl format)


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
    verdict: str | None = None  # a verdict label code the record gives; None: the caller's default


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
    verdict = raw.get("verdict")
    if verdict is not None and (not isinstance(verdict, str) or not verdict.strip()):
        raise MalformedRecord("'verdict' is not a verdict label code")
    lang = raw.get("lang")
    return Record(
        line=number,
        rumor_id=rumor_id,
        stratum=rumor_id.split(":", 1)[0],
        lang=lang if isinstance(lang, str) else "",
        rumor_text=rumor_text,
        positives=_texts(raw, "positives"),
        negatives=_texts(raw, "negatives"),
        verdict=verdict.strip() if isinstance(verdict, str) else None,
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


def dataset_provenance(path: Path, data: bytes) -> str:
    """'<file name> sha256:<hex>': which dataset a calibration came from."""
    return f"{path.name} sha256:{hashlib.sha256(data).hexdigest()}"


@dataclass
class Items:
    """The items of a dataset (one per labelled text of a record), their rumor and label."""

    texts: list[str]  # per item
    rumor: list[int]  # per item: the record's rumor (records with an identical rumor_text share one)
    positive: np.ndarray
    stratum: list[str]
    verdict: list[str | None]
    accepted: list[frozenset[int]]  # per item: the rumors the dataset pairs its text with (see `right`)

    def __len__(self) -> int:
        return len(self.texts)


def items_of(records: Sequence[Record], rumor_of: dict[str, int]) -> Items:
    """Items of the records whose rumor_text has a rumor (`rumor_of`: rumor text → rumor id)."""
    texts, rumor, positive, stratum, verdict = [], [], [], [], []
    listed: dict[str, set[int]] = {}  # text → rumors whose record lists it among its positives
    for record in records:
        if record.rumor_text in rumor_of:
            for text in record.positives:
                listed.setdefault(text, set()).add(rumor_of[record.rumor_text])
    for record in records:
        if record.rumor_text not in rumor_of:
            continue
        for label, group in ((True, record.positives), (False, record.negatives)):
            for text in group:
                texts.append(text)
                rumor.append(rumor_of[record.rumor_text])
                positive.append(label)
                stratum.append(record.stratum)
                verdict.append(record.verdict)
    # a text that is itself a rumor's text (a `checked` negative is often another claim's post) belongs to it too
    accepted = [
        frozenset(listed.get(text, set()) | ({rumor_of[text]} if text in rumor_of else set())) for text in texts
    ]
    return Items(texts, rumor, np.array(positive, dtype=bool), stratum, verdict, accepted)


def best_candidates(
    items: Items, candidates: dict[str, list[tuple[int, float]]], name: str
) -> tuple[Stage, np.ndarray]:
    """The stage of the items from each distinct text's candidates ((rumor id, score), best first), and per item
    whether its own rumor is among the first five (top-5 recall)."""
    scores = np.full(len(items), math.nan)
    right = np.zeros(len(items), dtype=bool)
    top5 = np.zeros(len(items), dtype=bool)
    for i, (text, own) in enumerate(zip(items.texts, items.rumor, strict=True)):
        found = candidates.get(text, [])
        if not found:
            continue
        scores[i] = found[0][1]
        right[i] = found[0][0] in items.accepted[i]
        top5[i] = bool(items.positive[i]) and any(rid == own for rid, _ in found[:5])
    return Stage(name, scores, right), top5


def claim_candidates(
    rumor_texts: dict[int, str], texts: list[str], *, k: int = 5, batch: int = 256, progress: Any = None
) -> dict[str, list[tuple[int, float]]]:
    """Each text's claim-tier candidates ((rumor id, score), best first, ≤ k) from a ClaimIndex built in memory on
    the rumor texts (`progress`: an optional callable wrapping an iterable, e.g. tqdm)."""
    from debunk.matching.claims import ClaimEntry, ClaimIndex

    index = ClaimIndex([ClaimEntry(rid, rid, text) for rid, text in rumor_texts.items()])
    out: dict[str, list[tuple[int, float]]] = {}
    starts = range(0, len(texts), batch)
    for start in progress(starts) if progress else starts:
        chunk = texts[start : start + batch]
        for text, hits in zip(chunk, index.search(chunk, k=k), strict=True):
            out[text] = [(hit.rumor_id, hit.score) for hit in hits]
    return out


# ---------------------------------------------------------------------------------------------------------------
# Calibrating the claim tier's thresholds per verdict label (the calibrate_thresholds command's logic)


@dataclass(frozen=True)
class Chosen:
    """One threshold: the value to apply (chosen on every item), and what cross-validation measured of the choice
    (precision, recall, false_match_rate: of the last aim tried; `threshold` None when even aiming at 1 fell short)."""

    field: str
    target: float
    threshold: float | None
    precision: float | None  # pooled held-out precision of the thresholds chosen on the other folds
    recall: float | None
    false_match_rate: float | None
    fold_thresholds: list[float | None]
    aimed_at: float  # the precision the choice aimed at on the training folds for the held-out one to reach target

    def as_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "target_precision": self.target,
            "aimed_at": self.aimed_at,
            "precision": self.precision,
            "recall": self.recall,
            "false_match_rate": self.false_match_rate,
            "fold_thresholds": self.fold_thresholds,
        }


@dataclass(frozen=True)
class LabelCalibration:
    verdict: str
    rumors: int
    positives: int
    negatives: int
    review: Chosen | None  # None: the label's items cannot be cross-validated (see `note`)
    auto: Chosen | None
    note: str = ""


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


TARGET_STEP = 0.0025  # how far the precision a choice aims at is raised while its held-out precision falls short


def _choose(
    stage: Stage, positive: np.ndarray, groups: np.ndarray, field: str, target: float, folds: int, seed: int
) -> Chosen:
    """The threshold whose cross-validated precision reaches `target`: the choice aims at `target`, then higher
    (TARGET_STEP at a time, up to 1) until the pooled held-out precision of the choices made on the other folds
    reaches `target`; the threshold is that aim's choice on every item. None when no aim gets there."""
    aim = target
    while True:
        done = cross_validate([stage], positive, groups, target=aim, folds=folds, seed=seed)
        measured = done.figures()
        if measured["precision"] is not None and measured["precision"] >= target:
            applied = fit([stage], positive, target=aim)[stage.name].threshold
            break
        if aim >= 1.0:
            applied = None
            break
        aim = min(1.0, aim + TARGET_STEP)
    return Chosen(
        field=field,
        target=target,
        threshold=None if applied is None else math.floor(applied * 10_000) / 10_000,  # never above the score
        precision=measured["precision"],
        recall=measured["recall"],
        false_match_rate=measured["false_match_rate"],
        fold_thresholds=[_rounded(t) for t in done.thresholds[stage.name]],
        aimed_at=round(aim, 4),
    )


def calibrate_claim_thresholds(
    records: Sequence[Record],
    *,
    default_verdict: str,
    target: float = 0.95,
    auto_target: float = 0.98,
    folds: int = DEFAULT_FOLDS,
    seed: int = DEFAULT_SEED,
    progress: Any = None,
) -> list[LabelCalibration]:
    """The claim tier's review and auto thresholds per verdict label, from labelled records.

    Every distinct rumor text becomes one rumor of an in-memory ClaimIndex (records with an identical rumor_text
    share it, as the stock would hold one rumor); each positive and negative text is searched against all of them,
    as a post would be against the whole stock. A record's label is its `verdict`, else `default_verdict`. Per
    label, over the items of its records: the review threshold is the one of highest recall whose cross-validated
    precision (over rumors: the choice made on the other folds, applied to the held-out one) reaches `target`, the
    auto threshold the same for `auto_target` (see `_choose`), each then chosen on all the label's items. An auto
    threshold no aim gets to `auto_target` held out is None (the tier only suggests). A review threshold above the
    auto one is lowered to it. ValueError when no record has a positive."""
    if not any(r.positives for r in records):
        raise ValueError("no record has a positive text: nothing to calibrate on")
    rumor_of: dict[str, int] = {}
    for record in records:
        rumor_of.setdefault(record.rumor_text, len(rumor_of) + 1)
    items = items_of(records, rumor_of)
    texts = list(dict.fromkeys(items.texts))
    candidates = claim_candidates({rid: text for text, rid in rumor_of.items()}, texts, progress=progress)
    stage, _ = best_candidates(items, candidates, "claim")
    labels = np.array([v or default_verdict for v in items.verdict])
    groups = np.array(items.rumor)
    out = []
    for verdict in sorted(set(labels.tolist())):
        mask = labels == verdict
        positive = items.positive[mask]
        sub = Stage("claim", stage.scores[mask], stage.right[mask])
        counts = (len(set(groups[mask].tolist())), int(positive.sum()), int((~positive).sum()))
        if not positive.any():
            out.append(LabelCalibration(verdict, *counts, None, None, "no positive text for this label"))
            continue
        try:
            review = _choose(sub, positive, groups[mask], "claim_review_threshold", target, folds, seed)
            auto = _choose(sub, positive, groups[mask], "claim_auto_threshold", auto_target, folds, seed)
        except ValueError as exc:
            out.append(LabelCalibration(verdict, *counts, None, None, str(exc)))
            continue
        if review.threshold is not None and auto.threshold is not None and review.threshold > auto.threshold:
            review = Chosen(**{**review.__dict__, "threshold": auto.threshold})
        out.append(LabelCalibration(verdict, *counts, review, auto))
    return out
