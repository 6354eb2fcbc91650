"""What several benchmarks do the same way: load the NASA series, the CPU model, the CPU time of a process tree."""

from __future__ import annotations

import os
import platform
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NASA_TZ = "-04:00"  # the trace's local time (its README)


def shared_dir() -> Path:
    """The shared folder (``TRAFFIC_SHARED_DIR``, default ``../shared`` beside the repository)."""
    return Path(os.environ.get("TRAFFIC_SHARED_DIR", ROOT.parent / "shared"))


def nasa_csv(shared: Path | str | None = None) -> Path:
    """The real NASA requests-per-minute CSV in the shared folder."""
    return Path(shared if shared is not None else shared_dir()) / "data" / "nasa-1995" / "requests_per_minute.csv.gz"


def load_nasa(shared: Path | str | None = None):
    """The real NASA series per minute: the values and gaps the app and ``python -m core`` get from the file.

    Read by ``core.ingest`` (the tabular CSV reader, local time at -04:00), with the gaps it finds (the
    missing stretch 07-28 13:33 .. 07-31, the hurricane outage and the shorter silences), never by hand: the
    benchmarks' figures then match what the CLI and the pages compute on the same file.
    """
    from core.ingest import ingest

    return ingest(nasa_csv(shared), tz=NASA_TZ).series


def describe_gaps(series) -> str:
    """The series' gaps in words, for a result's header: "07-28 13:33 .. 07-31 23:59 (missing), ..."."""
    step = series.interval
    return ", ".join(f"{g.start:%m-%d %H:%M} .. {g.end - step:%m-%d %H:%M} ({g.kind})" for g in series.gaps)


def cpu_model() -> str:
    """The CPU's model name (for the 'machine' line of a result)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` and all its descendants."""
    import psutil

    main = psutil.Process(pid)
    total = 0.0
    for p in [main, *main.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total
