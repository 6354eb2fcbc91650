"""Prophet with daily and weekly seasonality and the events calendar as holidays.

Prophet's forecast does not depend on the values just before the origin, so
in the one-step and day-ahead protocols it simply reads its fitted curve
(no refit: that is what "state updated, no refit" means for it). Below 15
minutes it is fitted on a 15-minute aggregate (the rate per step), which is
smooth enough for Prophet and keeps 1-minute fits to seconds; it then
predicts at the series' own timestamps. Gaps are dropped, not zero-filled.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from core.errors import InputError
from core.events import prophet_holidays
from core.forecast.base import Forecaster, register

__all__ = ["ProphetForecaster"]


def _quiet() -> None:
    for name in ("prophet", "cmdstanpy", "prophet.plot"):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("cmdstanpy").disabled = True  # it logs every chain start at INFO otherwise


@register
class ProphetForecaster(Forecaster):
    """Prophet (daily + weekly seasonality, events as holidays).

    Args:
        fit_minutes: aggregate to at least this period before fitting.
        seasonality_mode: ``"additive"`` or ``"multiplicative"``.
        changepoint_prior_scale: Prophet's trend flexibility.
    """

    name = "prophet"
    label = "Prophet"
    uses_recent_data = False

    def __init__(
        self,
        fit_minutes: int = 15,
        seasonality_mode: str = "additive",
        changepoint_prior_scale: float = 0.05,
        **kw,
    ):
        super().__init__(**kw)
        if seasonality_mode not in ("additive", "multiplicative"):
            raise InputError(f"seasonality_mode must be 'additive' or 'multiplicative', got {seasonality_mode!r}")
        if not isinstance(fit_minutes, (int, np.integer)) or fit_minutes < 1:
            raise InputError(f"fit_minutes must be an integer >= 1, got {fit_minutes!r}")
        if changepoint_prior_scale <= 0:
            raise InputError(f"changepoint_prior_scale must be > 0, got {changepoint_prior_scale}")
        self.fit_minutes = int(fit_minutes)
        self.seasonality_mode = seasonality_mode
        self.changepoint_prior_scale = float(changepoint_prior_scale)

    def get_params(self) -> dict:
        keys = ("fit_minutes", "seasonality_mode", "changepoint_prior_scale")
        return {**super().get_params(), **{k: getattr(self, k) for k in keys}}

    def _ds(self, pos: np.ndarray) -> pd.Series:
        # Prophet wants naive timestamps: use the series' local wall clock.
        return pd.Series(self.grid_.times(pos).tz_localize(None))

    def _fit(self, y: np.ndarray) -> None:
        from prophet import Prophet

        _quiet()
        k = max(1, int(pd.Timedelta(minutes=self.fit_minutes) // self.grid_.step))
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
        df = pd.DataFrame({"ds": ds.to_numpy(), "y": vals})
        hol = prophet_holidays(self._all_events)
        m = Prophet(
            daily_seasonality=True,
            weekly_seasonality=True,
            yearly_seasonality=False,
            seasonality_mode=self.seasonality_mode,
            changepoint_prior_scale=self.changepoint_prior_scale,
            holidays=hol if len(hol) else None,
            uncertainty_samples=0,
        )
        m.fit(df, algorithm="LBFGS")
        self.model_ = m

    def _paths(self, y, origins, h):
        pos = origins[:, None] + np.arange(h)[None, :]
        uniq, inv = np.unique(pos.ravel(), return_inverse=True)
        fc = self.model_.predict(pd.DataFrame({"ds": self._ds(uniq).to_numpy()}))["yhat"].to_numpy()
        return fc[inv].reshape(pos.shape)

    def _get_state(self):
        from prophet.serialize import model_to_json

        return {}, {}, {"prophet": model_to_json(self.model_)}

    def _set_state(self, meta, arrays, texts):
        from prophet.serialize import model_from_json

        _quiet()
        self.model_ = model_from_json(texts["prophet"])
