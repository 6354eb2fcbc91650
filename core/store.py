"""Datasets on disk: one folder per dataset, written atomically.

Layout of ``<root>/<id>/``: ``series.parquet`` (the 1-minute or native
series), ``hosts.npy`` (distinct host/period pairs, when known),
``host_ids.npy`` (a log's distinct 64-bit host hashes), ``meta.json`` (name,
format, range, interval, offset, gaps, synthetic, and the name, sha256 and
format of every file it was read from) and ``report.json`` (the ingest
report). A dataset is built in a temporary folder inside ``root`` and
renamed into place, so a crash mid-ingest leaves no half-written dataset
(stale temporary folders are swept on open). The id is derived from the
content: the same file twice, or the same set of files in any order, is the
same dataset. Appending files makes a new dataset; the old one is untouched.

``events.json`` holds the dataset's custom events (``events``/``set_events``):
annotations of the dataset, not part of its content, so editing them keeps the
id. Results that use them key on ``events_digest`` as well as the id. The file
is replaced atomically (a unique temporary file, fsync, rename); a change
made from the current list (``update_events``) holds a lock on the dataset's
events, so two users adding at once both get their event. A new dataset made by ``append``
starts with the events of the one it extends.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import InputError
from core.events import Event, events_digest, parse_events, validate_events
from core.ingest import IngestReport, IngestResult, LogBase, ingest
from core.ingest.formats import SERIES_FORMATS
from core.series import Gap, TrafficSeries

__all__ = ["DatasetStore", "DatasetInfo", "DEFAULT_ID", "validate_id"]

ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")
DEFAULT_ID = "default"
_TMP_PREFIX = ".tmp-"
_STALE_SECONDS = 6 * 3600
EVENTS_FILE = "events.json"


def validate_id(dataset_id: str) -> str:
    """Return ``dataset_id`` if it is a well-formed id, else raise InputError."""
    if not isinstance(dataset_id, str) or not ID_RE.match(dataset_id):
        shown = repr(dataset_id)[:40]
        raise InputError(
            f"invalid dataset id {shown}: ids are 3-64 characters of a-z, 0-9 and '-'; "
            "`python -m core datasets` lists them"
        )
    return dataset_id


@dataclass(frozen=True)
class DatasetInfo:
    """Metadata of a stored dataset (what the dataset list shows)."""

    id: str
    name: str
    format: str
    start: str
    end: str
    interval_seconds: int
    utc_offset: str
    periods: int
    requests_total: float
    size_bytes: int
    synthetic: bool
    created: str
    gaps: tuple[dict, ...] = ()
    columns: tuple[str, ...] = ()
    #: (name, sha256 of the decompressed content, format) of each file the dataset was read from.
    files: tuple[dict, ...] = ()

    @property
    def appendable(self) -> bool:
        """Whether files can be appended to it (``DatasetStore.append``): a log dataset, at 1 minute per period."""
        return self.interval_seconds == 60 and not self.synthetic and self.format not in SERIES_FORMATS

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["gaps"] = list(self.gaps)
        d["columns"] = list(self.columns)
        d["files"] = list(self.files)
        return d


class DatasetStore:
    """Datasets under ``root``, addressed by validated ids."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._sweep()

    # -- writing ----------------------------------------------------------
    def put(self, source, *, name: str | None = None, progress=None, **ingest_args) -> DatasetInfo:
        """Ingest ``source`` (path, folder, pattern, stream or list) and store it; returns its info.

        The same content stored twice returns the existing dataset.
        """
        result = ingest(source, name=name, progress=progress, **ingest_args)
        return self._store(result, name or result.report.source)

    def append(self, dataset_id: str, source, *, name: str | None = None, progress=None,
               **ingest_args) -> DatasetInfo:
        """A new dataset: the log dataset ``dataset_id`` plus the files of ``source``.

        The old dataset stays as it is. Files already part of it are skipped (the report says so);
        the new id is the one ingesting all the files at once would give.

        Raises:
            InputError: an unknown id, a series (CSV/TXT) dataset, bad files.
            NothingToAppend: every file given is part of the dataset already.
        """
        path = self._path(dataset_id)
        info = self.info(dataset_id)
        files = list(info.files) or [{"name": info.name, "digest": f"dataset:{dataset_id}", "format": info.format}]
        host_ids = np.load(path / "host_ids.npy", allow_pickle=False) if (path / "host_ids.npy").exists() else None
        base = LogBase(series=self.get(dataset_id), report=self.report(dataset_id), files=files, host_ids=host_ids)
        result = ingest(source, progress=progress, base=base, **ingest_args)
        added = len(result.files) - len(files)
        new = self._store(result, name or f"{info.name} + {added} file{'s' if added != 1 else ''}")
        events = self.events(dataset_id)
        if events and not self.events(new.id):
            self.set_events(new.id, events)  # the annotations carry over to the extended dataset
        return new

    def _store(self, result: IngestResult, name: str) -> DatasetInfo:
        dataset_id = result.digest[:16]
        if (self.root / dataset_id / "meta.json").exists():
            return self.info(dataset_id)
        return self.save(dataset_id, result.series, result.report, name=name, files=result.files,
                         host_ids=result.host_ids)

    def save(
        self, dataset_id: str, series: TrafficSeries, report: IngestReport, *, name: str, synthetic: bool = False,
        files: list[dict] | None = None, host_ids: np.ndarray | None = None,
    ) -> DatasetInfo:
        """Write a dataset atomically (temp folder + rename)."""
        validate_id(dataset_id)
        final = self.root / dataset_id
        tmp = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=self.root))
        try:
            series.frame.to_parquet(tmp / "series.parquet")
            if series.host_pairs is not None:
                np.save(tmp / "hosts.npy", series.host_pairs, allow_pickle=False)
            if host_ids is not None:
                np.save(tmp / "host_ids.npy", np.asarray(host_ids, dtype=np.uint64), allow_pickle=False)
            report.synthetic = synthetic
            write_json(tmp / "report.json", report.to_dict())
            info = DatasetInfo(
                id=dataset_id,
                name=name,
                format=report.format,
                start=report.start,
                end=report.end,
                interval_seconds=report.interval_seconds,
                utc_offset=report.utc_offset,
                periods=report.periods,
                requests_total=report.requests_total,
                size_bytes=report.bytes_read,
                synthetic=synthetic,
                created=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
                gaps=tuple(g.to_dict() for g in series.gaps),
                columns=tuple(series.frame.columns),
                files=tuple(files or ()),
            )
            write_json(tmp / "meta.json", info.to_dict())
            try:
                os.rename(tmp, final)
            except OSError:
                # Someone stored the same content meanwhile: theirs is identical.
                if (final / "meta.json").exists():
                    shutil.rmtree(tmp, ignore_errors=True)
                    return self.info(dataset_id)
                raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return info

    def set_events(self, dataset_id: str, events) -> tuple[Event, ...]:
        """Replace the dataset's custom events (the built-in calendar is not stored: it always applies).

        Args:
            dataset_id: a stored dataset, or ``"default"``.
            events: :class:`~core.events.Event` objects or records (``name``, ``start``, ``end``, ``impact``;
                or ``date`` for one day), checked by :func:`~core.events.validate_events`. Empty clears them.

        Returns:
            The events as stored.

        Raises:
            InputError: an unknown id; ``EventError`` naming the bad event, its field and the fix.
        """
        path = self._path(self._real_id(dataset_id))
        checked = validate_events(events)
        write_json(path / EVENTS_FILE, {"events": [e.to_dict() for e in checked],
                                         "updated": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")})
        return checked

    def update_events(self, dataset_id: str, change) -> tuple[Event, ...]:
        """``set_events(dataset_id, change(current events))`` under an exclusive lock on the dataset's events, so
        concurrent read-change-write edits (add one, remove one) never lose each other's change.

        Raises:
            InputError: as ``set_events``, or raised by ``change``.
        """
        path = self._path(self._real_id(dataset_id))
        with open(path / ".events.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                return self.set_events(dataset_id, change(self.events(dataset_id)))
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def delete(self, dataset_id: str) -> None:
        """Remove a dataset (atomically: renamed away first, then deleted)."""
        path = self._path(dataset_id)
        trash = Path(tempfile.mkdtemp(prefix=_TMP_PREFIX, dir=self.root))
        os.rename(path, trash / "gone")
        shutil.rmtree(trash, ignore_errors=True)

    # -- reading ----------------------------------------------------------
    def _path(self, dataset_id: str) -> Path:
        validate_id(dataset_id)
        path = self.root / dataset_id
        if not (path / "meta.json").exists():
            raise InputError(f"unknown dataset id {dataset_id!r}; `python -m core datasets` lists them")
        return path

    def _real_id(self, dataset_id: str) -> str:
        return self.default_id() if dataset_id == DEFAULT_ID else dataset_id

    def events(self, dataset_id: str) -> tuple[Event, ...]:
        """The dataset's custom events (none stored: empty); ``"default"`` names the default dataset.

        Raises:
            InputError: an unknown id, or an ``events.json`` damaged by hand (the message says how to set them).
        """
        dataset_id = self._real_id(dataset_id)
        path = self._path(dataset_id) / EVENTS_FILE
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            return parse_events(doc["events"])
        except FileNotFoundError:
            return ()
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # JSONDecodeError and InputError included
            raise InputError(f"the events of dataset {dataset_id} ({path}) cannot be read ({exc}); set them again: "
                             f"`python -m core events {dataset_id} --set FILE.json` or the Data page") from None

    def events_digest(self, dataset_id: str) -> str:
        """:func:`~core.events.events_digest` of the dataset's custom events (part of cache keys)."""
        return events_digest(self.events(dataset_id))

    def exists(self, dataset_id: str) -> bool:
        return bool(ID_RE.match(dataset_id or "")) and (self.root / dataset_id / "meta.json").exists()

    def info(self, dataset_id: str) -> DatasetInfo:
        meta = json.loads((self._path(dataset_id) / "meta.json").read_text())
        meta["gaps"] = tuple(meta.get("gaps", ()))
        meta["columns"] = tuple(meta.get("columns", ()))
        meta["files"] = tuple(meta.get("files", ()))
        known = set(DatasetInfo.__dataclass_fields__)
        return DatasetInfo(**{k: v for k, v in meta.items() if k in known})

    def report(self, dataset_id: str) -> IngestReport:
        return IngestReport.from_dict(json.loads((self._path(dataset_id) / "report.json").read_text()))

    def list(self) -> list[DatasetInfo]:
        """All datasets, newest first."""
        out = []
        for p in self.root.iterdir():
            if p.name.startswith(".") or not (p / "meta.json").exists():
                continue
            try:
                out.append(self.info(p.name))
            except (InputError, ValueError, TypeError, OSError):
                continue  # a foreign or damaged folder is not listed
        return sorted(out, key=lambda d: d.created, reverse=True)

    def get(self, dataset_id: str) -> TrafficSeries:
        """Load a stored series."""
        if dataset_id == DEFAULT_ID:
            dataset_id = self.default_id()
        path = self._path(dataset_id)
        info = self.info(dataset_id)
        frame = pd.read_parquet(path / "series.parquet")
        pairs = None
        if (path / "hosts.npy").exists():
            pairs = np.load(path / "hosts.npy", allow_pickle=False)
        gaps = tuple(Gap.from_dict(g) for g in info.gaps)
        return TrafficSeries(frame=frame, interval=pd.Timedelta(seconds=info.interval_seconds), gaps=gaps,
                             host_pairs=pairs)

    def resolve(self, ref: str) -> TrafficSeries:
        """A series from an id, ``"default"``, or a file path (ingested first)."""
        return self.get(self.resolve_id(ref))

    def resolve_id(self, ref: str) -> str:
        if ref in (None, "", DEFAULT_ID):
            return self.default_id()
        if ID_RE.match(ref) and (self.root / ref / "meta.json").exists():
            return ref
        if os.path.sep in ref or Path(ref).exists():
            return self.put(ref).id
        validate_id(ref)
        raise InputError(f"unknown dataset id {ref!r}; `python -m core datasets` lists them")

    # -- the built-in default ----------------------------------------------
    def default_id(self) -> str:
        """Id of the default dataset, creating it on first use.

        The real NASA logs when ``NASA_LOG_DIR`` holds them, else the
        deterministic synthetic NASA-like series.
        """
        from core import demo

        real = demo.real_nasa_logs(os.environ.get("NASA_LOG_DIR"))
        if real:
            marker = self.root / ".default-real.json"
            key = [[str(p), p.stat().st_size, p.stat().st_mtime] for p in real]
            if marker.exists():
                saved = json.loads(marker.read_text())
                if saved.get("key") == key and self.exists(saved.get("id", "")):
                    return saved["id"]
            info = self.put(real, name="NASA KSC access logs, Jul-Aug 1995")
            write_json(marker, {"key": key, "id": info.id})
            return info.id
        if not self.exists(demo.DEMO_ID):
            series, report = demo.demo_dataset()
            self.save(demo.DEMO_ID, series, report, name=demo.DEMO_NAME, synthetic=True)
        return demo.DEMO_ID

    def _sweep(self) -> None:
        """Remove temporary folders left by a crash (older than a few hours)."""
        now = time.time()
        for p in self.root.glob(_TMP_PREFIX + "*"):
            try:
                if now - p.stat().st_mtime > _STALE_SECONDS:
                    shutil.rmtree(p, ignore_errors=True)
            except OSError:
                pass


def write_json(path: Path, obj) -> None:
    """Write ``obj`` to ``path`` atomically: a unique temporary file beside it, flushed, then renamed over it.

    Readers see the old file or the new one, never a part; a failure leaves no temporary file behind.
    """
    text = json.dumps(obj, indent=1, allow_nan=False, default=str)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
