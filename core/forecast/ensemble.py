"""Ensemble whose weights come from backtest error on a validation window inside the training data.

During calibration every member is fitted on the training data minus the
last ``calibration_days`` and forecasts that window from many origins (the
validation window). The incumbent is the member with the lowest mean squared
error summed over the horizon bands up to one day ahead. For each horizon band (:func:`choose_weights`):

1. the band's best member is the incumbent, unless another member beats it on
   the whole window with significance (one-sided Diebold--Mariano test at 5%,
   Newey--West variance, errors in time order);
2. the combination is learned on the first half of the window: least squares
   with the weights non-negative and summing to 1;
3. it is kept (refitted on the whole window) only if it beats the best member
   on the second half with significance (same test); otherwise the band takes
   that member alone (weight 1).

A slightly lower validation RMSE is not enough to leave the incumbent: the
second-half RMSEs differ by noise of about the size of the gains (NASA, 15 min:
the rule kept combinations 0.6 to 0.9% better there, p = 0.18 to 0.38, which
lost 7% day-ahead on the test week). The conformal intervals come
from the combined forecasts over the whole window. The members are then
refitted on all the data. Without calibration the weights are equal.
``Ensemble.weights()`` (also in every backtest result, key ``ensemble``) shows
the weights, the choice and the validation scores per band.
"""

from __future__ import annotations

import numpy as np

from core.errors import InputError
from core.forecast.base import Forecaster, accepted_model_names, canonical_model_name, make_model, model_names, register
from core.forecast.intervals import ConformalCalibrator, calibration_origins, horizon_band_edges

__all__ = ["Ensemble", "choose_weights", "diebold_mariano", "simplex_least_squares"]

#: Prophet is not a default member: its configuration was chosen on NASA's weeks before the test week, which are
#: the ensemble's own validation window there, so its validation scores are biased in its favour (with it the
#: ensemble chose it and lost to Fourier+ARMA in 6 of 8 backtests, without it 2 of 8); it is also the slowest.
_DEFAULT_MEMBERS = ("fourier_arma", "lightgbm", "seasonal_naive")
#: Scored points a horizon band needs in each half of the validation window to get its own weights.
_MIN_POINTS = 25


def simplex_least_squares(X: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Weights ``w >= 0`` with ``sum(w) = 1`` minimizing ``||X w - t||``, for ``X`` of shape ``(n, k)``.

    Non-negative least squares with one heavily weighted extra row ``lam * (1, ..., 1) = lam`` that
    enforces the sum (normalized exactly afterwards).
    """
    from scipy.optimize import nnls  # imported here: scipy.optimize is slow to import

    k = X.shape[1]
    lam = 1e3 * np.sqrt(len(t)) * max(1.0, float(np.sqrt(np.mean(t**2))))
    w, _ = nnls(np.vstack([X, np.full((1, k), lam)]), np.append(t, lam))
    return w / w.sum() if w.sum() > 0 else np.full(k, 1.0 / k)


def _rmse(X: np.ndarray, t: np.ndarray, w: np.ndarray) -> float:
    return float(np.sqrt(np.mean((X @ w - t) ** 2)))


def diebold_mariano(d: np.ndarray) -> float:
    """One-sided p-value that the mean of the loss differential ``d`` (time-ordered) is above 0.

    Diebold--Mariano statistic with a Newey--West (Bartlett) long-run variance, lag ``ceil(sqrt(n))``:
    forecasts from neighbouring origins share errors, so consecutive differentials are correlated and the
    plain standard error would make a lucky combination look significant.
    """
    from math import erfc

    n = len(d)
    if n < 2:
        return 1.0
    dc = d - d.mean()
    var = float(dc @ dc) / n
    for lag in range(1, min(int(np.ceil(np.sqrt(n))), n - 1) + 1):
        var += 2.0 * (1.0 - lag / (int(np.ceil(np.sqrt(n))) + 1)) * float(dc[lag:] @ dc[:-lag]) / n
    if var <= 0:
        return 0.0 if d.mean() > 0 else 1.0
    z = float(d.mean()) / np.sqrt(var / n)
    return 0.5 * erfc(z / np.sqrt(2.0))


def choose_weights(X_fit, t_fit, X_val, t_val, X_all=None, t_all=None, alpha: float = 0.05,
                   incumbent: int | None = None) -> tuple[np.ndarray, str, dict]:
    """Combination weights learned on one window, kept only if they beat the best member significantly on the next.

    The best member is the one with the lowest RMSE on both windows together (no member is fitted on
    them, so the whole window is out of sample for it, and twice the points make the pick less noisy).
    The combination learned on ``X_fit`` must beat that member on ``X_val`` with a one-sided
    Diebold--Mariano p-value below ``alpha`` (squared-error differential, autocorrelation-robust
    variance; rows of ``X_val`` in time order); otherwise the best member gets weight 1.

    Args:
        X_fit, t_fit: member forecasts ``(n, k)`` and truth ``(n,)`` the combination is learned on.
        X_val, t_val: the later window it is checked on, in time order.
        X_all, t_all: where the best member is picked and the kept combination refitted (default: both
            windows).
        alpha: significance level of the test.
        incumbent: a member preferred unless another one beats it with significance on ``X_all`` (rows
            in time order), e.g. the best member over all horizons: a band then moves away from it only
            on evidence, not on a slightly lower RMSE.
    Returns:
        ``(weights (k,), choice, scores)``: ``choice`` is ``"combination"`` or ``"member <i>"`` (weight
        1); ``scores`` the check-window RMSE of the combination learned on ``X_fit`` and of each member
        (``"combination"``, ``"members"``), the best member's index (``"best"``) and the test's p-value
        (``"p_value"``).
    """
    k = X_fit.shape[1]
    if X_all is None:
        X_all, t_all = np.vstack([X_fit, X_val]), np.concatenate([t_fit, t_val])
    best = int(np.argmin([_rmse(X_all, t_all, np.eye(k)[i]) for i in range(k)]))
    if incumbent is not None and best != incumbent:
        if diebold_mariano((X_all[:, incumbent] - t_all) ** 2 - (X_all[:, best] - t_all) ** 2) >= alpha:
            best = incumbent
    w_fit = simplex_least_squares(X_fit, t_fit)
    combo = _rmse(X_val, t_val, w_fit)
    members = [_rmse(X_val, t_val, np.eye(k)[i]) for i in range(k)]
    d = (X_val[:, best] - t_val) ** 2 - (X_val @ w_fit - t_val) ** 2
    p = diebold_mariano(d)
    scores = {"combination": combo, "members": members, "best": best, "p_value": p}
    if p < alpha:
        return simplex_least_squares(X_all, t_all), "combination", scores
    return np.eye(k)[best], f"member {best}", scores


@register
class Ensemble(Forecaster):
    """A weighted mean of member models, weights per horizon band.

    Args:
        members: registry names of the members.
        member_params: optional ``{name: {hyperparameter: value}}``.
    """

    name = "ensemble"
    label = "Ensemble (validation-weighted)"

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
        for attr in ("weights_", "choices_", "validation_", "label"):
            self.__dict__.pop(attr, None)
        return super().fit(series, target, progress)

    def _fit(self, y: np.ndarray) -> None:
        self.members_ = [self._new_member(name) for name in self.members]
        for mem in self.members_:
            mem._fit(y)

    def _member_paths(self, y, origins, h) -> np.ndarray:
        return np.stack([np.maximum(mem._paths(y, origins, h), 0.0) for mem in self.members_])

    def _calibrate(self, y: np.ndarray, m: int) -> ConformalCalibrator:
        tiers = calibration_origins(m, len(y), self.grid_.steps_per_day)
        member_tiers = [(org, self._member_paths(y, org, h)) for org, h in tiers]
        edges = horizon_band_edges(self.grid_)
        k = len(self.members_)
        X_b: list[list[np.ndarray]] = [[] for _ in edges]
        t_b: list[list[np.ndarray]] = [[] for _ in edges]
        o_b: list[list[np.ndarray]] = [[] for _ in edges]
        p_b: list[list[np.ndarray]] = [[] for _ in edges]  # target positions: the test needs time order
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
                    o_b[b].append(org[ok])
                    p_b[b].append(pos[ok])
            covered = h
        mid = (m + n) // 2  # origins before it learn the combination, the later ones check it
        weights = np.full((len(edges), k), 1.0 / k)
        choices: list[str] = ["equal"] * len(edges)
        validation: list[dict | None] = [None] * len(edges)
        # The incumbent: the member with the lowest mean squared error per band, summed over the bands up
        # to one day ahead (the horizons the rolling protocols score), each band counting once: pooling
        # rows would let the many long-horizon rows pick it.
        day = [b for b in range(len(edges)) if X_b[b] and (b == 0 or edges[b - 1] < self.grid_.steps_per_day)]
        mse = [sum(float(np.mean((np.vstack(X_b[b])[:, i] - np.concatenate(t_b[b])) ** 2)) for b in day)
               for i in range(k)]
        incumbent = int(np.argmin(mse))
        prev = None
        for b in range(len(edges)):
            X = np.vstack(X_b[b]) if X_b[b] else np.empty((0, k))
            t = np.concatenate(t_b[b]) if t_b[b] else np.empty(0)
            first = np.concatenate(o_b[b]) < mid if o_b[b] else np.empty(0, dtype=bool)
            if first.sum() >= _MIN_POINTS and (~first).sum() >= _MIN_POINTS:
                order = np.argsort(np.concatenate(p_b[b]), kind="stable")
                X, t, first = X[order], t[order], first[order]
                w, choice, scores = choose_weights(X[first], t[first], X[~first], t[~first], X, t,
                                                   incumbent=incumbent)
                weights[b] = w
                choices[b] = "combination" if choice == "combination" else self.members[int(choice.split()[1])]
                validation[b] = {"combination": round(scores["combination"], 4),
                                 **{name: round(v, 4) for name, v in zip(self.members, scores["members"],
                                                                         strict=True)},
                                 "best": self.members[scores["best"]], "p_value": round(scores["p_value"], 4)}
                prev = b
            elif prev is not None:
                weights[b], choices[b] = weights[prev], choices[prev]
        self.weights_ = weights
        self.choices_ = choices
        self.validation_ = validation
        self.label = self._weights_label()
        parts = [(org, self._combine(mp)) for org, mp in member_tiers]
        return ConformalCalibrator.from_paths(parts, y, self.grid_, self.scale_floor_)

    def _weights_label(self) -> str:
        """The class label plus the weights one step and one day ahead, e.g. for a backtest table."""
        edges = horizon_band_edges(self.grid_)
        spd = self.grid_.steps_per_day
        parts = []
        for what, steps in (("1 step", 1), ("1 day", spd)):
            b = min(int(np.searchsorted(edges, steps)), len(edges) - 1)
            w = ", ".join(f"{name} {v:.2f}" for name, v in zip(self.members, self.weights_[b], strict=True)
                          if v >= 0.005)
            parts.append(f"{what}: {w}")
        return f"{type(self).label}; {'; '.join(parts)}"

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
        """The combination per horizon band (for display and backtest results).

        Returns:
            ``{"band_edges_steps": [...], "weights": {member: [weight per band]}, "choice": [per band:
            "combination", the member it fell back to, or "equal" (no calibration)], "validation_rmse":
            [per band: {"combination": RMSE, member: RMSE} on the second half of the validation window,
            or None]}``.
        """
        self._check_fitted()
        nb = len(horizon_band_edges(self.grid_))
        w = getattr(self, "weights_", np.full((nb, len(self.members)), 1.0 / len(self.members)))
        return {
            "band_edges_steps": horizon_band_edges(self.grid_).tolist(),
            "weights": {name: w[:, i].round(4).tolist() for i, name in enumerate(self.members)},
            "choice": list(getattr(self, "choices_", ["equal"] * nb)),
            "validation_rmse": list(getattr(self, "validation_", [None] * nb)),
        }

    def _get_state(self):
        meta = {"members": [], "weights": getattr(self, "weights_", None)}
        if meta["weights"] is not None:
            meta["weights"] = self.weights_.tolist()
            meta["choices"] = list(self.choices_)
            meta["validation"] = list(self.validation_)
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
            nb = len(self.weights_)
            self.choices_ = meta.get("choices", ["combination"] * nb)
            self.validation_ = meta.get("validation", [None] * nb)
            self.label = self._weights_label()
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
