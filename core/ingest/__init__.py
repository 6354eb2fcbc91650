"""One entry point for every input: ``ingest(path_or_stream) -> IngestResult``.

Detects the format (Apache CLF/Combined, CSV, TXT; gzip/bz2 by magic bytes),
builds a validated :class:`~core.series.TrafficSeries` and an
:class:`IngestReport`, and finds gaps. Bad input raises
:class:`~core.errors.InputError` naming the problem and the accepted formats.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import InputError
from core.gaps import DEFAULT_GAP_MINUTES, find_gaps
from core.ingest.apache import looks_like_apache
from core.ingest.logs import LogAggregator
from core.ingest.reader import ACCEPTED_FORMATS, DEFAULT_MAX_BYTES, Source, open_sources
from core.ingest.report import IngestReport
from core.ingest.tabular import is_csv, is_txt, parse_offset, read_csv, read_txt
from core.series import TrafficSeries

__all__ = ["IngestResult", "IngestReport", "ingest", "detect_format", "DEFAULT_MAX_BYTES", "ACCEPTED_FORMATS"]

Progress = Callable[[int, int], None]


@dataclass
class IngestResult:
    series: TrafficSeries
    report: IngestReport
    digest: str  # sha256 of the decompressed content


def detect_format(head: bytes, name: str = "input") -> str:
    """``"apache"``, ``"csv"`` or ``"txt"`` from the first bytes of decompressed content."""
    if looks_like_apache(head) >= 0.3:
        return "apache"
    if is_csv(head):
        return "csv"
    if is_txt(head):
        return "txt"
    raise InputError(f"{name}: unrecognised format; expected {ACCEPTED_FORMATS}")


def ingest(
    source,
    *,
    name: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    interval: str | pd.Timedelta | None = None,
    start: str | pd.Timestamp | None = None,
    gap_minutes: float = DEFAULT_GAP_MINUTES,
    tz: str | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Read a log or series into a TrafficSeries with its report.

    Args:
        source: a path, a binary stream, or a list of them (concatenated,
            e.g. the July and August logs; they must share a format).
        name: display name (default: the file name).
        max_bytes: uncompressed size limit per input.
        interval: period of CSV/TXT input without timestamps (default 5 min),
            or to force the grid of a timestamped CSV.
        start: first timestamp of CSV/TXT input without timestamps.
        gap_minutes: shortest silent run reported as a gap.
        tz: UTC offset (e.g. ``"-04:00"``) for CSV timestamps that carry none,
            and for the assumed grid of CSV/TXT without timestamps.
        progress: called with ``(bytes_read, total_bytes_or_0)``.

    Raises:
        InputError: empty, binary, unrecognised, over-limit or invalid input.
    """
    t0 = time.perf_counter()
    step = pd.Timedelta(interval) if interval is not None else None
    zone = parse_offset(tz)
    first = pd.Timestamp(start) if start is not None else None
    if first is not None and first.tz is None:
        first = first.tz_localize(zone or "UTC")
    sources = open_sources(source, max_bytes=max_bytes)
    try:
        fmt = detect_format(sources[0].head, sources[0].name)
        for s in sources[1:]:
            other = detect_format(s.head, s.name)
            if other != fmt:
                raise InputError(f"{s.name} is {other} but {sources[0].name} is {fmt}; ingest them separately")
        report = IngestReport(source=name or ", ".join(s.name for s in sources), format=fmt)
        if fmt == "apache":
            series = _ingest_logs(sources, report, progress)
        else:
            series = _ingest_table(sources, fmt, report, step, first, zone)
        digest = sources[0].digest if len(sources) == 1 else _combine([s.digest for s in sources])
        report.compression = ",".join(sorted({s.compression for s in sources}))
        report.bytes_read = sum(s.bytes_read for s in sources)
    finally:
        for s in sources:
            s.close()
    gaps = find_gaps(series.requests, series.index, series.interval, min_minutes=gap_minutes)
    series = TrafficSeries(frame=series.frame, interval=series.interval, gaps=gaps, host_pairs=series.host_pairs)
    _summarize(series, report)
    report.seconds = round(time.perf_counter() - t0, 3)
    return IngestResult(series=series, report=report, digest=digest)


def _threads() -> int:
    """Parser threads: TRAFFIC_INGEST_THREADS, else the cores this process may use (at most 4)."""
    env = os.environ.get("TRAFFIC_INGEST_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(4, len(os.sched_getaffinity(0))))


def _combine(digests: list[str]) -> str:
    import hashlib

    return hashlib.sha256("".join(digests).encode()).hexdigest()


def _ingest_logs(sources: list[Source], report: IngestReport, progress: Progress | None) -> TrafficSeries:
    agg = LogAggregator()
    total = sum(s.raw_size or 0 for s in sources if s.compression == "none")
    done = 0
    with ThreadPoolExecutor(max_workers=_threads()) as pool:
        for s in sources:
            for chunk in s.chunks():
                agg.add_chunk(chunk, pool=pool)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    frame, pairs, _offset = agg.finish()
    series = TrafficSeries(frame=frame, interval=pd.Timedelta(minutes=1), host_pairs=pairs)
    agg.fill_report(report, series)
    if report.lines_rejected > report.lines_total // 2:
        report.warnings.append(
            f"{report.lines_rejected} of {report.lines_total} lines were rejected; check that this is an access log"
        )
    return series


def _ingest_table(sources: list[Source], fmt: str, report: IngestReport, step, first, zone) -> TrafficSeries:
    if len(sources) > 1:
        raise InputError("CSV/TXT inputs are ingested one file at a time")
    data = sources[0].read_all()
    reader = read_csv if fmt == "csv" else read_txt
    frame, interval, notes, rows = reader(data, interval=step, start=first, tz=zone)
    report.assumptions.extend(notes)
    report.lines_total = rows
    report.lines_parsed = rows
    return TrafficSeries(frame=frame, interval=interval)


def _summarize(series: TrafficSeries, report: IngestReport) -> None:
    summary = series.to_dict_summary()
    report.requests_total = summary["requests_total"]
    report.start = summary["start"]
    report.end = summary["end"]
    report.interval_seconds = summary["interval_seconds"]
    report.periods = summary["periods"]
    report.gaps = summary["gaps"]
    off = series.start.utcoffset()
    minutes = int(off.total_seconds() // 60) if off is not None else 0
    sign = "-" if minutes < 0 else "+"
    report.utc_offset = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    if np.isnan(series.requests).all():
        raise InputError("the input holds no load values (every cell is empty)")
