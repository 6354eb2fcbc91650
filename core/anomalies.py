"""Anomaly flags: seasonal-residual z-score, IsolationForest, their agreement, and a DDoS-like flag.

A flag means "unusual for this time": every score is relative to the level expected at that time of day,
not to the series' overall level, so ordinary daily peaks are not marked. The expected level
(:func:`expected_level`) is built from data before each period only (online, no leakage): the median of the
same time of day over the previous two weeks' days of the same kind (weekday or weekend), scaled by the
recent level (the median ratio over the trailing ``window``). The z-score divides the residual by the
count-data scale ``sqrt(expected)`` times the dispersion usual for that time of day on earlier days, so a
busy hour's larger swings are not mistaken for anomalies and a quiet night's spike is not missed.

IsolationForest (default 1% contamination) sees only residual features (the z-score, the log ratio to the
expected level, the previous periods' z-scores), never the raw level. ``direction="up"`` keeps the
periods above their expected level for both methods. ``agreement`` flags periods both methods flag. Where
the series has unique hosts, ``ddos`` flags periods whose requests per host jump above ``ddos_factor``
times its trailing-day median while requests are above their own trailing median (many requests from few
hosts).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import InputError
from core.series import TrafficSeries

__all__ = ["METHODS", "RELATIVE_TO", "AnomalyConfig", "AnomalyReport", "detect_anomalies", "expected_level",
           "zscore_baseline"]

METHODS = ("zscore", "iforest", "agreement", "ddos")
#: Days of history the seasonal profile and the per-time-of-day dispersion look back over.
PROFILE_DAYS = 14
#: The tail quantile of the trailing week's |scaled residuals| that sets the scale's heavy-tail factor.
TAIL_Q = 0.95
TAIL_NORMAL = 1.959964  # the same quantile of a standard normal's |z|
#: What the scores are relative to, in words (in every report).
RELATIVE_TO = ("the level expected for that time: median of the same time of day on the previous 14 days of "
               "the same kind (weekday/weekend), scaled to the recent level; z = residual / (sqrt(expected) x "
               "that time of day's usual dispersion, widened for heavy tails)")


@dataclass(frozen=True)
class AnomalyConfig:
    """Detector settings.

    Attributes:
        threshold: |z| at or above which the z-score method flags (sigmas).
        window: periods in the trailing window of the recent level (default: 3 hours' worth).
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
    r = v.shift(1).rolling(n, min_periods=min(n, max(2, n // 4)))  # n = 1 at daily granularity
    return r.quantile(TAIL_Q) if how == "tail" else getattr(r, how)()


def _lagged(v: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Column ``j`` holds ``v`` ``lags[j]`` periods earlier (NaN before the start)."""
    out = np.full((len(v), len(lags)), np.nan)
    for j, k in enumerate(lags):
        if k < len(v):
            out[k:, j] = v[: len(v) - k]
    return out


def _nanmedian_rows(a: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: the first day, gaps
        return np.nanmedian(a, axis=1)


def expected_level(y: np.ndarray, weekend: np.ndarray, steps_per_day: int, window: int) -> np.ndarray:
    """The level expected at each period from data strictly before it (NaN where undefined).

    The seasonal profile is the median, over the previous ``PROFILE_DAYS`` days of the same kind (weekday
    or weekend), of the 15-minute centred mean at the same time of day: only days before the period enter.
    It is scaled by the recent level: the median, over the ``window`` periods before the period, of the
    ratio of the trailing 15-minute mean to the profile's (a median, so a spike shorter than half the window
    does not raise the level it is judged against).

    Args:
        y: values per period, NaN where there is no data.
        weekend: True for periods on a Saturday or Sunday (local time).
        steps_per_day: periods per day.
        window: periods in the trailing level window.

    Returns:
        The expected value of each period.
    """
    sw = max(1, int(round(steps_per_day / 96)))  # 15 minutes in periods
    smooth = pd.Series(y).rolling(sw | 1, center=True, min_periods=1).mean().to_numpy()
    lags = np.arange(1, PROFILE_DAYS + 1) * steps_per_day
    past = _lagged(smooth, lags)
    past_weekend = _lagged(weekend.astype(np.float64), lags) == 1.0
    same = np.where(past_weekend == weekend[:, None], past, np.nan)
    profile = _nanmedian_rows(same)
    missing = np.isnan(profile)
    if missing.any():  # no earlier day of the same kind yet: any earlier day
        profile[missing] = _nanmedian_rows(past[missing])
    seen = np.where(np.isnan(y), np.nan, profile)
    recent = pd.Series(y).rolling(sw, min_periods=1).mean() / pd.Series(seen).rolling(sw, min_periods=1).mean()
    recent = recent.where(np.isfinite(recent))
    level = _trailing(recent, window, "median")
    level = level.fillna(_trailing(recent, steps_per_day, "median")).fillna(1.0).to_numpy()
    return profile * level


def zscore_baseline(y: np.ndarray, steps_per_day: int, window: int,
                    weekend: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Leak-free expected level and z-score of each period (NaN where undefined).

    The residual from :func:`expected_level` is scaled as count data, by ``sqrt(expected)``, times the
    dispersion usual for that time of day: 1.4826 x the median of the scaled residual's size at the same time
    of day (15-minute neighbourhood) on the previous days of the same kind, at least 1 (Poisson). Neither the
    level nor the scale includes the period itself.

    Args:
        y: values per period, NaN where there is no data.
        steps_per_day: periods per day.
        window: periods in the trailing level window.
        weekend: True for weekend periods (default: none).

    Returns:
        ``(expected, z)``.
    """
    weekend = np.zeros(len(y), dtype=bool) if weekend is None else np.asarray(weekend, dtype=bool)
    expected = expected_level(y, weekend, steps_per_day, window)
    root = np.sqrt(np.maximum(expected, 1.0))
    u = (y - expected) / root
    sw = max(1, int(round(steps_per_day / 96)))
    size = pd.Series(np.abs(u)).rolling(sw | 1, center=True, min_periods=1).median().to_numpy()
    lags = np.arange(1, PROFILE_DAYS + 1) * steps_per_day
    past = _lagged(size, lags)
    past_weekend = _lagged(weekend.astype(np.float64), lags) == 1.0
    disp = _nanmedian_rows(np.where(past_weekend == weekend[:, None], past, np.nan))
    missing = np.isnan(disp)
    if missing.any():  # no earlier day of the same kind: any earlier day, else the trailing day pooled
        disp[missing] = _nanmedian_rows(past[missing])
        pooled = _trailing(pd.Series(np.abs(u)), steps_per_day, "median").to_numpy()
        disp = np.where(np.isnan(disp), pooled, disp)
    phi = np.maximum(1.4826 * np.nan_to_num(disp, nan=1.0 / 1.4826), 1.0)
    # Traffic's residuals have heavier tails than a normal's: a trailing week's 95th percentile of |u / phi|
    # against the normal's 1.96 widens the scale (never narrows it), so 3 sigmas stays a rare event. (The
    # 99th percentile let earlier anomalies in the week inflate the scale and hide the next ones.)
    tail = _trailing(pd.Series(np.abs(u / phi)), 7 * steps_per_day, "tail").to_numpy() / TAIL_NORMAL
    with np.errstate(invalid="ignore"):
        z = u / (phi * np.maximum(np.nan_to_num(tail, nan=1.0), 1.0))
    return expected, z


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
    expected: np.ndarray | None = None  # the level each score is relative to (NaN: not scored)

    def flagged_share(self, method: str) -> float:
        return float(self.flags[method].mean()) if len(self.values) else 0.0

    def to_dict(self) -> dict:
        return {
            "config": self.config.__dict__,
            "periods_scanned": int(len(self.values)),
            "counts": {m: int(f.sum()) for m, f in self.flags.items()},
            "ddos_available": self.has_hosts,
            "relative_to": RELATIVE_TO,
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


def residual_features(y: np.ndarray, expected: np.ndarray, z: np.ndarray) -> np.ndarray:
    """IsolationForest's features, both relative to the expected level (never the raw level or the hour):
    the z-score and the log ratio to the expected level. (The previous periods' z-scores were tried: they make
    the inside of a level shift more isolated than a short spike, which then falls outside the 1% budget.)"""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.log1p(np.maximum(y, 0)) - np.log1p(np.maximum(expected, 0))
    return np.nan_to_num(np.column_stack([z, ratio]))


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
    window = cfg.window or max(2, int(round(pd.Timedelta(hours=3) / series.interval)))
    y = series.frame[target].to_numpy(dtype=np.float64).copy()
    gap = series.gap_mask() | np.isnan(y)
    y[gap] = np.nan
    idx = series.index
    expected, z = zscore_baseline(y, spd, window, weekend=np.asarray(idx.day_of_week >= 5))
    zz = np.nan_to_num(z if cfg.direction == "up" else np.abs(z))
    flags = {"zscore": zz >= cfg.threshold}

    feats = residual_features(y, expected, z)
    usable = ~gap & np.isfinite(z)
    score = np.zeros(len(y))
    flag_if = np.zeros(len(y), dtype=bool)
    if usable.sum() >= 100:
        forest = IsolationForest(contamination=cfg.contamination, random_state=cfg.seed, n_jobs=1)
        forest.fit(feats[usable])
        score[usable] = -forest.score_samples(feats[usable])
        flag_if[usable] = forest.predict(feats[usable]) == -1
    if cfg.direction == "up":
        flag_if &= np.nan_to_num(z) > 0
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
    return AnomalyReport(idx, y, z, score, flags, cfg, step, has_hosts, periods, expected)
