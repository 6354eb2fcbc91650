"""Issue 17 over HTTP against a real gunicorn: several files in one upload make one dataset (a line per file,
duplicates counted once), ``POST /upload?append=<id>`` makes a new dataset of a stored one plus files, and
bad input fails with a message naming the file and the fix.

Each dataset built from parts is compared with ``core.ingest`` of the concatenated file: the same per-minute
frame. The logs are generated here; one test also splits the shared 10,000-line NASA sample (skipped with a
reason when the shared data is absent).
"""

from __future__ import annotations

import gzip
import time

import pandas as pd
import pytest
import requests

from core.ingest import ingest
from core.store import DatasetStore
from tests.dashapp.web.test_upload import wait_job

LIMIT_MB = 1
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def clf_lines(hours: int, start_hour: int = 0, day: int = 1, seed: int = 0) -> list[bytes]:
    """A small Apache Common log, a few requests a minute from a few dozen hosts, some 404s and 500s."""
    lines = []
    for minute in range(start_hour * 60, (start_hour + hours) * 60):
        h, m = divmod(minute, 60)
        for k in range(2 + (minute * 7 + seed) % 3):
            status = 404 if (minute + k) % 13 == 0 else 500 if (minute + k) % 29 == 0 else 200
            lines.append(
                f"host{(minute * 3 + k + seed) % 41}.example.com - - [{day:02d}/{MONTHS[6]}/1995:{h:02d}:{m:02d}:"
                f'{(k * 17) % 60:02d} -0400] "GET /page{k}.html HTTP/1.0" {status} {100 + k * minute % 900}\n'.encode()
            )
    return lines


def split(lines: list[bytes], parts: int) -> list[bytes]:
    """``lines`` cut into ``parts`` pieces (the cuts fall inside minutes, as with rotated logs)."""
    step = len(lines) // parts + 1
    return [b"".join(lines[i : i + step]) for i in range(0, len(lines), step)]


def post_files(server, files: list[tuple[str, bytes]], append: str | None = None) -> requests.Response:
    """One multipart POST /upload holding ``files`` (each a "file" field), optionally ``?append=<id>``."""
    params = {"append": append} if append is not None else None
    r = requests.post(server.url + "/upload", files=[("file", (n, d)) for n, d in files], params=params, timeout=120)
    assert r.status_code != 500, r.text
    return r


def post_and_wait(server, files: list[tuple[str, bytes]], append: str | None = None) -> dict:
    r = post_files(server, files, append)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["files"] == [{"name": n, "bytes": len(d)} for n, d in files]
    return wait_job(server, job["upload_id"], timeout=120)


def frame_of(server, dataset_id: str) -> pd.DataFrame:
    return DatasetStore(server.data_dir).get(dataset_id).frame


def assert_same_frame(stored: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(stored, expected[stored.columns], check_freq=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A gunicorn with a 1 MB per-file upload limit (its own folders)."""
    from tests.conftest import LiveServer

    s = LiveServer(tmp_path_factory.mktemp("many"), workers=1, TRAFFIC_MAX_UPLOAD_MB=str(LIMIT_MB)).start()
    yield s
    s.stop()


def test_several_files_make_one_dataset_equal_to_the_concatenation(server, tmp_path):
    lines = clf_lines(hours=6, seed=1)
    whole = tmp_path / "whole.log"
    whole.write_bytes(b"".join(lines))
    a, b, c = split(lines, 3)
    # b twice: once gzipped (the same content compressed differently counts once).
    files = [
        ("access.log.2.gz", gzip.compress(c)),
        ("access.log", a),
        ("access.log.1", b),
        ("copy-of-1.gz", gzip.compress(b)),
    ]
    job = post_and_wait(server, files)
    assert job["state"] == "done", job
    assert job["name"] == "access.log.2.gz and 3 more files"
    report = job["report"]
    by_name = {f["name"]: f for f in report["files"]}
    assert set(by_name) == {n for n, _ in files}
    assert by_name["copy-of-1.gz"]["skipped"] == "duplicate of access.log.1"
    assert by_name["access.log.2.gz"]["compression"] == "gzip"
    for name, part in (("access.log", a), ("access.log.1", b), ("access.log.2.gz", c)):
        f = by_name[name]
        assert f["format"] == "apache"
        assert f["lines_parsed"] == part.count(b"\n")
        assert f["lines_rejected"] == 0
        assert f["start"].startswith("1995-07-01T")
        assert f["end"].startswith("1995-07-01T")
    assert by_name["access.log"]["start"].startswith("1995-07-01T00:00")
    assert any("counted once" in w for w in report["warnings"])

    single = ingest(str(whole))
    assert report["lines_parsed"] == single.report.lines_parsed == len(lines)
    assert report["requests_total"] == single.report.requests_total
    assert_same_frame(frame_of(server, job["dataset_id"]), single.series.frame)
    # The same set again, in another order: the same dataset (content-addressed over the set).
    again = post_and_wait(server, [files[2], files[0], files[1]])
    assert again["state"] == "done", again
    assert again["dataset_id"] == job["dataset_id"]
    assert not list((server.data_dir / ".uploads").glob("*.part"))


def test_nasa_sample_split_in_parts_equals_the_whole_file(server, shared_dir, tmp_path):
    sample = shared_dir / "data" / "nasa-1995" / "access_log_Jul95_first10k.gz"
    if not sample.exists():
        pytest.skip(f"NASA sample not found at {sample}")
    lines = gzip.decompress(sample.read_bytes()).splitlines(keepends=True)
    assert len(lines) == 10_000
    parts = split(lines, 3)
    files = [("jul95-a.log", parts[0]), ("jul95-b.log.gz", gzip.compress(parts[1])), ("jul95-c.log", parts[2])]
    job = post_and_wait(server, files)
    assert job["state"] == "done", job
    assert [f["lines_total"] for f in job["report"]["files"]] == [p.count(b"\n") for p in parts]
    single = ingest(str(sample))
    assert job["report"]["lines_parsed"] == single.report.lines_parsed
    assert job["report"]["lines_rejected"] == single.report.lines_rejected
    assert_same_frame(frame_of(server, job["dataset_id"]), single.series.frame)


def test_add_files_makes_a_new_dataset_and_keeps_the_old(server, tmp_path):
    from dashapp.runtime.result_cache import ResultCache
    from dashapp.services import load_series

    first, second = clf_lines(hours=4, seed=2), clf_lines(hours=4, start_hour=4, seed=2)
    whole = tmp_path / "both.log"
    whole.write_bytes(b"".join(first + second))
    old = post_and_wait(server, [("day1-am.log", b"".join(first))])
    assert old["state"] == "done", old
    old_id = old["dataset_id"]
    old_frame = frame_of(server, old_id)

    # The second half plus the first again (already part of the dataset: skipped with a note).
    new = post_and_wait(
        server, [("day1-pm.log.gz", gzip.compress(b"".join(second))), ("again.log", b"".join(first))], append=old_id
    )
    assert new["state"] == "done", new
    assert new["append_to"] == old_id
    new_id = new["dataset_id"]
    assert new_id != old_id
    files = {f["name"]: f for f in new["report"]["files"]}
    assert files["again.log"]["skipped"] == "already in the dataset"
    assert files["day1-pm.log.gz"]["skipped"] == ""
    assert any("again.log is already in the dataset" in w for w in new["report"]["warnings"])
    assert new["dataset"]["name"] == "day1-am.log + 1 file"
    assert_same_frame(frame_of(server, new_id), ingest(str(whole)).series.frame)

    # The old dataset stays as it was; both are listed.
    listed = {d["id"] for d in requests.get(server.url + "/api/datasets", timeout=10).json()["datasets"]}
    assert {old_id, new_id} <= listed
    pd.testing.assert_frame_equal(frame_of(server, old_id), old_frame)

    # Results cached for the old dataset are not reused for the new one: the cache keys on the dataset id.
    store = DatasetStore(server.data_dir)
    with ResultCache(tmp_path / "cache") as rc:
        assert len(load_series(rc, store, old_id, 60)) == 4
        assert len(load_series(rc, store, new_id, 60)) == 8

    # Only files already in it: nothing new is made, and the job says so.
    same = post_and_wait(server, [("again.log", b"".join(first))], append=old_id)
    assert same["state"] == "done", same
    assert same["dataset_id"] == old_id
    assert "nothing to append: again.log is already part of the dataset" in same["note"]
    assert "no new dataset" in same["note"]


def test_add_files_errors_name_the_file_and_the_fix(server, tmp_path):
    log = b"".join(clf_lines(hours=2, seed=3))
    base = post_and_wait(server, [("base.log", log)])
    assert base["state"] == "done", base
    base_id = base["dataset_id"]

    # An unknown or malformed dataset id: refused before the body is read.
    r = post_files(server, [("more.log", log)], append="0123456789abcdef")
    assert r.status_code == 404
    assert "unknown dataset id '0123456789abcdef'" in r.json()["message"]
    r = post_files(server, [("more.log", log)], append="../etc")
    assert r.status_code == 400
    assert "invalid dataset id" in r.json()["message"]

    # A series dataset cannot be appended to.
    csv = b"timestamp,requests\n" + b"".join(f"1995-07-01T00:{m:02d}:00,{m}\n".encode() for m in range(60))
    series = post_and_wait(server, [("load.csv", csv)])
    assert series["state"] == "done", series
    r = post_files(server, [("more.log", log)], append=series["dataset_id"])
    assert r.status_code == 400
    assert "is a csv series" in r.json()["message"]
    assert "log datasets only" in r.json()["message"]

    # A CSV added to a log dataset: the job fails naming it; nothing new is stored.
    before = len(DatasetStore(server.data_dir).list())
    job = post_and_wait(server, [("load.csv", csv)], append=base_id)
    assert job["state"] == "failed"
    assert job["error"].startswith("load.csv: a CSV/TXT series cannot be added to a log dataset")
    # A file in no known format among good ones: named, with the fix an uploader has (not a CLI flag).
    job = post_and_wait(server, [("good.log", log), ("notes.txt", b"hello there\nnot a log\n")])
    assert job["state"] == "failed"
    assert job["error"].startswith("notes.txt: unrecognised format")
    assert "upload the other files without it" in job["error"]
    assert "--skip-bad" not in job["error"]
    assert len(DatasetStore(server.data_dir).list()) == before

    # A file over the per-file limit is named (the others are within it).
    big = log * (LIMIT_MB * 2**20 // len(log) + 1)
    try:
        r = post_files(server, [("small.log", log), ("huge.log", big)])
    except requests.ConnectionError:
        pytest.fail("the server reset the connection instead of answering 413")
    assert r.status_code == 413
    assert r.json()["message"].startswith(f"huge.log exceeds the limit of {LIMIT_MB} MB per file")
    time.sleep(0.2)
    assert not list((server.data_dir / ".uploads").glob("*.part"))
    assert requests.get(server.url + "/health", timeout=10).status_code == 200


def test_single_file_paths_still_work(server):
    """One file as a raw body and as a one-file multipart body: as before (one job, one file, one dataset)."""
    log = b"".join(clf_lines(hours=1, seed=4))
    r = requests.post(
        server.url + "/upload",
        data=log,
        params={"name": "one.log"},
        timeout=60,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 202, r.text
    assert r.json()["files"] == [{"name": "one.log", "bytes": len(log)}]
    raw = wait_job(server, r.json()["upload_id"])
    multi = post_and_wait(server, [("one.log", log)])
    assert raw["state"] == multi["state"] == "done"
    assert raw["dataset_id"] == multi["dataset_id"]
    assert [f["name"] for f in raw["report"]["files"]] == ["one.log"]
