"""Parser speed of every log format on the same requests: lines/s against the CLF parser.

Usage:
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_ingest_formats.py [--start 1995-07-01 --end 1995-07-03]
        [--repeat 3] [--out bench/results/ingest_formats.md]

Generates the NASA-like CLF log for the days given (``../shared/tools/make_nasa_log.py``, no junk lines),
rewrites the same requests as each format (``tests/core/ingest/logwriters.py``), and times, best of
--repeat: the parser alone on one thread (32 MB chunks, as ingest reads them), and the whole
``ingest()`` of the file (reader threads, the default parser threads, aggregation, gaps). All files stay
in a temporary folder under /tmp.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import shared_dir  # noqa: E402

CHUNK = 32 << 20


def _chunks(data: bytes):
    import numpy as np

    pos = 0
    while pos < len(data):
        cut = data.rfind(b"\n", pos, pos + CHUNK)
        end = len(data) if cut < 0 or pos + CHUNK >= len(data) else cut + 1
        buf = np.empty(end - pos + 8, dtype=np.uint8)  # aligned, as the reader's buffers
        buf[: end - pos] = np.frombuffer(data, dtype=np.uint8, count=end - pos, offset=pos)
        yield buf[: end - pos]
        pos = end


def parser_seconds(fmt: str, data: bytes) -> tuple[float, int]:
    """Best-effort single-thread parse of ``data`` as ``fmt``: (seconds, accepted lines)."""
    from core.ingest.formats import log_parser

    parse, _stateless = log_parser(fmt, data[:65536], {"fields": {}, "name": fmt})
    t0 = time.perf_counter()
    n = 0
    for buf in _chunks(data):
        n += len(parse(buf, 0, len(buf), 5).minute)
    return time.perf_counter() - t0, n


def ingest_seconds(path: Path) -> tuple[float, int]:
    from core.ingest import ingest

    t0 = time.perf_counter()
    r = ingest(path)
    return time.perf_counter() - t0, int(r.report.lines_parsed)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--start", default="1995-07-01")
    ap.add_argument("--end", default="1995-07-03")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "ingest_formats.md"))
    args = ap.parse_args()

    from core.ingest.apache import warm_up
    from tests.core.ingest.logwriters import FORMATS, records, write

    warm_up()
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        clf_path = Path(tmp) / "clf.log"
        subprocess.run([sys.executable, str(shared_dir() / "tools" / "make_nasa_log.py"), str(clf_path), "-q",
                        "--start", args.start, "--end", args.end, "--malformed", "0"], check=True)
        clf = clf_path.read_bytes()
        recs = records(clf)
        files = {"apache": clf_path}
        for fmt in FORMATS:
            p = Path(tmp) / f"log.{fmt}"
            p.write_bytes(write(fmt, recs))
            files[fmt] = p
        rows = []
        for fmt, path in files.items():
            data = path.read_bytes()
            parser_seconds(fmt, data[: 1 << 20])  # compiled code loaded, caches warm
            best_p = min(parser_seconds(fmt, data)[0] for _ in range(args.repeat))
            best_i, parsed = min(ingest_seconds(path) for _ in range(args.repeat))
            rows.append((fmt, len(data), parsed, best_p, best_i))
            print(f"{fmt:10s} {parsed:,} lines  parser {parsed / best_p / 1e6:.2f} M lines/s  "
                  f"ingest {parsed / best_i / 1e6:.2f} M lines/s", flush=True)
    clf_rate = rows[0][2] / rows[0][3]
    cmd = (f"OMP_NUM_THREADS=1 .venv/bin/python bench/bench_ingest_formats.py --start {args.start} "
           f"--end {args.end} --repeat {args.repeat}")
    load = os.getloadavg()
    lines = [
        "## Ingest: every log format on the same requests",
        "",
        f"Command: `{cmd}`. The generated NASA-like log for {args.start} .. {args.end} ({rows[0][2]:,} requests, "
        "no junk), the same requests written as each format by `tests/core/ingest/logwriters.py`. Best of "
        f"{args.repeat}. Machine: {os.cpu_count()} cores, Python {platform.python_version()}, load average "
        f"{load[0]:.1f} at the end (other engineers' tests were running; absolute figures are noisy, the "
        "ratios less so).",
        "",
        "- *parser*: the format's parse function alone, one thread, over 32 MB chunks (what ingest hands it);",
        "- *ingest*: the whole `ingest(path)`: reader thread, parser threads (the CLF, load balancer and JSON "
        "parsers split each chunk over the cores; W3C parses in order, its `#Fields` carry over), per-minute "
        "aggregation, gaps.",
        "",
        "| format | MB | bytes/line | lines | parser M lines/s | vs CLF | parser MB/s | ingest s | ingest M lines/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for fmt, size, parsed, p, i in rows:
        lines.append(f"| {fmt} | {size / 1e6:.1f} | {size / parsed:.0f} | {parsed:,} | {parsed / p / 1e6:.2f} | "
                     f"{parsed / p / clf_rate:.2f}x | {size / p / 1e6:.0f} | {i:.2f} | {parsed / i / 1e6:.2f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
