"""Events calendar: known days that move traffic, for models and chart annotations.

An event covers whole local days ``start .. end`` (both inclusive) and has an
impact class. The built-in calendar holds the 1995 NASA events; users add
their own from CSV (``date`` or ``start,end`` plus ``name,impact``) or JSON
(a list of objects with the same keys). Events feed Prophet's holidays and
LightGBM's calendar features, and are returned for annotations.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import InputError

__all__ = [
    "IMPACTS",
    "Event",
    "builtin_events",
    "parse_events",
    "load_events",
    "event_day_flags",
    "events_in_range",
    "prophet_holidays",
]

#: Impact classes, in the order used for model features.
IMPACTS = ("high_traffic", "low_traffic", "outage")


@dataclass(frozen=True)
class Event:
    """One calendar event over whole local days ``start .. end`` (inclusive)."""

    name: str
    start: dt.date
    end: dt.date
    impact: str

    def __post_init__(self) -> None:
        if not self.name or not str(self.name).strip():
            raise InputError("event name must not be empty")
        if self.impact not in IMPACTS:
            raise InputError(f"event impact must be one of {', '.join(IMPACTS)}, got {self.impact!r}")
        if self.end < self.start:
            raise InputError(f"event {self.name!r} ends ({self.end}) before it starts ({self.start}); swap the dates")

    def to_dict(self) -> dict:
        return {"name": self.name, "start": self.start.isoformat(), "end": self.end.isoformat(), "impact": self.impact}


def _d(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


_BUILTIN_1995 = (
    Event("Independence Day", _d("1995-07-04"), _d("1995-07-04"), "low_traffic"),
    Event("STS-70 launch", _d("1995-07-13"), _d("1995-07-13"), "high_traffic"),
    Event("STS-70 mission", _d("1995-07-13"), _d("1995-07-22"), "high_traffic"),
    Event("Apollo 11 anniversary", _d("1995-07-20"), _d("1995-07-20"), "high_traffic"),
    Event("STS-70 landing", _d("1995-07-22"), _d("1995-07-22"), "high_traffic"),
    Event("Hurricane Erin outage", _d("1995-08-01"), _d("1995-08-03"), "outage"),
)


def builtin_events() -> tuple[Event, ...]:
    """The built-in 1995 calendar (NASA KSC: launch, mission, holiday, hurricane outage)."""
    return _BUILTIN_1995


def _parse_date(value, what: str, row: int) -> dt.date:
    try:
        return pd.Timestamp(str(value).strip()).date()
    except (ValueError, TypeError) as exc:
        raise InputError(f"event {row}: {what} {value!r} is not a date; use YYYY-MM-DD") from exc


def parse_events(records: list[dict]) -> tuple[Event, ...]:
    """Events from dicts with ``name``, ``impact`` and ``date`` or ``start`` [+ ``end``].

    Raises:
        InputError: naming the record and the missing or bad field.
    """
    out = []
    for i, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            raise InputError(f"event {i}: expected an object with name, impact and date, got {type(rec).__name__}")
        rec = {str(k).strip().lower(): v for k, v in rec.items() if v is not None and str(v).strip() != ""}
        if "name" not in rec or "impact" not in rec:
            raise InputError(f"event {i}: needs 'name' and 'impact' ({', '.join(IMPACTS)})")
        first = rec.get("start", rec.get("date"))
        if first is None:
            raise InputError(f"event {i}: needs 'date' (one day) or 'start' and 'end' (a range)")
        start = _parse_date(first, "start", i)
        end = _parse_date(rec["end"], "end", i) if "end" in rec else start
        out.append(Event(str(rec["name"]).strip(), start, end, str(rec["impact"]).strip().lower()))
    return tuple(out)


def load_events(source: str | Path) -> tuple[Event, ...]:
    """Read user events from a ``.csv`` or ``.json`` file.

    Raises:
        InputError: unreadable file, unknown extension or bad records.
    """
    path = Path(source)
    if not path.is_file():
        raise InputError(f"events file {str(path)!r} not found; pass a .csv or .json file")
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"events file {path.name}: invalid JSON ({exc.msg} at line {exc.lineno})") from exc
        if isinstance(data, dict) and "events" in data:
            data = data["events"]
        if not isinstance(data, list):
            raise InputError(f"events file {path.name}: expected a list of events")
        return parse_events(data)
    if path.suffix.lower() == ".csv":
        return parse_events(list(csv.DictReader(io.StringIO(text))))
    raise InputError(f"events file {path.name}: unknown extension; use .csv or .json")


def event_day_flags(events, day_numbers: np.ndarray) -> np.ndarray:
    """0/1 flags, shape ``(len(day_numbers), len(IMPACTS))``, for local day numbers."""
    flags = np.zeros((len(day_numbers), len(IMPACTS)), dtype=np.float64)
    epoch = dt.date(1970, 1, 1)
    for ev in events:
        lo, hi = (ev.start - epoch).days, (ev.end - epoch).days
        flags[(day_numbers >= lo) & (day_numbers <= hi), IMPACTS.index(ev.impact)] = 1.0
    return flags


def events_in_range(events, start, end) -> list[dict]:
    """Events overlapping ``[start, end)`` as dicts for chart annotations."""
    lo, hi = pd.Timestamp(start).date(), pd.Timestamp(end).date()
    return [ev.to_dict() for ev in events if ev.end >= lo and ev.start <= hi]


def prophet_holidays(events) -> pd.DataFrame:
    """A Prophet ``holidays`` frame (one row per event day; outages are left to the gap mask)."""
    rows = []
    for ev in events:
        if ev.impact == "outage":
            continue  # outage periods are gaps and never reach the fit
        for day in pd.date_range(ev.start, ev.end, freq="D"):
            rows.append({"holiday": ev.impact, "ds": day, "lower_window": 0, "upper_window": 0})
    return pd.DataFrame(rows, columns=["holiday", "ds", "lower_window", "upper_window"])
