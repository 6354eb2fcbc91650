"""Conformal prediction intervals from held-out forecast errors, per horizon band.

Scores are scaled errors ``(y - mean) / sqrt(max(mean, floor))``: count data
has variance growing with its level, so one quantile of the scaled error
fits the night and the peak alike. For each horizon band the calibrator keeps
the empirical quantile function of the scores; an interval at level L takes
the split-conformal quantiles ``(1 -/+ L) / 2`` with the finite-sample
correction ``ceil((n + 1) tau) / n``. Coverage is marginal over the band, and
holds in backtests as long as the test period resembles the calibration one.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["ConformalCalibrator", "calibration_origins", "horizon_band_edges"]

_MIN_SCORES = 50
_QGRID = np.linspace(0.0, 1.0, 2001)


def horizon_band_edges(grid) -> np.ndarray:
    """Upper edges (in steps) of the horizon bands: 1 step, 15 min, 1 h, 3 h, 12 h, 1, 2, 4, 30 days."""
    spans = ["15min", "1h", "3h", "12h", "1D", "2D", "4D", "30D"]
    edges = [1] + [max(1, int(round(pd.Timedelta(s) / grid.step))) for s in spans]
    return np.unique(np.asarray(edges, dtype=np.int64))


def calibration_origins(m: int, n: int, steps_per_day: int) -> list[tuple[np.ndarray, int]]:
    """Origins and path lengths used to calibrate on the window ``[m, n)``.

    Every position one step ahead; hourly origins one day ahead; daily origins
    over the whole window (for horizons beyond a day).
    """
    w = n - m
    stride = max(1, steps_per_day // 24)
    tiers = [(np.arange(m, n), 1), (np.arange(m, n, stride), min(steps_per_day, w))]
    if w > steps_per_day:
        tiers.append((np.arange(m, n - steps_per_day, steps_per_day), w))
    return tiers


class ConformalCalibrator:
    """Quantiles of scaled forecast errors per horizon band."""

    def __init__(self, edges: np.ndarray, quantiles: list[np.ndarray | None], counts: list[int], floor: float,
                 step_correlation: float = 0.0, day_share: float = 0.0, day_correlation: float = 0.0):
        self.edges = np.asarray(edges, dtype=np.int64)
        #: Correlation of the normal scores of errors at adjacent horizons of one path (sample paths' copula).
        self.step_correlation = float(step_correlation)
        #: Share of the normal scores' variance that is common to a whole day of one path (a level error that
        #: persists for the day), and the correlation of those day levels from one day to the next.
        self.day_share = float(day_share)
        self.day_correlation = float(day_correlation)
        self.quantiles = quantiles
        self.counts = counts
        self.floor = float(floor)
        # Bands without enough scores borrow from the nearest shorter band that has them.
        self._use = []
        last = None
        for i, q in enumerate(quantiles):
            if q is not None:
                last = i
            self._use.append(last)
        first = next((i for i in self._use if i is not None), None)
        if first is None:
            raise ValueError("no calibration scores; the calibration window holds no data")
        self._use = [first if u is None else u for u in self._use]

    @classmethod
    def from_paths(cls, parts, y: np.ndarray, grid, floor: float) -> ConformalCalibrator:
        """Build from ``[(origins, mean_paths), ...]`` tiers over the true ``y``.

        A horizon is scored from the first tier whose paths reach it, so the
        one-step band uses every position and longer bands the coarser tiers.
        """
        edges = horizon_band_edges(grid)
        n = len(y)
        per_band: list[list[np.ndarray]] = [[] for _ in edges]
        adjacent: list[np.ndarray] = []  # (score at j, score at j + 1) from one origin, for the copula
        long_paths = None  # the longest tier's scores (origins x horizon), for the day-level factor
        covered = 0
        for origins, mean in parts:
            h = mean.shape[1]
            j = np.arange(h)
            keep_j = j >= covered
            if not keep_j.any():
                continue
            pos = origins[:, None] + j[None, :]
            valid = (pos < n) & keep_j[None, :]
            truth = np.where(valid, y[np.minimum(pos, n - 1)], np.nan)
            valid &= ~np.isnan(truth)
            scale = np.sqrt(np.maximum(mean, floor))
            score = (truth - mean) / scale
            if h > 1:
                both = valid[:, :-1] & valid[:, 1:]
                adjacent.append(np.stack([score[:, :-1][both], score[:, 1:][both]]))
            if h > grid.steps_per_day:
                long_paths = np.where(valid, score, np.nan)
            band = np.searchsorted(edges, j + 1)  # horizon j+1 -> band index
            for b in np.unique(band[keep_j]):
                sel = valid & (band == b)[None, :]
                if sel.any():
                    per_band[b].append(score[sel])
            covered = h
        quantiles, counts = [], []
        for chunks in per_band:
            s = np.concatenate(chunks) if chunks else np.empty(0)
            s = s[np.isfinite(s)]
            counts.append(int(s.size))
            quantiles.append(np.quantile(s, _QGRID) if s.size >= _MIN_SCORES else None)
        rho = _rank_correlation(adjacent)
        share, day_rho = _day_factor(long_paths, grid.steps_per_day, rho)
        # The adjacent-step correlation includes the shared day level; the rest is the step process's.
        step_rho = float(np.clip((rho - share) / (1 - share), 0.0, 0.999)) if share < 1 else 0.0
        return cls(edges, quantiles, counts, floor, step_rho, share, day_rho)

    def _tau(self, b: int, tau: float, upper: bool) -> float:
        n = self.counts[b]
        if upper:
            return min(1.0, math.ceil((n + 1) * tau) / n)
        return max(0.0, (math.floor((n + 1) * tau) - 1) / n)

    def score_bounds(self, level: float, h: int) -> tuple[np.ndarray, np.ndarray]:
        """Scaled-error bounds ``(lo, hi)``, each ``(h,)``, of the ``level`` percent interval at horizons 1 .. h."""
        band = np.minimum(np.searchsorted(self.edges, np.arange(1, h + 1)), len(self.edges) - 1)
        a = level / 100.0
        q_lo = np.empty(h)
        q_hi = np.empty(h)
        for b in np.unique(band):
            u = self._use[b]
            q = self.quantiles[u]
            q_lo[band == b] = np.interp(self._tau(u, (1 - a) / 2, False), _QGRID, q)
            q_hi[band == b] = np.interp(self._tau(u, (1 + a) / 2, True), _QGRID, q)
        return q_lo, q_hi

    def interval(self, mean: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds (same shape as ``mean``) at ``level`` percent."""
        q_lo, q_hi = self.score_bounds(level, mean.shape[-1])
        scale = np.sqrt(np.maximum(mean, self.floor))
        lo = np.maximum(mean + q_lo * scale, 0.0)
        hi = np.maximum(mean + q_hi * scale, lo)
        return lo, hi

    def quantile(self, mean: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Values of the calibrated predictive distribution at probabilities ``u`` (``(..., h)``), >= 0.

        ``mean`` has shape ``(h,)`` or broadcasts against ``u``; horizon ``j`` uses its band's quantiles.
        """
        u = np.asarray(u, dtype=np.float64)
        h = u.shape[-1]
        band = np.minimum(np.searchsorted(self.edges, np.arange(1, h + 1)), len(self.edges) - 1)
        q = np.empty(u.shape)
        for b in np.unique(band):
            q[..., band == b] = np.interp(u[..., band == b], _QGRID, self.quantiles[self._use[b]])
        return np.maximum(mean + q * np.sqrt(np.maximum(mean, self.floor)), 0.0)

    def level_shares(self, h: int) -> np.ndarray:
        """Per horizon step, the share of the normal scores' variance a path's day level carries.

        None without a measured day level (:attr:`day_share` 0); else at least :attr:`day_share`, and at longer
        horizons, where the errors spread wider than one step ahead
        (a level missed for hours or days, not noise), the extra spread is the level's too: the step-to-step
        noise of a path then keeps the one-step spread, ``1 - share = (iqr_1 / iqr_h) ** 2``, and the marginal
        of each step is still the calibrated one (the two parts are independent normals of unit variance).
        """
        if self.day_share <= 0:  # no day level measured in the errors: independent days
            return np.zeros(h)
        band = np.minimum(np.searchsorted(self.edges, np.arange(1, h + 1)), len(self.edges) - 1)
        iqr = np.array([float(np.interp(0.75, _QGRID, self.quantiles[self._use[b]])
                              - np.interp(0.25, _QGRID, self.quantiles[self._use[b]])) for b in range(len(self.edges))])
        base = iqr[0] if iqr[0] > 0 else 1.0
        per_band = np.clip(1 - (base / np.maximum(iqr, base)) ** 2, self.day_share, 0.95)
        return per_band[band]

    def to_dict(self) -> dict:
        return {
            "edges": self.edges.tolist(),
            "counts": list(self.counts),
            "floor": self.floor,
            "step_correlation": self.step_correlation,
            "day_share": self.day_share,
            "day_correlation": self.day_correlation,
            "quantiles": [None if q is None else np.round(q, 6).tolist() for q in self.quantiles],
        }

    @classmethod
    def from_dict(cls, d: dict) -> ConformalCalibrator:
        qs = [None if q is None else np.asarray(q, dtype=np.float64) for q in d["quantiles"]]
        return cls(np.asarray(d["edges"]), qs, [int(c) for c in d["counts"]], float(d["floor"]),
                   float(d.get("step_correlation", 0.0)), float(d.get("day_share", 0.0)),
                   float(d.get("day_correlation", 0.0)))


def _rank_correlation(pairs: list[np.ndarray]) -> float:
    """Correlation of the normal scores of ``(a, b)`` pairs (a Gaussian copula's parameter), in [0, 0.999]."""
    from scipy.stats import norm, rankdata

    ab = np.concatenate(pairs, axis=1) if pairs else np.empty((2, 0))
    ab = ab[:, np.isfinite(ab).all(axis=0)]
    if ab.shape[1] < _MIN_SCORES:
        return 0.0
    z = norm.ppf(np.stack([rankdata(r) for r in ab]) / (ab.shape[1] + 1))
    return float(np.clip(np.corrcoef(z)[0, 1], 0.0, 0.999))


def _normal_scores(x: np.ndarray) -> np.ndarray:
    """Each finite value's normal score (its rank among them through the normal quantile function); NaN kept."""
    from scipy.stats import norm, rankdata

    out = np.full(x.shape, np.nan)
    ok = np.isfinite(x)
    if ok.any():
        out[ok] = norm.ppf(rankdata(x[ok]) / (ok.sum() + 1))
    return out


def _day_factor(scores: np.ndarray | None, steps_per_day: int, rho: float) -> tuple[float, float]:
    """``(share, correlation)`` of a day-level factor in the normal scores of multi-day error paths.

    Errors of one forecast path share a level over a day (a busier or quieter day than forecast) and that
    level persists from day to day (weekly level shifts). With per-step scores ``z = sqrt(s) D + sqrt(1 - s) e``
    (``D`` the day's level, ``e`` the step noise, AR(1) with ``rho``), the variance of a day's mean score is
    ``s + (1 - s) v`` where ``v`` is the variance of the mean of a day of ``e``; solving for ``s`` from the
    observed day means. The day levels' correlation is that of consecutive day means of one path.
    Returns ``(0, 0)`` when the calibration paths hold fewer than 10 whole days.
    """
    if scores is None or steps_per_day < 2:
        return 0.0, 0.0
    z = _normal_scores(scores)
    days = z.shape[1] // steps_per_day
    if days < 1:
        return 0.0, 0.0
    blocks = z[:, : days * steps_per_day].reshape(z.shape[0], days, steps_per_day)
    count = np.isfinite(blocks).sum(axis=2)
    total = np.nansum(blocks, axis=2)
    means = np.where(count >= steps_per_day // 2, total / np.maximum(count, 1), np.nan)
    m = means[np.isfinite(means)]
    if m.size < 10:
        return 0.0, 0.0
    n = steps_per_day
    r = min(max(rho, 0.0), 0.999)
    # Variance of the mean of n AR(1) values with unit variance and lag-1 correlation r.
    lags = np.arange(1, n)
    v = (1 + 2 * np.sum((1 - lags / n) * r**lags)) / n
    share = float(np.clip((np.var(m) - v) / (1 - v), 0.0, 0.95))
    a, b = means[:, :-1].ravel(), means[:, 1:].ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    corr = float(np.clip(np.corrcoef(a[ok], b[ok])[0, 1], 0.0, 0.99)) if ok.sum() >= 10 else 0.0
    return share, corr if math.isfinite(corr) else 0.0
