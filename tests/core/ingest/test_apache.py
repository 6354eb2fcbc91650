"""The access-log parser on real lines, generated logs, junk, and generated properties."""

from __future__ import annotations

import datetime as dt
import gzip
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.ingest import ingest
from core.ingest.apache import LINE_RE, parse_chunk, parse_line

CLF_TS = "%d/%b/%Y:%H:%M:%S"


def _fnv1a(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def _chunk(lines: list[bytes]):
    return parse_chunk(np.frombuffer(b"".join(ln + b"\n" for ln in lines), dtype=np.uint8))


# -- the real NASA sample -------------------------------------------------------------------------


def test_real_first_10k_lines_all_parsed_and_counted_exactly(nasa_dir):
    path = nasa_dir / "access_log_Jul95_first10k.gz"
    result = ingest(path)
    report = result.report
    assert report.format == "apache"
    assert report.compression == "gzip"
    assert (report.lines_total, report.lines_parsed, report.lines_rejected) == (10_000, 10_000, 0)
    # Independent count: Python's own datetime on every line.
    expected: dict[pd.Timestamp, int] = {}
    with gzip.open(path, "rb") as f:
        for line in f:
            ts = line.split(b"[", 1)[1][:20].decode()
            minute = pd.Timestamp(dt.datetime.strptime(ts, CLF_TS)).floor("min")
            expected[minute] = expected.get(minute, 0) + 1
    got = result.series.frame["requests"]
    got.index = got.index.tz_localize(None)
    exp = pd.Series(expected).reindex(got.index, fill_value=0)
    assert (got.to_numpy() == exp.to_numpy()).all()
    assert str(result.series.index.tz) == "UTC-04:00"
    assert report.start == "1995-07-01T00:00:00-04:00"


def test_generated_days_match_real_per_minute_counts_and_find_the_outage(outage_log, real_per_minute):
    log, junk_index = outage_log
    result = ingest(log)
    series = result.series
    got = pd.Series(series.requests, index=series.index.tz_localize(None))

    # Junk lines that still have every CLF field count as requests (documented policy);
    # the test decides that with its own regex, independent of the parser.
    lines = log.read_bytes().split(b"\n")
    junk = [int(x) for x in junk_index.read_text().split()]
    accept = re.compile(rb'^\S+ \S+ \S+ \[(\d\d/\w{3}/\d{4}:\d\d:\d\d):\d\d [-+]\d{4}\] ".*" [1-5]\d\d (\d+|-)$')
    extra: dict[pd.Timestamp, int] = {}
    rejected = 0
    for n in junk:
        m = accept.match(lines[n - 1])
        if m:
            t = pd.Timestamp(dt.datetime.strptime(m.group(1).decode(), "%d/%b/%Y:%H:%M"))
            extra[t] = extra.get(t, 0) + 1
        else:
            rejected += 1
    assert rejected > 0, "the generator should produce rejected junk"
    assert extra, "the generator should produce junk that still counts"
    expected = real_per_minute.loc[got.index[0] : got.index[-1]].fillna(0)
    expected = expected.add(pd.Series(extra), fill_value=0).reindex(got.index, fill_value=0)
    assert (got.to_numpy() == expected.to_numpy()).all()
    assert result.report.lines_rejected == rejected
    assert len(result.report.rejected_examples) == 5
    for ex in result.report.rejected_examples:
        assert ex.line in junk  # line numbers are real, 1-based

    gaps = [g for g in series.gaps if g.end - g.start > pd.Timedelta(hours=12)]
    assert len(gaps) == 1
    g = gaps[0]
    # The last line before the outage is at 14:52:0x; the first after at 04:36:13.
    assert abs(g.start.tz_localize(None) - pd.Timestamp("1995-08-01 14:52")) <= pd.Timedelta(minutes=1)
    assert g.end.tz_localize(None) == pd.Timestamp("1995-08-03 04:36")


def test_gzip_and_plain_give_the_same_series(outage_log, tmp_path, write_gz):
    log, _ = outage_log
    gz = write_gz(tmp_path / "x.log.gz", log.read_bytes())
    a, b = ingest(log), ingest(gz)
    pd.testing.assert_frame_equal(a.series.frame, b.series.frame)
    assert a.digest == b.digest  # the id follows the content, not the compression


# -- formats and edge cases ----------------------------------------------------------------------


def test_combined_format_with_referer_and_agent():
    lines = [
        b'10.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 '
        b'"http://x.example/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"',
        b'10.0.0.2 - - [10/Oct/2000:13:55:37 -0700] "GET /b HTTP/1.1" 404 - "-" "curl/7.1 \\"quoted\\""',
    ]
    pc = _chunk(lines)
    assert pc.rejected_count == 0
    assert pc.status.tolist() == [200, 404]
    assert pc.size.tolist() == [2326, 0]


def test_crlf_latin1_out_of_order_and_mixed_offsets():
    lines = [
        b'h1 - - [01/Jul/1995:00:05:00 -0400] "GET /caf\xe9 HTTP/1.0" 404 -\r',
        b'h2 - - [01/Jul/1995:00:01:00 -0400] "GET / HTTP/1.0" 200 10\r',
        b'h3 - - [01/Jul/1995:04:02:30 +0000] "GET / HTTP/1.0" 500 10\r',
    ]
    pc = _chunk(lines)
    assert pc.rejected_count == 0
    base = pd.Timestamp("1995-07-01 04:00", tz="UTC").value // 60_000_000_000
    assert (pc.minute - base).tolist() == [5, 1, 2]  # all in UTC
    assert pc.offset_min.tolist() == [-240, -240, 0]


def test_mixed_offsets_are_reported(tmp_path):
    path = tmp_path / "mixed.log"
    path.write_bytes(
        b'a - - [01/Jul/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 1\n'
        b'b - - [01/Jul/1995:04:00:02 +0000] "GET / HTTP/1.0" 200 1\n'
        b'c - - [01/Jul/1995:00:00:03 -0400] "GET / HTTP/1.0" 200 1\n'
    )
    result = ingest(path)
    assert result.series.requests.tolist() == [3.0]
    assert result.report.utc_offset == "-04:00"
    assert any("mixed UTC offsets" in w for w in result.report.warnings)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"", "empty line"),
        (b'host - - [01/Jul/1995:00:00:01 -0400] "GET /sh', "truncated or unquoted request"),
        (b'host - - [01/Jul/1995:00:00:01 -0400] "GET / HTTP/1.0" 200', "not Common/Combined Log Format"),
        (b'host - - [01/Jxx/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 5', "bad month in timestamp"),
        (b'host - - [01/Jul/1995:25:00:01 -0400] "GET / HTTP/1.0" 200 5', "timestamp out of range"),
        (b'host - - [01/Jul/1995:00:00:01 -0400] "GET / HTTP/1.0" 700 5', "not Common/Combined Log Format"),
        (b"just some words", "no [timestamp] field"),
    ],
)
def test_rejected_lines_have_reasons(line, reason):
    good = b'ok - - [01/Jul/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 5'
    pc = _chunk([good, line])
    assert pc.rejected_count == 1
    assert pc.rejected[0][0] == 1
    assert pc.rejected[0][1] == reason
    assert parse_line(line) == reason


def test_junk_that_looks_like_requests_is_counted_and_flagged():
    lines = [
        b'a - - [01/Aug/1995:00:01:47 -0400] "-" 400 -',  # garbage request answered with 400
        b'b - - [01/Aug/1995:00:05:50 -0400] "GET /shuttle/missions/sts-72/news/" 200 374',  # no version
        b'c - - [01/Aug/1995:00:04:16 -0400] "GET /htbin/wais.pl?"launch" HTTP/1.0" 200 8861',  # stray quote
        b'd - - [01/Aug/1995:00:00:06 -0400] "GET /ok HTTP/1.0" 200 3985',
    ]
    pc = _chunk(lines)
    assert pc.rejected_count == 0
    assert pc.nonstandard_request == 2
    assert pc.status.tolist() == [400, 200, 200, 200]
    assert pc.size.tolist() == [0, 374, 8861, 3985]


# -- properties ----------------------------------------------------------------------------------

_host = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-_", min_size=1, max_size=80)
_req = st.binary(max_size=120).filter(lambda b: b'"' not in b and b"\n" not in b and b"\r" not in b)
_when = st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2099, 12, 31))
_offset = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(host=_host, when=_when, off=_offset, req=_req, status=st.integers(100, 599),
       size=st.one_of(st.just(None), st.integers(0, 10**15 - 1)), combined=st.booleans())
def test_generated_lines_parse_back_to_their_fields(host, when, off, req, status, size, combined):
    sign = "-" if off < 0 else "+"
    tz = f"{sign}{abs(off) // 60:02d}{abs(off) % 60:02d}"
    line = (f"{host} - - [{when.strftime(CLF_TS)} {tz}] ".encode() + b'"' + req + b'" '
            + f"{status} {'-' if size is None else size}".encode())
    if combined:
        line += b' "http://ref/" "agent/1.0 (x; y)"'
    pc = _chunk([line])
    assert pc.rejected_count == 0, line
    utc = when.replace(second=0, microsecond=0) - dt.timedelta(minutes=off)
    assert pc.minute[0] == int((utc - dt.datetime(1970, 1, 1)).total_seconds() // 60)
    assert pc.offset_min[0] == off
    assert pc.status[0] == status
    assert pc.size[0] == (size or 0)
    assert int(pc.host_hash[0]) == _fnv1a(host.encode())


_noise = st.lists(st.sampled_from([b'"', b" ", b"-", b"[", b"]", b"200", b"404 ", b"x", b"\xe9", b"HTTP/1.0",
                                   b"01/Jul/1995:00:00:01 -0400", b"\t", b"\r"]), max_size=12).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(prefix=st.sampled_from([b"h - - [01/Jul/1995:00:00:01 -0400] ", b"h u - [01/Jul/1995:00:00:01 +0130] \"",
                               b"", b"h - - "]), body=_noise)
def test_fast_kernel_and_reference_regex_agree(prefix, body):
    line = prefix + body
    pc = _chunk([line])
    ref = parse_line(line)
    assert (pc.rejected_count == 0) == (not isinstance(ref, str)), line
    if not isinstance(ref, str):
        assert (pc.minute[0], pc.offset_min[0], pc.status[0], pc.size[0]) == ref[:4]
        assert LINE_RE.match(line.rstrip(b"\r\n \t"))


_GOOD = b'h - - [01/Jul/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 5'
_piece = st.sampled_from([b'"', b" ", b"\t", b"\r", b"\x00", b"-", b"x", b"200", b" 404 12", b'" 200 7',
                          b' "ref" "ua"', b"HTTP/1.0", b"[", b"]"])
_line = st.one_of(st.just(_GOOD), st.lists(_piece, max_size=8).map(lambda p: _GOOD[:40] + b"".join(p)),
                  st.lists(_piece, max_size=8).map(lambda p: _GOOD + b"".join(p)), st.binary(max_size=60))


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(_line.filter(lambda b: b"\n" not in b), min_size=1, max_size=30))
def test_many_lines_in_one_chunk_agree_with_the_regex_line_by_line(lines):
    """The one-pass kernel finds every line's end itself: line counts, rejects and fields stay per line."""
    pc = parse_chunk(np.frombuffer(b"".join(ln + b"\n" for ln in lines), dtype=np.uint8), keep_examples=len(lines))
    refs = [parse_line(ln) for ln in lines]
    assert pc.lines_total == len(lines)
    assert [i for i, _, _ in pc.rejected] == [i for i, r in enumerate(refs) if isinstance(r, str)]
    accepted = [r for r in refs if not isinstance(r, str)]
    assert list(zip(pc.minute.tolist(), pc.status.tolist(), pc.size.tolist(), strict=True)) == [
        (r[0], r[2], r[3]) for r in accepted]
    assert pc.host_hash.tolist() == [_fnv1a(r[4]) for r in accepted]


def test_warm_up_parses_its_line():
    from core.ingest.apache import warm_up

    pc = warm_up()
    assert pc.lines_total == 1
    assert pc.rejected_count == 0
    assert pc.status.tolist() == [200]
