"""The forecaster protocol shared by every model, and the model registry.

``__init__`` stores hyperparameters only; ``fit(series, target)`` returns
``self`` and sets trailing-underscore attributes; ``predict(h, level)``
returns ``{"timestamps", "mean", "lo-80", "hi-80", ...}`` continuing the
series' own grid from its last timestamp (never the wall clock).

Every model implements one kernel, ``_paths(y, origins, h)``: the mean
forecast of ``y[o], ..., y[o+h-1]`` for each origin ``o`` using ``y[:o]``
only. Backtests, calibration and the simulator's rolling forecasts all go
through it, so the leakage test on it covers every use.

``sample_paths(horizon, n, seed)`` draws joint paths whose per-step quantiles
are the calibrated intervals' (a Gaussian copula over the conformal marginals).
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from core.errors import InputError, NotFittedError
from core.events import Event, builtin_events, event_day_flags
from core.forecast.intervals import ConformalCalibrator, calibration_origins
from core.series import TrafficSeries, parse_granularity

__all__ = [
    "MAX_HORIZON",
    "Grid",
    "Forecaster",
    "accepted_model_names",
    "canonical_model_name",
    "make_model",
    "model_aliases",
    "model_label",
    "model_names",
    "parse_horizon",
    "parse_levels",
    "register",
    "registered",
    "target_values",
    "unregister",
]

MAX_HORIZON = pd.Timedelta(days=30)
_DAY = pd.Timedelta(days=1)
_REGISTRY: dict[str, type[Forecaster]] = {}
_ALIASES: dict[str, str] = {}


def register(cls):
    """Class decorator adding a model to the registry under ``cls.name`` and its ``cls.aliases``.

    Raises:
        ValueError: the name or an alias is already another model's name or alias.
    """
    for key in (cls.name, *cls.aliases):
        owner = _REGISTRY.get(key) or _REGISTRY.get(_ALIASES.get(key, ""))
        if owner is not None and owner.name != cls.name:
            raise ValueError(f"model name {key!r} is taken by {owner.__name__}; pick another name for {cls.__name__}")
    _REGISTRY[cls.name] = cls
    _ALIASES.update({alias: cls.name for alias in cls.aliases})
    return cls


def unregister(name: str) -> None:
    """Remove a model (by name or alias) and its aliases from the registry; an unknown name is ignored."""
    canonical = _ALIASES.get(name, name)
    cls = _REGISTRY.pop(canonical, None)
    for alias in getattr(cls, "aliases", ()):
        _ALIASES.pop(alias, None)


@contextmanager
def registered(cls):
    """Register ``cls`` for the duration of a ``with`` block (tests, plugins tried out), then remove it."""
    register(cls)
    try:
        yield cls
    finally:
        unregister(cls.name)


#: Display order of the built-in models: the baseline first, the ensemble last (others follow by name).
_ORDER = ("seasonal_naive", "prophet", "fourier_arma", "lightgbm", "ensemble")


def model_names() -> tuple[str, ...]:
    """Registered model names (canonical, no aliases): the baseline first, the ensemble last."""
    return tuple(sorted(_REGISTRY, key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n)))


def model_aliases() -> dict[str, str]:
    """Other names still accepted for a model, ``{alias: canonical name}`` (e.g. ``{"sarima": "fourier_arma"}``)."""
    return dict(_ALIASES)


def accepted_model_names() -> tuple[str, ...]:
    """Every name an input may use: :func:`model_names`, then the aliases."""
    return model_names() + tuple(sorted(_ALIASES))


def canonical_model_name(name: str) -> str:
    """The registry name of ``name`` (itself, or what an alias stands for).

    Raises:
        InputError: an unknown name, listing the accepted ones.
    """
    if name in _REGISTRY:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    aliases = "".join(f"; {a!r} is accepted for {c!r}" for a, c in sorted(_ALIASES.items()))
    raise InputError(f"unknown model {name!r}; choose one of {', '.join(model_names())}{aliases}")


def model_label(name: str) -> str:
    """The human label of a model (for dropdowns and tables), by name or alias.

    Raises:
        InputError: an unknown name.
    """
    return _REGISTRY[canonical_model_name(name)].label


def make_model(name: str, **params) -> Forecaster:
    """A new, unfitted model by registry name or alias.

    Raises:
        InputError: unknown name (lists the known ones) or bad parameters.
    """
    cls = _REGISTRY[canonical_model_name(name)]
    try:
        return cls(**params)
    except TypeError as exc:
        raise InputError(f"bad parameters for model {name!r}: {exc}") from exc


def parse_horizon(h, interval: pd.Timedelta) -> int:
    """Steps for a horizon given as steps (int) or a duration ("7d", "90min").

    Raises:
        InputError: horizon of 0, below one step or beyond 30 days.
    """
    if isinstance(h, (int, np.integer)) and not isinstance(h, bool):
        steps = int(h)
        if steps < 1:
            raise InputError(f"horizon must be at least 1 step, got {steps}; pass e.g. 1 or '1d'")
    else:
        given = h  # messages quote the horizon as the user wrote it
        if isinstance(h, str) and h.strip().endswith("d"):
            h = h.strip()[:-1] + "D"  # pandas deprecates the lowercase day unit
        try:
            td = parse_granularity(h)
        except ValueError:
            raise InputError(f"horizon must be a number of steps or a duration like '7d', got {given!r}") from None
        steps = int(td // interval)
        if steps < 1:
            raise InputError(f"horizon {given!r} is shorter than one step ({interval}); pass at least {interval}")
        h = given
    if steps * interval > MAX_HORIZON:
        raise InputError(f"horizon {h!r} exceeds 30 days; pass at most '30d' ({int(MAX_HORIZON // interval)} steps)")
    return steps


def parse_levels(level) -> tuple[float, ...]:
    """Interval levels in percent, each strictly between 0 and 100.

    Raises:
        InputError: a level outside (0, 100) or not a number.
    """
    if level is None:
        return ()
    if isinstance(level, str):
        level = [v for v in level.split(",") if v.strip()]
    if isinstance(level, (int, float, np.integer, np.floating)):
        level = [level]
    out = []
    for v in level:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise InputError(f"level must be a number in (0, 100), got {v!r}; pass e.g. 80,95") from None
        if not 0 < f < 100 or math.isnan(f):
            raise InputError(f"level must be in (0, 100), got {v!r}; pass e.g. 80,95")
        out.append(f)
    return tuple(sorted(set(out)))


def _level_key(level: float) -> str:
    return f"{level:g}"


def target_values(series: TrafficSeries, target: str) -> np.ndarray:
    """The target column as float64, NaN inside gaps and missing periods.

    Raises:
        InputError: the series has no such column.
    """
    if target not in ("requests", "bytes"):
        raise InputError(f"target must be 'requests' or 'bytes', got {target!r}")
    if target not in series.frame.columns:
        raise InputError(f"this series has no {target!r} column; use --target requests")
    y = series.frame[target].to_numpy(dtype=np.float64).copy()
    y[series.gap_mask()] = np.nan
    return y


@dataclass(frozen=True)
class Grid:
    """Positions ``0, 1, ...`` on a series' regular grid, and their calendar."""

    start: pd.Timestamp
    step: pd.Timedelta

    @property
    def steps_per_day(self) -> int:
        return max(1, int(round(_DAY / self.step)))

    def steps(self, td: pd.Timedelta) -> int:
        return max(1, int(round(pd.Timedelta(td) / self.step)))

    def times(self, pos) -> pd.DatetimeIndex:
        pos = np.asarray(pos, dtype=np.int64)
        return pd.DatetimeIndex(self.start + self.step * pos)

    def _local_ns(self, pos) -> np.ndarray:
        off = int(self.start.utcoffset().total_seconds()) * 10**9
        return self.start.value + off + np.asarray(pos, dtype=np.int64) * self.step.value

    def wall_clock(self, pos) -> np.ndarray:
        """Naive local wall-clock times (``datetime64[ns]``), built from integers: fast for long grids."""
        return np.asarray(self._local_ns(pos), dtype=np.int64).astype("datetime64[ns]")

    def day_number(self, pos) -> np.ndarray:
        """Local days since 1970-01-01."""
        return self._local_ns(pos) // (86_400 * 10**9)

    def tod(self, pos) -> np.ndarray:
        """Fraction of the local day elapsed at each period start, in [0, 1)."""
        return (self._local_ns(pos) % (86_400 * 10**9)) / (86_400 * 10**9)

    def dow(self, pos) -> np.ndarray:
        """Local day of week, Monday = 0 (1970-01-01 was a Thursday)."""
        return (self.day_number(pos) + 3) % 7

    def position(self, ts) -> int:
        ts = pd.Timestamp(ts)
        if ts.tz is None:
            ts = ts.tz_localize(self.start.tz)
        return int(math.ceil((ts - self.start) / self.step - 1e-9))


class Forecaster:
    """Base class: fitting, calibration, prediction. Subclasses implement ``_fit`` and ``_paths``.

    Args:
        calibrate: hold out the last ``calibration_days`` of the training data,
            fit on the rest and use the forecast errors there (per horizon band)
            for conformal intervals; then refit on everything. Models whose
            forecasts ignore recent values (``uses_recent_data = False``), or
            that ask for it (``calibrate_on_own_fit = True``: Prophet), are
            fitted once and calibrated on their errors over the last
            ``calibration_days`` of that fit.
        calibration_days: length of that hold-out window.
        events: user events added to the built-in calendar.
    """

    name: ClassVar[str] = "base"
    label: ClassVar[str] = "base"
    #: Other names the registry accepts for this model (old names kept working after a rename).
    aliases: ClassVar[tuple[str, ...]] = ()
    #: Folder and cache-key name of fitted models on disk (``core.forecast.cache``); None: ``name``.
    storage_name: ClassVar[str | None] = None
    #: Whether forecasts depend on the data before the origin (False for a model that only reads a fitted curve).
    uses_recent_data: ClassVar[bool] = True
    #: Calibrate on the errors over the last ``calibration_days`` of the model's own fit rather than on a refit
    #: that holds them out (see ``fit``); None: only when the model does not use recent data.
    calibrate_on_own_fit: ClassVar[bool | None] = None

    def __init__(self, calibrate: bool = True, calibration_days: float = 14.0, events: tuple[Event, ...] = ()):
        if calibration_days <= 0:
            raise InputError(f"calibration_days must be > 0, got {calibration_days}")
        self.calibrate = calibrate
        self.calibration_days = calibration_days
        self.events = tuple(events)

    # -- hyperparameters ---------------------------------------------------
    def get_params(self) -> dict:
        """Hyperparameters as JSON-safe values (part of the cache key)."""
        out = {"calibrate": self.calibrate, "calibration_days": self.calibration_days}
        out["events"] = [e.to_dict() for e in self.events]
        return out

    # -- the protocol --------------------------------------------------------
    def fit(self, series: TrafficSeries, target: str = "requests", progress=None) -> Forecaster:
        """Fit on the whole series (gaps left out). Returns ``self``.

        Raises:
            InputError: unknown target, or too little data for this model.
        """
        y = target_values(series, target)
        self.grid_ = Grid(series.start, series.interval)
        self.target_ = target
        self._all_events = builtin_events() + self.events
        spd = self.grid_.steps_per_day
        if np.count_nonzero(~np.isnan(y)) < 2 * spd:
            raise InputError(
                f"{self.name} needs at least 2 days of data to fit, got {np.count_nonzero(~np.isnan(y))} periods "
                f"of {series.interval}; pass a longer series"
            )
        t0 = time.perf_counter()
        pos_y = y[~np.isnan(y)]
        self.scale_floor_ = float(max(1.0, 0.05 * np.median(pos_y))) if pos_y.size else 1.0
        self.calibrator_ = None
        # Short series calibrate on their last third rather than not at all.
        n_cal = min(self.grid_.steps(pd.Timedelta(days=self.calibration_days)), len(y) // 3)
        can_calibrate = self.calibrate and len(y) - n_cal >= 2 * spd and n_cal >= 1
        own_fit = self.calibrate_on_own_fit if self.calibrate_on_own_fit is not None else not self.uses_recent_data
        if can_calibrate and not own_fit:
            m = len(y) - n_cal
            self._fit(y[:m])
            self.calibrator_ = self._calibrate(y, m)
        if progress:
            progress(1, 2)
        self._fit(y)
        if can_calibrate and own_fit:
            # A model that extrapolates a fitted curve (Prophet): a curve fitted without the last weeks has
            # its own trend bias, which the held-out errors would carry into the final model's intervals
            # (5-min validation week 08-16..22, before Prophet was re-anchored: 40% coverage of the 80%
            # interval). Its errors on the last weeks of its own fit transfer better (see prophet.py).
            self.calibrator_ = self._calibrate(y, len(y) - n_cal)
        self.y_ = y
        self.fit_seconds_ = time.perf_counter() - t0
        if progress:
            progress(2, 2)
        return self

    def _calibrate(self, y: np.ndarray, m: int) -> ConformalCalibrator:
        """Errors of the model fit on ``y[:m]`` over ``y[m:]``, by horizon."""
        tiers = calibration_origins(m, len(y), self.grid_.steps_per_day)
        # A forecast made within a day after missing data restarts from a gap (an outage, a lost log): its
        # errors are the restart's, not the model's in operation, and would widen every interval (NASA,
        # calibrated on 08-02 .. 08-15: the 1-hour band's 99% score 3.7x the one-step band's, all from
        # origins just after the 08-01 outage).
        spd = self.grid_.steps_per_day
        missing = np.concatenate([[0], np.cumsum(np.isnan(y))])
        parts = []
        for origins, h in tiers:
            origins = origins[missing[origins] - missing[np.maximum(origins - spd, 0)] == 0]
            if not origins.size:
                continue
            mean = np.maximum(self._paths(y, origins, h), 0.0)
            parts.append((origins, mean))
        return ConformalCalibrator.from_paths(parts, y, self.grid_, self.scale_floor_)

    def _check_fitted(self) -> None:
        if not hasattr(self, "y_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(series) first")

    def predict(self, h, level=(80, 95)) -> dict:
        """Forecast ``h`` steps (or a duration) after the last fitted period.

        Returns:
            ``{"timestamps": DatetimeIndex, "mean": array, "lo-80": ..., "hi-80": ...}``.
        Raises:
            NotFittedError: before ``fit``. InputError: bad horizon or level.
        """
        self._check_fitted()
        steps = parse_horizon(h, self.grid_.step)
        levels = parse_levels(level)
        n = len(self.y_)
        out = self.predict_paths(self.y_, np.array([n]), steps, levels)
        res = {k: v[0] for k, v in out.items()}
        res["timestamps"] = self.grid_.times(np.arange(n, n + steps))
        return {"timestamps": res.pop("timestamps"), **res}

    def predict_paths(self, y, origins, h: int, level=(80, 95)) -> dict:
        """Forecast paths of ``h`` steps from each origin, using data before it only.

        Args:
            y: values on the fitted grid (same start), as an array (NaN = no
               data) or a ``TrafficSeries``; may extend past the training data.
            origins: positions; each path covers ``origin .. origin + h - 1``.
            h: steps per path.
            level: interval levels in percent.
        Returns:
            ``{"mean": (n_origins, h), "lo-80": ..., ...}``.
        """
        self._check_fitted()
        if isinstance(y, TrafficSeries):
            if y.start != self.grid_.start or y.interval != self.grid_.step:
                raise InputError("the series must start on the fitted grid (same start and interval)")
            y = target_values(y, self.target_)
        y = np.asarray(y, dtype=np.float64)
        origins = np.asarray(origins, dtype=np.int64)
        if origins.size and (origins.min() < 1 or origins.max() > len(y)):
            raise InputError(f"origins must lie in 1 .. {len(y)}")
        mean = np.maximum(self._paths(y, origins, int(h)), 0.0)
        out = {"mean": mean}
        levels = parse_levels(level)
        if levels:
            if self.calibrator_ is None:
                raise InputError(
                    f"{self.name} has no calibrated intervals (calibrate=False or too little data); pass level=None"
                )
            for lev in levels:
                lo, hi = self.calibrator_.interval(mean, lev)
                out[f"lo-{_level_key(lev)}"] = lo
                out[f"hi-{_level_key(lev)}"] = hi
        return out

    def sample_paths(self, horizon, n: int = 1000, seed: int = 0, *, y=None, origin: int | None = None) -> np.ndarray:
        """Joint sample paths of the next ``horizon`` steps, whose per-step quantiles are the calibrated intervals'.

        Each step's value is the calibrated predictive distribution (``mean + q(u) * sqrt(max(mean, floor))``,
        the conformal quantile function of its horizon band, floored at 0) read at ``u = Phi(z)``; the
        ``z`` follow an AR(1) Gaussian copula across steps whose correlation is that of the errors at adjacent
        horizons of one path on the calibration window. So the marginals are exactly the intervals'
        distribution and the paths keep the persistence of real errors (a high hour tends to stay high).

        Args:
            horizon: steps or a duration, as for :meth:`predict`.
            n: number of paths.
            seed: seed of ``np.random.default_rng``.
            y: values on the fitted grid (default: the fitted data), as for :meth:`predict_paths`.
            origin: the first step's position (default: the end of ``y``).
        Returns:
            float array ``(n, steps)``.
        Raises:
            NotFittedError: before ``fit``. InputError: no calibrated intervals, bad horizon or ``n < 1``.
        """
        self._check_fitted()
        if self.calibrator_ is None:
            raise InputError(f"{self.name} has no calibrated intervals (calibrate=False or too little data), "
                             "so no predictive distribution to sample; fit it with calibrate=True")
        if n < 1:
            raise InputError(f"n must be >= 1, got {n}")
        steps = parse_horizon(horizon, self.grid_.step)
        y = self.y_ if y is None else y
        length = len(y) if not isinstance(y, TrafficSeries) else len(y.frame)
        origin = length if origin is None else int(origin)
        mean = self.predict_paths(y, np.array([origin]), steps, level=None)["mean"][0]
        rng = np.random.default_rng(seed)
        cal = self.calibrator_
        z = _ar1(rng.standard_normal((n, steps)), cal.step_correlation)
        share = cal.level_shares(steps)
        if share.any():  # a level shared by each day of a path, persisting from day to day
            spd = self.grid_.steps_per_day
            days = _ar1(rng.standard_normal((n, -(-steps // spd))), cal.day_correlation)
            z = np.sqrt(1 - share) * z + np.sqrt(share) * days[:, np.arange(steps) // spd]
        from scipy.special import ndtr  # the normal CDF

        return cal.quantile(mean, ndtr(z))

    # -- helpers for subclasses ----------------------------------------------
    def _event_flags(self, pos) -> np.ndarray:
        """Impact-class flags ``(len(pos), len(IMPACTS))`` at grid positions."""
        return event_day_flags(self._all_events, self.grid_.day_number(pos))

    def _fit(self, y: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _paths(self, y: np.ndarray, origins: np.ndarray, h: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    # -- persistence (see cache.py) -------------------------------------------
    def _get_state(self) -> tuple[dict, dict, dict]:
        """``(json_state, arrays, texts)`` of the fitted model, without the data."""
        raise NotImplementedError

    def _set_state(self, meta: dict, arrays: dict, texts: dict) -> None:
        raise NotImplementedError

    def get_state(self) -> tuple[dict, dict, dict]:
        self._check_fitted()
        meta, arrays, texts = self._get_state()
        meta = {"model": self.name, "target": self.target_, "scale_floor": self.scale_floor_, "own": meta}
        if self.calibrator_ is not None:
            meta["calibrator"] = self.calibrator_.to_dict()
        return meta, arrays, texts

    def set_state(self, series: TrafficSeries, target: str, meta: dict, arrays: dict, texts: dict) -> Forecaster:
        """Restore a fitted model on the series it was fitted on."""
        self.grid_ = Grid(series.start, series.interval)
        self.target_ = target
        self._all_events = builtin_events() + self.events
        self.scale_floor_ = float(meta["scale_floor"])
        self.calibrator_ = ConformalCalibrator.from_dict(meta["calibrator"]) if "calibrator" in meta else None
        self._set_state(meta["own"], arrays, texts)
        self.y_ = target_values(series, target)
        self.fit_seconds_ = 0.0
        return self



def _ar1(z: np.ndarray, rho: float) -> np.ndarray:
    """Columns of independent standard normals made an AR(1) with unit variance and correlation ``rho ** lag``."""
    for j in range(1, z.shape[1]):
        z[:, j] = rho * z[:, j - 1] + np.sqrt(1 - rho**2) * z[:, j]
    return z
