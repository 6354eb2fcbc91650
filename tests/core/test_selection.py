"""One model-selection call for the policy, the planner and the Forecast page: its criteria, its cut, its cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import generators as G
from core.errors import InputError
from core.scaling.policy_forecast import select_policy_model
from core.selection import select_model
from core.series import TrafficSeries


@pytest.fixture(scope="module")
def s15():
    return G.trend(days=24, interval="15min", seed=7)


def _changed_after(s: TrafficSeries, cut) -> TrafficSeries:
    frame = pd.DataFrame({"requests": s.requests.copy()}, index=s.index)
    frame.loc[frame.index >= cut, "requests"] *= 3.0
    return TrafficSeries(frame, s.interval, gaps=s.gaps)


def test_forecast_use_chooses_the_narrowest_calibrated_interval(s15, tmp_path):
    c = select_model(s15, 96, use="forecast", cache_dir=tmp_path, dataset_id="d1")
    widths = {n: sc["width_80"] for n, sc in c.scores.items() if "width_80" in sc}
    assert len(widths) >= 2
    assert c.model == min(widths, key=widths.get)
    assert c.fitted is not None
    assert c.fitted.name == c.model
    assert c.fitted.calibrator_ is not None
    assert not c.cached
    assert c.model in c.reason
    again = select_model(s15, 96, use="forecast", cache_dir=tmp_path, dataset_id="d1")
    assert again.cached
    assert again.fitted is None
    assert again.to_dict() | {"cached": False} == c.to_dict()
    # Another dataset id, horizon or data: chosen again.
    assert not select_model(s15, 96, use="forecast", cache_dir=tmp_path, dataset_id="d2").cached
    assert not select_model(s15, 48, use="forecast", cache_dir=tmp_path, dataset_id="d1").cached


def test_nothing_after_the_cut_is_read(s15, tmp_path):
    cut = s15.start + pd.Timedelta(days=20)
    a = select_model(s15, 8, use="forecast", cut=cut)
    b = select_model(_changed_after(s15, cut), 8, use="forecast", cut=cut)
    assert a.model == b.model
    assert a.scores == b.scores
    # ... and the cached choice at that cut survives a change after it (its key is the data before the cut).
    select_model(s15, 8, use="forecast", cut=cut, cache_dir=tmp_path)
    assert select_model(_changed_after(s15, cut), 8, use="forecast", cut=cut, cache_dir=tmp_path).cached


def test_policy_use_is_the_policys_rolling_k_step_error(s15, tmp_path):
    cut = s15.start + pd.Timedelta(days=20)
    kw = {"candidates": ("seasonal_naive", "fourier_arma"), "eval_days": 2.0, "refit": "daily"}
    c = select_model(s15, 2, use="policy", cut=cut, cache_dir=tmp_path, **kw)
    direct = select_policy_model(s15, 2, cut=cut, **kw)
    assert c.model == direct.model
    assert c.reason == direct.reason
    assert c.scores["_window"]["cut"] == direct.cut
    assert np.isclose(c.scores[c.model]["mae"], direct.scores[direct.model]["mae"])
    assert select_model(s15, 2, use="policy", cut=cut, cache_dir=tmp_path, **kw).cached


@pytest.mark.parametrize(("kwargs", "fragment"), [({"use": "plan"}, "use must be one of"),
                                              ({"horizon_steps": 0}, "horizon_steps must be")])
def test_bad_input_names_the_fix(s15, kwargs, fragment):
    with pytest.raises(InputError, match=fragment):
        select_model(s15, **{"horizon_steps": 4, **kwargs})


def test_too_short_a_history_says_what_each_model_needs():
    short = G.short_history(days=1.5, interval="15min", seed=3)
    with pytest.raises(InputError, match="no model could be fitted") as exc:
        select_model(short, 8, use="forecast")
    assert "seasonal_naive: " in str(exc.value)
    assert "{" not in str(exc.value)
