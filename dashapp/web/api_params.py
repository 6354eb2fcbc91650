"""Request parsing for the JSON API: bounded bodies, typed fields, clear 4xx messages.

Every function raises :class:`ApiError` (status + message) for bad input, so
the routes stay thin: parse here, call ``core``, return ``to_dict()``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Any

import numpy as np
import pandas as pd
from flask import Request

from core.errors import InputError
from core.gaps import find_gaps
from core.scaling import PRESETS, ScalingConfig, SimulationModel, get_preset
from core.series import TrafficSeries
from core.store import DatasetStore, validate_id

__all__ = [
    "MAX_JSON_BYTES",
    "MAX_SERIES_POINTS",
    "ApiError",
    "Fields",
    "dataset_id_of",
    "dataset_series",
    "model_from",
    "read_json",
    "scaling_config",
    "series_from_list",
]

MAX_JSON_BYTES = 1024 * 1024  # request bodies of the JSON routes
MAX_SERIES_POINTS = 200_000  # ~2 years at 5 minutes; a longer series belongs in an upload
MAX_LOAD = 1e12  # as core.ingest: more per period is a unit mistake
DEFAULT_START = pd.Timestamp("2024-01-01 00:00", tz="UTC")  # as core.ingest for series without timestamps


class ApiError(Exception):
    """A client error: HTTP status and a message naming the bad value and the fix."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def read_json(request: Request, limit: int = MAX_JSON_BYTES) -> dict:
    """The request body as a JSON object, refusing bodies over ``limit`` before reading them whole.

    Raises:
        ApiError: 413 over the limit, 400 for a body that is not a JSON object.
    """
    length = request.content_length
    if length is not None and length > limit:
        raise ApiError(413, f"request body of {length:,} bytes exceeds the limit of {limit:,} bytes; "
                            "send a dataset_id, or upload large series through /upload")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise ApiError(413, f"request body exceeds the limit of {limit:,} bytes; "
                            "send a dataset_id, or upload large series through /upload")
    if not raw.strip():
        raise ApiError(400, "the request body is empty; send a JSON object (Content-Type: application/json)")
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"malformed JSON body: {exc}") from None
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    except RecursionError:
        raise ApiError(400, "malformed JSON body: nested too deeply") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"the JSON body must be an object like {{\"dataset_id\": \"default\"}}, "
                            f"got {type(body).__name__}")
    return body


def _reject_constant(name: str):
    raise ValueError(f"malformed JSON body: {name} is not a JSON number; use null for missing values")


def _type_name(v: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(v), "number" if isinstance(v, (int, float)) else type(v).__name__)


class Fields:
    """Typed access to a JSON object (a body or a query string) with range checks.

    Args:
        data: the parsed body (or ``request.args`` converted to a dict).
        allowed: accepted keys; any other key is refused (a typo would be silently ignored otherwise).
        query: values are strings from a query string (numbers are parsed from text).
    """

    def __init__(self, data: dict, allowed: tuple[str, ...], query: bool = False) -> None:
        unknown = sorted(set(data) - set(allowed))
        if unknown and not allowed:
            raise ApiError(400, f"this route takes no parameters, got {', '.join(map(repr, unknown))}", unknown[0])
        if unknown:
            raise ApiError(400, f"unknown field(s) {', '.join(map(repr, unknown))}; accepted: {', '.join(allowed)}",
                           unknown[0])
        self.data = data
        self.query = query

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def raw(self, name: str, default=None):
        v = self.data.get(name)
        return default if v is None else v

    def string(self, name: str, default: str | None = None, choices: tuple[str, ...] | None = None,
               max_len: int = 200) -> str | None:
        v = self.data.get(name)
        if v is None:
            return default
        if not isinstance(v, str):
            raise ApiError(400, f"{name} must be a string, got {_type_name(v)} {json.dumps(v)[:60]}", name)
        v = v.strip()
        if len(v) > max_len:
            raise ApiError(400, f"{name} must be at most {max_len} characters, got {len(v)}", name)
        if choices is not None and v.lower() not in choices:
            raise ApiError(400, f"{name} must be one of {', '.join(choices)}, got {v[:60]!r}", name)
        return v.lower() if choices is not None else v

    def number(self, name: str, default: float | None = None, *, lo: float | None = None, hi: float | None = None,
               lo_open: bool = False, integer: bool = False) -> float | int | None:
        v = self.data.get(name)
        if v is None:
            return default
        if self.query and isinstance(v, str):
            try:
                v = float(v) if not v.strip().lstrip("-").isdigit() else int(v)
            except ValueError:
                raise ApiError(400, f"{name} must be a number, got {v[:60]!r}", name) from None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ApiError(400, f"{name} must be a number, got {_type_name(v)} {json.dumps(v)[:60]}", name)
        if not math.isfinite(v):
            raise ApiError(400, f"{name} must be a finite number, got {v}", name)
        if integer:
            if float(v) != int(v):
                raise ApiError(400, f"{name} must be a whole number, got {v}", name)
            v = int(v)
        rng = f"{'(' if lo_open else '['}{'-inf' if lo is None else format(lo, 'g')}, " \
              f"{'inf' if hi is None else format(hi, 'g')}]"
        if (lo is not None and (v < lo or (lo_open and v == lo))) or (hi is not None and v > hi):
            raise ApiError(400, f"{name} must be within {rng}, got {v:g}", name)
        return v


def series_from_list(values: Any, interval_minutes: float, start: Any = None) -> tuple[TrafficSeries, str]:
    """A TrafficSeries from a JSON array of loads (null = no data), and a digest of its content.

    Raises:
        ApiError: 413 for too many points, 400 for anything that is not a load.
    """
    if not isinstance(values, list):
        raise ApiError(400, f"series must be an array of numbers (null for no data), got {_type_name(values)}",
                       "series")
    if len(values) > MAX_SERIES_POINTS:
        raise ApiError(413, f"series holds {len(values):,} points; at most {MAX_SERIES_POINTS:,} are accepted "
                            "here: upload longer series through /upload and pass its dataset_id", "series")
    if len(values) < 2:
        raise ApiError(400, f"series needs at least 2 points, got {len(values)}", "series")
    for i, v in enumerate(values):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise ApiError(400, f"series[{i}] must be a number or null, got {_type_name(v)} {json.dumps(v)[:40]}",
                           "series")
    arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    bad = (arr < 0) | (arr > MAX_LOAD) | np.isinf(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ApiError(400, f"series[{i}] must be a load in [0, {MAX_LOAD:g}] per period, got {values[i]!r}",
                       "series")
    if np.isnan(arr).all():
        raise ApiError(400, "series holds no load values (every point is null)", "series")
    seconds = interval_minutes * 60.0
    if abs(seconds - round(seconds)) > 1e-6:
        raise ApiError(400, f"interval_minutes must be a whole number of seconds, got {interval_minutes:g}",
                       "interval_minutes")
    step = pd.Timedelta(seconds=round(seconds))
    t0 = DEFAULT_START
    if start is not None:
        try:
            t0 = pd.Timestamp(start)
        except (ValueError, TypeError):
            raise ApiError(400, f"start must be an ISO 8601 timestamp like '2024-01-01T00:00:00+00:00', "
                                f"got {str(start)[:60]!r}", "start") from None
        if pd.isna(t0):
            raise ApiError(400, "start must be a timestamp, got NaT", "start")
        if t0.tz is None:
            t0 = t0.tz_localize("UTC")
    try:
        index = pd.DatetimeIndex(t0 + step * np.arange(len(arr)))
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        raise ApiError(400, "start + the series length runs past the year 2262; pass an earlier start",
                       "start") from None
    frame = pd.DataFrame({"requests": arr}, index=index)
    gaps = find_gaps(arr, index, step)
    digest = hashlib.sha256(f"{t0.isoformat()}|{step.value}|".encode() + arr.tobytes()).hexdigest()[:32]
    return TrafficSeries(frame=frame, interval=step, gaps=gaps), digest


def dataset_id_of(store: DatasetStore, dataset_id: Any) -> str:
    """The stored dataset's id (``default`` resolved); never reads a path.

    Raises:
        ApiError: 400 for a malformed id, 404 for an unknown one.
    """
    if not isinstance(dataset_id, str):
        raise ApiError(400, f"dataset_id must be a string, got {_type_name(dataset_id)}", "dataset_id")
    if dataset_id == "default":
        dataset_id = store.default_id()
    try:
        validate_id(dataset_id)
    except InputError as exc:
        raise ApiError(400, str(exc), "dataset_id") from None
    if not store.exists(dataset_id):
        raise ApiError(404, f"unknown dataset_id {dataset_id!r}; GET /api/datasets lists them", "dataset_id")
    return dataset_id


def dataset_series(store: DatasetStore, dataset_id: str) -> TrafficSeries:
    """A stored series (id from :func:`dataset_id_of`) without its unique-hosts column."""
    series = store.get(dataset_id)
    # The API forecasts and simulates requests/bytes: recounting unique hosts at a coarser grain would
    # cost ~1 s per call on two months of logs for a column nobody reads here.
    frame = series.frame.drop(columns=["unique_hosts"], errors="ignore")
    return dataclasses.replace(series, frame=frame, host_pairs=None)


_CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(ScalingConfig) if f.name != "name")


def scaling_config(value: Any, default: str = "balanced") -> ScalingConfig:
    """A preset name, or an object ``{"preset": "balanced", "scale_out_threshold": 0.75, ...}``.

    Raises:
        ApiError: unknown preset, unknown field or a value the config refuses.
    """
    if value is None:
        return get_preset(default)
    if isinstance(value, str):
        try:
            return get_preset(value)
        except ValueError as exc:
            raise ApiError(400, str(exc), "config") from None
    if not isinstance(value, dict):
        raise ApiError(400, f"config must be a preset name ({', '.join(PRESETS)}) or an object, "
                            f"got {_type_name(value)}", "config")
    fields = Fields(value, ("preset", "name", *_CONFIG_FIELDS))
    base = fields.string("preset", default, choices=tuple(PRESETS))
    over = {}
    for name in _CONFIG_FIELDS:
        if fields.has(name):
            integer = name.endswith("_periods") or name.startswith("step_")
            over[name] = fields.number(f"{name}", integer=integer)
    name = fields.string("name", f"{base}{'*' if over else ''}", max_len=60)
    try:
        return dataclasses.replace(get_preset(base), name=name, **over)
    except ValueError as exc:
        raise ApiError(400, f"config: {exc}", "config") from None


MODEL_FIELDS = ("capacity_per_server_rps", "price_per_server_hour", "min_servers", "max_servers",
                "boot_delay_minutes")


def model_from(fields: Fields) -> SimulationModel:
    """SimulationModel with the overrides present in ``fields`` (see MODEL_FIELDS).

    Raises:
        ApiError: a value out of range.
    """
    over = dict(
        capacity_per_server_rps=fields.number("capacity_per_server_rps", lo=0, lo_open=True, hi=1e9),
        price_per_server_hour=fields.number("price_per_server_hour", lo=0, hi=1e6),
        min_servers=fields.number("min_servers", lo=1, hi=1_000_000, integer=True),
        max_servers=fields.number("max_servers", lo=1, hi=1_000_000, integer=True),
        boot_delay_minutes=fields.number("boot_delay_minutes", lo=0, hi=1440),
    )
    try:
        return SimulationModel().with_overrides(**over)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
