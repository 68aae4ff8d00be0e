"""The semantic extra's suggestion floor (SEMANTIC_SUGGEST_MIN_SCORE), chosen by cross-validation on real data.

Data: the `checked:*` stratum of repost_pairs.jsonl (Chinese Weibo COVID posts that Weibo's reviewers judged to
carry the same false claim as the rumor, many of them rewordings; negatives are topical hard negatives). Each pair
is scored as the runtime scores it: the cosine of the post embedded as a query and the rumor as a passage.

Folds are grouped by rumor (a rumor's pairs never straddle training and evaluation). On each training part the
floor with the best F1 is chosen; precision and recall are those of the held-out part at that floor. The proposed
setting is the mean of the folds' floors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

STRATUM = "checked"


@dataclass(frozen=True)
class Pairs:
    rumor: np.ndarray  # group (rumor index) of each pair
    score: np.ndarray  # cosine
    positive: np.ndarray  # bool


def load_stratum(path: Path, stratum: str = STRATUM) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [r for r in map(json.loads, fh) if r["rumor_id"].split(":")[0] == stratum]


def score_pairs(records: list[dict], *, progress: Callable[[int], None] | None = None) -> Pairs:
    from debunk.semantic import embedder

    rumors = embedder.embed_passages([r["rumor_text"] for r in records])
    if progress:
        progress(len(records))
    groups, scores, labels = [], [], []
    for i, record in enumerate(records):
        texts = [p["text"] for p in record["positives"]] + [n["text"] for n in record["negatives"]]
        vectors = embedder.embed_queries(texts)
        if progress:
            progress(len(texts))
        scores += list(vectors @ rumors[i])
        labels += [True] * len(record["positives"]) + [False] * len(record["negatives"])
        groups += [i] * len(texts)
    return Pairs(np.array(groups), np.array(scores, dtype=np.float64), np.array(labels))


def _f1(score: np.ndarray, positive: np.ndarray, floor: float) -> tuple[float, float, float]:
    predicted = score >= floor
    tp = int((predicted & positive).sum())
    precision = tp / max(int(predicted.sum()), 1)
    recall = tp / max(int(positive.sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def cross_validate(pairs: Pairs, *, folds: int = 5, seed: int = 13) -> dict:
    groups = np.unique(pairs.rumor)
    order = np.random.default_rng(seed).permutation(groups)
    fold_of = {int(g): i % folds for i, g in enumerate(order)}
    fold = np.array([fold_of[int(g)] for g in pairs.rumor])
    grid = np.round(np.arange(0.70, 0.98, 0.005), 3)
    floors, tp, predicted, positives = [], 0, 0, 0
    for k in range(folds):
        train, test = fold != k, fold == k
        best = max(grid, key=lambda f: (_f1(pairs.score[train], pairs.positive[train], f)[2], f))
        floors.append(float(best))
        chosen = pairs.score[test] >= best
        tp += int((chosen & pairs.positive[test]).sum())
        predicted += int(chosen.sum())
        positives += int(pairs.positive[test].sum())
    return {
        "floors": floors,
        "floor": round(float(np.mean(floors)), 2),
        "heldout_precision": round(tp / max(predicted, 1), 4),
        "heldout_recall": round(tp / max(positives, 1), 4),
        "pairs": int(pairs.score.size),
        "positives": int(pairs.positive.sum()),
        "rumors": int(groups.size),
        "folds": folds,
    }
