"""Prophet for sub-hourly web traffic: daily and weekly Fourier seasonality, events as holidays, re-anchored.

Below 15 minutes Prophet is fitted on a 15-minute aggregate (the rate per step), which is smooth enough
for it and keeps 1-minute fits to seconds; it then predicts at the series' own timestamps. Gaps
(outages, lost logs) are dropped from the fit, never zero-filled.

Prophet's curve does not depend on the values just before an origin, so on its own it is blind to the
data that arrives after its fit (NASA, 5 min, day-ahead: the same RMSE as its one-shot). Refitting at
each origin would cost a Prophet fit per origin; instead the forecast from an origin is *re-anchored*:
the curve scaled by the ratio of the data to the curve over the ``level_days`` before the origin
(``level_mode="ratio"``), or shifted by their mean difference (``"additive"``), times ``level_weight``.
``level_days=0`` or ``level_weight=0`` gives the plain curve.

The defaults of :class:`ProphetConfig` were chosen on two validation weeks inside the standard training
period, never on its test week (``bench/tune_prophet.py``, ``bench/results/prophet.md``): Fourier orders
10 (daily) and 6 (weekly) plus a weekend-only daily shape of order 6, the square root of the rate,
multiplicative seasonality, the events as holidays, re-anchored by the ratio over the last day.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import InputError
from core.events import prophet_holidays
from core.forecast.base import Forecaster, register

__all__ = ["ProphetConfig", "ProphetForecaster"]

TRANSFORMS = ("none", "sqrt", "log")
LEVEL_MODES = ("additive", "ratio")
GROWTHS = ("linear", "flat")


def _quiet() -> None:
    for name in ("prophet", "cmdstanpy", "prophet.plot"):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("cmdstanpy").disabled = True  # it logs every chain start at INFO otherwise


def _int_at_least(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(f"{name} must be an integer >= {low}, got {value!r}")


@dataclass(frozen=True)
class ProphetConfig:
    """Prophet's hyperparameters, validated at construction.

    Args:
        fit_minutes: aggregate to at least this period before fitting.
        seasonality_mode: ``"additive"`` or ``"multiplicative"``.
        changepoint_prior_scale: Prophet's trend flexibility (> 0).
        daily_order, weekly_order: Fourier orders of the daily and weekly seasonality (>= 1).
        weekend_order: Fourier order of an extra daily shape on weekends only (0: none).
        transform: fit on ``"none"``, ``"sqrt"`` or ``"log"`` (``log1p``) of the rate; forecasts are
            transformed back.
        growth: Prophet's trend, ``"linear"`` (with changepoints) or ``"flat"`` (a constant level).
        window_days: fit on the last ``window_days`` only (None: all the data).
        holidays: the events calendar as Prophet holidays (outages are gaps, not holidays).
        level_days: re-anchoring window before each origin, in days (0: no re-anchoring).
        level_mode: ``"additive"`` (curve + weight x mean gap) or ``"ratio"`` (curve x (1 + weight x
            (data / curve - 1))).
        level_weight: weight of the re-anchoring in [0, 1] (0: none).

    Raises:
        InputError: a value out of range, naming it and the allowed values.
    """

    fit_minutes: int = 15
    seasonality_mode: str = "multiplicative"
    changepoint_prior_scale: float = 0.05
    daily_order: int = 10
    weekly_order: int = 6
    weekend_order: int = 6
    transform: str = "sqrt"
    growth: str = "linear"
    window_days: float | None = None
    holidays: bool = True
    level_days: float = 1.0
    level_mode: str = "ratio"
    level_weight: float = 1.0

    def __post_init__(self) -> None:
        _int_at_least("fit_minutes", self.fit_minutes, 1)
        _int_at_least("daily_order", self.daily_order, 1)
        _int_at_least("weekly_order", self.weekly_order, 1)
        _int_at_least("weekend_order", self.weekend_order, 0)
        if self.seasonality_mode not in ("additive", "multiplicative"):
            raise InputError(f"seasonality_mode must be 'additive' or 'multiplicative', got {self.seasonality_mode!r}")
        if not self.changepoint_prior_scale > 0:
            raise InputError(f"changepoint_prior_scale must be > 0, got {self.changepoint_prior_scale}")
        if self.transform not in TRANSFORMS:
            raise InputError(f"transform must be one of {', '.join(TRANSFORMS)}, got {self.transform!r}")
        if self.growth not in GROWTHS:
            raise InputError(f"growth must be one of {', '.join(GROWTHS)}, got {self.growth!r}")
        if self.window_days is not None and not self.window_days >= 3:
            raise InputError(f"window_days must be >= 3 (or None for all the data), got {self.window_days}")
        if not isinstance(self.holidays, bool):
            raise InputError(f"holidays must be True or False, got {self.holidays!r}")
        if not self.level_days >= 0:
            raise InputError(f"level_days must be >= 0 (0 disables re-anchoring), got {self.level_days}")
        if self.level_mode not in LEVEL_MODES:
            raise InputError(f"level_mode must be one of {', '.join(LEVEL_MODES)}, got {self.level_mode!r}")
        if not 0 <= self.level_weight <= 1:
            raise InputError(f"level_weight must be in [0, 1] (0 disables re-anchoring), got {self.level_weight}")


_CONFIG_KEYS = tuple(f.name for f in dataclasses.fields(ProphetConfig))


@register
class ProphetForecaster(Forecaster):
    """Prophet (daily + weekly seasonality, events as holidays), re-anchored at each origin.

    Args:
        config: a :class:`ProphetConfig`; or its fields as keyword arguments (not both).
        **kw: :class:`ProphetConfig` fields and the base class's (``calibrate``, ``calibration_days``,
            ``events``).
    """

    name = "prophet"
    label = "Prophet"
    # Calibrated on the errors over the last two weeks of its own fit, re-anchored as in use. A refit that
    # holds them out extrapolates its own trend for weeks: on the validation weeks (bench/results/prophet.md)
    # its one-shot 80% interval covered 68.6% and 76.4% (own fit: 79.6%, 79.5%), and its pinball losses were
    # higher in every protocol, at twice the fitting time.
    calibrate_on_own_fit = True

    def __init__(self, config: ProphetConfig | None = None, **kw):
        own = {k: kw.pop(k) for k in list(kw) if k in _CONFIG_KEYS}
        super().__init__(**kw)
        if config is not None and own:
            raise InputError("pass either config or its fields as keyword arguments, not both")
        if config is not None and not isinstance(config, ProphetConfig):
            raise InputError(f"config must be a ProphetConfig, got {type(config).__name__}")
        self.config = config if config is not None else ProphetConfig(**own)
        # Re-anchored forecasts read the data before each origin (the contract's leakage test checks this).
        self.uses_recent_data = self._anchored()

    def _anchored(self) -> bool:
        return self.config.level_days > 0 and self.config.level_weight > 0

    def get_params(self) -> dict:
        return {**super().get_params(), **dataclasses.asdict(self.config)}

    # -- transforms ------------------------------------------------------------
    def _fwd(self, v: np.ndarray) -> np.ndarray:
        t = self.config.transform
        v = np.maximum(v, 0.0)
        return np.sqrt(v) if t == "sqrt" else np.log1p(v) if t == "log" else v

    def _inv(self, z: np.ndarray) -> np.ndarray:
        t = self.config.transform
        return np.maximum(z, 0.0) ** 2 if t == "sqrt" else np.expm1(z) if t == "log" else z

    def _ds(self, pos: np.ndarray) -> pd.Series:
        # Prophet wants naive timestamps: the series' local wall clock, from integer nanoseconds (Grid.times
        # builds tz-aware timestamps one by one: 2 s for the 90,000 of a 1-minute curve).
        return pd.Series(self.grid_.wall_clock(pos))

    def _frame(self, ds) -> pd.DataFrame:
        df = pd.DataFrame({"ds": np.asarray(ds)})
        if self.config.weekend_order:
            df["weekend"] = pd.DatetimeIndex(df["ds"]).day_of_week >= 5
        return df

    # -- fit -------------------------------------------------------------------
    def _fit(self, y: np.ndarray) -> None:
        from prophet import Prophet

        _quiet()
        cfg = self.config
        k = max(1, int(pd.Timedelta(minutes=cfg.fit_minutes) // self.grid_.step))
        pos = np.arange(len(y))
        if k > 1:
            # Bins aligned to local midnight; a bin counts only when all of its periods have data.
            phase = int(round(self.grid_.tod(0) * self.grid_.steps_per_day)) % k
            b = (pos + phase) // k
            full = np.bincount(b, weights=(~np.isnan(y)).astype(float))
            sums = np.bincount(b, weights=np.nan_to_num(y))
            firsts = np.unique(b, return_index=True)[1]
            size = np.bincount(b)
            ok = (full == k) & (size == k)
            # Each bin's mean rate, stamped at the bin's middle period.
            ds = self._ds(pos[firsts][ok]) + self.grid_.step * (k - 1) / 2
            vals = sums[ok] / k
        else:
            ok = ~np.isnan(y)
            ds, vals = self._ds(pos[ok]), y[ok]
        df = self._frame(ds.to_numpy())
        df["y"] = self._fwd(vals)
        if cfg.window_days is not None:
            df = df[df["ds"] > df["ds"].max() - pd.Timedelta(days=cfg.window_days)]
        hol = prophet_holidays(self._all_events) if cfg.holidays else pd.DataFrame()
        m = Prophet(
            daily_seasonality=False,
            weekly_seasonality=False,
            yearly_seasonality=False,
            growth=cfg.growth,
            seasonality_mode=cfg.seasonality_mode,
            changepoint_prior_scale=cfg.changepoint_prior_scale,
            holidays=hol if len(hol) else None,
            uncertainty_samples=0,
        )
        # Weekly before daily, the order of Prophet's own seasonalities (the same optimum for the same orders).
        m.add_seasonality("weekly", period=7, fourier_order=cfg.weekly_order)
        m.add_seasonality("daily", period=1, fourier_order=cfg.daily_order)
        if cfg.weekend_order:
            m.add_seasonality("daily_weekend", period=1, fourier_order=cfg.weekend_order, condition_name="weekend")
        m.fit(df, algorithm="LBFGS")
        self.model_ = m
        self._curve_ = None

    def reanchored(self, **changes) -> ProphetForecaster:
        """A copy with other re-anchoring settings (``level_days``, ``level_mode``, ``level_weight``), not refitted.

        For tuning the re-anchoring on one Prophet fit; the copy keeps the original's calibration.

        Raises:
            InputError: a field other than the re-anchoring ones, or a bad value.
        """
        self._check_fitted()
        bad = set(changes) - {"level_days", "level_mode", "level_weight"}
        if bad:
            raise InputError(f"reanchored only changes level_days, level_mode and level_weight, got {sorted(bad)}")
        out = copy.copy(self)
        out.config = dataclasses.replace(self.config, **changes)
        out.uses_recent_data = out._anchored()
        return out

    # -- forecast --------------------------------------------------------------
    def _curve(self, top: int) -> np.ndarray:
        """Prophet's forecast at positions ``0 .. top - 1``, in the data's units (kept: it depends on the fit only)."""
        cached = getattr(self, "_curve_", None)
        if cached is None or cached[0] is not self.model_ or len(cached[1]) < top:
            # A week to spare: backtests and calibration ask for a little more at each call.
            size = max(top, len(getattr(self, "y_", ()))) + 7 * self.grid_.steps_per_day
            z = self.model_.predict(self._frame(self._ds(np.arange(size)).to_numpy()))["yhat"].to_numpy()
            cached = (self.model_, np.maximum(self._inv(z), 0.0))
            self._curve_ = cached
        return cached[1][:top]

    def _gap(self, y: np.ndarray, ends: np.ndarray, w: int) -> np.ndarray:
        """The gap between the data and the curve over ``[end - w, end)`` for each end; NaN with too little data.

        Additive: the mean of ``y - curve``; ratio: ``sum(y) / sum(curve) - 1``; both over periods with data,
        of which at least a quarter of the window is needed.
        """
        c = self._curve(len(y))
        ok = ~np.isnan(y)
        cy = np.concatenate([[0.0], np.cumsum(np.where(ok, y, 0.0))])
        cc = np.concatenate([[0.0], np.cumsum(np.where(ok, c, 0.0))])
        cn = np.concatenate([[0], np.cumsum(ok)])
        ends = np.minimum(ends, len(y))
        lo = np.maximum(ends - w, 0)
        k = cn[ends] - cn[lo]
        sy, sc = cy[ends] - cy[lo], cc[ends] - cc[lo]
        enough = k >= max(1, w // 4)
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.config.level_mode == "ratio":
                gap = np.where(sc > 0, sy / sc - 1.0, np.nan)
            else:
                gap = (sy - sc) / np.maximum(k, 1)
        return np.where(enough, gap, np.nan)

    def _paths(self, y, origins, h):
        pos = origins[:, None] + np.arange(h)[None, :]
        top = int(pos.max()) + 1 if pos.size else len(y)
        curve = self._curve(max(top, len(y)))[pos]
        if not self._anchored() or not len(origins):
            return curve
        w = self.grid_.steps(pd.Timedelta(days=self.config.level_days))
        gap = np.nan_to_num(self._gap(y, origins, w))[:, None]  # too little data: the plain curve
        if self.config.level_mode == "ratio":
            return curve * np.maximum(1.0 + self.config.level_weight * gap, 0.0)
        return curve + self.config.level_weight * gap

    # -- persistence -------------------------------------------------------------
    def _get_state(self):
        from prophet.serialize import model_to_json

        return {}, {}, {"prophet": model_to_json(self.model_)}

    def _set_state(self, meta, arrays, texts):
        from prophet.serialize import model_from_json

        _quiet()
        self.model_ = model_from_json(texts["prophet"])
        self._curve_ = None
