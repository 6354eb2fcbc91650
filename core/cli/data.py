"""``ingest``, ``append``, ``datasets`` and ``delete``: the dataset store from the command line."""

from __future__ import annotations

import os
import sys

from core.cli.common import add_common_args, emit, open_store
from core.errors import InputError
from core.ingest import NothingToAppend
from core.registry import INGEST_FORMATS

__all__ = ["register"]


def _add_input_args(p) -> None:
    """How files are read: the same for ``ingest`` and ``append``."""
    p.add_argument("--format", choices=INGEST_FORMATS, default=None,
                   help="read every file as this format instead of detecting it")
    p.add_argument("--json-fields", default=None, metavar="FIELD=KEY,...",
                   help="JSON lines keys, e.g. time=ts,status=code,bytes=size,host=request.remote_ip")
    p.add_argument("--skip-bad", action="store_true",
                   help="leave out files in no known format (listed in the report) instead of failing")
    p.add_argument("--max-mb", type=float, default=None, help="uncompressed size limit per file in MB (default 500)")


def register(subparsers) -> None:
    p = subparsers.add_parser("ingest", help="ingest logs (files, folders, patterns) or a CSV/TXT series")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="log files, folders or quoted patterns like 'logs/*.gz' (any order; compressed or not), "
                        "or one CSV/TXT file")
    p.add_argument("--name", default=None, help="display name (default: the file names)")
    p.add_argument("--interval", default=None, help="period of a series without timestamps, e.g. 5min (default 5min)")
    p.add_argument("--start", default=None, help="first timestamp of a series without timestamps")
    p.add_argument("--tz", default=None, help="UTC offset of CSV timestamps that carry none, e.g. -04:00")
    _add_input_args(p)
    add_common_args(p)
    p.set_defaults(handler=_ingest)

    p = subparsers.add_parser("append", help="a new dataset: a stored log dataset plus more log files")
    p.add_argument("dataset_id", help="the log dataset to extend (it stays as it is)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="log files, folders or quoted patterns")
    p.add_argument("--name", default=None, help="display name (default: the old name + N files)")
    _add_input_args(p)
    add_common_args(p)
    p.set_defaults(handler=_append)

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


def _read_args(args) -> dict:
    kwargs = {}
    if (mb := _max_bytes(args)) is not None:
        kwargs["max_bytes"] = mb
    for key in ("interval", "start", "tz", "format", "json_fields"):
        if getattr(args, key, None):
            kwargs[key] = getattr(args, key)
    if args.skip_bad:
        kwargs["skip_bad"] = True
    return kwargs


def _progress(args):
    if args.json or not sys.stderr.isatty():
        return None

    def progress(done: int, total: int) -> None:
        if total:
            sys.stderr.write(f"\r{done / total:6.1%} of {total / 1e6:.0f} MB")
            sys.stderr.flush()

    return progress


def _ingest(args) -> int:
    store = open_store(args)
    progress = _progress(args)
    info = store.put(args.paths, name=args.name, progress=progress, **_read_args(args))
    if progress is not None:
        sys.stderr.write("\n")
    _print_report(args, store, info)
    return 0


def _append(args) -> int:
    store = open_store(args)
    progress = _progress(args)
    try:
        info = store.append(args.dataset_id, args.paths, name=args.name, progress=progress, **_read_args(args))
    except NothingToAppend as exc:
        skipped = [{"name": f.name, "skipped": f.skipped} for f in exc.files]
        emit(args, {"dataset_id": args.dataset_id, "appended": 0, "skipped": skipped},
             f"dataset {args.dataset_id} unchanged: {exc}")
        return 0
    finally:
        if progress is not None:
            sys.stderr.write("\n")
    _print_report(args, store, info, appended_to=args.dataset_id)
    return 0


def _print_report(args, store, info, appended_to: str | None = None) -> None:
    report = store.report(info.id)
    files = [f.to_dict() for f in report.files]
    obj = {
        "dataset_id": info.id,
        "name": info.name,
        "format": report.format,
        "compression": report.compression,
        "lines_total": report.lines_total,
        "lines_parsed": report.lines_parsed,
        "lines_rejected": report.lines_rejected,
        "lines_skipped": report.lines_skipped,
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
        "files": files,
        "duplicates": report.duplicates,
        "assumptions": report.assumptions,
        "warnings": report.warnings,
        "seconds": report.seconds,
    }
    if appended_to is not None:
        obj["appended_to"] = appended_to
    lines = [
        f"dataset {info.id}  ({info.name})" + (f", from {appended_to} (unchanged)" if appended_to else ""),
        f"format {report.format} ({report.compression}), {report.lines_parsed:,} of {report.lines_total:,} "
        f"lines parsed, {report.lines_rejected:,} rejected"
        + (f", {report.lines_skipped:,} directives skipped" if report.lines_skipped else ""),
        f"{report.requests_total:,.0f} requests, {report.start} .. {report.end}, every {report.interval_seconds}s",
    ]
    if len(report.files) > 1:
        for f in report.files:
            if f.skipped and not f.format:
                lines.append(f"  file {f.name}: left out: {f.skipped}")
                continue
            what = f"{f.format} ({f.compression}), {f.start[:16]} .. {f.end[:16]}, {f.lines_parsed:,} parsed, " \
                   f"{f.lines_rejected:,} rejected"
            lines.append(f"  file {f.name}: {what}" + (f"; not counted: {f.skipped}" if f.skipped else ""))
    for r in report.rejected_examples:
        where = f"{r.file} " if r.file and len(report.files) > 1 else ""
        lines.append(f"  rejected {where}line {r.line}: {r.reason}: {r.text[:100]!r}")
    for g in report.gaps:
        lines.append(f"  gap {g['start']} .. {g['end']} ({g['kind']}, {g['minutes']} min)")
    lines += [f"  note: {a}" for a in report.assumptions + report.warnings]
    emit(args, obj, "\n".join(lines))


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
