"""Anomaly flags: rolling z-score, IsolationForest, their agreement, and a DDoS-like flag.

The z-score compares each period with a trailing baseline that never includes
the period itself: the median of the same time of day over the previous
seven days, scaled to the level of the last ``window`` periods. The residual
is divided by the standard deviation of the residuals over the trailing day
(again excluding the period). Without the seasonal baseline a plain trailing
mean mistakes every morning ramp for an anomaly.

IsolationForest (default 1% contamination) sees the same leak-free features
plus the time of day. ``agreement`` flags periods both methods flag. Where
the series has unique hosts, ``ddos`` flags periods whose requests per host
jump above ``ddos_factor`` times its trailing-day median while requests are
above their own trailing median (many requests from few hosts).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import InputError
from core.series import TrafficSeries

__all__ = ["METHODS", "AnomalyConfig", "AnomalyReport", "detect_anomalies", "zscore_baseline"]

METHODS = ("zscore", "iforest", "agreement", "ddos")


@dataclass(frozen=True)
class AnomalyConfig:
    """Detector settings.

    Attributes:
        threshold: |z| at or above which the z-score method flags (sigmas).
        window: periods in the trailing level window (default: 1 hour's worth).
        contamination: IsolationForest's expected share of anomalies, in (0, 0.5).
        ddos_factor: requests-per-host jump that raises the DDoS-like flag.
        seed: IsolationForest's random seed.
        direction: ``"up"`` flags surges only (what capacity planning cares about;
            dips are mostly outages, already marked as gaps), ``"both"`` dips too.
    """

    threshold: float = 3.0
    window: int | None = None
    contamination: float = 0.01
    ddos_factor: float = 3.0
    seed: int = 0
    direction: str = "up"

    def __post_init__(self) -> None:
        if not self.threshold > 0:
            raise InputError(f"threshold must be > 0 sigmas, got {self.threshold}")
        if self.window is not None and self.window < 2:
            raise InputError(f"window must be >= 2 periods, got {self.window}")
        if not 0 < self.contamination < 0.5:
            raise InputError(f"contamination must be in (0, 0.5), got {self.contamination}")
        if self.direction not in ("up", "both"):
            raise InputError(f"direction must be 'up' or 'both', got {self.direction!r}")
        if not self.ddos_factor > 1:
            raise InputError(f"ddos_factor must be > 1, got {self.ddos_factor}")


def _trailing(v: pd.Series, n: int, how: str) -> pd.Series:
    """Statistic over the ``n`` periods before each one (the period itself excluded)."""
    r = v.shift(1).rolling(n, min_periods=max(2, n // 4))
    return getattr(r, how)()


def zscore_baseline(y: np.ndarray, steps_per_day: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Leak-free baseline and z-score of each period (NaN where undefined)."""
    Y = pd.Series(y)
    lagged = np.column_stack([Y.shift(k * steps_per_day).to_numpy() for k in range(1, 8)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: the first day, gaps
        profile = pd.Series(np.nanmedian(lagged, axis=1))
    seen = profile.where(Y.notna())
    level = _trailing(Y, window, "sum") / _trailing(seen, window, "sum")
    base = profile * level
    resid = Y - base
    # Residuals clipped at 4 robust sigmas before the trailing std: earlier spikes in the
    # window must not inflate the scale and hide the next one.
    med = _trailing(resid, steps_per_day, "median")
    mad = 1.4826 * _trailing((resid - med).abs(), steps_per_day, "median")
    sd = _trailing(resid.clip(med - 4 * mad, med + 4 * mad), steps_per_day, "std")
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (resid / sd.where(sd > 0)).to_numpy()
    return base.to_numpy(), z


@dataclass
class AnomalyReport:
    """Per-period scores and flags, and flagged periods merged into runs."""

    timestamps: pd.DatetimeIndex
    values: np.ndarray
    zscore: np.ndarray
    iforest_score: np.ndarray
    flags: dict[str, np.ndarray]
    config: AnomalyConfig
    interval: pd.Timedelta
    has_hosts: bool = False
    periods: list[dict] = field(default_factory=list)

    def flagged_share(self, method: str) -> float:
        return float(self.flags[method].mean()) if len(self.values) else 0.0

    def to_dict(self) -> dict:
        return {
            "config": self.config.__dict__,
            "periods_scanned": int(len(self.values)),
            "counts": {m: int(f.sum()) for m, f in self.flags.items()},
            "ddos_available": self.has_hosts,
            "anomalies": self.periods,
        }


def _runs(ts: pd.DatetimeIndex, flag: np.ndarray, score: np.ndarray, method: str, step: pd.Timedelta) -> list[dict]:
    out = []
    idx = np.flatnonzero(flag)
    if not idx.size:
        return out
    breaks = np.flatnonzero(np.diff(idx) > 1)
    for a, b in zip(np.r_[0, breaks + 1], np.r_[breaks, len(idx) - 1], strict=True):
        lo, hi = idx[a], idx[b]
        s = score[lo : hi + 1]
        best = float(s[np.nanargmax(np.abs(s))]) if np.isfinite(s).any() else None
        out.append({"start": ts[lo].isoformat(), "end": (ts[hi] + step).isoformat(), "method": method,
                    "periods": int(hi - lo + 1), "score": best})
    return out


def detect_anomalies(
    series: TrafficSeries, target: str = "requests", config: AnomalyConfig | None = None
) -> AnomalyReport:
    """Flag anomalous periods by every method (gap periods are never flagged).

    Raises:
        InputError: unknown target or a series shorter than two days.
    """
    from sklearn.ensemble import IsolationForest

    cfg = config or AnomalyConfig()
    if target not in series.frame.columns:
        raise InputError(f"this series has no {target!r} column; use target='requests'")
    spd = max(1, int(round(pd.Timedelta(days=1) / series.interval)))
    if len(series) < 2 * spd:
        raise InputError(f"anomaly detection needs at least 2 days of data, got {len(series)} periods")
    window = cfg.window or max(2, int(round(pd.Timedelta(hours=1) / series.interval)))
    y = series.frame[target].to_numpy(dtype=np.float64).copy()
    gap = series.gap_mask() | np.isnan(y)
    y[gap] = np.nan
    base, z = zscore_baseline(y, spd, window)
    zz = np.nan_to_num(z if cfg.direction == "up" else np.abs(z))
    flags = {"zscore": zz >= cfg.threshold}

    idx = series.index
    tod = ((idx.hour * 60 + idx.minute) / 1440.0).to_numpy()
    prev = np.r_[np.nan, y[:-1]]
    feats = np.column_stack([
        np.nan_to_num(z), np.nan_to_num(y - base), np.nan_to_num(y - prev),
        np.nan_to_num(y), np.cos(2 * np.pi * tod), np.sin(2 * np.pi * tod),
    ])
    usable = ~gap & np.isfinite(z)
    score = np.zeros(len(y))
    flag_if = np.zeros(len(y), dtype=bool)
    if usable.sum() >= 100:
        forest = IsolationForest(contamination=cfg.contamination, random_state=cfg.seed, n_jobs=1)
        forest.fit(feats[usable])
        score[usable] = -forest.score_samples(feats[usable])
        flag_if[usable] = forest.predict(feats[usable]) == -1
    flags["iforest"] = flag_if
    flags["agreement"] = flags["zscore"] & flag_if

    has_hosts = "unique_hosts" in series.frame.columns and target == "requests"
    ddos = np.zeros(len(y), dtype=bool)
    rph_ratio = np.full(len(y), np.nan)
    if has_hosts:
        hosts = series.frame["unique_hosts"].to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            rph = pd.Series(np.where(hosts > 0, y / hosts, np.nan))
        rph_ratio = (rph / _trailing(rph, spd, "median")).to_numpy()
        busy = y > _trailing(pd.Series(y), spd, "median").to_numpy()
        ddos = np.nan_to_num(rph_ratio) >= cfg.ddos_factor
        ddos &= busy
    flags["ddos"] = ddos
    for f in flags.values():
        f &= ~gap

    step = series.interval
    periods = []
    for method, sc in (("zscore", z), ("iforest", score), ("agreement", z), ("ddos", rph_ratio)):
        periods += _runs(idx, flags[method], sc, method, step)
    periods.sort(key=lambda d: (d["start"], d["method"]))
    return AnomalyReport(idx, y, z, score, flags, cfg, step, has_hosts, periods)
