"""Surge and resurgence detection on counts per time bin (pure: numpy and scipy only, no Django).

A subject (a rumor, or an unmatched lead) has a series of counts per bin: match hits (plus reports and exposures,
as the alert service sums them). Each bin is tested against the subject's own baseline:

- baseline: an exponentially weighted moving average (EWMA) of the subject's *earlier* bins,
  e[t] = alpha * x[t-1] + (1 - alpha) * e[t-1], e[0] = 0; the expected count of bin t is e[t] plus a small floor
  (`floor_per_hour`, scaled to the bin), so a brand-new subject is not alerted on its first hit;
- test: p = P(X >= x[t]) for X ~ Poisson(expected) (scipy.stats.poisson.sf); the bin alerts when p < p_max and
  x[t] >= min_count.

Resurgence (旧谣言反复传播): a rumor with no hit for at least `quiet_days` that has at least `resurgence_count`
in one bin. The live system uses hourly bins; the evaluation (debunk.bench.warning_eval) runs the same functions on
finer bins (`bin_hours` < 1), where the floor scales with the bin and min_count is per bin.

The default parameters are those `manage.py eval_warning --bin-minutes 60` chose on the development half of the
Weibo cascades (hourly bins, as live); the figures reported are those of the held-out half (see the README).
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.signal import lfilter
from scipy.stats import poisson

SURGE = "surge"
RESURGENCE = "resurgence"


@dataclass(frozen=True)
class Params:
    """Detector parameters. Rates are per hour and scaled to the bin; counts are per bin."""

    alpha: float = 0.05
    floor_per_hour: float = 0.05
    p_max: float = 1e-4
    min_count: int = 4
    quiet_days: float = 30.0
    resurgence_count: int = 2
    bin_hours: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.alpha <= 1:
            raise ValueError("alpha must be in (0, 1]")
        if self.floor_per_hour <= 0 or self.bin_hours <= 0:
            raise ValueError("floor_per_hour and bin_hours must be positive")
        if not 0 < self.p_max < 1:
            raise ValueError("p_max must be in (0, 1)")
        if self.min_count < 1 or self.resurgence_count < 1:
            raise ValueError("min_count and resurgence_count must be at least 1")

    @property
    def floor(self) -> float:
        """The floor rate, per bin."""
        return self.floor_per_hour * self.bin_hours

    @property
    def quiet_bins(self) -> int:
        return round(self.quiet_days * 24 / self.bin_hours)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    """The verdict on one bin: `kind` is SURGE, RESURGENCE or None (no alert)."""

    kind: str | None
    observed: int
    expected: float
    p_value: float


def expected_counts(counts: np.ndarray | Sequence[float], params: Params) -> np.ndarray:
    """Expected count of every bin from the earlier bins only (EWMA + floor); works along the last axis, so a 2-D
    array holds one subject per row."""
    x = np.asarray(counts, dtype=float)
    smoothed = lfilter([params.alpha], [1.0, params.alpha - 1.0], x, axis=-1)  # EWMA including bin t
    before = np.zeros_like(x)
    before[..., 1:] = smoothed[..., :-1]  # the baseline of bin t is the EWMA up to bin t-1
    return before + params.floor


def p_values(counts: np.ndarray | Sequence[float], expected: np.ndarray) -> np.ndarray:
    """P(X >= count) for X ~ Poisson(expected), elementwise."""
    x = np.asarray(counts, dtype=float)
    return poisson.sf(x - 1, expected)


def surge_mask(counts: np.ndarray | Sequence[float], params: Params) -> np.ndarray:
    """Boolean array: the bins that alert as surges."""
    x = np.asarray(counts, dtype=float)
    return (x >= params.min_count) & (p_values(x, expected_counts(x, params)) < params.p_max)


def resurgence(*, quiet_bins_before: int | None, observed: int, params: Params) -> bool:
    """An old rumor matching again: at least `resurgence_count` hits in the bin after at least `quiet_days` with
    none. `quiet_bins_before`: empty bins before this one (None when the subject has no earlier hit or reference
    time; a brand-new subject is not a resurgence)."""
    return (
        quiet_bins_before is not None
        and quiet_bins_before >= params.quiet_bins
        and observed >= (params.resurgence_count)
    )


def assess(counts: np.ndarray | Sequence[float], params: Params, *, quiet_bins_before: int | None = None) -> Decision:
    """The verdict on the last bin of `counts` (earlier bins are the history, oldest first). Resurgence is
    checked first (it is the stronger signal for an old rumor); `quiet_bins_before` as in `resurgence`."""
    x = np.asarray(counts, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError("counts must be a non-empty 1-D series")
    if np.any(x < 0):
        raise ValueError("counts cannot be negative")
    observed = int(x[-1])
    expected = float(expected_counts(x, params)[-1])
    p = float(poisson.sf(observed - 1, expected))
    if resurgence(quiet_bins_before=quiet_bins_before, observed=observed, params=params):
        return Decision(RESURGENCE, observed, expected, p)
    if observed >= params.min_count and p < params.p_max:
        return Decision(SURGE, observed, expected, p)
    return Decision(None, observed, expected, p)


def episodes(mask: np.ndarray, *, gap_bins: int) -> int:
    """How many alerts a firing mask opens when an alert stays open until `gap_bins` bins pass without firing
    (the live system auto-closes an alert quiet for 24 h): one per run of fires separated by >= gap_bins."""
    fires = np.flatnonzero(np.asarray(mask))
    if fires.size == 0:
        return 0
    return int(1 + np.count_nonzero(np.diff(fires) > gap_bins))
