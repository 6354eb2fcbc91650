"""Model selection by rolling backtest: the one call the predictive policy, the planner and the Forecast
page's default ask which forecaster to run for a dataset, target, granularity and horizon.

Two uses, one call (:func:`select_model`), each with the criterion that fits what the forecast is for:

- ``use="policy"``: the predictive scaling policy acts on a point forecast ``k`` periods ahead (boot delay +
  buffer). Each candidate runs exactly as the simulator will run it (refitted on its schedule, data before
  each decision only) over the week before the cut, and the lowest mean absolute ``k``-step error wins
  (:func:`core.scaling.policy_forecast.select_policy_model`).
- ``use="forecast"``: the planner's sample paths and the Forecast page act on the whole predictive
  distribution. Each candidate is fitted with its conformal calibration (a backtest: fitted without its
  last 14 days and scored on them); at the same calibrated coverage the narrower interval is the better
  forecast, so the narrowest calibrated 80% interval at the horizon (up to a day ahead) wins.

The choice is cached as a small JSON file keyed by the dataset id, a fingerprint of the data before the cut,
the target, the granularity, the use, the horizon, the candidates and the code version: a changed dataset
or code chooses again, a repeated question costs a file read.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from core.errors import InputError
from core.forecast.base import Forecaster, make_model
from core.forecast.cache import cache_key, series_fingerprint
from core.jsonable import to_jsonable
from core.series import TrafficSeries
from core.store import write_json

__all__ = ["FORECAST_CANDIDATES", "ModelChoice", "select_model"]

#: Candidates for ``use="forecast"`` (Prophet and the ensemble take minutes to fit and calibrate at 5 min).
FORECAST_CANDIDATES = ("fourier_arma", "lightgbm", "seasonal_naive")
USES = ("forecast", "policy")


@dataclass(frozen=True)
class ModelChoice:
    """Which model, for what, and why.

    Attributes:
        model: the chosen registry name.
        use: ``"forecast"`` or ``"policy"``.
        horizon_steps: the horizon scored, in periods.
        criterion: what was compared.
        scores: per candidate, its score (or ``"error"``: why it could not be scored).
        reason: one sentence.
        cached: whether this came from the cache.
        fitted: the chosen model fitted (with its calibration) on the data before the cut, when the choice
            was just computed for ``use="forecast"``; None otherwise (not cached, not compared).
    """

    model: str
    use: str
    horizon_steps: int
    criterion: str
    scores: dict
    reason: str
    cached: bool = False
    fitted: Forecaster | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("fitted")
        return d


def _by_interval(history: TrafficSeries, h: int, target: str, candidates) -> tuple[ModelChoice, Forecaster]:
    fits, scores = {}, {}
    for name in candidates:
        try:
            fm = make_model(name, calibrate=True).fit(history, target=target)
        except InputError as exc:
            scores[name] = {"error": str(exc)}
            continue
        cal = fm.calibrator_
        if cal is None:
            scores[name] = {"error": "too little data to calibrate its intervals"}
            continue
        steps = min(h, fm.grid_.steps_per_day)
        lo, hi = cal.score_bounds(80.0, steps)
        fits[name] = fm
        scores[name] = {"width_80": float(hi[-1] - lo[-1]), "horizon_steps": int(steps)}
    if not fits:
        why = "; ".join(f"{n}: {sc['error']}" for n, sc in scores.items())
        raise InputError(f"no model could be fitted on the history before the cut ({why}); choose a later cut or "
                         "bring more data")
    best = min(fits, key=lambda n: (scores[n]["width_80"], list(candidates).index(n)))
    reason = (f"{best}: the narrowest calibrated 80% interval {scores[best]['horizon_steps']} steps ahead on the "
              "14 days before the cut (each model fitted without them), among " + ", ".join(fits))
    choice = ModelChoice(best, "forecast", int(h), "width of the calibrated 80% interval (scaled errors)",
                         scores, reason)
    return choice, fits[best]


def _by_policy_error(series: TrafficSeries, h: int, cut, policy_kw: dict) -> ModelChoice:
    from core.scaling.policy_forecast import DEFAULT_CANDIDATES, select_policy_model

    kw = {"candidates": DEFAULT_CANDIDATES, **policy_kw}
    sel = select_policy_model(series, h, cut=cut, **kw)
    scores = {**sel.scores, "_window": {"eval_start": sel.eval_start, "cut": sel.cut, "refit": sel.refit}}
    return ModelChoice(sel.model, "policy", int(h), f"mean absolute {h}-step error, run as deployed", scores,
                       sel.reason)


def select_model(series: TrafficSeries, horizon_steps: int, *, use: str = "forecast", target: str = "requests",
                 cut=None, candidates=None, dataset_id: str | None = None, cache_dir: str | os.PathLike | None = None,
                 cached_only: bool = False, **policy_kw) -> ModelChoice | None:
    """The model to run on ``series`` for ``horizon_steps`` ahead, chosen on data before ``cut`` only.

    Args:
        series: the traffic at the granularity the model will run at.
        horizon_steps: periods ahead (``use="forecast"`` scores up to a day of them).
        use: ``"forecast"`` (intervals and sample paths) or ``"policy"`` (the predictive policy's point
            forecast at its decision horizon); see the module docstring.
        target: the column forecast (``use="policy"`` always forecasts requests).
        cut: nothing at or after it is read (default: the end of the data).
        candidates: registry names (default: :data:`FORECAST_CANDIDATES` / the policy's candidates).
        dataset_id, cache_dir: the cache's key part and folder (no cache without a folder).
        cached_only: return None instead of choosing when the choice is not cached.
        **policy_kw: for ``use="policy"``: ``eval_days``, ``refit``, ``min_history_days``, ``cache``, ``memo``
            of :func:`core.scaling.policy_forecast.select_policy_model`.

    Raises:
        InputError: an unknown use, a horizon < 1, or no candidate could be fitted.
    """
    if use not in USES:
        raise InputError(f"use must be one of {', '.join(USES)}, got {use!r}")
    if isinstance(horizon_steps, bool) or not isinstance(horizon_steps, (int, np.integer)) or horizon_steps < 1:
        raise InputError(f"horizon_steps must be a whole number of periods >= 1, got {horizon_steps!r}")
    history = series if cut is None else series.window(None, cut)
    cands = tuple(candidates) if candidates is not None else (FORECAST_CANDIDATES if use == "forecast" else None)
    path = None
    if cache_dir is not None:
        params = {"use": use, "horizon": int(horizon_steps), "candidates": cands, "cut": None if cut is None else
                  str(cut), **{k: v for k, v in policy_kw.items() if isinstance(v, (str, int, float))}}
        key = cache_key(dataset_id, target, series.interval_minutes, "selection", params,
                        series_fingerprint(history, target))
        path = Path(cache_dir) / "selection" / f"{key}.json"
        try:
            d = json.loads(path.read_text())
            return ModelChoice(**{**d, "cached": True})
        except (OSError, ValueError, TypeError):
            pass  # absent or unreadable: choose again
    if cached_only:
        return None
    if use == "forecast":
        choice, fitted = _by_interval(history, int(horizon_steps), target, cands)
    else:
        if cands is not None:
            policy_kw = {**policy_kw, "candidates": cands}
        choice, fitted = _by_policy_error(series, int(horizon_steps), cut, policy_kw), None
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json(path, to_jsonable(choice.to_dict()))
        except (OSError, ValueError):
            pass  # a cache that cannot be written is a cache miss next time, not an error
    return ModelChoice(**{**choice.to_dict(), "fitted": fitted})
