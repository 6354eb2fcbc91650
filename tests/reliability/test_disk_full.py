"""A full data/cache disk: uploads are refused with a clear message and nothing existing is damaged.

The server's folders live on a small tmpfs the test mounts (needs root; skipped with the reason
otherwise), which is then filled to the last byte.
"""

from __future__ import annotations

import errno
import subprocess

import pytest
import requests

from tests.reliability.helpers import datasets, render_page, traffic_csv, upload


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0755", "tmpfs", str(mnt)],
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a test tmpfs ({(r.stderr or 'not permitted').strip()}); run as root to test it")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(path) -> int:
    """Write ``path`` until the disk is full; returns the bytes written."""
    block = b"\0" * (1 << 20)
    n = 0
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                n += f.write(block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
        while True:  # the last partial block
            try:
                n += f.write(b"\0" * 4096)
            except OSError:
                return n


def _snapshot(url: str, ids: list[str]) -> dict:
    return {i: requests.get(f"{url}/export/dataset/csv", params={"dataset": i}, timeout=60).content for i in ids}


def test_full_disk_refuses_uploads_clearly_and_damages_nothing(small_disk, server_factory):
    server = server_factory(small_disk / "srv", workers=1)
    r, job = upload(server.url, traffic_csv(days=10, seed=1), name="before.csv")
    assert job["state"] == "done", job
    ids = list(datasets(server.url))
    before = _snapshot(server.url, ids)
    fc = requests.post(f"{server.url}/api/forecast", json={"dataset_id": job["dataset_id"], "horizon": "1d"},
                       timeout=120)
    assert fc.status_code == 200

    filler = small_disk / "filler"
    _fill(filler)
    new = traffic_csv(days=10, seed=2)
    r, _ = upload(server.url, new, name="after.csv", wait=False)
    assert r.status_code == 507, r.text
    assert "disk is full" in r.json()["message"]
    # A body without Content-Length, refused too.
    r = requests.post(f"{server.url}/upload", data=iter([new]), timeout=60)
    assert r.status_code == 507, r.text
    assert not list((server.data_dir / ".uploads").glob("*.part"))
    # Everything existing is still served, byte for byte; cached results too.
    assert list(datasets(server.url)) == ids
    assert _snapshot(server.url, ids) == before
    again = requests.post(f"{server.url}/api/forecast", json={"dataset_id": job["dataset_id"], "horizon": "1d"},
                          timeout=120)
    assert again.status_code == 200, server.log.read_text()[-3000:]
    assert again.json()["mean"] == fc.json()["mean"]
    # Pages still render (a result that cannot be cached is computed and shown).
    page = render_page(server.url, "/history", f"?dataset={job['dataset_id']}&granularity=15")
    assert page.status_code == 200, page.text[:300]

    # Room again: the same upload now works.
    filler.unlink()
    r, job2 = upload(server.url, new, name="after.csv")
    assert job2["state"] == "done", job2
    assert set(datasets(server.url)) == {*ids, job2["dataset_id"]}


def test_disk_filling_up_mid_upload_leaves_no_debris(small_disk, server_factory):
    server = server_factory(small_disk / "srv", workers=1)
    ids = list(datasets(server.url))
    filler = small_disk / "filler"
    _fill(filler)
    with open(filler, "r+b") as f:  # leave 20 MB: past the 16 MB reserve, short of the 30 MB body
        f.truncate(filler.stat().st_size - 20 * (1 << 20))
    line = b'host - - [01/Jul/1995:00:00:01 -0400] "GET /x HTTP/1.0" 200 1\n'
    body = (line * (1 << 14) for _ in range(30 * (1 << 20) // (len(line) << 14)))
    r = requests.post(f"{server.url}/upload", data=body, timeout=120)  # chunked: no length to check first
    assert r.status_code == 507, r.text
    assert "disk is full" in r.json()["message"]
    assert not list((server.data_dir / ".uploads").glob("*.part"))
    assert list(datasets(server.url)) == ids
    assert requests.get(f"{server.url}/health", timeout=30).status_code == 200
