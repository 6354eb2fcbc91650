"""``ingest``, ``datasets`` and ``delete``: the dataset store from the command line."""

from __future__ import annotations

import os
import sys

from core.cli.common import add_common_args, emit, open_store
from core.errors import InputError

__all__ = ["register"]


def register(subparsers) -> None:
    p = subparsers.add_parser("ingest", help="ingest a log, CSV or TXT file into the dataset store")
    p.add_argument("path", help="file to ingest (.log, .csv, .txt; optionally .gz or .bz2)")
    p.add_argument("--name", default=None, help="display name (default: the file name)")
    p.add_argument("--interval", default=None, help="period of a series without timestamps, e.g. 5min (default 5min)")
    p.add_argument("--start", default=None, help="first timestamp of a series without timestamps")
    p.add_argument("--tz", default=None, help="UTC offset of CSV timestamps that carry none, e.g. -04:00")
    p.add_argument("--max-mb", type=float, default=None, help="uncompressed size limit in MB (default 500)")
    add_common_args(p)
    p.set_defaults(handler=_ingest)

    p = subparsers.add_parser("datasets", help="list the datasets in the store")
    add_common_args(p)
    p.set_defaults(handler=_datasets)

    p = subparsers.add_parser("delete", help="delete a dataset from the store")
    p.add_argument("dataset_id")
    add_common_args(p)
    p.set_defaults(handler=_delete)


def _max_bytes(args) -> int | None:
    mb = args.max_mb if args.max_mb is not None else os.environ.get("TRAFFIC_MAX_UPLOAD_MB")
    if mb is None:
        return None
    try:
        value = float(mb)
    except ValueError:
        raise InputError(f"size limit must be a number of MB, got {mb!r}") from None
    if value <= 0:
        raise InputError(f"size limit must be > 0 MB, got {value:g}")
    return int(value * 1024 * 1024)


def _ingest(args) -> int:
    store = open_store(args)
    kwargs = {}
    if (mb := _max_bytes(args)) is not None:
        kwargs["max_bytes"] = mb
    if args.interval:
        kwargs["interval"] = args.interval
    if args.start:
        kwargs["start"] = args.start
    if args.tz:
        kwargs["tz"] = args.tz
    progress = None
    if not args.json and sys.stderr.isatty():

        def progress(done: int, total: int) -> None:
            if total:
                sys.stderr.write(f"\r{done / total:6.1%} of {total / 1e6:.0f} MB")
                sys.stderr.flush()

    info = store.put(args.path, name=args.name, progress=progress, **kwargs)
    if progress is not None:
        sys.stderr.write("\n")
    report = store.report(info.id)
    obj = {
        "dataset_id": info.id,
        "name": info.name,
        "format": report.format,
        "compression": report.compression,
        "lines_total": report.lines_total,
        "lines_parsed": report.lines_parsed,
        "lines_rejected": report.lines_rejected,
        "rejected_examples": [r.__dict__ for r in report.rejected_examples],
        "nonstandard_requests": report.nonstandard_requests,
        "requests_total": report.requests_total,
        "unique_hosts_total": report.unique_hosts_total,
        "start": report.start,
        "end": report.end,
        "interval_seconds": report.interval_seconds,
        "utc_offset": report.utc_offset,
        "periods": report.periods,
        "gaps": [{"start": g["start"], "end": g["end"], "kind": g["kind"]} for g in report.gaps],
        "assumptions": report.assumptions,
        "warnings": report.warnings,
        "seconds": report.seconds,
    }
    lines = [
        f"dataset {info.id}  ({info.name})",
        f"format {report.format} ({report.compression}), {report.lines_parsed:,} of {report.lines_total:,} "
        f"lines parsed, {report.lines_rejected:,} rejected",
        f"{report.requests_total:,.0f} requests, {report.start} .. {report.end}, every {report.interval_seconds}s",
    ]
    for r in report.rejected_examples:
        lines.append(f"  rejected line {r.line}: {r.reason}: {r.text[:100]!r}")
    for g in report.gaps:
        lines.append(f"  gap {g['start']} .. {g['end']} ({g['kind']}, {g['minutes']} min)")
    lines += [f"  note: {a}" for a in report.assumptions + report.warnings]
    emit(args, obj, "\n".join(lines))
    return 0


def _datasets(args) -> int:
    store = open_store(args)
    store.default_id()  # make sure the built-in dataset is listed
    items = store.list()
    obj = {"datasets": [d.to_dict() for d in items]}
    rows = [f"{d.id:28s} {d.format:9s} {d.start[:16]} .. {d.end[:16]} {d.interval_seconds:>5d}s  "
            f"{'synthetic ' if d.synthetic else ''}{d.name}" for d in items]
    emit(args, obj, "\n".join(rows) or "(no datasets)")
    return 0


def _delete(args) -> int:
    store = open_store(args)
    store.delete(args.dataset_id)
    emit(args, {"deleted": args.dataset_id}, f"deleted {args.dataset_id}")
    return 0
