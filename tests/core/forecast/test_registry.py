"""The model registry is the one list of names: a model registered here appears everywhere, aliases resolve."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.forecast import (
    Forecaster,
    accepted_model_names,
    canonical_model_name,
    make_model,
    model_aliases,
    model_label,
    model_names,
    registered,
)
from core.forecast.base import register, unregister


class Yesterday(Forecaster):
    """The value one day earlier; defined here only, to show nothing else has to change."""

    name = "test_yesterday"
    label = "Yesterday (test)"
    aliases = ("test_yday",)

    def _fit(self, y: np.ndarray) -> None:
        self.level_ = float(np.nanmean(y))

    def _paths(self, y, origins, h):
        spd = self.grid_.steps_per_day
        t = origins[:, None] + np.arange(h)[None, :]
        src = t - spd * (1 + np.arange(h)[None, :] // spd)
        return np.where(src >= 0, y[np.clip(src, 0, len(y) - 1)], self.level_)


def _cli_choices(command: str, flag: str) -> tuple[str, ...]:
    from core.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return tuple(next(a for a in sub._actions if flag in a.option_strings).choices)


def test_a_registered_model_appears_everywhere_and_leaves_no_trace(series15):
    before = (model_names(), model_aliases())
    with registered(Yesterday):
        assert "test_yesterday" in model_names()
        assert "test_yday" not in model_names()  # aliases are not models
        assert model_aliases()["test_yday"] == "test_yesterday"
        assert {"test_yesterday", "test_yday"} <= set(_cli_choices("forecast", "--model"))
        assert "test_yesterday" in _cli_choices("simulate", "--forecast-model")
        assert model_label("test_yday") == "Yesterday (test)"
        model = make_model("test_yday", calibrate=False).fit(series15)
        assert model.name == "test_yesterday"
        assert np.array_equal(model.predict(4, level=None)["mean"], series15.requests[-96:-92])
    assert (model_names(), model_aliases()) == before
    assert "test_yesterday" not in _cli_choices("forecast", "--model")
    with pytest.raises(InputError, match="unknown model 'test_yesterday'"):
        make_model("test_yesterday")


def test_the_old_name_sarima_is_an_alias_of_fourier_arma():
    assert "fourier_arma" in model_names()
    assert "sarima" not in model_names()
    assert model_aliases()["sarima"] == "fourier_arma"
    assert canonical_model_name("sarima") == canonical_model_name("fourier_arma") == "fourier_arma"
    assert make_model("sarima").name == "fourier_arma"
    assert model_label("sarima") == model_label("fourier_arma") == "Fourier regression + ARMA errors"
    assert set(accepted_model_names()) == set(model_names()) | {"sarima"}
    assert {"fourier_arma", "sarima"} <= set(_cli_choices("forecast", "--model"))


def test_unknown_names_list_the_accepted_ones():
    with pytest.raises(InputError, match=r"unknown model 'xgboost'; choose one of seasonal_naive, .*fourier_arma.*"
                                         r"'sarima' is accepted for 'fourier_arma'"):
        canonical_model_name("xgboost")
    with pytest.raises(InputError, match="unknown model"):
        model_label("xgboost")


def test_a_taken_name_is_refused():
    class Clash(Yesterday):
        name = "test_clash"
        aliases = ("fourier_arma",)

    with pytest.raises(ValueError, match="'fourier_arma' is taken"):
        register(Clash)
    unregister("test_clash")  # nothing was added; unknown names are ignored
    assert "test_clash" not in model_names()
