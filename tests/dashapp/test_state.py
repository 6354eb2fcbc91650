"""The URL contract: parsing, warnings, fallbacks and writing back."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.scaling.config import CapacityModel
from core.store import ID_RE
from dashapp import state as st

#: The page modules, found as Dash finds them (files not starting with "_" that call register_page); each
#: declares its parameters, which Dash registers when the app is created (hence the app fixture).
PAGE_NAMES = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "dashapp" / "pages").glob("*.py")
                    if not p.name.startswith("_") and "register_page" in p.read_text())
pytestmark = pytest.mark.usefixtures("dash_app")

HOSTILE = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "x" * 10_000,
    "1e309",
    "nan",
    "-inf",
    "0x10",
    "🙂",
    "1;DROP TABLE",
]


@pytest.mark.parametrize("page", PAGE_NAMES)
def test_no_query_gives_the_defaults_without_warnings(page):
    parsed = st.parse_query(page, {})
    assert parsed.warnings == []
    assert parsed.values == st.defaults(page)
    assert st.to_search(page, parsed.values) == ""


@pytest.mark.parametrize("page", PAGE_NAMES)
@pytest.mark.parametrize("bad", HOSTILE)
def test_every_parameter_survives_hostile_values(page, bad):
    for p in st.params_of(page):
        parsed = st.parse_query(page, {p.key: bad})
        if p.kind == "dataset" and ID_RE.match(bad):
            assert parsed.values[p.key] == bad  # a well-formed id: resolve_dataset checks that it exists
            continue
        # Never raises, the value falls back to its default, and the warning quotes it only shortened.
        assert parsed.values[p.key] == p.default, (p.key, bad)
        assert len(parsed.warnings) == 1
        assert all(len(w) < 400 for w in parsed.warnings)


def test_values_are_typed_and_written_back_canonically():
    q = {"granularity": "15", "metric": "bytes", "start": "1995-07-10", "end": "1995-07-12T06:30",
         "events": "0", "config": "AGGRESSIVE", "policy": "predictive", "price": "1.50", "min": "2", "max": "40",
         "boot": "0", "capacity": "30", "dataset": "demo-nasa1995-synthetic-v1"}
    parsed = st.parse_query("history", q)
    assert parsed.warnings == []
    v = parsed.values
    assert (v["granularity"], v["metric"], v["events"], v["config"], v["price"], v["min"], v["boot"]) == (
        "15", "bytes", False, "aggressive", 1.5, 2, 0.0)
    assert v["end"] == "1995-07-12T06:30"
    again = st.parse_query("history", st.query_from_search(st.to_search("history", v)))
    assert again.values == v
    assert again.warnings == []
    # Defaults are left out of the URL; the dataset is always written.
    assert "anomalies" not in st.to_search("history", v)
    assert st.to_search("history", {**st.defaults("history"), "dataset": "abc"}) == "?dataset=abc"


def test_out_of_range_and_wrong_type_name_the_value_and_the_rule():
    parsed = st.parse_query("scenarios", {"weight": "1.5", "budget": "2.5", "sla": "abc"})
    assert parsed.values["weight"] == 0.5
    assert parsed.values["budget"] == 500
    assert parsed.values["sla"] is None
    text = " ".join(parsed.warnings)
    assert "weight='1.5'" in text
    assert "between 0 and 1" in text
    assert "whole number" in text
    assert "not a number" in text


def test_repeated_keys_use_the_first_value_except_levels():
    parsed = st.parse_query("forecast", {"model": ["lightgbm", "prophet"], "level": ["95", "80"]})
    assert parsed.values["model"] == "lightgbm"
    assert parsed.values["level"] == (80.0, 95.0)
    assert len(parsed.warnings) == 1
    assert "2 times" in parsed.warnings[0]


def test_unknown_and_too_many_parameters_are_summarized():
    q = {f"junk{i}": "1" for i in range(50)}
    q["x" * 5000] = "y"
    parsed = st.parse_query("what_if", q)
    assert len(parsed.warnings) == 1
    assert "and 46 more" in parsed.warnings[0]
    assert len(parsed.warnings[0]) < 300
    many = st.Parsed("history", {}, [f"w{i}" for i in range(30)])
    assert len(many.shown_warnings()) == st.MAX_WARNINGS + 1


def test_query_from_search_matches_dash_and_bounds_the_field_count():
    assert st.query_from_search("?a=1&b=2&b=3&c=") == {"a": "1", "b": ["2", "3"], "c": ""}
    assert st.query_from_search("") == {}
    assert st.query_from_search("?" + "&".join(f"k{i}=1" for i in range(1000))) == {}


def test_controls_keep_invalid_input_visible_and_drop_defaults():
    raw = {"dataset": "ds1", "granularity": "5", "price": 2, "min": 3.0, "max": "", "events": False,
           "boot": "abc", "anomalies": True}
    search = st.search_from_controls("history", raw)
    q = st.query_from_search(search)
    assert q == {"dataset": "ds1", "price": "2", "min": "3", "events": "0", "boot": "abc"}
    parsed = st.parse_query("history", q)
    assert parsed.values["boot"] == 5.0
    assert "boot='abc'" in parsed.warnings[0]
    # Levels typed as text or as a list.
    assert st.search_from_controls("forecast", {"level": "95, 50"}) == "?level=50%2C95"
    assert st.search_from_controls("forecast", {"level": ["90"]}) == "?level=90"
    assert st.search_from_controls("forecast", {"level": "80,95"}) == ""


SERIES_START = pd.Timestamp("1995-07-01", tz="-04:00")
SERIES_END = pd.Timestamp("1995-09-01", tz="-04:00")


def test_window_inside_the_data_or_back_to_the_whole():
    parsed = st.parse_query("history", {"start": "1995-08-01", "end": "1995-08-08"})
    lo, hi = st.resolve_window(parsed, SERIES_START, SERIES_END)
    assert (lo, hi) == (pd.Timestamp("1995-08-01", tz="-04:00"), pd.Timestamp("1995-08-08", tz="-04:00"))
    assert parsed.warnings == []
    parsed = st.parse_query("history", {"start": "1996-01-01"})
    assert st.resolve_window(parsed, SERIES_START, SERIES_END) == (SERIES_START, SERIES_END)
    assert "outside the data" in parsed.warnings[0]
    assert parsed.values["start"] is None
    parsed = st.parse_query("history", {"start": "1995-08-08", "end": "1995-08-01"})
    assert st.resolve_window(parsed, SERIES_START, SERIES_END) == (SERIES_START, SERIES_END)
    assert "not after start" in parsed.warnings[0]


def test_granularity_finer_than_the_data_falls_back():
    parsed = st.parse_query("history", {"granularity": "1"})
    assert st.resolve_granularity(parsed, 300) == 5
    assert "finer" in parsed.warnings[0]
    assert parsed.values["granularity"] == "5"
    parsed = st.parse_query("history", {"granularity": "5"})
    assert st.resolve_granularity(parsed, 420) == 7
    assert "fits none" in parsed.warnings[0]


@pytest.mark.parametrize(("horizon", "steps", "warned"), [
    ("1d", 96, False), ("12", 12, False), ("90min", 6, False), ("30d", 2880, False), ("31d", 96, True),
    ("5min", 96, True), ("0", 96, True)])
def test_horizon_steps_at_15_minutes(horizon, steps, warned):
    parsed = st.parse_query("forecast", {"horizon": horizon})
    assert st.resolve_horizon(parsed, pd.Timedelta(minutes=15)) == steps
    assert bool(parsed.warnings) == warned


def test_a_horizon_warning_quotes_the_horizon_once_as_written():
    parsed = st.parse_query("forecast", {"horizon": "400D"})
    st.resolve_horizon(parsed, pd.Timedelta(minutes=15))
    assert parsed.warnings == ["horizon '400d' ignored: it exceeds 30 days; using 1d."]


def test_origin_needs_three_days_of_history_and_snaps_to_the_grid():
    interval = pd.Timedelta(minutes=15)
    parsed = st.parse_query("forecast", {})
    # By default the forecast starts at the end of the data (it was the default test split's start, a week
    # before the end: a forecast of the past); the page backtests the last week beside it.
    assert st.resolve_origin(parsed, SERIES_START, SERIES_END, interval) == SERIES_END
    parsed = st.parse_query("forecast", {"origin": "1995-08-20T10:07"})
    assert st.resolve_origin(parsed, SERIES_START, SERIES_END, interval) == pd.Timestamp("1995-08-20 10:00",
                                                                                          tz="-04:00")
    parsed = st.parse_query("forecast", {"origin": "1995-07-02"})
    st.resolve_origin(parsed, SERIES_START, SERIES_END, interval)
    assert "3 days" in parsed.warnings[0]


def test_sim_model_conflicts_fall_back_to_defaults():
    parsed = st.parse_query("history", {"min": "50", "max": "10", "price": "2"})
    model = st.sim_model(parsed)
    assert (model.capacity.min_servers, model.capacity.max_servers) == (1, 100)
    assert model.cost.price_per_server_hour == 2.0
    assert "min_servers (50) must be <= max_servers (10)" in parsed.warnings[0]
    ok = st.sim_model(st.parse_query("history", {"capacity": "30", "boot": "2"}))
    assert ok.capacity.capacity_per_server_rps == pytest.approx(0.5)
    assert ok.capacity.boot_delay_minutes == 2


@pytest.mark.parametrize("page", ["scenarios", "what_if", "history", "plan"])
def test_the_capacity_control_names_the_unit_its_value_is_in(page):
    """The value is requests per minute per server (the simulator gets it / 60 as requests/s); the label says
    so, and the help gives the per-second figure the charts use, for the default."""
    param = next(p for p in st.params_of(page) if p.key == "capacity")
    assert "per minute" in param.label
    assert "per second" in param.help
    assert "20/min = 0.33/s" in param.help
    model = st.sim_model(st.parse_query(page, {"capacity": "60"}))
    assert model.capacity.capacity_per_server_rps == pytest.approx(1.0)
    default = st.sim_model(st.parse_query(page, {}))
    assert default.capacity.capacity_per_server_rps == pytest.approx(CapacityModel().capacity_per_server_rps)


def test_whatif_inputs_build_the_transform_and_overrides():
    parsed = st.parse_query("what_if", {"mult": "1.5", "spike": "1995-08-10T12:00", "spike_min": "30",
                                        "spike_mag": "4", "spike_shape": "ramp", "growth": "2", "max": "20"})
    t, ov = st.whatif_inputs(parsed, SERIES_START, SERIES_END)
    assert (t.multiplier, t.weekly_growth_pct) == (1.5, 2.0)
    assert t.spikes[0].shape == "ramp"
    assert t.spikes[0].magnitude == 4
    assert t.spikes[0].duration_minutes == 30
    assert ov["max_servers"] == 20
    assert ov["price_per_server_hour"] == 0.85
    parsed = st.parse_query("what_if", {"spike": "1999-01-01"})
    t, _ = st.whatif_inputs(parsed, SERIES_START, SERIES_END)
    assert t.spikes == ()
    assert "no spike" in parsed.warnings[0]
