"""The dataset store: content ids, dedup, atomic writes, validated ids, the built-in default."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from core import demo
from core.errors import InputError
from core.store import DatasetStore, validate_id

LOG = b"".join(
    f'h{i % 7} - - [01/Jul/1995:00:{i % 60:02d}:01 -0400] "GET /{i} HTTP/1.0" {200 if i % 9 else 404} {i}\n'.encode()
    for i in range(600)
)


def test_put_get_roundtrip_and_dedup(tmp_path):
    store = DatasetStore(tmp_path / "data")
    src = tmp_path / "a.log"
    src.write_bytes(LOG)
    info = store.put(src, name="first")
    assert len(info.id) == 16
    assert info.format == "apache"
    assert not info.synthetic
    again = store.put(io.BytesIO(LOG), name="second")  # same content, other name and channel
    assert again.id == info.id
    assert again.name == "first"
    assert [d.id for d in store.list()] == [info.id]
    s = store.get(info.id)
    assert s.requests.sum() == 600
    assert s.frame["errors_4xx"].sum() == sum(1 for i in range(600) if i % 9 == 0)
    assert s.frame["unique_hosts"].max() == 7
    assert s.resample("1h").frame["unique_hosts"].tolist() == [7.0]
    rep = store.report(info.id)
    assert rep.lines_parsed == 600
    assert rep.format == "apache"


def test_delete_and_unknown_ids(tmp_path):
    store = DatasetStore(tmp_path)
    src = tmp_path / "a.log"
    src.write_bytes(LOG)
    info = store.put(src)
    store.delete(info.id)
    assert store.list() == []
    with pytest.raises(InputError, match="unknown dataset id"):
        store.get(info.id)
    assert not any(p.name.startswith(".tmp-") for p in tmp_path.iterdir())


@pytest.mark.parametrize("bad", ["../etc", "/abs/path", "a\x00b", "x" * 300, "UPPER", "a.b", "", "..", "ab"])
def test_ids_are_validated(tmp_path, bad):
    with pytest.raises(InputError, match="invalid dataset id"):
        validate_id(bad)
    with pytest.raises(InputError):
        DatasetStore(tmp_path).get(bad)


def test_failed_ingest_leaves_nothing_behind(tmp_path):
    class Exploding(io.RawIOBase):
        """A stream that dies half way, like a dropped upload."""

        def __init__(self):
            self.data = io.BytesIO(LOG * 2000)

        def readable(self):
            return True

        def readinto(self, b):
            if self.data.tell() > 500_000:
                raise OSError("connection reset")
            return self.data.readinto(b)

    store = DatasetStore(tmp_path)
    with pytest.raises(InputError, match="corrupt or truncated|connection reset"):
        store.put(io.BufferedReader(Exploding()))
    assert list(tmp_path.iterdir()) == []


def test_stale_temp_folders_are_swept(tmp_path):
    stale = tmp_path / ".tmp-crashed"
    stale.mkdir()
    (stale / "series.parquet").write_bytes(b"half")
    import os

    os.utime(stale, (0, 0))
    DatasetStore(tmp_path)
    assert not stale.exists()


def test_default_dataset_is_synthetic_and_deterministic(tmp_path):
    store = DatasetStore(tmp_path)
    sid = store.default_id()
    assert sid == demo.DEMO_ID
    info = store.info(sid)
    assert info.synthetic
    assert "synthetic" in info.name.lower()
    s = store.get("default")
    assert s.interval == pd.Timedelta("1min")
    assert len(s) == 62 * 1440
    assert str(s.index.tz) == "UTC-04:00"
    kinds = {(g.start.strftime("%m-%d %H:%M"), g.end.strftime("%m-%d %H:%M")) for g in s.gaps}
    assert ("07-28 13:33", "08-01 00:00") in kinds
    assert ("08-01 14:52", "08-03 04:36") in kinds
    again = demo.demo_series()
    assert np.array_equal(again.requests, s.requests)
    daily = s.frame["requests"].resample("1D").sum()
    assert daily.idxmax().strftime("%m-%d") == "07-13"  # the launch surge


def test_default_prefers_real_logs_from_nasa_log_dir(tmp_path, monkeypatch):
    real = tmp_path / "real"
    real.mkdir()
    (real / "NASA_access_log_Jul95").write_bytes(LOG)
    monkeypatch.setenv("NASA_LOG_DIR", str(real))
    store = DatasetStore(tmp_path / "data")
    sid = store.default_id()
    assert sid != demo.DEMO_ID
    assert not store.info(sid).synthetic
    assert store.default_id() == sid  # remembered, not re-ingested
    assert json.loads((tmp_path / "data" / ".default-real.json").read_text())["id"] == sid


def test_append_writes_a_new_dataset_and_never_touches_the_old_one(tmp_path):
    import gzip
    import hashlib

    store = DatasetStore(tmp_path / "data")
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_bytes(LOG)
    second.write_bytes(LOG.replace(b"01/Jul/1995", b"02/Jul/1995"))
    old = store.put(first)
    folder = tmp_path / "data" / old.id

    def snapshot():
        return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in folder.iterdir()}

    before = snapshot()
    assert set(before) == {"series.parquet", "hosts.npy", "host_ids.npy", "meta.json", "report.json"}
    assert [f["digest"] for f in store.info(old.id).files] == [hashlib.sha256(LOG).hexdigest()]
    bad = tmp_path / "c.log.gz"
    bad.write_bytes(gzip.compress(LOG * 50)[:-40])  # a truncated upload
    with pytest.raises(InputError, match="corrupt or truncated"):
        store.append(old.id, [second, bad])
    assert [d.id for d in store.list()] == [old.id]  # a failed append stores nothing
    new = store.append(old.id, second)
    assert new.id != old.id
    assert snapshot() == before  # not a byte nor a timestamp changed
    assert store.get(new.id).requests.sum() == 2 * store.get(old.id).requests.sum()
    assert not any(p.name.startswith(".tmp-") for p in (tmp_path / "data").iterdir())
