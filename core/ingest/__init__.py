"""One entry point for every input: ``ingest(path | stream | list) -> IngestResult``.

Detects each file's format (access logs: Apache CLF/Combined, AWS ALB and
Classic ELB, CloudFront, W3C/IIS, JSON lines; series: CSV, TXT; gzip/bz2 by
magic bytes), aggregates log files one by one into 1-minute periods (requests
summed, unique hosts united over distinct (minute, host) keys), counts a file
whose decompressed content was given already once, builds a validated
:class:`~core.series.TrafficSeries` and an :class:`IngestReport` with a line
per file, and finds gaps. Bad input raises :class:`~core.errors.InputError`
naming the problem, the file and the fix.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from core.errors import InputError
from core.gaps import DEFAULT_GAP_MINUTES, find_gaps
from core.ingest.files import Input, dataset_digest, expand_inputs
from core.ingest.formats import FORMAT_NAMES, SERIES_FORMATS, detect_log_format, log_parser
from core.ingest.jsonl import parse_json_fields
from core.ingest.logs import LogAggregator, offset_str
from core.ingest.reader import ACCEPTED_FORMATS, DEFAULT_MAX_BYTES, Source, open_sources, read_in_turn
from core.ingest.report import FileReport, IngestReport, RejectedLine
from core.ingest.tabular import is_csv, is_txt, parse_offset, read_csv, read_txt
from core.series import TrafficSeries

__all__ = ["IngestResult", "IngestReport", "FileReport", "LogBase", "NothingToAppend", "ingest", "detect_format",
           "DEFAULT_MAX_BYTES", "ACCEPTED_FORMATS", "FORMAT_NAMES"]

Progress = Callable[[int, int], None]


@dataclass
class IngestResult:
    series: TrafficSeries
    report: IngestReport
    digest: str  # the content id: sha256 of the decompressed content (over the set of files, if several)
    #: (name, sha256, format) of every file the dataset counts (a base dataset's first).
    files: list[dict] = field(default_factory=list)
    #: distinct 64-bit host hashes of a log dataset (kept by the store, so appending counts hosts exactly).
    host_ids: np.ndarray | None = None


class NothingToAppend(InputError):
    """Every file given to append is part of the dataset already (or a duplicate of one that is)."""

    def __init__(self, files: list[FileReport]) -> None:
        self.files = files
        names = ", ".join(f.name for f in files[:5]) + (" ..." if len(files) > 5 else "")
        super().__init__(f"nothing to append: {names} {'is' if len(files) == 1 else 'are'} already part of the "
                         "dataset")


@dataclass
class LogBase:
    """A stored log dataset that files are appended to (built by ``DatasetStore.append``)."""

    series: TrafficSeries
    report: IngestReport
    files: list[dict]  # (name, digest, format) of its files
    host_ids: np.ndarray | None = None  # its distinct 64-bit host hashes


def detect_format(head: bytes, name: str = "input", json_fields: dict | None = None) -> str:
    """The format of a file from the first bytes of its decompressed content.

    Raises:
        InputError: no known format; names the accepted ones.
    """
    found = detect_log_format(head)
    if found is not None:
        return found
    if is_csv(head):
        return "csv"
    if is_txt(head):
        return "txt"
    if json_fields and head.lstrip()[:1] == b"{":
        return "jsonl"
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
    format: str | None = None,  # noqa: A002 - the CLI's --format
    json_fields: str | dict | None = None,
    skip_bad: bool = False,
    base: LogBase | None = None,
) -> IngestResult:
    """Read logs or a series into a TrafficSeries with its report.

    Args:
        source: a path, a folder, a glob pattern, a binary stream, or a list of them. Log files
            are summed per minute in any order (several servers, rotated or daily files).
        name: display name (default: the file names).
        max_bytes: uncompressed size limit per input.
        interval: period of CSV/TXT input without timestamps (default 5 min),
            or to force the grid of a timestamped CSV.
        start: first timestamp of CSV/TXT input without timestamps.
        gap_minutes: shortest silent run reported as a gap.
        tz: UTC offset (e.g. ``"-04:00"``) for CSV timestamps that carry none,
            and for the assumed grid of CSV/TXT without timestamps.
        progress: called with ``(bytes_read, total_bytes_or_0)``.
        format: read every file as this format (one of ``FORMAT_NAMES``) instead of detecting it.
        json_fields: JSON lines keys, ``"time=ts,status=code,bytes=size,host=client.ip"`` or a dict.
        skip_bad: leave out files in no known format (listed in the report) instead of failing.
        base: a stored log dataset to add the files to (its files are skipped if given again).

    Raises:
        InputError: empty, binary, unrecognised, over-limit or invalid input.
    """
    t0 = time.perf_counter()
    if format is not None and format not in FORMAT_NAMES:
        raise InputError(f"unknown format {format!r}; choose one of {', '.join(FORMAT_NAMES)}")
    fields = parse_json_fields(json_fields)
    inputs = expand_inputs(source)
    plan, skipped = _plan(inputs, max_bytes, format, fields, skip_bad)
    options = {k: v for k, v in (("format", format), ("json_fields", fields)) if v}
    try:
        kinds = {fmt for _, fmt, _ in plan}
        if kinds & set(SERIES_FORMATS):
            if base is not None:
                names = ", ".join(i.name for i, fmt, _ in plan if fmt in SERIES_FORMATS)
                raise InputError(f"{names}: a CSV/TXT series cannot be added to a log dataset, only access logs "
                                 "can; remove it, or ingest it alone as a new dataset")
            if len(plan) > 1:
                names = ", ".join(f"{i.name} ({fmt})" for i, fmt, _ in plan)
                raise InputError(f"CSV/TXT series are ingested one file at a time, not with other files: {names}")
            inp, fmt, src = plan[0]
            src = src or open_sources(inp.source, max_bytes=max_bytes)[0]
            plan[0] = (inp, fmt, src)
            series, report, files = _ingest_table(src, fmt, name or inp.name, interval, start, tz)
            digests, host_ids = [src.digest], None
        else:
            series, report, files, host_ids = _ingest_logs(plan, max_bytes, fields, progress, base, skipped)
            digests = [f["digest"] for f in files]
            report.source = name or _names([i.name for i, _, _ in plan])
    finally:
        for _, _, src in plan:
            if src is not None:
                src.close()
    gaps = find_gaps(series.requests, series.index, series.interval, min_minutes=gap_minutes)
    series = TrafficSeries(frame=series.frame, interval=series.interval, gaps=gaps, host_pairs=series.host_pairs)
    _summarize(series, report)
    report.seconds = round(time.perf_counter() - t0, 3)
    return IngestResult(series=series, report=report, digest=dataset_digest(digests, options), files=files,
                        host_ids=host_ids)


def _names(names: list[str]) -> str:
    return ", ".join(names) if len(names) <= 3 else f"{names[0]} and {len(names) - 1} more files"


def _plan(inputs: list[Input], max_bytes: int, forced: str | None, fields: dict, skip_bad: bool):
    """Open each input once to check it and detect its format (paths are reopened to be read).

    Returns ``[(input, format, open source or None)]`` and the reports of files left out.

    Raises:
        InputError: for one input, its own error; for several, the files in no known format (unless
            ``skip_bad``), or that none is readable.
    """
    plan: list[tuple[Input, str, Source | None]] = []
    bad: list[FileReport] = []
    try:
        for inp in inputs:
            try:
                src = open_sources(inp.source, max_bytes=max_bytes)[0]
                try:
                    fmt = forced or detect_format(src.head, inp.name, fields)
                    if fmt not in SERIES_FORMATS:  # what a log needs (a JSON timestamp key) is checked now
                        log_parser(fmt, src.head, {"fields": fields, "name": inp.name})
                except BaseException:
                    src.close()
                    raise
            except InputError as exc:
                if len(inputs) == 1 and not inp.folder:
                    raise
                msg = str(exc)
                bad.append(FileReport(name=inp.name, skipped=msg.removeprefix(f"{inp.name}: ")))
                continue
            if inp.is_path:  # reopened when its turn comes: one file open at a time
                src.close()
                src = None
            plan.append((inp, fmt, src))
        if not plan:
            where = sorted({i.folder for i in inputs if i.folder})
            what = f"{', '.join(where)} holds" if where else "the inputs hold"
            reasons = "; ".join(f"{f.name}: {f.skipped[:80]}" for f in bad[:3]) + ("; ..." if len(bad) > 3 else "")
            raise InputError(f"{what} no recognisable file ({reasons}); expected {ACCEPTED_FORMATS}")
        if bad and not skip_bad:
            first = bad[0]
            more = f" (and {len(bad) - 1} more: {', '.join(f.name for f in bad[1:4])})" if len(bad) > 1 else ""
            raise InputError(f"{first.name}: {first.skipped}{more}; nothing was ingested: remove it or pass "
                             "--skip-bad to ingest the other files")
    except BaseException:
        for _, _, s in plan:
            if s is not None:
                s.close()
        raise
    return plan, bad


def _threads() -> int:
    """Parser threads: TRAFFIC_INGEST_THREADS, else the cores this process may use (at most 4)."""
    env = os.environ.get("TRAFFIC_INGEST_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(4, len(os.sched_getaffinity(0))))


def _ingest_logs(plan, max_bytes: int, fields: dict, progress: Progress | None, base: LogBase | None,
                 skipped: list[FileReport]):
    """Aggregate the log files one by one (memory: one file's chunks at a time) and merge them."""
    if base is not None:
        total = _base_aggregator(base)
        seen = {f["digest"]: "already in the dataset" for f in base.files}
        files = list(base.files)
    else:
        total, seen, files = LogAggregator(), {}, []
    reports: list[FileReport] = []
    size = sum(os.path.getsize(i.source) for i, _, _ in plan if i.is_path)
    done = 0
    formats = set()
    # One reader thread for all the files (it opens the next file while this one's last chunk is
    # parsed), one hashing thread, one parser pool: nothing is started per file.
    openers = [partial(_reopen, src, inp, max_bytes) for inp, _, src in plan]
    agg = None
    with ThreadPoolExecutor(max_workers=_threads()) as pool:
        for k, src, chunk in read_in_turn(openers):
            inp, fmt, _ = plan[k]
            if agg is None:
                plan[k] = (inp, fmt, src)  # closed by ingest() if anything fails
                parse, stateless = log_parser(fmt, src.head, {"fields": fields, "name": inp.name})
                agg = LogAggregator(parse, stateless=stateless)
            if chunk is not None:
                agg.add_chunk(chunk, pool=pool)
                if progress is not None:
                    pos = src.raw.tell() if inp.is_path and not src.raw.closed else 0
                    progress(done + pos, size)
                continue
            # The end of file k: its content hash is complete.
            done += os.path.getsize(inp.source) if inp.is_path else 0
            rep = _file_report(inp.name, fmt, src, agg)
            src.close()
            plan[k] = (inp, fmt, None)
            if src.digest in seen:
                rep.skipped = seen[src.digest] if seen[src.digest].startswith("already") else \
                    f"duplicate of {seen[src.digest]}"
            else:
                seen[src.digest] = inp.name
                total.merge(agg, inp.name)
                formats.add(fmt)
                files.append({"name": inp.name, "digest": src.digest, "format": fmt})
            agg = None
            reports.append(rep)
            if progress is not None:
                progress(done, size)
    if base is not None and not formats:
        raise NothingToAppend(reports)
    frame, pairs, _offset = total.finish()
    series = TrafficSeries(frame=frame, interval=pd.Timedelta(minutes=1), host_pairs=pairs)
    all_formats = formats | ({base.report.format} if base is not None else set())
    report = IngestReport(source="", format="+".join(sorted(f for fmt in all_formats for f in fmt.split("+"))))
    total.fill_report(report, series)
    report.files = (list(base.report.files) if base is not None else []) + reports + skipped
    report.rejected_examples = [r for f in report.files if not f.skipped for r in f.rejected_examples][:5]
    report.compression = ",".join(sorted({f.compression for f in report.files if f.compression and not f.skipped}))
    report.bytes_read = sum(f.bytes_read for f in report.files if not f.skipped)
    _notes(report, reports, skipped, total)
    return series, report, files, total.host_ids()


def _reopen(src: Source | None, inp: Input, max_bytes: int) -> Source:
    """The source of a planned input: the stream already open, or the path opened again."""
    return src or open_sources(inp.source, max_bytes=max_bytes)[0]


def _base_aggregator(base: LogBase) -> LogAggregator:
    rep = base.report
    if base.series.interval != pd.Timedelta(minutes=1) or rep.format in SERIES_FORMATS:
        raise InputError(f"files can be appended to log datasets only; this one is a {rep.format} series "
                         "(ingest the files together into a new dataset instead)")
    offsets = {int(k): v for k, v in rep.offsets.items()} if rep.offsets else {
        _offset_minutes(rep.utc_offset): rep.lines_parsed}
    return LogAggregator.from_series(base.series, host_ids=base.host_ids, offsets=offsets,
                                     lines=(rep.lines_total, rep.lines_parsed, rep.lines_rejected, rep.lines_skipped))


def _offset_minutes(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    hh, mm = text.lstrip("+-").split(":")
    return sign * (int(hh) * 60 + int(mm))


def _file_report(name: str, fmt: str, src: Source, agg: LogAggregator) -> FileReport:
    rep = FileReport(name=name, digest=src.digest, format=fmt, compression=src.compression,
                     bytes_read=src.bytes_read, lines_total=agg.lines_total, lines_parsed=agg.lines_parsed,
                     lines_rejected=agg.rejected_count, lines_skipped=agg.lines_skipped,
                     offsets={str(k): int(v) for k, v in sorted(agg.offsets.items())},
                     rejected_examples=[RejectedLine(r.line, r.reason, r.text, name) for r in agg.examples])
    if agg.min_minute is not None:
        off = agg.offsets.most_common(1)[0][0]
        rep.utc_offset = offset_str(off)
        rep.start, rep.end = (pd.Timestamp(m * 60, unit="s", tz="UTC").tz_convert(rep.utc_offset).isoformat()
                              for m in (agg.min_minute, agg.max_minute))
    return rep


def _notes(report: IngestReport, reports: list[FileReport], skipped: list[FileReport], total: LogAggregator) -> None:
    dups = [f for f in reports if f.skipped]
    if dups:
        report.warnings.append(f"{len(dups)} file(s) counted once: " + "; ".join(f"{f.name} is a {f.skipped}"
                               if f.skipped.startswith("duplicate") else f"{f.name} is {f.skipped}"
                               for f in dups[:5]))
    if skipped:
        report.warnings.append(f"{len(skipped)} file(s) in no known format left out (--skip-bad): "
                               + "; ".join(f.name for f in skipped[:5]))
    for f in reports:
        if not f.skipped and f.lines_parsed == 0:
            report.warnings.append(f"{f.name}: none of its {f.lines_total:,} lines could be read as {f.format} "
                                   "(see its rejected lines; --format names the format)")
    if report.lines_rejected > report.lines_total // 2:
        report.warnings.append(
            f"{report.lines_rejected} of {report.lines_total} lines were rejected; check that this is an access log"
        )


def _ingest_table(src: Source, fmt: str, name: str, interval, start, tz):
    step = pd.Timedelta(interval) if interval is not None else None
    zone = parse_offset(tz)
    first = pd.Timestamp(start) if start is not None else None
    if first is not None and first.tz is None:
        first = first.tz_localize(zone or "UTC")
    data = src.read_all()
    reader = read_csv if fmt == "csv" else read_txt
    frame, step, notes, rows = reader(data, interval=step, start=first, tz=zone)
    report = IngestReport(source=name, format=fmt, compression=src.compression, bytes_read=src.bytes_read)
    report.assumptions.extend(notes)
    report.lines_total = rows
    report.lines_parsed = rows
    report.files = [FileReport(name=name, digest=src.digest, format=fmt, compression=src.compression,
                               bytes_read=src.bytes_read, lines_total=rows, lines_parsed=rows)]
    files = [{"name": name, "digest": src.digest, "format": fmt}]
    return TrafficSeries(frame=frame, interval=step), report, files


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
    report.utc_offset = offset_str(minutes)
    if np.isnan(series.requests).all():
        raise InputError("the input holds no load values (every cell is empty)")
