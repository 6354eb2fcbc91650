"""Events calendar: known days that move traffic, for models and chart annotations.

An event covers whole local days ``start .. end`` (both inclusive) and has an
impact class. The built-in calendar holds the 1995 NASA events; users add
their own from CSV (``date`` or ``start,end`` plus ``name,impact``) or JSON
(a list of objects with the same keys), or store them with a dataset
(``DatasetStore.set_events``, validated by :func:`validate_events`). Events
feed Prophet's holidays and LightGBM's calendar features, and are returned for
annotations. :func:`events_digest` names a list of events in cache keys.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import InputError

__all__ = [
    "IMPACTS",
    "MAX_EVENTS",
    "MAX_NAME_CHARS",
    "Event",
    "EventError",
    "validate_events",
    "events_digest",
    "builtin_events",
    "parse_events",
    "load_events",
    "event_day_flags",
    "events_in_range",
    "prophet_holidays",
]

#: Impact classes, in the order used for model features.
IMPACTS = ("high_traffic", "low_traffic", "outage")
#: Limits of a dataset's stored events (they are small annotations, not data).
MAX_EVENTS = 500
MAX_NAME_CHARS = 120
#: The keys an event record may have (``date`` is a one-day ``start``).
EVENT_KEYS = ("name", "start", "end", "date", "impact")


class EventError(InputError):
    """A bad event: ``index`` (1-based, None for the event itself) and ``field`` name what to fix."""

    def __init__(self, message: str, index: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.index = index
        self.field = field


@dataclass(frozen=True)
class Event:
    """One calendar event over whole local days ``start .. end`` (inclusive)."""

    name: str
    start: dt.date
    end: dt.date
    impact: str

    def __post_init__(self) -> None:
        if not self.name or not str(self.name).strip():
            raise EventError("event name must not be empty; give each event a name", field="name")
        if self.impact not in IMPACTS:
            raise EventError(f"event impact must be one of {', '.join(IMPACTS)}, got {self.impact!r}",
                             field="impact")
        if self.end < self.start:
            raise EventError(f"event {self.name!r} ends ({self.end}) before it starts ({self.start}); swap the dates",
                             field="end")

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
    except (ValueError, TypeError, OverflowError) as exc:
        raise EventError(f"event {row}: {what} {str(value)[:40]!r} is not a date; use YYYY-MM-DD", row,
                         what) from exc


def parse_events(records: list[dict]) -> tuple[Event, ...]:
    """Events from dicts with ``name``, ``impact`` and ``date`` or ``start`` [+ ``end``].

    Raises:
        InputError: naming the record and the missing or bad field.
    """
    out = []
    for i, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            raise EventError(f"event {i}: expected an object with name, impact and date, got {type(rec).__name__}",
                             i)
        rec = {str(k).strip().lower(): v for k, v in rec.items() if v is not None and str(v).strip() != ""}
        if "name" not in rec or "impact" not in rec:
            raise EventError(f"event {i}: needs 'name' and 'impact' ({', '.join(IMPACTS)})", i,
                             "impact" if "name" in rec else "name")
        first = rec.get("start", rec.get("date"))
        if first is None:
            raise EventError(f"event {i}: needs 'date' (one day) or 'start' and 'end' (a range)", i, "start")
        start = _parse_date(first, "start", i)
        end = _parse_date(rec["end"], "end", i) if "end" in rec else start
        try:
            out.append(Event(str(rec["name"]).strip(), start, end, str(rec["impact"]).strip().lower()))
        except EventError as exc:
            raise EventError(f"event {i}: {exc}", i, exc.field) from None
    return tuple(out)


def validate_events(items) -> tuple[Event, ...]:
    """A dataset's custom events, checked for storing: :class:`Event` objects or records as for
    :func:`parse_events`, with only the known keys, names unique and at most ``MAX_NAME_CHARS`` long, at most
    ``MAX_EVENTS`` of them. An event covers whole days ``start .. end``, both inclusive (a one-day event has
    ``end == start``).

    Raises:
        EventError: naming the event (1-based), the field and the fix.
    """
    if isinstance(items, (str, bytes, dict)) or not hasattr(items, "__iter__"):
        raise EventError(f"events must be a list of events, got {type(items).__name__}")
    items = list(items)
    if len(items) > MAX_EVENTS:
        raise EventError(f"{len(items)} events exceed the limit of {MAX_EVENTS} per dataset; keep the ones that "
                         "matter")
    records = []
    for i, item in enumerate(items, start=1):
        if isinstance(item, Event):
            item = item.to_dict()
        if isinstance(item, dict):
            unknown = sorted(str(k) for k in item if str(k).strip().lower() not in EVENT_KEYS)
            if unknown:
                raise EventError(f"event {i}: unknown key {unknown[0]!r}; the keys are name, start, end, impact "
                                 "(or date for one day)", i, unknown[0])
            for key in ("name", "impact"):
                if key in item and item[key] is not None and not isinstance(item[key], str):
                    raise EventError(f"event {i}: {key} must be a string, got {type(item[key]).__name__}", i, key)
        records.append(item)
    events = parse_events(records)
    seen: dict[str, int] = {}
    for i, ev in enumerate(events, start=1):
        if len(ev.name) > MAX_NAME_CHARS:
            raise EventError(f"event {i}: name of {len(ev.name)} characters exceeds {MAX_NAME_CHARS}; shorten it",
                             i, "name")
        if ev.name in seen:
            raise EventError(f"event {i}: the name {ev.name!r} is also event {seen[ev.name]}'s; names identify "
                             "events, rename one", i, "name")
        seen[ev.name] = i
    return events


def events_digest(events) -> str:
    """A short hash of ``events`` (order kept) for cache keys: results that use events key on it."""
    blob = json.dumps([e.to_dict() for e in events], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


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
