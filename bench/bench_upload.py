"""Upload throughput over HTTP vs ingesting the same file in-process (the baseline, same run).

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_upload.py [--days 7]

Generates a NASA-like Apache log with ../shared/tools/make_nasa_log.py (plain and gzip), starts a
gunicorn (1 worker, warmed up, own temporary folders), and for each file measures: the POST until 202
(streaming the body to disk), the background ingest until the job is done, and ``core.ingest`` on the
same file in this process. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=7)
    args = ap.parse_args()
    from core.ingest import ingest
    from tests.conftest import LiveServer, shared_path

    tool = shared_path() / "tools" / "make_nasa_log.py"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        plain = tmp / "nasa.log"
        end = f"1995-07-{args.days:02d}"
        subprocess.run([sys.executable, str(tool), str(plain), "-q", "--start", "1995-07-01", "--end", end],
                       check=True)
        gz = tmp / "nasa.log.gz"
        with open(plain, "rb") as f, gzip.open(gz, "wb", compresslevel=6) as g:
            while block := f.read(1 << 24):
                g.write(block)
        small = tmp / "warm.log"
        with open(plain, "rb") as f, open(small, "wb") as g:
            g.write(f.read(2_000_000).rsplit(b"\n", 1)[0] + b"\n")
        (tmp / "srv").mkdir()
        # One worker: the warm-up below reaches the worker that is measured (numba's JIT, imports).
        server = LiveServer(tmp / "srv", workers=1).start()
        rows = []
        try:
            ingest(small)
            r = requests.post(f"{server.url}/upload?name=warm.log", data=small.read_bytes(), timeout=600)
            while requests.get(server.url + r.json()["status_url"], timeout=30).json()["state"] == "running":
                time.sleep(0.05)
            for path in (plain, gz):
                t0 = time.perf_counter()
                ingest(path)
                base = time.perf_counter() - t0
                t0 = time.perf_counter()
                with open(path, "rb") as f:
                    r = requests.post(f"{server.url}/upload?name={path.name}", data=f, timeout=600)
                r.raise_for_status()
                sent = time.perf_counter() - t0
                job = r.json()
                while job["state"] not in ("done", "failed"):
                    time.sleep(0.05)
                    job = requests.get(server.url + job["status_url"], timeout=30).json()
                total = time.perf_counter() - t0
                assert job["state"] == "done", job
                mb = path.stat().st_size / 1e6
                rows.append((path.name, mb, sent, total - sent, total, base))
        finally:
            server.stop()
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")),
               platform.processor())
    out = [f"`{' '.join(sys.argv)}` · nproc {os.cpu_count()} · {cpu} · {args.days} days of log", "",
           "| file | MB | POST to 202 (s) | MB/s | ingest after (s) | total (s) | in-process ingest (s) "
           "| total / in-process |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, mb, sent, ing, total, base in rows:
        out.append(f"| {name} | {mb:.1f} | {sent:.2f} | {mb / sent:.0f} | {ing:.2f} | {total:.2f} | {base:.2f} | "
                   f"{total / base:.2f} |")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
