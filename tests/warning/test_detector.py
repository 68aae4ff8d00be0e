"""The surge and resurgence detector (pure)."""

import numpy as np
import pytest

from debunk.warning.detector import (
    RESURGENCE,
    SURGE,
    Params,
    assess,
    episodes,
    expected_counts,
    p_values,
    surge_mask,
)

P = Params(alpha=0.1, floor_per_hour=0.2, p_max=1e-4, min_count=3)


def test_baseline_uses_only_earlier_bins():
    x = [10, 0, 0]
    e = expected_counts(x, P)
    assert e[0] == pytest.approx(0.2)  # nothing before: the floor
    assert e[1] == pytest.approx(0.1 * 10 + 0.2)
    assert e[2] == pytest.approx(0.9 * 1.0 + 0.2)


def test_p_value_is_poisson_upper_tail():
    assert p_values([0], np.array([1.0]))[0] == pytest.approx(1.0)
    assert p_values([1], np.array([1.0]))[0] == pytest.approx(1 - np.exp(-1))


def test_a_new_subject_is_not_alerted_on_its_first_hits():
    assert assess([0] * 48 + [1], P).kind is None
    assert assess([2], P).kind is None  # below min_count


def test_a_surge_over_a_quiet_baseline_alerts():
    history = [1, 0, 2, 1, 0, 1] * 8
    d = assess(history + [25], P)
    assert d.kind == SURGE and d.observed == 25 and d.p_value < 1e-4 and 0.2 < d.expected < 3


def test_a_busy_rumor_at_its_usual_rate_does_not_alert():
    rng = np.random.default_rng(0)
    series = rng.poisson(20, size=24 * 30)
    assert not surge_mask(series, P)[48:].any()


def test_resurgence_after_the_quiet_window_only():
    assert assess([0] * 5 + [2], P, quiet_bins_before=30 * 24).kind == RESURGENCE
    assert assess([0] * 5 + [2], P, quiet_bins_before=29 * 24).kind is None
    assert assess([0] * 5 + [1], P, quiet_bins_before=40 * 24).kind is None  # below resurgence_count
    assert assess([2], P, quiet_bins_before=None).kind is None  # never seen: not a resurgence


def test_finer_bins_scale_the_floor_and_quiet_window():
    fine = Params(bin_hours=1 / 6, floor_per_hour=0.6)
    assert fine.floor == pytest.approx(0.1)
    assert fine.quiet_bins == 30 * 24 * 6


def test_episodes_merge_fires_within_the_gap():
    mask = np.zeros(100, dtype=bool)
    mask[[3, 5, 20, 60]] = True
    assert episodes(mask, gap_bins=24) == 2  # 3, 5, 20 are one alert; 60 opens another
    assert episodes(np.zeros(5, dtype=bool), gap_bins=24) == 0


@pytest.mark.parametrize("kwargs", [{"alpha": 0}, {"p_max": 1}, {"min_count": 0}, {"floor_per_hour": 0}])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        Params(**kwargs)


def test_bad_series_are_refused():
    with pytest.raises(ValueError):
        assess([], P)
    with pytest.raises(ValueError):
        assess([1, -1], P)
