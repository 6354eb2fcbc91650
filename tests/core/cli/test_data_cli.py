"""``python -m core ingest|datasets|delete`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def run(*args, data_dir):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "core", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_ingest_json_has_the_promised_fields(outage_log, tmp_path):
    log, _ = outage_log
    r = run("ingest", str(log), "--json", data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)  # exactly one JSON object
    for key in ("dataset_id", "format", "lines_total", "lines_parsed", "lines_rejected", "requests_total",
                "start", "end", "interval_seconds", "gaps"):
        assert key in obj
    assert obj["format"] == "apache"
    assert obj["interval_seconds"] == 60
    assert obj["lines_total"] == obj["lines_parsed"] + obj["lines_rejected"]
    assert obj["start"] == "1995-08-01T00:00:00-04:00"
    assert any(g["end"] == "1995-08-03T04:36:00-04:00" for g in obj["gaps"])

    listed = json.loads(run("datasets", "--json", data_dir=tmp_path).stdout)["datasets"]
    assert obj["dataset_id"] in [d["id"] for d in listed]
    r = run("delete", obj["dataset_id"], "--json", data_dir=tmp_path)
    assert r.returncode == 0
    assert json.loads(r.stdout) == {"deleted": obj["dataset_id"]}


def test_human_output(tmp_path):
    src = tmp_path / "s.txt"
    src.write_text("1\n2\n3\n")
    r = run("ingest", str(src), "--name", "three", data_dir=tmp_path / "d")
    assert r.returncode == 0
    assert "dataset " in r.stdout
    assert "(three)" in r.stdout
    assert "assumed" in r.stdout


def test_ingest_leaves_early_with_its_output_and_dataset_complete(outage_log, tmp_path):
    """``python -m core ingest`` skips the interpreter's teardown (os._exit): a report written to a file
    (block-buffered) is whole, and the dataset is stored for the next process."""
    log, _ = outage_log
    out = tmp_path / "report.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with open(out, "w") as fh:
        r = subprocess.run([sys.executable, "-m", "core", "ingest", str(log), "--json", "--data-dir",
                            str(tmp_path / "d")], stdout=fh, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
                           timeout=300)
    assert r.returncode == 0, r.stderr
    obj = json.loads(out.read_text())
    listed = json.loads(run("datasets", "--json", data_dir=tmp_path / "d").stdout)
    assert obj["dataset_id"] in [d["id"] for d in listed["datasets"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "/no/such/file.log"], "no such file"),
        (["delete", "../../etc"], "invalid dataset id"),
        (["delete", "abcdef0123456789"], "unknown dataset id"),
        (["ingest", "{png}"], "PNG image"),
        (["ingest", "{log}", "--max-mb", "-3"], "size limit must be > 0 MB"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, args, message):
    png = tmp_path / "x.log"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    log = tmp_path / "ok.log"
    log.write_text('h - - [01/Jul/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 5\n')
    args = [a.format(png=png, log=log) for a in args]
    r = run(*args, data_dir=tmp_path / "d")
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert "Traceback" not in r.stderr


LINE = 'h{i} - - [01/Jul/1995:00:{m:02d}:01 -0400] "GET / HTTP/1.0" 200 5\n'


def test_ingest_many_paths_then_append(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    for k in range(3):
        (logs / f"day{k}.log").write_text("".join(LINE.format(i=i, m=10 * k + i) for i in range(5)))
    extra = tmp_path / "later.log"
    extra.write_text("".join(LINE.format(i=i, m=40 + i) for i in range(5)))
    r = run("ingest", str(logs / "day0.log"), str(logs / "day*.log"), "--json", data_dir=tmp_path / "d")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["requests_total"] == 15
    assert obj["duplicates"] == 1
    assert [f["name"] for f in obj["files"]] == [str(logs / f"day{k}.log") for k in (0, 0, 1, 2)]
    assert obj["files"][1]["skipped"] == f"duplicate of {logs / 'day0.log'}"
    old = obj["dataset_id"]

    r = run("append", old, str(extra), str(logs / "day1.log"), "--json", data_dir=tmp_path / "d")
    assert r.returncode == 0, r.stderr
    new = json.loads(r.stdout)
    assert new["appended_to"] == old
    assert new["requests_total"] == 20
    assert new["dataset_id"] != old
    assert new["files"][-1]["skipped"] == "already in the dataset"
    whole = json.loads(run("ingest", str(logs), str(extra), "--json", data_dir=tmp_path / "d").stdout)
    assert whole["dataset_id"] == new["dataset_id"]  # the same set of files, the same dataset
    ids = [d["id"] for d in json.loads(run("datasets", "--json", data_dir=tmp_path / "d").stdout)["datasets"]]
    assert old in ids  # the old dataset stays

    r = run("append", new["dataset_id"], str(extra), data_dir=tmp_path / "d")
    assert r.returncode == 0
    assert "unchanged" in r.stdout
    assert "already part of the dataset" in r.stdout

    r = run("ingest", str(logs), str(extra), data_dir=tmp_path / "d2")  # the human report lists every file
    assert r.stdout.count("  file ") == 4


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("junkdir", ["ingest", "{junk}"], "holds no recognisable file"),
        ("junkdir", ["ingest", "{junk}", "--skip-bad"], "holds no recognisable file"),
        ("mixed", ["ingest", "{mixed}"], "notes.txt: unrecognised format"),
        ("mixed", ["ingest", "{mixed}"], "pass --skip-bad to ingest the other files"),
        ("log", ["append", "abcdef0123456789", "{log}"], "unknown dataset id 'abcdef0123456789'"),
        ("json", ["ingest", "{json}"], "JSON lines without a timestamp field (looked for time, timestamp"),
        ("json", ["ingest", "{json}"], "name it with --json-fields time=KEY"),
        ("log", ["ingest", "{log}", "--json-fields", "when=x"], "--json-fields takes FIELD=KEY pairs"),
        ("log", ["ingest", "{nothing}"], "matches no file"),
    ],
)
def test_bad_many_file_input_exits_2_with_one_line_and_stores_nothing(tmp_path, setup, args, message):
    junk, mixed = tmp_path / "junk", tmp_path / "mixed"
    junk.mkdir()
    (junk / "a.txt").write_text("hello world\n")
    (junk / "b.log").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    mixed.mkdir()
    (mixed / "a.log").write_text(LINE.format(i=1, m=1))
    (mixed / "notes.txt").write_text("remember the milk\n")
    log = mixed / "a.log"
    js = tmp_path / "app.json"
    js.write_text('{"msg": "started", "status": 200}\n')
    paths = {"junk": junk, "mixed": mixed, "log": log, "json": js, "nothing": tmp_path / "nothing-*.log"}
    r = run(*[a.format(**paths) for a in args], data_dir=tmp_path / "d")
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    store = tmp_path / "d"
    assert not store.exists() or [p for p in store.iterdir() if not p.name.startswith(".")] == []


def test_the_hash_ahead_finds_the_paths_the_parser_will_read():
    # core.cli reads the file arguments before it builds the parser (so that their hash starts before the
    # imports): its list of options without a value must be the parser's own.
    import argparse

    from core.cli import _FLAGS, HASH_AHEAD, _file_words, build_parser

    for command in HASH_AHEAD:
        sub = next(a for a in build_parser(command)._actions if isinstance(a, argparse._SubParsersAction))
        flags = {s for a in sub.choices[command]._actions if a.nargs == 0 for s in a.option_strings}
        assert flags <= _FLAGS, f"add {sorted(flags - _FLAGS)} to core.cli._FLAGS"
    assert _file_words(["a.log", "--json", "b.log", "--name", "x", "--tz=+02:00", "c.log"]) == ["a.log", "b.log",
                                                                                                 "c.log"]
