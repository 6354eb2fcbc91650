"""Trained models on disk: round trip per model, retrain on change, recover from corruption."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.forecast.cache import ModelCache
from core.series import TrafficSeries
from tests.core.forecast.synth import FAST


@pytest.mark.parametrize("name", ["seasonal_naive", "sarima", "lightgbm", "prophet", "ensemble"])
def test_round_trip_gives_identical_forecasts(name, series15, tmp_path):
    cache = ModelCache(tmp_path)
    fitted, hit = cache.get_or_fit(name, series15, params=FAST[name])
    assert not hit
    loaded, hit = cache.get_or_fit(name, series15, params=FAST[name])
    assert hit
    a, b = fitted.predict(50), loaded.predict(50)
    for key in ("mean", "lo-80", "hi-95"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-6)
    assert (a["timestamps"] == b["timestamps"]).all()
    files = {p.name for p in next((tmp_path / name).iterdir()).iterdir()}
    assert "meta.json" in files
    assert not any(f.endswith((".pkl", ".pickle", ".joblib")) for f in files)


def test_changed_data_or_params_retrain(series15, tmp_path):
    cache = ModelCache(tmp_path)
    cache.get_or_fit("seasonal_naive", series15)
    assert cache.get_or_fit("seasonal_naive", series15)[1]
    assert not cache.get_or_fit("seasonal_naive", series15, params={"season": "day"})[1]
    frame = series15.frame.copy()
    frame.iloc[-1, 0] += 1
    changed = TrafficSeries(frame, series15.interval, series15.gaps)
    assert not cache.get_or_fit("seasonal_naive", changed)[1]
    assert not cache.get_or_fit("seasonal_naive", series15, target="requests", dataset_id="other")[1]


@pytest.mark.parametrize("damage", ["garbage_json", "missing_arrays", "bad_booster", "wrong_format"])
def test_corrupt_entry_retrains(damage, series15, tmp_path):
    name = "lightgbm"
    cache = ModelCache(tmp_path)
    ref, _ = cache.get_or_fit(name, series15, params=FAST[name])
    entry = next((tmp_path / name).iterdir())
    if damage == "garbage_json":
        (entry / "meta.json").write_text("{not json")
    elif damage == "missing_arrays":
        (entry / "arrays.npz").unlink()
    elif damage == "bad_booster":
        next(entry.glob("booster_*.txt")).write_text("tree\nnonsense")
    else:
        doc = json.loads((entry / "meta.json").read_text())
        doc["format"] = 999
        (entry / "meta.json").write_text(json.dumps(doc))
    with pytest.warns(UserWarning, match="unreadable"):
        model, hit = cache.get_or_fit(name, series15, params=FAST[name])
    assert not hit
    np.testing.assert_allclose(model.predict(10)["mean"], ref.predict(10)["mean"])  # deterministic refit
    assert cache.get_or_fit(name, series15, params=FAST[name])[1]  # and the entry is whole again
