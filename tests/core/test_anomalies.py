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
