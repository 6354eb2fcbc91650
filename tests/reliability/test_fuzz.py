"""Fuzz the access-log parser and the CSV/TXT readers: whatever the bytes, they return a series or raise
our own InputError, nothing else.

The parsers are driven directly (``LogAggregator`` over the numba kernel, ``read_csv``, ``read_txt``),
without the reader threads of a full ``ingest()``, so a few thousand examples fit in CI's budget;
tests/core/ingest/test_inputs.py fuzzes the whole ``ingest()`` with a few hundred. The number of
examples per test is set below (5,300 in all), times ``TRAFFIC_FUZZ_SCALE``; ``bench/bench_fuzz.py`` runs
them long and random.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import InputError
from core.ingest.logs import LogAggregator
from core.ingest.report import IngestReport
from core.ingest.tabular import read_csv, read_txt
from core.series import TrafficSeries

#: Multiplies every test's number of examples (bench/bench_fuzz.py raises it; CI keeps 1).
SCALE = float(os.environ.get("TRAFFIC_FUZZ_SCALE", "1"))


def fuzz(examples: int):
    """Hypothesis settings: ``examples`` x SCALE examples, no deadline; derandomized in CI (reproducible),
    random with TRAFFIC_FUZZ_RANDOM=1 (the long runs explore new inputs every time)."""
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=None,
                    derandomize=os.environ.get("TRAFFIC_FUZZ_RANDOM") != "1", database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# -- the access-log parser -----------------------------------------------------------------------

_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "jul", "Foo", ""]
_TEXT = st.text(alphabet=st.characters(codec="latin-1"), max_size=12)
_FIELD = st.one_of(st.sampled_from(["-", "h1.example", "10.0.0.1", "user", "a b", "\"", "[", ""]), _TEXT)


@st.composite
def clf_line(draw) -> bytes:
    """A Common/Combined log line whose every field may be valid, odd or broken."""
    day = draw(st.integers(0, 40))
    month = draw(st.sampled_from(_MONTHS))
    year = draw(st.one_of(st.integers(1990, 2030), st.integers(0, 9999)))
    hh, mm, ss = draw(st.integers(0, 30)), draw(st.integers(0, 70)), draw(st.integers(0, 70))
    off = draw(st.one_of(st.sampled_from(["-0400", "+0000", "+0530", "-1200", "+1400", "+9999", "-0000", "0400"]),
                         _TEXT))
    request = draw(st.one_of(st.sampled_from(["GET / HTTP/1.0", "GET /a\"b HTTP/1.1", "\\x16\\x03", ""]), _TEXT))
    status = draw(st.one_of(st.integers(0, 999).map(str), _TEXT))
    size = draw(st.one_of(st.just("-"), st.integers(0, 10**20).map(str), _TEXT))
    line = (f"{draw(_FIELD)} {draw(_FIELD)} {draw(_FIELD)} [{day:02d}/{month}/{year}:{hh:02d}:{mm:02d}:{ss:02d} "
            f"{off}] \"{request}\" {status} {size}")
    if draw(st.booleans()):
        line += f' "{draw(_TEXT)}" "{draw(_TEXT)}"'
    raw = line.encode("latin-1", errors="replace")
    edit = draw(st.integers(0, 4))
    if edit and raw:  # byte-level damage: cut, drop, insert or flip
        i = draw(st.integers(0, len(raw) - 1))
        j = draw(st.integers(i, len(raw)))
        junk = draw(st.binary(max_size=6))
        raw = [raw[:i], raw[:i] + raw[j:], raw[:i] + junk + raw[i:], raw[:i] + junk + raw[j:]][edit - 1]
    return raw


_LOG = st.tuples(st.lists(clf_line(), min_size=1, max_size=10), st.sampled_from([b"\n", b"\r\n", b"\r"]),
                 st.booleans())


def _parse_log(data: bytes) -> TrafficSeries:
    """The log path of ``ingest()`` after the reader: parse, fold, aggregate, report."""
    agg = LogAggregator()
    agg.add_chunk(np.frombuffer(data, dtype=np.uint8))
    frame, pairs, _offset = agg.finish()
    series = TrafficSeries(frame=frame, interval=pd.Timedelta(minutes=1), host_pairs=pairs)
    agg.fill_report(IngestReport(source="fuzz", format="apache"), series)
    return series


@fuzz(700)
@given(_LOG)
def test_fuzz_log_parser(case):
    lines, eol, trailing = case
    data = eol.join(lines) + (eol if trailing else b"")
    try:
        series = _parse_log(data)
    except InputError:
        return
    assert 1 <= len(series)
    assert (series.frame["requests"].to_numpy() >= 0).all()
    assert series.frame["requests"].sum() <= len(lines)  # a request per parsed line at most


@fuzz(3000)
@given(st.binary(max_size=600))
def test_fuzz_log_parser_raw_bytes(data):
    try:
        _parse_log(data)
    except InputError:
        pass


# -- the CSV and TXT readers ---------------------------------------------------------------------------

_CELL = st.one_of(
    st.integers(-10, 10**13).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "NaN", "nan", "-", "1e309", "0x10", "1,5", " 7 ", "=cmd|' /C calc'!A0", "\"3\"", "1_000"]),
    _TEXT,
)
_TIME = st.one_of(
    st.datetimes(min_value=pd.Timestamp("1970-01-02").to_pydatetime(),
                 max_value=pd.Timestamp("2200-01-01").to_pydatetime()).map(lambda t: t.isoformat(sep=" ")),
    st.integers(-10**12, 10**12).map(str),  # epoch seconds, some absurd
    st.sampled_from(["2024-01-01 00:00+05:30", "2024-01-01T00:05:00Z", "2024-13-01", "24:00", "", "yesterday"]),
    _TEXT,
)
_HEADERS = ["requests", "load", "Request_Count", "timestamp,requests", "time,load,bytes", "timestamp;requests",
            "timestamp\trequests,errors", "requests,requests", "timestamp,requests,note"]


@st.composite
def csv_text(draw) -> bytes:
    header = draw(st.sampled_from(_HEADERS))
    ncols = len(header.replace(";", ",").replace("\t", ",").split(","))
    sep = ";" if ";" in header else "\t" if "\t" in header else ","
    rows = []
    for _ in range(draw(st.integers(0, 15))):
        cells = [draw(_TIME) if "time" in header and c == 0 else draw(_CELL) for c in range(ncols)]
        if draw(st.integers(0, 9)) == 0:  # a ragged row
            cells = cells[: draw(st.integers(0, ncols))] + [draw(_CELL)] * draw(st.integers(0, 2))
        rows.append(sep.join(cells))
    text = header + "\n" + "\n".join(rows)
    encoding = draw(st.sampled_from(["utf-8", "latin-1", "utf-8-sig"]))
    return text.encode(encoding, errors="replace").replace(b"\n", draw(st.sampled_from([b"\n", b"\r\n"])))


def _check_frame(frame: pd.DataFrame, interval: pd.Timedelta) -> None:
    series = TrafficSeries(frame=frame, interval=interval)
    values = series.frame["requests"].to_numpy(dtype=float)
    assert len(series) >= 1
    assert not (values[~np.isnan(values)] < 0).any()


@fuzz(600)
@given(csv_text())
def test_fuzz_csv_reader(data):
    try:
        frame, interval, _notes, _rows = read_csv(data)
        _check_frame(frame, interval)
    except InputError:
        pass


@fuzz(1000)
@given(st.one_of(st.binary(max_size=300), st.lists(_CELL, max_size=40).map(lambda c: "\n".join(c).encode())))
def test_fuzz_txt_reader(data):
    try:
        frame, interval, _notes, _rows = read_txt(data)
        _check_frame(frame, interval)
    except InputError:
        pass
