"""Many files, one dataset: daily/rotated files in any order, compressed or not, duplicates, folders, patterns."""

from __future__ import annotations

import gzip
import random
import re

import numpy as np
import pytest

from core.errors import InputError
from core.ingest import ingest
from core.store import DatasetStore

_DAY = re.compile(rb"\[(\d\d/\w\w\w/\d{4}:\d)")


def split_by_day(data: bytes) -> dict[bytes, bytes]:
    """The log's lines in files of (up to) 10 hours, as rotated by time (a line without a timestamp stays
    with the line before)."""
    days: dict[bytes, list[bytes]] = {}
    day = b"?"
    for line in data.splitlines(keepends=True):
        m = _DAY.search(line)
        day = m.group(1) if m else day
        days.setdefault(day, []).append(line)
    return {d: b"".join(lines) for d, lines in days.items()}


def same_dataset(a, b) -> None:
    """Two ingest results hold the same series, host pairs, gaps and totals."""
    assert a.series.frame.equals(b.series.frame)
    assert str(a.series.index.tz) == str(b.series.index.tz)
    assert np.array_equal(a.series.host_pairs, b.series.host_pairs)
    assert a.series.gaps == b.series.gaps
    for key in ("lines_total", "lines_parsed", "lines_rejected", "requests_total", "unique_hosts_total", "start",
                "end", "utc_offset"):
        assert getattr(a.report, key) == getattr(b.report, key), key


@pytest.fixture(scope="module")
def daily_files(outage_log, tmp_path_factory):
    """The generated 3-day log (with junk lines) as one file, and as shuffled rotated files, half gzipped."""
    log, _ = outage_log
    data = log.read_bytes()
    d = tmp_path_factory.mktemp("daily")
    paths = []
    for k, (_day, part) in enumerate(split_by_day(data).items()):
        if k % 2 == 0:
            p = d / f"access-{k}.log.gz"
            p.write_bytes(gzip.compress(part, compresslevel=1))
        else:
            p = d / f"access-{k}.log"
            p.write_bytes(part)
        paths.append(p)
    random.Random(3).shuffle(paths)
    return log, paths, d


def test_daily_files_shuffled_and_partly_gzipped_give_the_single_file_dataset(daily_files):
    log, paths, _ = daily_files
    assert len(paths) == 5  # 08-01 0x h and 1x h (the outage starts 14:52), 08-03 0x, 1x and 2x h
    whole = ingest(log)
    parts = ingest(paths)
    same_dataset(whole, parts)
    assert [f.name for f in parts.report.files] == [str(p) for p in paths]
    assert sum(f.lines_total for f in parts.report.files) == whole.report.lines_total
    assert all(f.format == "apache" and f.start and f.end and not f.skipped for f in parts.report.files)
    assert {f.compression for f in parts.report.files} == {"gzip", "none"}
    # The rejected examples name their file and the line in it.
    ex = parts.report.rejected_examples[0]
    assert ex.file in {str(p) for p in paths}
    text = (gzip.decompress if ex.file.endswith(".gz") else bytes)(open(ex.file, "rb").read())
    assert text.splitlines()[ex.line - 1].decode("latin-1")[:50] == ex.text[:50]


def test_the_id_is_over_the_set_of_files_whatever_the_order_and_compression(daily_files, tmp_path):
    _, paths, folder = daily_files
    a = ingest(paths)
    b = ingest(list(reversed(paths)))
    assert a.digest == b.digest
    plain = []
    for p in paths:  # the same contents, none compressed
        q = tmp_path / p.name.removesuffix(".gz")
        q.write_bytes(gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes())
        plain.append(q)
    assert ingest(plain).digest == a.digest
    assert ingest(folder).digest == a.digest  # a folder stands for its files
    assert ingest(str(folder / "access-*")).digest == a.digest  # so does a pattern


def test_a_file_given_twice_even_compressed_differently_counts_once(daily_files, tmp_path):
    _, paths, _ = daily_files
    plain = next(p for p in paths if p.suffix == ".log")
    again = tmp_path / "copy.log.gz"
    again.write_bytes(gzip.compress(plain.read_bytes(), compresslevel=9))
    once = ingest(paths)
    twice = ingest([*paths, again])
    same_dataset(once, twice)
    assert twice.digest == once.digest
    dup = twice.report.files[-1]
    assert dup.name == str(again)
    assert dup.skipped == f"duplicate of {plain}"
    assert twice.report.duplicates == 1
    assert any("counted once" in w and str(again) in w for w in twice.report.warnings)


def test_two_servers_sum_requests_and_unite_hosts(tmp_path):
    line = '{host} - - [01/Jul/1995:00:00:{s:02d} -0400] "GET / HTTP/1.0" 200 10\n'
    a = "".join(line.format(host=f"h{i % 3}", s=i) for i in range(30))  # hosts h0..h2
    b = "".join(line.format(host=f"h{i % 5}", s=i) for i in range(20))  # hosts h0..h4
    (tmp_path / "a.log").write_text(a)
    (tmp_path / "b.log").write_text(b)
    r = ingest([tmp_path / "a.log", tmp_path / "b.log"])
    f = r.series.frame
    assert f["requests"].tolist() == [50.0]
    assert f["bytes"].tolist() == [500.0]
    assert f["unique_hosts"].tolist() == [5.0]  # united, not 3 + 5
    assert r.report.unique_hosts_total == 5


def test_a_minute_split_over_two_rotated_files_is_summed(tmp_path):
    lines = [f'h{i} - - [01/Jul/1995:00:00:{i:02d} -0400] "GET / HTTP/1.0" 200 1\n' for i in range(40)]
    (tmp_path / "access.log.1").write_text("".join(lines[:25]))
    (tmp_path / "access.log").write_text("".join(lines[25:]))
    r = ingest(tmp_path)
    assert r.series.frame["requests"].tolist() == [40.0]
    assert r.series.frame["unique_hosts"].tolist() == [40.0]


def test_a_file_in_no_known_format_is_named_and_nothing_is_read(tmp_path):
    (tmp_path / "a.log").write_text('h - - [01/Jul/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 5\n')
    (tmp_path / "notes.txt").write_text("remember the milk\nand the eggs\n")
    with pytest.raises(InputError, match=r"notes\.txt: unrecognised format.*nothing was ingested.*--skip-bad"):
        ingest(tmp_path)
    r = ingest(tmp_path, skip_bad=True)
    assert r.series.requests.sum() == 1
    bad = [f for f in r.report.files if f.skipped]
    assert [f.name for f in bad] == [str(tmp_path / "notes.txt")]
    assert "unrecognised format" in bad[0].skipped
    assert any("--skip-bad" in w for w in r.report.warnings)


def test_bad_folders_and_patterns(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no files"):
        ingest(tmp_path / "empty")
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.bin").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (junk / "b.txt").write_text("hello there\n")
    with pytest.raises(InputError, match="junk holds no recognisable file"):
        ingest(junk, skip_bad=True)
    with pytest.raises(InputError, match="matches no file"):
        ingest(str(tmp_path / "nothing-*.log"))


def test_series_files_are_not_mixed_with_others(tmp_path):
    (tmp_path / "a.csv").write_text("requests\n1\n2\n")
    (tmp_path / "b.log").write_text('h - - [01/Jul/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 5\n')
    with pytest.raises(InputError, match="one file at a time"):
        ingest(tmp_path)


# -- appending ----------------------------------------------------------------------------------


def test_appending_the_second_half_gives_the_dataset_of_both(outage_log, tmp_path):
    log, _ = outage_log
    data = log.read_bytes()
    lines = data.splitlines(keepends=True)
    first, second = tmp_path / "first.log", tmp_path / "second.log.gz"
    first.write_bytes(b"".join(lines[: len(lines) // 2]))  # the cut falls inside a minute
    second.write_bytes(gzip.compress(b"".join(lines[len(lines) // 2 :])))
    store = DatasetStore(tmp_path / "store")
    old = store.put(first)
    new = store.append(old.id, second)
    both = store.put([first, second])
    assert new.id == both.id != old.id
    whole = ingest(log)
    s = store.get(new.id)
    assert s.frame.equals(whole.series.frame)
    assert np.array_equal(s.host_pairs, whole.series.host_pairs)
    assert s.gaps == whole.series.gaps
    rep = store.report(new.id)
    for key in ("lines_total", "lines_parsed", "lines_rejected", "requests_total", "unique_hosts_total"):
        assert getattr(rep, key) == getattr(whole.report, key), key
    assert [f.name for f in rep.files] == [str(first), str(second)]
    assert [f["digest"] for f in store.info(new.id).files] == [f.digest for f in rep.files]
    assert store.get(old.id).requests.sum() < s.requests.sum()  # the old dataset is untouched


def test_append_skips_files_already_in_the_dataset(tmp_path):
    from core.ingest import NothingToAppend

    line = 'h{i} - - [01/Jul/1995:00:{i:02d}:01 -0400] "GET / HTTP/1.0" 200 5\n'
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text("".join(line.format(i=i) for i in range(10)))
    b.write_text("".join(line.format(i=i) for i in range(10, 20)))
    store = DatasetStore(tmp_path / "store")
    old = store.put(a)
    again = tmp_path / "a-again.log.gz"
    again.write_bytes(gzip.compress(a.read_bytes()))
    new = store.append(old.id, [again, b])
    rep = store.report(new.id)
    assert store.get(new.id).requests.sum() == 20
    assert [(f.name, f.skipped) for f in rep.files] == [(str(a), ""), (str(again), "already in the dataset"),
                                                          (str(b), "")]
    with pytest.raises(NothingToAppend, match="already part of the dataset"):
        store.append(new.id, [a, b])


def test_append_errors_name_the_problem(tmp_path):
    store = DatasetStore(tmp_path / "store")
    (tmp_path / "a.log").write_text('h - - [01/Jul/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 5\n')
    with pytest.raises(InputError, match="unknown dataset id 'abcdef0123456789'"):
        store.append("abcdef0123456789", tmp_path / "a.log")
    (tmp_path / "s.csv").write_text("requests\n1\n2\n")
    series = store.put(tmp_path / "s.csv")
    with pytest.raises(InputError, match="appended to log datasets only; this one is a csv series"):
        store.append(series.id, tmp_path / "a.log")
    assert [d.id for d in store.list()] == [series.id]  # nothing stored


@pytest.mark.slow
def test_the_full_two_months_split_into_daily_files_give_the_single_file_dataset(make_nasa_log, tmp_path):
    """3.46M generated lines: 58 daily files, shuffled, every third gzipped = the one file (~30 s)."""
    whole_path = make_nasa_log(tmp_path / "nasa.log")
    days: dict[bytes, object] = {}
    day = b"?"
    with open(whole_path, "rb") as f:
        for line in f:
            m = _DAY.search(line)
            day = m.group(1)[:11] if m else day
            if day not in days:
                k = len(days)
                name = tmp_path / "days" / f"access-{k:02d}.log{'.gz' if k % 3 == 0 else ''}"
                name.parent.mkdir(exist_ok=True)
                days[day] = gzip.open(name, "wb", compresslevel=1) if k % 3 == 0 else open(name, "wb")  # noqa: SIM115
            days[day].write(line)
    for out in days.values():
        out.close()
    paths = sorted((tmp_path / "days").iterdir())
    random.Random(7).shuffle(paths)
    whole = ingest(whole_path)
    parts = ingest(paths)
    assert len(parts.report.files) == len(days) == 58  # 07-01..07-28, 08-01, 08-03..08-31
    same_dataset(whole, parts)


def test_append_to_a_dataset_stored_before_file_hashes_were_kept(tmp_path):
    import json

    line = 'h{i} - - [01/Jul/1995:00:{i:02d}:01 -0400] "GET / HTTP/1.0" 200 5\n'
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text("".join(line.format(i=i) for i in range(10)))
    b.write_text("".join(line.format(i=i) for i in range(5, 15)))
    store = DatasetStore(tmp_path / "store")
    old = store.put(a)
    folder = tmp_path / "store" / old.id
    (folder / "host_ids.npy").unlink()  # what an older version stored: no host ids, no file list
    meta = json.loads((folder / "meta.json").read_text())
    del meta["files"]
    (folder / "meta.json").write_text(json.dumps(meta))
    new = store.append(old.id, b)
    s = store.get(new.id)
    assert s.requests.sum() == 20
    assert s.frame["requests"].tolist()[5:10] == [2.0] * 5  # minutes 5..9 in both files: summed
    assert s.frame["unique_hosts"].tolist()[5:10] == [1.0] * 5  # by the same host: counted once
    rep = store.report(new.id)
    assert rep.unique_hosts_total == 15
    assert any("32-bit keys" in a for a in rep.assumptions)
    assert store.info(new.id).files[0]["digest"] == f"dataset:{old.id}"


def test_a_folder_whose_only_file_is_unreadable_says_so(tmp_path):
    (tmp_path / "notes.md").write_text("# not a log\n")
    with pytest.raises(InputError, match=r"holds no recognisable file \(.*notes\.md: unrecognised format"):
        ingest(tmp_path)


def test_json_lines_without_a_timestamp_among_good_files_is_named_and_can_be_skipped(tmp_path):
    (tmp_path / "a.log").write_text('h - - [01/Jul/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 5\n')
    (tmp_path / "app.json").write_text('{"msg": "started"}\n')
    with pytest.raises(InputError, match=r"app\.json: JSON lines without a timestamp field.*--skip-bad"):
        ingest(tmp_path)
    r = ingest(tmp_path, skip_bad=True)
    assert r.series.requests.sum() == 1
    assert [f.name for f in r.report.files if f.skipped] == [str(tmp_path / "app.json")]
