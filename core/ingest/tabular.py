"""CSV and TXT traffic series -> TrafficSeries on a regular grid.

CSV: a load column named ``load``, ``request_count`` or ``requests`` (any
case), optional ``timestamp`` (also ``time``, ``datetime``, ``date``),
optional ``bytes`` and ``errors``. TXT: numbers, one per line or separated by
commas. Without timestamps the grid is assumed (start and interval given by
the caller, default 5 minutes from Monday 2024-01-01 00:00 UTC) and the
report says so. Empty cells are "no data" (NaN), not zero.
"""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pandas as pd

from core.errors import InputError

__all__ = ["parse_offset", "LOAD_COLUMNS", "TIME_COLUMNS", "read_csv", "read_txt", "is_csv", "is_txt", "DEFAULT_START"]

LOAD_COLUMNS = ("load", "request_count", "requests")
TIME_COLUMNS = ("timestamp", "time", "datetime", "date")
DEFAULT_START = pd.Timestamp("2024-01-01 00:00", tz="UTC")  # a Monday
DEFAULT_INTERVAL = pd.Timedelta(minutes=5)
MAX_LOAD = 1e12  # requests per period; more is a unit mistake, not traffic
MAX_PERIODS = 20_000_000
_NUM_RE = re.compile(rb"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def _split_header(line: bytes) -> list[str]:
    text = line.decode("latin-1").strip().lstrip("\ufeff").lstrip("ï»¿")
    delim = max((",", ";", "\t"), key=text.count)
    return [c.strip().strip('"').strip().lower() for c in text.split(delim)]


def is_csv(head: bytes) -> bool:
    first = head.split(b"\n", 1)[0]
    return any(c in LOAD_COLUMNS for c in _split_header(first))


def is_txt(head: bytes) -> bool:
    lines = [ln for ln in head.split(b"\n")[:200] if ln.strip()]
    if head and len(head) == 64 * 1024 and not head.endswith(b"\n"):
        lines = lines[:-1]  # the head may cut the last number
    if not lines:
        return False
    tokens = [t for ln in lines for t in ln.replace(b";", b",").split(b",") if t.strip()]
    special = (b"nan", b"", b"inf", b"-inf", b"+inf", b"infinity", b"na", b"null", b"-")
    good = sum(1 for t in tokens if _NUM_RE.match(t) or t.strip().lower() in special)
    return bool(tokens) and good / len(tokens) >= 0.9


def _numeric(col: pd.Series, name: str, offset_rows: int = 2) -> np.ndarray:
    raw = col.astype("string").str.strip()
    vals = pd.to_numeric(raw, errors="coerce")
    bad = vals.isna() & raw.notna() & (raw != "") & ~raw.str.lower().isin(["nan", "na", "null", "none", "-"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"column {name!r} has non-numeric values (row {i + offset_rows}: {str(raw.iloc[i])[:40]!r}); "
            "loads must be numbers (empty cells mean no data)"
        )
    arr = vals.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(arr).any() or (np.abs(arr[~np.isnan(arr)]) > MAX_LOAD).any():
        i = int(np.flatnonzero(np.isinf(arr) | (np.abs(np.nan_to_num(arr)) > MAX_LOAD))[0])
        raise InputError(
            f"column {name!r} has an implausible value at row {i + offset_rows} ({arr[i]:g}); "
            f"values must be below {MAX_LOAD:g} per period"
        )
    if (arr < 0).any():
        i = int(np.flatnonzero(arr < 0)[0])
        raise InputError(
            f"column {name!r} has a negative value at row {i + offset_rows} ({arr[i]:g}); counts must be >= 0"
        )
    return arr


def _grid(times: pd.DatetimeIndex, interval: pd.Timedelta | None) -> tuple[pd.DatetimeIndex, np.ndarray, pd.Timedelta]:
    """A regular grid covering ``times`` and each time's position on it."""
    times = times.as_unit("ns")
    t = times.asi8
    if interval is None:
        diffs = np.diff(np.unique(t))
        if len(diffs) == 0:
            raise InputError("cannot detect the interval from a single timestamp; give --interval")
        step = int(np.median(diffs))
        interval = pd.Timedelta(step, unit="ns").round("s")
    if interval < pd.Timedelta(seconds=1):
        raise InputError(f"detected interval {interval} is below one second; timestamps must be at least 1 s apart")
    step = interval.value
    pos = np.rint((t - t.min()) / step).astype(np.int64)
    n = int(pos.max()) + 1
    if n > MAX_PERIODS:
        raise InputError(
            f"timestamps span {n:,} periods of {interval}; more than {MAX_PERIODS:,} (check the dates or the interval)"
        )
    index = pd.DatetimeIndex(times.min() + interval * np.arange(n))
    return index, pos, interval


def parse_offset(value: str | None):
    """``"-04:00"``, ``"+0530"``, ``"UTC"`` or ``None`` -> a tz for ``tz_localize``.

    Raises:
        InputError: naming the accepted forms.
    """
    if value is None:
        return None
    text = str(value).strip()
    if text.upper() in ("UTC", "Z", "+00:00", "-00:00"):
        return "UTC"
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text)
    if not m or int(m.group(2)) > 23 or int(m.group(3)) > 59:
        raise InputError(f"UTC offset must look like -04:00, +0530 or UTC, got {text[:40]!r}")
    return f"{m.group(1)}{m.group(2)}:{m.group(3)}"


def _parse_times(col: pd.Series, tz=None) -> tuple[pd.DatetimeIndex, list[str]]:
    notes: list[str] = []
    raw = col.astype("string").str.strip()
    if raw.isna().any() or (raw == "").any():
        i = int(np.flatnonzero((raw.isna() | (raw == "")).to_numpy())[0])
        raise InputError(f"timestamp missing at row {i + 2}; every row needs a timestamp (or drop the column)")
    numeric = pd.to_numeric(raw, errors="coerce")
    try:
        if numeric.notna().all():
            unit = "ms" if numeric.abs().max() > 1e11 else "s"
            times = pd.DatetimeIndex(pd.to_datetime(numeric, unit=unit, utc=True))
            notes.append(f"numeric timestamps read as Unix epoch {'milliseconds' if unit == 'ms' else 'seconds'} (UTC)")
            return times, notes
        has_offset = raw.str.contains(r"(?:[+-]\d{2}:?\d{2}|Z)$", regex=True)
        if has_offset.any():
            parsed = pd.to_datetime(raw, format="mixed", utc=True)
            first = pd.Timestamp(raw.iloc[int(np.flatnonzero(has_offset.to_numpy())[0])])
            tz = first.tz or "UTC"
            times = pd.DatetimeIndex(parsed).tz_convert(tz)
            if not has_offset.all():
                notes.append("some timestamps had no UTC offset; they were read as UTC")
            return times, notes
        parsed = pd.to_datetime(raw, format="mixed")
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(
            f"unreadable timestamps ({str(exc).splitlines()[0][:120]}); use ISO 8601 like 1995-07-01 00:05:00"
        ) from None
    if tz is not None:
        notes.append(f"timestamps had no UTC offset; read as local time at {tz}")
        return pd.DatetimeIndex(parsed).tz_localize(tz), notes
    notes.append("timestamps had no UTC offset; they are shown as given (offset +00:00 assumed; set one with --tz)")
    return pd.DatetimeIndex(parsed).tz_localize("UTC"), notes


def read_csv(data: bytes, interval: pd.Timedelta | None = None, start: pd.Timestamp | None = None, tz=None):
    """Parse CSV bytes.

    Returns:
        ``(frame, interval, notes, rows)``: a regular-grid frame with
        ``requests`` (and ``bytes``, ``errors_4xx`` if given), the interval,
        assumptions made, and the number of data rows.
    """
    text = data.decode("utf-8", errors="replace") if _is_utf8(data) else data.decode("latin-1")
    text = text.lstrip("\ufeff")
    header = text.split("\n", 1)[0]
    delim = max((",", ";", "\t"), key=header.count)
    try:
        df = pd.read_csv(io.StringIO(text), sep=delim, dtype=str, skip_blank_lines=True, keep_default_na=False)
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        raise InputError(f"unreadable CSV ({str(exc).splitlines()[0][:160]})") from None
    cols = {c.strip().strip('"').lower(): c for c in df.columns}
    load = next((cols[c] for c in LOAD_COLUMNS if c in cols), None)
    if load is None:
        raise InputError(f"CSV needs a load column named one of {', '.join(LOAD_COLUMNS)}; found {list(df.columns)}")
    if len(df) == 0:
        raise InputError("CSV has a header but no rows")
    out = {"requests": _numeric(df[load], load)}
    if "bytes" in cols:
        out["bytes"] = _numeric(df[cols["bytes"]], "bytes")
    if "errors" in cols:
        out["errors_4xx"] = _numeric(df[cols["errors"]], "errors")
    notes: list[str] = []
    tcol = next((cols[c] for c in TIME_COLUMNS if c in cols), None)
    if tcol is None:
        step = interval or DEFAULT_INTERVAL
        t0 = start if start is not None else DEFAULT_START.tz_localize(None).tz_localize(tz or "UTC")
        index = pd.DatetimeIndex(t0 + step * np.arange(len(df)))
        notes.append(f"no timestamp column: timestamps assumed every {step} from {t0.isoformat()}")
        return pd.DataFrame(out, index=index), step, notes, len(df)
    times, tnotes = _parse_times(df[tcol], tz)
    notes += tnotes
    order = np.argsort(times.asi8, kind="stable")
    if (np.diff(times.asi8) < 0).any():
        notes.append("rows were out of time order; sorted")
    times = times[order]
    for k in out:
        out[k] = out[k][order]
    if len(times) == 1:
        step = interval or DEFAULT_INTERVAL
        notes.append(f"a single row: interval assumed {step}")
        return pd.DataFrame(out, index=times), step, notes, 1
    index, pos, step = _grid(times, interval)
    frame = pd.DataFrame({k: np.full(len(index), np.nan) for k in out}, index=index)
    dup = len(pos) - len(np.unique(pos))
    for k, v in out.items():
        have = ~np.isnan(v)
        sums = np.bincount(pos[have], weights=v[have], minlength=len(index))
        count = np.bincount(pos[have], minlength=len(index))
        col = np.where(count > 0, sums, np.nan)
        frame[k] = col
    if dup:
        notes.append(f"{dup} rows shared a period with another row; their loads were summed")
    return frame, step, notes, len(df)


def read_txt(data: bytes, interval: pd.Timedelta | None = None, start: pd.Timestamp | None = None, tz=None):
    """Parse TXT numbers; same return shape as :func:`read_csv`."""
    text = data.decode("latin-1")
    tokens = [t.strip() for t in re.split(r"[,;\s]+", text) if t.strip()]
    if not tokens:
        raise InputError("TXT file holds no numbers")
    vals = _numeric(pd.Series(tokens), "value", offset_rows=1)
    step = interval or DEFAULT_INTERVAL
    t0 = start if start is not None else DEFAULT_START.tz_localize(None).tz_localize(tz or "UTC")
    index = pd.DatetimeIndex(t0 + step * np.arange(len(vals)))
    notes = [f"TXT has no timestamps: assumed every {step} from {t0.isoformat()}"]
    return pd.DataFrame({"requests": vals}, index=index), step, notes, len(vals)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True

