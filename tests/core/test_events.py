"""The events calendar: built-in 1995 events, user files, flags and Prophet holidays."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.events import (
    IMPACTS,
    builtin_events,
    event_day_flags,
    events_in_range,
    load_events,
    parse_events,
    prophet_holidays,
)


def test_builtin_1995_calendar():
    ev = {e.name: e for e in builtin_events()}
    assert ev["Independence Day"].impact == "low_traffic"
    assert ev["Independence Day"].start == dt.date(1995, 7, 4)
    assert ev["STS-70 launch"].start == dt.date(1995, 7, 13)
    assert ev["STS-70 launch"].impact == "high_traffic"
    assert (ev["STS-70 mission"].start, ev["STS-70 mission"].end) == (dt.date(1995, 7, 13), dt.date(1995, 7, 22))
    assert ev["Apollo 11 anniversary"].start == dt.date(1995, 7, 20)
    assert ev["STS-70 landing"].start == dt.date(1995, 7, 22)
    assert (ev["Hurricane Erin outage"].start, ev["Hurricane Erin outage"].end) == (
        dt.date(1995, 8, 1), dt.date(1995, 8, 3))
    assert ev["Hurricane Erin outage"].impact == "outage"


def test_user_events_csv_and_json(tmp_path):
    csv = tmp_path / "ev.csv"
    csv.write_text("date,start,end,name,impact\n2024-03-01,,,Launch,high_traffic\n,2024-03-10,2024-03-12,"
                   "Migration,outage\n")
    evs = load_events(csv)
    assert [(e.name, e.start, e.end, e.impact) for e in evs] == [
        ("Launch", dt.date(2024, 3, 1), dt.date(2024, 3, 1), "high_traffic"),
        ("Migration", dt.date(2024, 3, 10), dt.date(2024, 3, 12), "outage"),
    ]
    js = tmp_path / "ev.json"
    js.write_text(json.dumps([{"name": "Sale", "date": "2024-11-29", "impact": "high_traffic"}]))
    assert load_events(js)[0].name == "Sale"


@pytest.mark.parametrize(
    ("records", "msg"),
    [
        ([{"name": "x", "date": "2024-01-01", "impact": "huge"}], "impact must be one of"),
        ([{"name": "x", "impact": "outage"}], "needs 'date'"),
        ([{"date": "2024-01-01", "impact": "outage"}], "needs 'name' and 'impact'"),
        ([{"name": "x", "date": "someday", "impact": "outage"}], "use YYYY-MM-DD"),
        ([{"name": "x", "start": "2024-01-05", "end": "2024-01-01", "impact": "outage"}], "swap the dates"),
    ],
)
def test_bad_events(records, msg):
    with pytest.raises(InputError, match=msg):
        parse_events(records)


def test_bad_event_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_events(tmp_path / "none.csv")
    p = tmp_path / "ev.txt"
    p.write_text("x")
    with pytest.raises(InputError, match="use .csv or .json"):
        load_events(p)
    p = tmp_path / "ev.json"
    p.write_text("{oops")
    with pytest.raises(InputError, match="invalid JSON"):
        load_events(p)


def test_flags_annotations_and_holidays():
    idx = pd.date_range("1995-07-12", "1995-07-14", freq="12h", tz="-04:00")
    days = (idx.as_unit("ns").asi8 + (-4 * 3600) * 10**9) // (86_400 * 10**9)
    flags = event_day_flags(builtin_events(), days)
    hi = flags[:, IMPACTS.index("high_traffic")]
    assert list(hi) == [0, 0, 1, 1, 1]
    ann = events_in_range(builtin_events(), "1995-07-20", "1995-07-21")
    assert {a["name"] for a in ann} == {"STS-70 mission", "Apollo 11 anniversary"}
    hol = prophet_holidays(builtin_events())
    assert "outage" not in set(hol["holiday"])  # outages are gaps, not holidays
    assert np.datetime64("1995-07-04") in hol["ds"].to_numpy().astype("datetime64[D]")
