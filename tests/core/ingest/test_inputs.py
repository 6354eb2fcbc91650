"""CSV/TXT variants, compression, and every kind of bad input the ingest must refuse clearly."""

from __future__ import annotations

import bz2
import gzip
import io
import zlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import InputError
from core.ingest import detect_format, ingest

LOG_LINE = b'h - - [01/Jul/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 5\n'


def _write(tmp_path, name: str, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return p


# -- CSV ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("load_col", ["load", "Request_Count", "REQUESTS"])
def test_csv_load_column_names_and_interval_detection(tmp_path, load_col):
    rows = "\n".join(f"2024-03-0{1 + i // 288} {(i % 288) * 5 // 60:02d}:{(i * 5) % 60:02d}:00,{i}"
                     for i in range(600))
    p = _write(tmp_path, "s.csv", f"timestamp,{load_col}\n{rows}\n".encode())
    r = ingest(p)
    assert r.report.format == "csv"
    assert r.series.interval == pd.Timedelta(minutes=5)
    assert r.series.requests.tolist() == list(map(float, range(600)))


def test_csv_without_timestamps_assumes_a_grid_and_says_so(tmp_path):
    p = _write(tmp_path, "s.csv", b"requests,bytes,errors\n10,1000,1\n20,2000,0\n30,3000,2\n")
    r = ingest(p)
    s = r.series
    assert s.start == pd.Timestamp("2024-01-01 00:00", tz="UTC")
    assert s.interval == pd.Timedelta(minutes=5)
    assert s.frame["bytes"].tolist() == [1000.0, 2000.0, 3000.0]
    assert s.frame["errors_4xx"].tolist() == [1.0, 0.0, 2.0]
    assert any("assumed" in a for a in r.report.assumptions)
    r2 = ingest(p, interval="1min", start="2020-02-03 10:00")
    assert r2.series.interval == pd.Timedelta(minutes=1)
    assert r2.series.start == pd.Timestamp("2020-02-03 10:00", tz="UTC")


def test_csv_with_offsets_semicolons_gaps_and_disorder(tmp_path):
    data = (b"Timestamp;Load\n"
            b"2024-01-01T00:10:00+02:00;3\n"
            b"2024-01-01T00:00:00+02:00;1\n"
            b"2024-01-01T00:05:00+02:00;\n"  # empty = no data
            b"2024-01-01T00:15:00+02:00;4\n")
    r = ingest(_write(tmp_path, "s.csv", data))
    s = r.series
    assert str(s.index.tz) == "UTC+02:00"
    assert np.isnan(s.requests[1])
    assert s.requests[[0, 2, 3]].tolist() == [1.0, 3.0, 4.0]
    assert any("out of time order" in a for a in r.report.assumptions)


def test_nasa_per_minute_csv_finds_both_known_gaps(nasa_dir):
    r = ingest(nasa_dir / "requests_per_minute.csv.gz")
    s = r.series
    assert len(s) == 89_280
    assert s.interval == pd.Timedelta(minutes=1)
    assert np.nansum(s.requests) == 3_461_603
    big = [g for g in s.gaps if g.end - g.start > pd.Timedelta(hours=12)]
    assert [(g.kind, g.start.strftime("%m-%d %H:%M"), g.end.strftime("%m-%d %H:%M")) for g in big] == [
        ("missing", "07-28 13:33", "08-01 00:00"),
        ("silent", "08-01 14:53", "08-03 04:36"),  # 14:52 still saw one request
    ]


def test_tz_option_localizes_naive_timestamps(nasa_dir, tmp_path):
    r = ingest(nasa_dir / "requests_per_minute.csv.gz", tz="-04:00")
    assert r.series.start == pd.Timestamp("1995-07-01 00:00", tz="-04:00")
    assert r.report.utc_offset == "-04:00"
    assert any("read as local time at -04:00" in a for a in r.report.assumptions)
    r = ingest(_write(tmp_path, "s.txt", b"1\n2\n"), tz="+05:30")
    assert r.series.start == pd.Timestamp("2024-01-01 00:00", tz="+05:30")
    with pytest.raises(InputError, match="UTC offset must look like"):
        ingest(_write(tmp_path, "t.txt", b"1\n"), tz="Mars/Olympus")


def test_one_row_and_constant_series(tmp_path):
    r = ingest(_write(tmp_path, "one.csv", b"timestamp,requests\n2024-01-01 00:00,5\n"))
    assert len(r.series) == 1
    assert r.series.requests.tolist() == [5.0]
    r = ingest(_write(tmp_path, "const.txt", b"7\n" * 50))
    assert set(r.series.requests.tolist()) == {7.0}
    assert r.series.gaps == ()


# -- TXT ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"1\n2\n3\n4\n", b"1,2,3,4", b"1, 2,\r\n3,4\r\n", b"1.0\n2e0\n3\n4.00\n"])
def test_txt_variants(tmp_path, data):
    r = ingest(_write(tmp_path, "s.txt", data))
    assert r.report.format == "txt"
    assert r.series.requests.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert r.series.interval == pd.Timedelta(minutes=5)


# -- compression ------------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress])
def test_compressed_inputs(tmp_path, compress):
    plain = LOG_LINE * 3
    a = ingest(_write(tmp_path, "a.log", plain))
    b = ingest(_write(tmp_path, "b.bin", compress(plain)))
    assert b.series.requests.tolist() == [3.0]
    assert a.digest == b.digest


def test_binary_stream_input():
    r = ingest(io.BytesIO(b"requests\n1\n2\n"), name="stream")
    assert r.report.source == "stream"
    assert r.series.requests.tolist() == [1.0, 2.0]


def test_a_run_of_nul_bytes_in_a_log_rejects_those_lines_not_the_file(tmp_path):
    # What a crash leaves in a preallocated log file: a block of NULs between real lines.
    line = b'h%d - - [01/Jul/1995:00:%02d:01 -0400] "GET / HTTP/1.0" 200 1\n'
    before = b"".join(line % (i, i) for i in range(20))
    after = b"".join(line % (i, 30 + i) for i in range(20))
    r = ingest(_write(tmp_path, "crashed.log", before + b"\x00" * 3000 + b"\n" + after))
    assert r.series.requests.sum() == 40
    assert r.report.lines_rejected == 1
    assert "\x00" in r.report.rejected_examples[0].text


# -- bad input -------------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.log", b"", "is empty"),
        ("garbage.log", bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)), "binary"),
        ("image.log", PNG, "PNG image"),
        ("words.txt", b"hello world\nthis is not traffic\n", "unrecognised format"),
        ("neg.csv", b"requests\n1\n-5\n", "negative value at row 3"),
        ("text.csv", b"requests\n1\nlots\n", "non-numeric values (row 3: 'lots')"),
        ("huge.csv", b"requests\n1\n1e300\n", "implausible value"),
        ("inf.txt", b"1\ninf\n", "implausible value"),
        ("allnan.csv", b"requests\n\n,\nnan\n", "no load values"),
        ("badtime.csv", b"timestamp,requests\nyesterday,1\nsoon,2\n", "unreadable timestamps"),
        ("header.csv", b"timestamp,requests\n", "no rows"),
        ("gzempty.gz", gzip.compress(b""), "empty after decompression"),
        ("badgz.gz", gzip.compress(LOG_LINE * 100)[:-30], "corrupt or truncated"),
        ("span.log", b'a - - [01/Jul/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 1\n'
                     b'b - - [01/Jul/2095:00:00:01 -0400] "GET / HTTP/1.0" 200 1\n', "more than 10 years"),
        ("junk.log", b"[x] " * 20 + b"\n" + b"h - - [bad] \"GET\" 200 1\n" * 3, "unrecognised format"),
    ],
)
def test_bad_inputs_raise_clear_input_errors(tmp_path, name, data, message):
    with pytest.raises(InputError) as exc:
        ingest(_write(tmp_path, name, data))
    assert message in str(exc.value)


def test_unrecognised_format_names_the_accepted_ones():
    with pytest.raises(InputError, match=r"access logs \(Apache/nginx Common or Combined, AWS ALB"):
        detect_format(b"<html><body>hi</body></html>")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        ingest(tmp_path / "nope.log")
    with pytest.raises(InputError, match="holds no files"):
        ingest(tmp_path)


def test_size_limit_refused_before_reading(tmp_path):
    p = _write(tmp_path, "big.log", LOG_LINE * 2000)
    with pytest.raises(InputError, match="over the size limit of 0 MB"):
        ingest(p, max_bytes=1000)


def test_gzip_bomb_stops_at_the_cap(tmp_path):
    # 60 MB of log lines compresses to a few hundred kB; the cap is 1 MB.
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = z.compress(LOG_LINE * 1_000_000) + z.flush()
    p = _write(tmp_path, "bomb.log.gz", bomb)
    assert p.stat().st_size < 1024 * 1024
    with pytest.raises(InputError, match="inflates past the size limit"):
        ingest(p, max_bytes=1024 * 1024)


def test_half_malformed_log_is_ingested_with_rejects_reported(tmp_path):
    data = (LOG_LINE + b"this line is broken\n") * 100
    r = ingest(_write(tmp_path, "half.log", data))
    assert (r.report.lines_parsed, r.report.lines_rejected) == (100, 100)
    assert any("rejected" in w for w in r.report.warnings) is False or r.report.lines_rejected == 100
    assert [e.line for e in r.report.rejected_examples] == [2, 4, 6, 8, 10]


# -- fuzz: the readers raise nothing but our own InputError ----------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_any_bytes_ingest_or_input_error(data):
    try:
        r = ingest(io.BytesIO(data), name="fuzz")
    except InputError:
        return
    assert len(r.series) >= 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.integers(-5, 10**6).map(str), st.floats(allow_nan=True).map(str),
                          st.text(max_size=6), st.just("")), min_size=1, max_size=30),
       st.sampled_from(["requests", "load", "timestamp,requests"]))
def test_fuzz_csv_cells(cells, header):
    if header.startswith("timestamp"):
        body = "\n".join(f"2024-01-01 00:{i % 60:02d},{c}" for i, c in enumerate(cells))
    else:
        body = "\n".join(cells)
    try:
        ingest(io.BytesIO(f"{header}\n{body}\n".encode()), name="fuzz.csv")
    except InputError:
        pass


def test_a_timestamp_outside_the_storable_years_is_refused_by_name(tmp_path):
    from core.errors import InputError
    from core.ingest import ingest

    path = tmp_path / "old.log"
    path.write_bytes(b'h - - [01/Jan/1000:00:00:00 -0400] "GET / HTTP/1.0" 200 5\n')
    with pytest.raises(InputError, match="year 1000 is outside 1678 .. 2261"):
        ingest(path)
