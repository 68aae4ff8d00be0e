"""The threshold choice by cross-validation over rumors (debunk.matching.calibration), on tiny invented scores."""

import math

import numpy as np
import pytest

from debunk.matching.calibration import (
    Record,
    Stage,
    assign_folds,
    best_candidates,
    cross_validate,
    items_of,
    select_threshold,
)


def test_select_threshold_is_the_lowest_reaching_the_target():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, math.nan])
    right = np.array([True, True, False, True, False, False])
    # precision at ≥0.9: 1/1, ≥0.8: 2/2, ≥0.7: 2/3, ≥0.6: 3/4, ≥0.5: 3/5
    chosen = select_threshold(scores, right, positives=4, target=0.75)
    assert (chosen.threshold, chosen.precision, chosen.recall) == (0.6, 0.75, 0.75)
    chosen = select_threshold(scores, right, positives=4, target=0.6)  # 0.5 reaches 0.6 too, but adds no recall
    assert chosen.threshold == 0.6
    chosen = select_threshold(scores, right, positives=4, target=0.95)
    assert (chosen.threshold, chosen.precision, chosen.recall) == (0.8, 1.0, 0.5)
    assert select_threshold(scores, np.zeros(6, dtype=bool), positives=4, target=0.5).threshold is None


def test_ties_are_decided_together():
    # two items at 0.8, one right one wrong: 0.8 gives 2/3, never 2/2
    chosen = select_threshold(np.array([0.9, 0.8, 0.8]), np.array([True, True, False]), positives=2, target=0.9)
    assert chosen.threshold == 0.9


def test_folds_split_rumors_never_their_texts():
    groups = np.array([1, 1, 2, 2, 3, 3, 3, 4, 5, 6])
    fold = assign_folds(groups, 3, seed=1)
    for g in set(groups.tolist()):
        assert len(set(fold[groups == g].tolist())) == 1
    assert set(fold.tolist()) == {0, 1, 2}
    assert set(assign_folds(np.array([1, 2]), 5).tolist()) == {0, 1}  # no more folds than rumors
    with pytest.raises(ValueError):
        assign_folds(np.array([7, 7, 7]), 5)


def test_thresholds_are_never_chosen_on_the_held_out_fold():
    """Two rumors, two folds. Rumor 1: positive 0.9 (right), negative 0.95. Rumor 2: positive 0.5, negative 0.3.
    Trained on rumor 2, the threshold is 0.5, which held out on rumor 1 decides both items (one wrong); trained on
    rumor 1 no threshold reaches 0.95, so rumor 2 stays undecided. Thresholds picked on the test fold itself would
    give precision 1.0 (rumor 1 undecided, rumor 2 right): this figure shows they were not."""
    scores = np.array([0.9, 0.95, 0.5, 0.3])
    right = positive = np.array([True, False, True, False])
    groups = np.array([1, 1, 2, 2])
    done = cross_validate([Stage("s", scores, right)], positive, groups, target=0.95, folds=2)
    assert sorted(done.thresholds["s"], key=lambda t: t is not None) == [None, 0.5]
    assert done.figures() == {"recall": 0.5, "precision": 0.5, "false_match_rate": 0.5, "decided": 2}
    assert done.decided.tolist() == [True, True, False, False]


def test_a_perfectly_separated_stage_keeps_everything_held_out():
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(20), 4)
    positive = np.tile([True, True, False, False], 20)
    scores = np.where(positive, rng.uniform(0.6, 1.0, 80), rng.uniform(0.0, 0.4, 80))
    done = cross_validate([Stage("s", scores, positive.copy())], positive, groups, target=0.95, folds=5)
    figures = done.figures()
    assert (figures["precision"], figures["false_match_rate"]) == (1.0, 0.0)
    # a held-out positive can score under the lowest positive of the training folds: recall may dip, never leak
    assert 0.9 <= figures["recall"] <= 1.0
    assert all(t is not None and 0.6 <= t <= 1.0 for t in done.thresholds["s"])


def test_the_cascade_chooses_the_later_stage_on_what_the_earlier_left():
    # stage 1 finds the copies (right at 1.0), stage 2 the rewordings; stage 2 alone would also score the copies
    # low, so its threshold must come from the residual only
    groups = np.repeat(np.arange(10), 3)
    kind = np.tile(["copy", "reword", "negative"], 10)
    positive = kind != "negative"
    s1 = np.where(kind == "copy", 1.0, np.nan)
    s2 = np.select([kind == "copy", kind == "reword"], [0.2, 0.7], 0.1)
    stages = [Stage("near", s1, kind == "copy"), Stage("claim", s2, positive.copy())]
    done = cross_validate(stages, positive, groups, target=0.95, folds=5)
    assert done.figures()["recall"] == 1.0 and done.figures()["precision"] == 1.0
    assert set(done.decided_by[kind == "copy"].tolist()) == {0}
    assert set(done.decided_by[kind == "reword"].tolist()) == {1}
    assert all(0.1 < t <= 0.7 for t in done.thresholds["claim"])  # not 0.2..: the copies were left out


def test_items_are_right_by_the_datasets_own_labels():
    """A negative of one record that another record lists among its positives is right when matched to that other
    rumor (no false match), wrong when matched to any other; records with one rumor text share its rumor."""
    a = Record(1, "x:1", "x", "zh", "A", positives=("a1",), negatives=("b1",))
    b = Record(2, "x:2", "x", "zh", "B", positives=("b1",), negatives=())
    a_again = Record(3, "x:3", "x", "zh", "A", positives=("a2",), negatives=())
    items = items_of([a, b, a_again], {"A": 10, "B": 20})
    assert items.texts == ["a1", "b1", "b1", "a2"] and items.rumor == [10, 10, 20, 10]
    stage, top5 = best_candidates(items, {"a1": [(20, 0.9), (10, 0.8)], "b1": [(20, 1.0)], "a2": [(10, 0.5)]}, "s")
    assert stage.right.tolist() == [False, True, True, True]
    assert top5.tolist() == [True, False, True, True]  # top 5: positives only, own rumor anywhere in the five
    c = Record(4, "x:4", "x", "zh", "C", positives=(), negatives=("B",))  # a negative that is B's own text
    items = items_of([b, c], {"B": 20, "C": 30})
    assert items.accepted == [frozenset({20}), frozenset({20})]
