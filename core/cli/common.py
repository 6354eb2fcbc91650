"""Arguments and helpers shared by every subcommand."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from core.jsonable import to_jsonable

__all__ = ["add_common_args", "add_data_args", "emit", "open_store", "load_series", "progress_line", "to_jsonable"]


def add_common_args(p: argparse.ArgumentParser) -> None:
    """``--data-dir`` and ``--json``, which every subcommand takes."""
    p.add_argument(
        "--data-dir",
        default=None,
        help="dataset store folder (default: $TRAFFIC_DATA_DIR or ./data)",
    )
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")


def add_data_args(p: argparse.ArgumentParser) -> None:
    """The dataset selection every analysis subcommand takes."""
    add_common_args(p)
    p.add_argument(
        "--data",
        default="default",
        help="dataset id, or a file path (ingested into the store first); default: the built-in dataset",
    )
    p.add_argument("--start", default=None, help="first period to use, e.g. '1995-08-23'")
    p.add_argument("--end", default=None, help="end of the window (exclusive), e.g. '1995-09-01'")
    p.add_argument("--granularity", default="5min", help="period length: 1min, 5min, 15min, 1h … (default 5min)")


def open_store(args):
    from core.store import DatasetStore

    root = args.data_dir or os.environ.get("TRAFFIC_DATA_DIR") or "data"
    return DatasetStore(Path(root))


def load_series(args):
    """The series named by ``--data`` (id or path), windowed and resampled."""
    store = open_store(args)
    series = store.resolve(args.data)
    if args.start or args.end:
        series = series.window(args.start, args.end)
    return series.resample(args.granularity)


def progress_line(args, what: str):
    """``progress(done, total)`` writing ``\r<what> done/total`` to a terminal's stderr (nothing with ``--json``)."""

    def progress(done, total):
        if not getattr(args, "json", False) and sys.stderr.isatty():
            sys.stderr.write(f"\r{what} {done}/{total}")

    return progress


def emit(args, obj: dict, text: str) -> None:
    """Print ``obj`` as one JSON object with ``--json``, else the human ``text``."""
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(to_jsonable(obj), allow_nan=False) + "\n")
    else:
        sys.stdout.write(text.rstrip("\n") + "\n")
