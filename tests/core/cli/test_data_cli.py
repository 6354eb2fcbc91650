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
