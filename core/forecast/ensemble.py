"""Ensemble whose weights come from backtest error on the training window.

During calibration every member is fitted on the training data minus the
last ``calibration_days`` and forecasts that window from many origins. For
each horizon band the weights are the non-negative least-squares combination
of the members' forecasts (normalized to sum to 1); the ensemble's conformal
intervals come from the combined forecasts on the same window (four weights
fitted on thousands of points: the optimism is negligible). The members are
then refitted on all the data. Without calibration the weights are equal.
"""

from __future__ import annotations

import numpy as np

from core.errors import InputError
from core.forecast.base import Forecaster, accepted_model_names, canonical_model_name, make_model, model_names, register
from core.forecast.intervals import ConformalCalibrator, calibration_origins, horizon_band_edges

__all__ = ["Ensemble"]

_DEFAULT_MEMBERS = ("fourier_arma", "lightgbm", "prophet", "seasonal_naive")


@register
class Ensemble(Forecaster):
    """A weighted mean of member models, weights per horizon band.

    Args:
        members: registry names of the members.
        member_params: optional ``{name: {hyperparameter: value}}``.
    """

    name = "ensemble"
    label = "Ensemble (backtest-weighted)"

    def __init__(self, members=_DEFAULT_MEMBERS, member_params: dict | None = None, **kw):
        super().__init__(**kw)
        members = tuple(members.split(",")) if isinstance(members, str) else tuple(members)
        bad = [m for m in members if m not in accepted_model_names() or canonical_model_name(m) == self.name]
        if not members or bad:
            allowed = ", ".join(m for m in model_names() if m != self.name)
            raise InputError(f"ensemble members must be among {allowed}; got {list(members)}")
        # Canonical names: an alias and its model are one member (one fit, one cache key).
        self.members = tuple(canonical_model_name(m) for m in members)
        self.member_params = {canonical_model_name(k) if k in accepted_model_names() else k: v
                              for k, v in (member_params or {}).items()}

    def get_params(self) -> dict:
        return {**super().get_params(), "members": list(self.members), "member_params": self.member_params}

    def _new_member(self, name: str) -> Forecaster:
        mem = make_model(name, calibrate=False, events=self.events, **self.member_params.get(name, {}))
        mem.grid_, mem.target_, mem._all_events = self.grid_, self.target_, self._all_events
        mem.scale_floor_ = self.scale_floor_
        mem.calibrator_ = None
        return mem

    def fit(self, series, target: str = "requests", progress=None) -> Ensemble:
        self.__dict__.pop("weights_", None)
        return super().fit(series, target, progress)

    def _fit(self, y: np.ndarray) -> None:
        self.members_ = [self._new_member(name) for name in self.members]
        for mem in self.members_:
            mem._fit(y)

    def _member_paths(self, y, origins, h) -> np.ndarray:
        return np.stack([np.maximum(mem._paths(y, origins, h), 0.0) for mem in self.members_])

    def _calibrate(self, y: np.ndarray, m: int) -> ConformalCalibrator:
        from scipy.optimize import nnls  # imported here: scipy.optimize is slow to import

        tiers = calibration_origins(m, len(y), self.grid_.steps_per_day)
        member_tiers = [(org, self._member_paths(y, org, h)) for org, h in tiers]
        edges = horizon_band_edges(self.grid_)
        k = len(self.members_)
        X_b: list[list[np.ndarray]] = [[] for _ in edges]
        t_b: list[list[np.ndarray]] = [[] for _ in edges]
        covered = 0
        n = len(y)
        for org, mp in member_tiers:
            h = mp.shape[2]
            for j in range(covered, h):
                pos = org + j
                ok = pos < n
                truth = np.full(len(org), np.nan)
                truth[ok] = y[pos[ok]]
                ok &= ~np.isnan(truth)
                if ok.any():
                    b = int(np.searchsorted(edges, j + 1))
                    X_b[b].append(mp[:, ok, j].T)
                    t_b[b].append(truth[ok])
            covered = h
        weights = np.full((len(edges), k), 1.0 / k)
        prev = None
        for b in range(len(edges)):
            if X_b[b] and sum(len(t) for t in t_b[b]) >= 50:
                X, t = np.vstack(X_b[b]), np.concatenate(t_b[b])
                w, _ = nnls(X, t)
                weights[b] = w / w.sum() if w.sum() > 0 else 1.0 / k
                prev = weights[b]
            elif prev is not None:
                weights[b] = prev
        self.weights_ = weights
        parts = [(org, self._combine(mp)) for org, mp in member_tiers]
        return ConformalCalibrator.from_paths(parts, y, self.grid_, self.scale_floor_)

    def _combine(self, mp: np.ndarray) -> np.ndarray:
        """Weighted sum over members of paths ``(k, n_origins, h)``, weights by horizon band."""
        h = mp.shape[2]
        if not hasattr(self, "weights_"):
            return mp.mean(axis=0)
        edges = horizon_band_edges(self.grid_)
        band = np.minimum(np.searchsorted(edges, np.arange(1, h + 1)), len(edges) - 1)
        w = self.weights_[band]  # (h, k)
        return np.einsum("koh,hk->oh", mp, w)

    def _paths(self, y, origins, h):
        return self._combine(self._member_paths(y, origins, h))

    def weights(self) -> dict:
        """``{member: [weight per horizon band]}`` and the band edges in steps (for display)."""
        self._check_fitted()
        w = getattr(self, "weights_", np.full((len(horizon_band_edges(self.grid_)), len(self.members)),
                                             1.0 / len(self.members)))
        return {
            "band_edges_steps": horizon_band_edges(self.grid_).tolist(),
            "weights": {name: w[:, i].round(4).tolist() for i, name in enumerate(self.members)},
        }

    def _get_state(self):
        meta = {"members": [], "weights": getattr(self, "weights_", None)}
        if meta["weights"] is not None:
            meta["weights"] = self.weights_.tolist()
        arrays, texts = {}, {}
        for i, mem in enumerate(self.members_):
            m_meta, m_arr, m_txt = mem._get_state()
            meta["members"].append(m_meta)
            arrays.update({f"m{i}__{key}": v for key, v in m_arr.items()})
            texts.update({f"m{i}__{key}": v for key, v in m_txt.items()})
        return meta, arrays, texts

    def _set_state(self, meta, arrays, texts):
        if meta.get("weights") is not None:
            self.weights_ = np.asarray(meta["weights"], dtype=np.float64)
        self.members_ = []
        for i, name in enumerate(self.members):
            mem = self._new_member(name)
            pre = f"m{i}__"
            mem._set_state(
                meta["members"][i],
                {k[len(pre):]: v for k, v in arrays.items() if k.startswith(pre)},
                {k[len(pre):]: v for k, v in texts.items() if k.startswith(pre)},
            )
            self.members_.append(mem)
