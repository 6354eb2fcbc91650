"""A forecast made at an origin, built once here for the CLI, the API, the Forecast page and its exports.

:func:`forecast_at` fits a registry model on the periods before the origin (or reads it from the model
cache), forecasts ``steps`` periods with intervals and, when asked and there is data after the origin,
backtests the same fitted model beside the seasonal naive on the periods it forecast.
:class:`ForecastResult` holds the numbers; ``to_dict()`` is what every face serializes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import InputError
from core.events import events_in_range
from core.forecast.backtest import backtest_protocols
from core.forecast.base import make_model, target_values
from core.series import TrafficSeries

__all__ = ["ForecastResult", "forecast_at", "HISTORY_DAYS"]

#: How much history before the origin a result keeps for charts (or three horizons, if longer).
HISTORY_DAYS = 7


@dataclass
class ForecastResult:
    """The forecast of ``steps`` periods from ``origin``.

    Attributes:
        prediction: the model's ``predict()`` dict: ``timestamps``, ``mean`` and ``lo-L``/``hi-L`` per level.
        levels: the interval levels present in ``prediction`` (none if the model could not calibrate).
        history, actual: ``(timestamps, values)`` before the origin (for charts) and after it (when the
            data goes on: the values the forecast can be scored against).
        backtest: ``{protocol: BacktestReport.to_dict()}`` on ``[origin, origin + steps)``, or None.
        events: calendar events inside the forecast window (the model's regressors).
        anomalies: anomalous runs in the history (filled by callers that ask for them).
    """

    model: str
    label: str
    target: str
    interval: pd.Timedelta
    origin: pd.Timestamp
    steps: int
    prediction: dict
    levels: list[float]
    fit_seconds: float
    model_cached: bool
    dataset_id: str | None = None
    history: tuple = field(default_factory=lambda: (pd.DatetimeIndex([]), np.array([])), repr=False)
    actual: tuple = field(default_factory=lambda: (pd.DatetimeIndex([]), np.array([])), repr=False)
    backtest: dict | None = None
    events: list[dict] = field(default_factory=list)
    anomalies: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def timestamps(self) -> pd.DatetimeIndex:
        return self.prediction["timestamps"]

    @property
    def mean(self) -> np.ndarray:
        return np.asarray(self.prediction["mean"], dtype=np.float64)

    @property
    def start(self) -> pd.Timestamp:
        return self.timestamps[0]

    @property
    def end(self) -> pd.Timestamp:
        """End of the last forecast period (exclusive)."""
        return self.timestamps[-1] + self.interval

    def summary(self) -> dict:
        """Mean, min, max and total of the point forecast, and when it peaks."""
        m = self.mean
        return {"mean": float(m.mean()), "min": float(m.min()), "max": float(m.max()), "total": float(m.sum()),
                "peak_at": self.timestamps[int(np.argmax(m))].isoformat()}

    def bands(self) -> dict[str, np.ndarray]:
        """``mean`` and the ``lo-L``/``hi-L`` arrays, in that order (no timestamps)."""
        return {k: np.asarray(v, dtype=np.float64) for k, v in self.prediction.items() if k != "timestamps"}

    def to_frame(self) -> pd.DataFrame:
        """The forecast as a frame indexed by period start (``mean``, ``lo-L``, ``hi-L``), with ``actual``
        where the data goes on past the origin."""
        frame = pd.DataFrame(self.bands(), index=pd.Index(self.timestamps, name="timestamp"))
        ax, ay = self.actual
        if len(ax):
            frame["actual"] = pd.Series(np.asarray(ay, dtype=np.float64), index=pd.DatetimeIndex(ax)).reindex(
                frame.index)
        return frame

    def to_dict(self, arrays: bool = True) -> dict:
        """JSON-ready numbers; ``arrays`` adds ``timestamps`` and the ``mean``/``lo-L``/``hi-L`` arrays."""
        out = {
            "model": self.model, "label": self.label, "target": self.target, "dataset_id": self.dataset_id,
            "granularity_minutes": self.interval / pd.Timedelta(minutes=1), "origin": self.origin.isoformat(),
            "horizon_steps": self.steps, "levels": list(self.levels),
            "start": self.start.isoformat(), "end": self.end.isoformat(), "points": int(len(self.timestamps)),
            "summary": self.summary(), "fit_seconds": round(float(self.fit_seconds), 3),
            "model_cached": self.model_cached, "events": self.events, "notes": list(self.notes),
            "backtest": self.backtest,
        }
        if arrays:
            out["timestamps"] = [t.isoformat() for t in self.timestamps]
            out.update(self.bands())
        return out


def _origin_position(series: TrafficSeries, origin) -> int:
    if origin is None:
        return len(series)
    t = pd.Timestamp(origin)
    if t.tz is None and series.index.tz is not None:
        t = t.tz_localize(series.index.tz)
    return int(series.index.searchsorted(t))


def forecast_at(series: TrafficSeries, model: str, *, steps: int, target: str = "requests",
                levels=(80.0, 95.0), origin=None, params: dict | None = None, cache=None,
                dataset_id: str | None = None, backtest: bool = False, progress=None) -> ForecastResult:
    """Fit ``model`` on the periods before ``origin`` and forecast ``steps`` periods from there.

    Args:
        series: the traffic at the granularity to forecast.
        model: a registry name (``core.forecast.model_names()``).
        steps: periods to forecast (``parse_horizon`` turns "7d" into steps).
        levels: interval levels in percent; if the model cannot calibrate them, the result has none and
            says why in ``notes``.
        origin: first forecast period (default: right after the series' last period). Only periods
            before it are fitted on.
        params: the model's hyperparameters (e.g. ``events``).
        cache: a :class:`~core.forecast.cache.ModelCache` to read or store the fitted model.
        dataset_id: part of the model cache key.
        backtest: also score the fitted model (and the seasonal naive) on the data after the origin under
            every protocol, when there is any.
        progress: ``progress(done, total)``, called with done in 0..100.

    Raises:
        InputError: unknown model, too little history before the origin, or a bad target.
    """

    def report(done: float) -> None:
        if progress is not None:
            progress(min(100, int(done)), 100)

    pos = _origin_position(series, origin)
    if pos <= 0:
        raise InputError(f"the origin {origin} is at or before the first period {series.start}; "
                         "choose an origin with history before it")
    train = series if pos == len(series) else TrafficSeries(series.frame.iloc[:pos], series.interval, series.gaps)
    report(2)
    fit_progress = lambda d, t: report(5 + 35 * d / max(t, 1))  # noqa: E731
    if cache is not None:
        fitted, cached = cache.get_or_fit(model, train, target, params or {}, dataset_id=dataset_id,
                                          progress=fit_progress)
    else:
        fitted, cached = make_model(model, **(params or {})).fit(train, target=target, progress=fit_progress), False
    notes: list[str] = []
    levels = tuple(levels or ())
    try:
        pred = fitted.predict(steps, level=levels or None)
    except InputError as exc:
        notes.append(f"No prediction intervals: {exc}")
        pred = fitted.predict(steps, level=None)
    report(45)
    ts = pred["timestamps"]
    y = target_values(series, target)
    hist_n = max(int(pd.Timedelta(days=HISTORY_DAYS) / series.interval), 3 * steps)
    end_pos = min(len(series), pos + steps)
    result = ForecastResult(
        model=model, label=fitted.label, target=target, interval=series.interval, origin=ts[0], steps=int(steps),
        prediction=pred, levels=[lv for lv in levels if f"lo-{lv:g}" in pred],
        fit_seconds=float(fitted.fit_seconds_), model_cached=cached, dataset_id=dataset_id,
        history=(series.index[max(0, pos - hist_n):pos], y[max(0, pos - hist_n):pos]),
        actual=(series.index[pos:end_pos], y[pos:end_pos]),
        events=events_in_range(getattr(fitted, "_all_events", []), ts[0], ts[-1]), notes=notes)
    if backtest:
        if end_pos > pos:
            models = [model] if model == "seasonal_naive" else [model, "seasonal_naive"]
            try:
                # The model just fitted on the history before the origin is the backtest's model too.
                reps = backtest_protocols(series, models, train_end=series.index[pos - 1].isoformat(),
                                          test_end=series.index[end_pos - 1].isoformat(), target=target,
                                          progress=lambda d, t: report(45 + 45 * d / max(t, 1)),
                                          fitted={model: fitted})
                result.backtest = {p: r.to_dict() for p, r in reps.items()}
            except InputError as exc:
                notes.append(f"Backtest skipped: {exc}")
        else:
            notes.append("No data after the origin: pick an earlier origin to backtest and compare.")
    report(100)
    return result
