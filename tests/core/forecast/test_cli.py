"""``python -m core forecast|backtest|anomalies`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.core.forecast.synth import make_series

ROOT = Path(__file__).resolve().parents[3]


def run(*args, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "core", *args, "--data-dir", str(tmp_path / "store")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory):
    pytest.importorskip("core.store", reason="the dataset store (core.store) is not there yet")
    s = make_series(days=12, step="15min")
    path = tmp_path_factory.mktemp("cli") / "traffic.csv"
    pd.DataFrame({"timestamp": s.index.tz_localize(None).strftime("%Y-%m-%d %H:%M:%S"),
                  "requests": s.requests}).to_csv(path, index=False)
    return path


def test_forecast_json_and_csv(csv_path, tmp_path):
    out = tmp_path / "fc.csv"
    args = ("forecast", "--data", str(csv_path), "--granularity", "15min", "--model", "sarima",
            "--horizon", "1d", "--json", "--out", str(out), "--models-dir", str(tmp_path / "models"))
    r = run(*args, tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)  # exactly one JSON object
    assert r.stdout.count("\n") == 1
    assert obj["model"] == "sarima"
    assert obj["points"] == 96
    assert obj["cached"] is False
    assert obj["label"] == "Fourier regression + ARMA errors"
    assert obj["start"].startswith("1995-07-15T00:00:00")
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["timestamp", "mean", "lo-80", "hi-80", "lo-95", "hi-95"]
    assert len(frame) == 96
    again = json.loads(run(*args, tmp_path=tmp_path).stdout)
    assert again["cached"] is True
    assert again["summary"] == pytest.approx(obj["summary"])


@pytest.mark.parametrize(
    ("extra", "msg"),
    [
        (("--model", "xgboost"), "unknown model 'xgboost'"),
        (("--horizon", "0"), "at least 1 step"),
        (("--horizon", "40d"), "exceeds 30 days"),
        (("--level", "80,100"), "level must be in (0, 100)"),
        (("--target", "bytes"), "no 'bytes' column"),
    ],
)
def test_forecast_bad_input_exits_2_with_one_line(extra, msg, csv_path, tmp_path):
    r = run("forecast", "--data", str(csv_path), "--granularity", "15min", "--no-cache", *extra, tmp_path=tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1
    assert r.stderr.startswith("error: ")
    assert msg in r.stderr
    assert r.stdout == ""


def test_backtest_json(csv_path, tmp_path):
    r = run("backtest", "--data", str(csv_path), "--granularity", "15min", "--train-end", "1995-07-12 23:59",
            "--protocol", "day-ahead", "--models", "seasonal_naive,sarima", "--json", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert set(obj["results"]) == {"seasonal_naive", "sarima"}
    for res in obj["results"].values():
        for key in ("rmse", "mse", "mae", "mape", "smape", "mase", "r2", "coverage_80", "coverage_95",
                    "crps", "pinball_80", "pinball_95", "fit_seconds", "predict_seconds"):
            assert key in res
        assert 0 < res["crps"] < res["mae"]  # a calibrated spread beats its own mean's absolute error
        assert 0 < res["pinball_95"] < res["pinball_80"]
        assert res["calibration"].startswith("adaptive (rolling: last 2 days")  # the rolling protocols' default
    assert obj["poisson_floor"] > 0
    assert obj["periods"] == 2 * 96
    fixed = run("backtest", "--data", str(csv_path), "--granularity", "15min", "--train-end", "1995-07-12 23:59",
                "--protocol", "day-ahead", "--models", "seasonal_naive", "--calibration", "fixed", tmp_path=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert "intervals: fixed (the last 14 days before the training end)" in fixed.stdout
    bad = run("backtest", "--data", str(csv_path), "--granularity", "15min", "--train-end", "1995-07-12",
              "--protocol", "sideways", tmp_path=tmp_path)
    assert bad.returncode == 2
    assert "unknown protocol" in bad.stderr


def test_anomalies_json(csv_path, tmp_path):
    r = run("anomalies", "--data", str(csv_path), "--granularity", "15min", "--json", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["periods_scanned"] == 12 * 96
    assert all({"start", "end", "method", "score"} <= set(a) for a in obj["anomalies"])


def test_select_model_json_then_cached(csv_path, tmp_path):
    args = ("select-model", "--data", str(csv_path), "--granularity", "15min", "--horizon", "6h", "--json",
            "--models-dir", str(tmp_path / "models"))
    first = run(*args, tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    a = json.loads(first.stdout)
    assert a["use"] == "forecast"
    assert a["horizon_steps"] == 24
    assert a["model"] in a["scores"]
    assert a["cached"] is False
    b = json.loads(run(*args, tmp_path=tmp_path).stdout)
    assert b["cached"] is True
    assert b["model"] == a["model"]
    assert b["scores"] == a["scores"]
    pol = run("select-model", "--data", str(csv_path), "--granularity", "15min", "--use", "policy", "--json",
              "--models-dir", str(tmp_path / "models"), tmp_path=tmp_path)
    assert pol.returncode == 0, pol.stderr
    p = json.loads(pol.stdout)
    assert p["use"] == "policy"
    assert p["horizon_steps"] >= 1
    assert "step error" in p["reason"]


def test_select_model_bad_horizon_exits_2(csv_path, tmp_path):
    r = run("select-model", "--data", str(csv_path), "--granularity", "15min", "--horizon", "40d",
            tmp_path=tmp_path)
    assert r.returncode == 2
    assert "horizon" in r.stderr
