"""Load balancer, CloudFront, W3C/IIS and JSON lines logs: the same requests give the same dataset as CLF."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import InputError
from core.ingest import decode, detect_format, ingest
from core.ingest.lb import ALB_FIELDS, parse_lb
from tests.core.ingest.logwriters import FORMATS, records, write


@pytest.fixture(scope="module")
def nasa_10k(nasa_dir):
    clf = gzip.decompress((nasa_dir / "access_log_Jul95_first10k.gz").read_bytes())
    return clf, records(clf)


@pytest.fixture(scope="module")
def clf_result(nasa_dir):
    return ingest(nasa_dir / "access_log_Jul95_first10k.gz")


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_the_same_10k_nasa_requests_in_every_format_give_the_same_minutes(fmt, nasa_10k, clf_result, tmp_path):
    _, recs = nasa_10k
    path = tmp_path / f"log.{fmt}"
    path.write_bytes(write(fmt, recs))
    r = ingest(path)
    assert r.report.format == fmt
    assert detect_format(path.read_bytes()[:65536]) == fmt
    assert (r.report.lines_parsed, r.report.lines_rejected) == (10_000, 0)
    a = clf_result.series.frame.tz_convert("UTC")
    b = r.series.frame.tz_convert("UTC")
    assert list(b.columns) == ["requests", "bytes", "errors_4xx", "errors_5xx", "unique_hosts"]
    assert b.equals(a)
    assert np.array_equal(r.series.host_pairs, clf_result.series.host_pairs)
    assert r.report.unique_hosts_total == clf_result.report.unique_hosts_total
    # Each keeps its own time zone: load balancers, CloudFront and W3C write UTC; the JSON lines
    # mostly carry nginx's local -04:00.
    assert r.report.utc_offset == ("-04:00" if fmt == "jsonl" else "+00:00")


def test_w3c_directives_are_skipped_and_may_change_the_columns(nasa_10k):
    _, recs = nasa_10k
    r = ingest(io.BytesIO(write("w3c", recs[:100])), name="w3c")
    assert r.report.lines_skipped == 8  # two header blocks of four directives
    assert r.report.lines_total == 108
    assert r.series.requests.sum() == 100


def test_rejected_lines_have_line_numbers_and_reasons_in_every_format(nasa_10k):
    _, recs = nasa_10k
    junk = {
        "alb": b'http 2024-13-45T00:00:00Z lb 1.2.3.4:5 - 0 0 0 200 200 1 1 "GET / HTTP/1.1"',
        "elb": b'1995-07-01T04:00:00.000000Z lb 1.2.3.4:5 - 0 0 0 - - 57 502 "- - - " "-" - -',
        "cloudfront": b"1995-07-01\t04:00:00\tLAX1\tlots\t1.2.3.4",
        "w3c": b"1995-07-01 04:00:00 10.0.0.1 GET / - 80 - 1.2.3.4 ua 2OO 5",
        "jsonl": b'{"time_local": "yesterday", "status": 200}',
    }
    reasons = {"alb": "bad timestamp", "elb": "no HTTP status", "cloudfront": "fewer fields",
               "w3c": "bad sc-status", "jsonl": "unreadable timestamp"}
    for fmt, bad in junk.items():
        lines = write(fmt, recs[:50]).splitlines()
        at = 6
        lines.insert(at, bad)
        lines.insert(at + 2, b"{not json" if fmt == "jsonl" else b"")
        r = ingest(io.BytesIO(b"\n".join(lines) + b"\n"), name=fmt)
        assert r.series.requests.sum() == 50, fmt
        assert r.report.lines_rejected == 2, fmt
        first, second = r.report.rejected_examples
        assert first.line == at + 1, fmt
        assert reasons[fmt] in first.reason, (fmt, first.reason)
        assert first.text == bad.decode(), fmt
        assert second.line == at + 3, fmt


def test_forced_format_and_json_fields_for_caddy_style_nested_keys(tmp_path):
    t0 = dt.datetime(2024, 5, 13, 12, 0, tzinfo=dt.UTC).timestamp()
    rows = [{"level": "info", "ts": t0 + i, "msg": "handled request",
             "request": {"remote_ip": f"10.0.0.{i % 4}", "remote_port": "4000", "method": "GET"},
             "size": 100 + i, "status": 200 if i % 10 else 503} for i in range(120)]
    path = tmp_path / "caddy.log"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    auto = ingest(path)  # the usual names find ts, status, size and request.remote_ip
    assert auto.report.format == "jsonl"
    assert auto.series.frame["requests"].tolist() == [60.0, 60.0]
    assert auto.series.frame["unique_hosts"].tolist() == [4.0, 4.0]
    assert auto.series.frame["errors_5xx"].sum() == 12
    named = ingest(path, format="jsonl", json_fields="time=ts,status=status,bytes=size,host=request.remote_ip")
    assert named.series.frame.equals(auto.series.frame)
    assert named.digest != auto.digest  # read another way: another dataset
    with pytest.raises(InputError, match="no line of the first 120 has the key 'nope' given for host"):
        ingest(path, json_fields="host=nope")
    with pytest.raises(InputError, match="FIELD one of time, status, bytes, host"):
        ingest(path, json_fields="when=ts")


def test_json_lines_without_a_timestamp_name_the_keys_and_the_fix(tmp_path):
    path = tmp_path / "app.jsonl"
    path.write_text('{"msg": "hello", "status": 200}\n' * 3)
    with pytest.raises(InputError) as exc:
        ingest(path)
    msg = str(exc.value)
    assert "app.jsonl: JSON lines without a timestamp field" in msg
    assert "time, timestamp, @timestamp, time_iso8601, time_local, ts" in msg
    assert "--json-fields time=KEY" in msg
    assert "keys seen: msg, status" in msg


def test_a_field_the_log_lacks_leaves_its_column_out_and_says_so(tmp_path):
    # IIS's default fields have no sc-bytes.
    head = "#Software: Microsoft Internet Information Services 10.0\n#Fields: date time c-ip sc-status\n"
    body = "".join(f"2024-01-01 00:0{i % 3}:00 10.0.0.{i} {200 if i % 4 else 404}\n" for i in range(12))
    r = ingest(io.BytesIO((head + body).encode()), name="iis.log")
    assert list(r.series.frame.columns) == ["requests", "errors_4xx", "errors_5xx", "unique_hosts"]
    assert r.series.frame["errors_4xx"].sum() == 3
    assert any("carry no bytes field, so bytes is left out" in w for w in r.report.warnings)


def test_cloudfront_without_its_header_uses_the_documented_columns(nasa_10k):
    _, recs = nasa_10k
    lines = write("cloudfront", recs[:30]).split(b"\n", 2)[2]
    r = ingest(io.BytesIO(lines), name="cf")
    assert r.report.format == "cloudfront"
    assert r.series.requests.sum() == 30
    assert "bytes" in r.series.frame.columns


def test_a_forced_format_that_does_not_fit_rejects_the_lines(nasa_dir):
    with pytest.raises(InputError, match="no line could be read"):
        ingest(nasa_dir / "access_log_Jul95_first10k.gz", format="alb")


# -- property tests: the vectorized decoders against Python's own parsing ---------------------------

_WHEN = st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2099, 12, 31))
_OFFSET = st.integers(-14 * 60, 14 * 60)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_WHEN, _OFFSET, st.sampled_from(["Z", "+hh:mm", "+hhmm", ""]),
                          st.integers(0, 6)), min_size=1, max_size=20))
def test_iso_decoder_matches_datetime(cases):
    texts, expect = [], []
    for when, off, style, frac in cases:
        tz = dt.timezone(dt.timedelta(minutes=off if style in ("+hh:mm", "+hhmm") else 0))
        t = when.replace(tzinfo=tz)
        text = t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{t.microsecond:06d}"[: frac + 1] if frac else "")
        sign = "-" if off < 0 else "+"
        zone = {"Z": "Z", "+hh:mm": f"{sign}{abs(off) // 60:02d}:{abs(off) % 60:02d}",
                "+hhmm": f"{sign}{abs(off) // 60:02d}{abs(off) % 60:02d}", "": ""}[style]
        texts.append((text + zone).encode())
        expect.append((int(t.timestamp() // 60), int(t.utcoffset().total_seconds() // 60)))
    buf = np.frombuffer(b"".join(texts), dtype=np.uint8)
    lengths = np.array([len(x) for x in texts])
    end = np.cumsum(lengths)
    minute, offset, ok = decode.iso_minutes(buf, end - lengths, end)
    assert ok.all()
    assert list(zip(minute.tolist(), offset.tolist(), strict=True)) == expect


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.from_regex(r"[a-z0-9.\-]{1,30}", fullmatch=True), st.integers(1, 65535), _WHEN,
                          st.integers(100, 599), st.integers(0, 10**12)), min_size=1, max_size=20))
def test_alb_lines_parse_back_to_their_fields(rows):
    lines = []
    for host, port, when, status, size in rows:
        lines.append(f'https {when.strftime("%Y-%m-%dT%H:%M:%S")}.123456Z app/lb/1 {host}:{port} 10.0.0.1:80 '
                     f'0.001 0.002 0.000 {status} {status} 50 {size} "GET https://x:443/ HTTP/1.1" "ua" '
                     'ECDHE TLSv1.2 arn "Root=1" "-" "-" 0 x "forward" "-" "-" "10.0.0.1:80" "200" "-" "-"')
    buf = np.frombuffer(("\n".join(lines) + "\n").encode(), dtype=np.uint8)
    pc = parse_lb(buf, 0, len(buf), 5, ALB_FIELDS)
    assert pc.rejected_count == 0
    expect_minutes = [int(w.replace(tzinfo=dt.UTC).timestamp() // 60) for _, _, w, _, _ in rows]
    assert pc.minute.tolist() == expect_minutes
    assert pc.status.tolist() == [r[3] for r in rows]
    assert pc.size.tolist() == [r[4] for r in rows]
    fnv = []
    for host, *_ in rows:
        h = 0xCBF29CE484222325
        for b in host.encode():
            h = ((h ^ b) * 0x100000001B3) % 2**64
        fnv.append(h)
    assert pc.host_hash.tolist() == fnv  # the port is not part of the host


# -- fuzz: damaged lines of every format are rejected or read, never a crash ----------------------------

_SAMPLE = [("h1.example.com", dt.datetime(1995, 7, 1, 0, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=-4))),
            "GET / HTTP/1.0", 200, 1234),
           ("10.0.0.2", dt.datetime(1995, 7, 1, 0, 1, 59, tzinfo=dt.timezone(dt.timedelta(hours=-4))),
            "GET /x HTTP/1.0", 404, 0)]
_VALID = {fmt: write(fmt, _SAMPLE).splitlines() for fmt in FORMATS}


@st.composite
def _damaged(draw):
    fmt = draw(st.sampled_from(list(FORMATS)))
    lines = []
    for _ in range(draw(st.integers(1, 8))):
        raw = draw(st.sampled_from(_VALID[fmt]))
        edit = draw(st.integers(0, 4))
        if edit and raw:
            i = draw(st.integers(0, len(raw) - 1))
            j = draw(st.integers(i, len(raw)))
            junk = draw(st.binary(max_size=6))
            raw = [raw[:i], raw[:i] + raw[j:], raw[:i] + junk + raw[i:], raw[:i] + junk + raw[j:]][edit - 1]
        lines.append(raw)
    return fmt, b"\n".join(lines) + draw(st.sampled_from([b"", b"\n", b"\r\n"]))


@settings(max_examples=400, deadline=None)
@given(_damaged())
def test_fuzz_every_format_reads_or_raises_input_error(case):
    from core.ingest.formats import log_parser
    from core.ingest.logs import LogAggregator

    fmt, data = case
    try:
        parse, stateless = log_parser(fmt, data[:65536], {"fields": {}, "name": "fuzz"})
        agg = LogAggregator(parse, stateless=stateless)
        agg.add_chunk(np.frombuffer(data + b"\n", dtype=np.uint8))
        frame, _pairs, _off = agg.finish()
    except InputError:
        return
    assert agg.lines_parsed + agg.rejected_count + agg.lines_skipped == agg.lines_total
    assert frame["requests"].sum() == agg.lines_parsed


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(FORMATS)), st.binary(max_size=300))
def test_fuzz_any_bytes_read_as_any_format(fmt, data):
    try:
        r = ingest(io.BytesIO(data), name="fuzz", format=fmt)
    except InputError:
        return
    assert r.report.lines_parsed >= 1


def test_warm_up_parses_one_line_of_each_parser_family():
    from core.ingest.formats import _SAMPLES, detect_log_format, warm_up

    assert warm_up() == {fmt: 1 for fmt in _SAMPLES}
    # each sample is recognised as its own format: the warm-up runs the parser an upload of it would run
    assert {fmt: detect_log_format(s) for fmt, s in _SAMPLES.items()} == {fmt: fmt for fmt in _SAMPLES}
