"""Anomaly detection: recall on injected spikes, false alarms on normal periods, DDoS-like flag."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.anomalies import AnomalyConfig, detect_anomalies
from core.errors import InputError
from core.series import TrafficSeries
from tests.core.forecast.synth import make_series, nasa_series


def inject(series: TrafficSeries, n: int, sigmas: float, seed: int = 0):
    """Add ``sigmas`` times the series' standard deviation at ``n`` random scored periods."""
    y = series.requests
    sigma = np.nanstd(np.where(series.gap_mask(), np.nan, y))
    rng = np.random.default_rng(seed)
    spd = int(pd.Timedelta(days=1) / series.interval)
    candidates = np.flatnonzero(~series.gap_mask())
    candidates = candidates[candidates >= 8 * spd]  # after the first week, when the baseline exists
    idx = np.sort(rng.choice(candidates, n, replace=False))
    frame = series.frame.copy()
    frame.iloc[idx, 0] += sigmas * sigma
    return TrafficSeries(frame, series.interval, series.gaps), idx


def check_recall_and_false_alarms(series: TrafficSeries, n_spikes: int):
    clean = detect_anomalies(series)
    spiked, idx = inject(series, n_spikes, 3.0)
    rep = detect_anomalies(spiked)
    recall = rep.flags["zscore"][idx].mean()
    scored = np.isfinite(clean.zscore)
    false_alarms = clean.flags["zscore"][scored].mean()
    assert recall >= 0.9, f"recall {recall:.3f}"
    assert false_alarms <= 0.01, f"{false_alarms:.2%} of normal periods flagged"
    assert rep.flags["agreement"].sum() <= min(rep.flags["zscore"].sum(), rep.flags["iforest"].sum())
    return rep


def test_recall_on_synthetic_spikes():
    check_recall_and_false_alarms(make_series(days=14, step="5min", scale=120.0), 60)


def test_recall_on_the_real_series_with_injected_spikes(nasa_dir):
    check_recall_and_false_alarms(nasa_series(nasa_dir).resample("5min"), 200)


def test_gaps_are_never_flagged_and_report_is_json_safe():
    s = make_series(days=10, step="15min", gaps=(("1995-07-10 00:00", "1995-07-10 12:00"),))
    rep = detect_anomalies(s)
    gap = s.gap_mask()
    for flags in rep.flags.values():
        assert not flags[gap].any()
    d = rep.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["ddos_available"] is False
    assert set(d["counts"]) == {"zscore", "iforest", "agreement", "ddos"}


def test_ddos_flag_from_requests_per_host():
    s = make_series(days=10, step="15min", scale=200.0)
    frame = s.frame.copy()
    rng = np.random.default_rng(1)
    frame["unique_hosts"] = np.maximum(1, np.round(frame["requests"] / 4 + rng.normal(0, 2, len(frame))))
    hit = frame.index.get_indexer(pd.date_range("1995-07-11 14:00", periods=3, freq="15min", tz="-04:00"))
    frame.iloc[hit, 0] *= 6  # six times the requests from the same hosts
    rep = detect_anomalies(TrafficSeries(frame, s.interval))
    assert rep.has_hosts
    assert rep.flags["ddos"][hit].all()
    assert rep.flags["ddos"].sum() <= len(hit) + 2
    assert any(a["method"] == "ddos" for a in rep.periods)


@pytest.mark.parametrize(
    ("kw", "msg"),
    [({"threshold": 0}, "threshold must be > 0"), ({"contamination": 0.7}, "contamination must be in"),
     ({"window": 1}, "window must be >= 2"), ({"direction": "down"}, "direction must be"),
     ({"ddos_factor": 1}, "ddos_factor must be > 1")],
)
def test_bad_config(kw, msg):
    with pytest.raises(InputError, match=msg):
        AnomalyConfig(**kw)


def test_too_short():
    s = make_series(days=1)
    with pytest.raises(InputError, match="at least 2 days"):
        detect_anomalies(s)


def weekly_cycle(days: int = 21, step: str = "5min", level: float = 40.0, seed: int = 0) -> TrafficSeries:
    """Poisson counts on a strong daily cycle (trough 10% of the peak, peak at 14:00) with quiet weekends."""
    from core.generators import daily_cycle

    idx = pd.date_range("2024-01-01", periods=int(pd.Timedelta(days=days) / pd.Timedelta(step)), freq=step, tz="UTC")
    rate = level * daily_cycle(idx, amplitude=0.82) * np.where(idx.day_of_week >= 5, 0.4, 1.0)
    counts = np.random.default_rng(seed).poisson(rate * (pd.Timedelta(step) / pd.Timedelta("1min")))
    return TrafficSeries(pd.DataFrame({"requests": counts.astype(float)}, index=idx), pd.Timedelta(step))


def test_daily_peaks_and_monday_mornings_are_not_anomalies():
    s = weekly_cycle()
    rep = detect_anomalies(s, config=AnomalyConfig(direction="both"))
    # From the second week on: the first Saturday, with no weekend seen before it, is rightly unusual.
    scored = np.isfinite(rep.zscore) & (s.index >= s.index[0] + pd.Timedelta(days=7))
    hours = s.index.hour
    peak = scored & (hours >= 11) & (hours < 17)
    monday = scored & (s.index.day_of_week == 0) & (hours < 12)
    assert rep.flags["zscore"][peak].mean() <= 0.005, f"{rep.flags['zscore'][peak].sum()} peak periods marked"
    assert rep.flags["zscore"][monday].sum() <= 2
    assert rep.flags["zscore"][scored].mean() <= 0.005
    assert "expected for that time" in rep.to_dict()["relative_to"]


def test_a_night_spike_below_the_daily_peak_is_marked():
    s = weekly_cycle()
    frame = s.frame.copy()
    night = frame.index.get_indexer(pd.date_range("2024-01-17 02:00", periods=3, freq="5min", tz="UTC"))
    frame.iloc[night, 0] *= 4
    assert frame["requests"].iloc[night].max() < 0.5 * frame["requests"].max()  # small in absolute terms
    rep = detect_anomalies(TrafficSeries(frame, s.interval))
    assert rep.flags["zscore"][night].all()
    assert rep.flags["iforest"][night].any()
    assert any(a["method"] == "zscore" and a["start"].startswith("2024-01-17T02:00") for a in rep.periods)


def test_no_leakage_changing_the_future_changes_no_earlier_score():
    s = weekly_cycle(days=16)
    cut = s.index.get_loc(pd.Timestamp("2024-01-12 09:00", tz="UTC"))
    frame = s.frame.copy()
    frame.iloc[cut:, 0] = frame["requests"].iloc[cut:].to_numpy()[::-1] * 7  # another future entirely
    a, b = detect_anomalies(s), detect_anomalies(TrafficSeries(frame, s.interval))
    np.testing.assert_array_equal(a.expected[: cut + 1], b.expected[: cut + 1])  # the period itself is not seen
    np.testing.assert_array_equal(a.zscore[:cut], b.zscore[:cut])
    np.testing.assert_array_equal(a.flags["zscore"][:cut], b.flags["zscore"][:cut])


@pytest.mark.parametrize(("days", "step"), [(30, "1h"), (120, "1D")])
def test_coarse_granularities_are_scored(days, step):
    rep = detect_anomalies(make_series(days=days, step=step))  # one period a day: trailing windows of 1
    assert np.isfinite(rep.zscore).mean() > 0.9
    assert rep.flags["zscore"].mean() <= 0.05
