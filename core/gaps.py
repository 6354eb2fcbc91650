"""Finding outages and missing stretches in a traffic series.

A run of periods with zero (or no) requests is a gap when it lasts at least
``min_minutes`` and the same hours of the day normally carry enough traffic
that silence is implausible: the expected count over the run, from the
median of each hour of day, is at least ``min_expected`` (a Poisson chance
of e^-10 ≈ 5e-5 of seeing zero by luck). Quiet nights of a small site are
therefore not outages. Runs of no data at all (NaN) of that length are gaps
whatever the hour.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.series import Gap

__all__ = ["find_gaps", "DEFAULT_GAP_MINUTES"]

DEFAULT_GAP_MINUTES = 30.0
DEFAULT_MIN_EXPECTED = 10.0


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open index ranges where ``mask`` is True."""
    if not mask.any():
        return []
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def find_gaps(
    requests: np.ndarray,
    index: pd.DatetimeIndex,
    interval: pd.Timedelta,
    min_minutes: float = DEFAULT_GAP_MINUTES,
    min_expected: float = DEFAULT_MIN_EXPECTED,
) -> tuple[Gap, ...]:
    """Gaps in a regular series (``requests`` NaN where there is no data).

    Args:
        requests: counts per period, NaN for no data.
        index: period starts (tz-aware, regular).
        interval: the period length.
        min_minutes: shortest run reported.
        min_expected: requests the same hours normally carry over the run.

    Returns:
        Gaps in time order, each ``[start, end)``.
    """
    if min_minutes <= 0:
        raise ValueError(f"gap threshold must be > 0 minutes, got {min_minutes}")
    req = np.asarray(requests, dtype=np.float64)
    n = len(req)
    if n == 0:
        return ()
    missing = np.isnan(req)
    silent = missing | (req == 0)
    min_periods = max(1, int(np.ceil(min_minutes * 60 / interval.total_seconds())))
    # Hour-of-day profile from periods with data (median is robust to the outages themselves).
    hours = index.hour.to_numpy()
    profile = np.zeros(24)
    have = ~missing
    for h in range(24):
        vals = req[have & (hours == h)]
        profile[h] = np.median(vals) if len(vals) else 0.0
    if not have.any():
        profile[:] = 0.0
    def gap(lo: int, hi: int, kind: str) -> Gap:
        return Gap(start=index[lo], end=index[hi] if hi < n else index[-1] + interval, kind=kind)

    gaps = []
    for lo, hi in _runs(silent):
        if hi - lo < min_periods:
            continue
        all_missing = bool(missing[lo:hi].all())
        if all_missing or float(profile[hours[lo:hi]].sum()) >= min_expected:
            gaps.append(gap(lo, hi, "missing" if all_missing else "silent"))
            continue
        # A plausible quiet stretch; stretches of no data inside it are still gaps.
        for mlo, mhi in _runs(missing[lo:hi]):
            if mhi - mlo >= min_periods:
                gaps.append(gap(lo + mlo, lo + mhi, "missing"))
    return tuple(gaps)
