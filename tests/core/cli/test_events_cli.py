"""``python -m core events`` (list, --set, --add, --remove, --clear) and ``forecast`` with the stored events."""

from __future__ import annotations

import json

import pytest

from core.cli import main
from core.store import DatasetStore
from tests.core.forecast.synth import make_series

CSV = "timestamp,requests\n"


@pytest.fixture
def data(tmp_path):
    """A store with ten days of 15-minute traffic (as a CSV dataset); returns ``(data_dir, id)``."""
    s = make_series(days=10)
    src = tmp_path / "traffic.csv"
    src.write_text(CSV + "".join(f"{t.isoformat()},{v:g}\n" for t, v in zip(s.index, s.requests, strict=True)))
    info = DatasetStore(tmp_path / "data").put(src)
    return tmp_path / "data", info.id


def cli(capsys, *args) -> tuple[int, dict | str, str]:
    code = main([*map(str, args)])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if "--json" in args and code == 0 else out), err


def test_add_list_remove_set_clear(data, capsys, tmp_path):
    root, ds = data
    code, out, _ = cli(capsys, "events", ds, "--json", "--data-dir", root)
    assert (code, out["events"], out["changed"]) == (0, [], False)
    code, out, _ = cli(capsys, "events", ds, "--add", "Sale, big one,1995-07-10,1995-07-11,high_traffic",
                       "--data-dir", root)
    assert code == 0
    assert "1 custom event (added 'Sale, big one')" in out
    assert "1995-07-10 .. 1995-07-11  high_traffic" in out
    assert [e.name for e in DatasetStore(root).events(ds)] == ["Sale, big one"]

    code, _, err = cli(capsys, "events", ds, "--add", "Sale, big one,1995-07-12,1995-07-12,low_traffic",
                       "--data-dir", root)
    assert code == 2
    assert "already has an event named 'Sale, big one'; --remove it first" in err
    code, _, err = cli(capsys, "events", ds, "--add", "Oops,1995-07-12,1995-07-10,low_traffic", "--data-dir", root)
    assert code == 2
    assert "swap the dates" in err
    code, _, err = cli(capsys, "events", ds, "--add", "Oops,1995-07-12", "--data-dir", root)
    assert code == 2
    assert "--add takes NAME,START,END,IMPACT" in err
    code, _, err = cli(capsys, "events", ds, "--remove", "Nope", "--data-dir", root)
    assert code == 2
    assert "no event named 'Nope'; its events: 'Sale, big one'" in err

    code, out, _ = cli(capsys, "events", ds, "--remove", "Sale, big one", "--json", "--data-dir", root)
    assert (code, out["events"], out["changed"]) == (0, [], True)

    f = tmp_path / "ev.json"
    f.write_text(json.dumps([{"name": "A", "date": "1995-07-04", "impact": "low_traffic"},
                             {"name": "B", "start": "1995-07-05", "end": "1995-07-06", "impact": "outage"}]))
    code, out, _ = cli(capsys, "events", ds, "--set", f, "--json", "--data-dir", root)
    assert [e["name"] for e in out["events"]] == ["A", "B"]
    code, out, _ = cli(capsys, "events", ds, "--clear", "--json", "--data-dir", root)
    assert out["events"] == []
    code, _, err = cli(capsys, "events", "abcdef0123456789", "--data-dir", root)
    assert code == 2
    assert "unknown dataset id" in err


def test_forecast_uses_the_stored_events_and_the_file_adds(data, capsys, tmp_path):
    root, ds = data
    base = ("forecast", "--data", ds, "--granularity", "15min", "--horizon", "1d", "--no-cache", "--json",
            "--data-dir", root)
    names = lambda out: {e["name"] for e in out["events"]}  # noqa: E731
    assert "Promo" not in names(cli(capsys, *base)[1])
    cli(capsys, "events", ds, "--add", "Promo,1995-07-13,1995-07-13,high_traffic", "--data-dir", root)
    assert "Promo" in names(cli(capsys, *base)[1])
    assert "Promo" not in names(cli(capsys, *base, "--no-stored-events")[1])
    extra = tmp_path / "more.csv"
    extra.write_text("name,date,impact\nFile event,1995-07-13,low_traffic\n")
    assert {"Promo", "File event"} <= names(cli(capsys, *base, "--events", extra)[1])
