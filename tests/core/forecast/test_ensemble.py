"""The ensemble's combination: learned on a validation window, kept only when it significantly beats the best member."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.forecast import backtest, make_model
from core.forecast.ensemble import choose_weights, diebold_mariano, simplex_least_squares
from tests.core.forecast.synth import FAST, make_series


def test_simplex_least_squares_sums_to_one():
    rng = np.random.default_rng(0)
    t = rng.normal(100, 10, 500)
    X = np.column_stack([t + rng.normal(0, 5, 500), t + 30])
    w = simplex_least_squares(X, t)
    assert w.sum() == pytest.approx(1.0)
    assert (w >= 0).all()
    assert w[0] == pytest.approx(900 / 925, abs=0.02)  # minimizes 25 w^2 + 900 (1 - w)^2


def test_a_combination_that_helps_is_kept():
    rng = np.random.default_rng(1)
    t = rng.normal(100, 10, 2000)
    e = rng.normal(0, 5, 2000)
    X = np.column_stack([t + e, t - e + rng.normal(0, 1, 2000)])  # opposite errors: the mean cancels them
    w, choice, scores = choose_weights(X[:1000], t[:1000], X[1000:], t[1000:])
    assert choice == "combination"
    assert w == pytest.approx([0.5, 0.5], abs=0.05)
    assert scores["combination"] < min(scores["members"])
    assert scores["p_value"] < 0.05


def test_a_combination_that_does_not_transfer_falls_back_to_the_best_member():
    rng = np.random.default_rng(2)
    t = rng.normal(100, 10, 2000)
    X = np.column_stack([t + rng.normal(0, 5, 2000), t + rng.normal(0, 5, 2000)])
    X[1000:, 1] += 20  # member 1 drifts on the check window: the 50/50 mix learned before is worse than member 0
    w, choice, scores = choose_weights(X[:1000], t[:1000], X[1000:], t[1000:])
    assert choice == "member 0"
    assert list(w) == [1.0, 0.0]
    assert scores["members"][0] < scores["combination"]


def test_a_clearly_best_member_is_picked_and_a_lucky_combination_is_not_kept():
    rng = np.random.default_rng(3)
    t = rng.normal(100, 10, 2000)
    e = rng.normal(0, 5, 2000)
    X = np.column_stack([t + 30 + e, t + e, t + 40 + e])  # the others only add bias to member 1's errors
    w, choice, scores = choose_weights(X[:1000], t[:1000], X[1000:], t[1000:])
    assert choice == "member 1"
    assert list(w) == [0.0, 1.0, 0.0]
    assert scores["best"] == 1
    # Two equally good members with correlated errors: the mix is at best marginally better on the check
    # window; a tiny gain in autocorrelated errors is not significant, so the best member stays.
    e = np.convolve(rng.normal(0, 5, 2100), np.ones(50) / np.sqrt(50), mode="valid")[:2000]
    X2 = np.column_stack([t + e, t + e + rng.normal(0, 0.5, 2000)])
    w2, choice2, scores2 = choose_weights(X2[:1000], t[:1000], X2[1000:], t[1000:])
    assert choice2.startswith("member")
    assert scores2["p_value"] >= 0.05


def test_diebold_mariano_accounts_for_autocorrelation():
    rng = np.random.default_rng(4)
    white = rng.normal(0.1, 1, 1000)
    smooth = np.repeat(rng.normal(0.1, 1, 20), 50)  # same mean gain, but only 20 independent values
    assert diebold_mariano(white) < 0.05
    assert diebold_mariano(smooth) > diebold_mariano(white)
    assert diebold_mariano(-np.abs(white)) > 0.99


def test_the_fitted_ensemble_shows_its_weights_and_never_loses_to_its_best_member_on_validation():
    s = make_series(days=21, step="15min")
    model = make_model("ensemble", **FAST["ensemble"]).fit(s)
    info = model.weights()
    w = np.array(list(info["weights"].values()))  # (members, bands)
    assert w.sum(axis=0) == pytest.approx(np.ones(w.shape[1]))
    for choice, val in zip(info["choice"], info["validation_rmse"], strict=True):
        assert choice == "combination" or choice in model.members
        if val is not None:
            assert val["best"] in model.members
            assert 0.0 <= val["p_value"] <= 1.0
            if choice == "combination":
                assert val["p_value"] < 0.05
            else:
                assert choice == val["best"]
    assert "1 step:" in model.label
    assert "1 day:" in model.label
    rep = backtest(s, ["ensemble"], train_end="1995-07-20 23:59", protocol="day-ahead",
                   params={"ensemble": FAST["ensemble"]})
    res = rep.to_dict()["results"]["ensemble"]
    assert set(res["ensemble"]) == {"band_edges_steps", "weights", "choice", "validation_rmse"}
    assert res["label"].startswith("Ensemble")
    json.dumps(rep.to_dict())
