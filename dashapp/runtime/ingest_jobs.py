"""Ingesting uploads in the background, and the job table that tracks them across workers and hosts.

The upload route (``dashapp.web.upload``) receives the body into ``<data_dir>/.uploads/<id>.part`` (and
``<id>.<k>.part`` for the other files of a multi-file upload: ``part_path``) and hands it over here (a thread
of the receiving worker, or a Celery worker with ``TRAFFIC_BACKEND=redis``:
``dashapp.runtime.backends.start_ingest``). The job table (diskcache under ``cache_dir/uploads``, or
Redis) holds state, progress, the ingest report and the dataset id. A job whose process died (pid gone,
or no heartbeat for ``STALE_S``) reads as failed; the store writes datasets atomically, so nothing
half-written is ever listed. The files of one upload make one dataset; with ``append_to`` in the job, a new
dataset of that one plus the files (``DatasetStore.append``).
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import socket
import threading
import time
from pathlib import Path

import diskcache

from core.errors import InputError
from core.ingest import NothingToAppend
from core.store import DatasetStore
from dashapp.runtime.periodic import repeating

__all__ = ["DISK_FULL", "HEARTBEAT_S", "HOST", "JobTable", "STALE_S", "disk_full_message", "ingest_job", "jobs_table",
           "part_path", "parts_digest"]

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0
STALE_S = 30.0
JOB_TTL_S = 7 * 86400
#: errnos of a full disk or an exhausted quota.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
HOST = socket.gethostname()
_tables: dict[tuple[int, str], JobTable] = {}  # one handle per process and folder (opening one costs ms)
_tables_lock = threading.Lock()


def disk_full_message(what: str = "the upload") -> str:
    return (f"the server's data disk is full: {what} was not stored and nothing existing was changed; "
            "ask the operator to free space (or raise the quota) and upload again")


def part_path(folder: Path, upload_id: str, k: int) -> Path:
    """Where file ``k`` of an upload is received: ``<id>.part`` for the first (the only one, usually)."""
    return folder / (f"{upload_id}.part" if k == 0 else f"{upload_id}.{k}.part")


def parts_digest(digests: list[str], append_to: str | None = None) -> str:
    """The key of identical uploads: one file's SHA-256, else one over the set of files (and the dataset added to)."""
    if len(digests) == 1 and append_to is None:
        return digests[0]
    blob = "\n".join(sorted(set(digests))) + f"\nappend:{append_to or ''}"
    return hashlib.sha256(blob.encode()).hexdigest()


class JobTable:
    """Upload jobs on disk, shared by every worker (diskcache is process-safe)."""

    def __init__(self, root: Path) -> None:
        self.cache = diskcache.Cache(str(root))

    def get(self, upload_id: str) -> dict | None:
        return self.cache.get(f"job:{upload_id}")

    def put(self, job: dict) -> None:
        job["updated"] = time.time()
        self.cache.set(f"job:{job['upload_id']}", job, expire=JOB_TTL_S)

    def update(self, upload_id: str, **changes) -> dict:
        with self.cache.transact():
            job = self.get(upload_id) or {"upload_id": upload_id}
            job.update(changes)
            self.put(job)
        return job

    def alive(self, job: dict) -> bool:
        """Whether the process running a job still runs it (pid on this host, else a fresh heartbeat)."""
        if time.time() - job.get("heartbeat", 0) > STALE_S:
            return False
        if job.get("host") == HOST and job.get("pid"):
            try:
                os.kill(job["pid"], 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                pass
        return True


def _make_table(settings) -> JobTable:
    """Diskcache under ``cache_dir``, or Redis: with several app hosts an upload is ingested by the host that
    received it, and its status must be readable from every host (the browser's polls may reach any)."""
    if settings.backend != "redis":
        return JobTable(settings.cache_dir / "uploads")
    from dashapp.runtime.redis_kv import PREFIX, RedisKV

    class RedisJobTable(JobTable):
        def __init__(self, url: str) -> None:  # the table's methods only use ``self.cache``
            self.cache = RedisKV(url, f"{PREFIX}upload:")

    return RedisJobTable(settings.redis_url)


def jobs_table(settings) -> JobTable:
    """The upload job table of ``settings`` (one handle per process)."""
    key = (os.getpid(), str(settings.cache_dir))
    with _tables_lock:
        if key not in _tables:
            _tables[key] = _make_table(settings)
        return _tables[key]


class _Tracked(io.RawIOBase):
    """The stored upload as ingest reads it: named for messages, counting raw bytes for progress."""

    def __init__(self, path: Path, name: str) -> None:
        self.f = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.name = name
        self.size = path.stat().st_size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        return self.f.readinto(b)

    def seek(self, pos: int, whence: int = 0) -> int:
        return self.f.seek(pos, whence)

    def tell(self) -> int:
        return self.f.tell()

    def close(self) -> None:
        if not self.f.closed:
            self.f.close()
        super().close()


def ingest_job(settings, upload_id: str, part: Path, name: str, digest: str, limit: int) -> None:
    """Ingest upload ``upload_id`` (its files from ``part``'s folder; the job record lists them) into the store."""
    table = jobs_table(settings)
    store = DatasetStore(settings.data_dir)
    job = table.get(upload_id) or {}
    files = job.get("files") or [{"name": name}]
    parts = [(part_path(part.parent, upload_id, k) if k else part, f.get("name") or name)
             for k, f in enumerate(files)]

    def beat() -> None:
        try:
            table.update(upload_id, heartbeat=time.time())
        except Exception:  # noqa: BLE001 - a missed beat is harmless; the next one retries
            log.warning("upload %s: heartbeat failed", upload_id, exc_info=True)

    with repeating(HEARTBEAT_S, beat, name=f"beat-{upload_id}"):
        _ingest(table, store, upload_id, parts, name, digest, limit, job.get("append_to"))


def _ingest(table: JobTable, store: DatasetStore, upload_id: str, parts: list[tuple[Path, str]], name: str,
            digest: str, limit: int, append_to: str | None = None) -> None:
    """Ingest the uploaded files into the store as one dataset (once per content), or append them to
    ``append_to``, recording the job's state as it goes."""
    lock = f"lock:raw:{digest}"
    have_lock = False
    srcs: list[_Tracked] = []
    try:
        table.update(upload_id, state="running", heartbeat=time.time())
        # Identical bytes uploaded at the same time ingest once: the others wait for its dataset.
        while True:
            known = table.cache.get(f"raw:{digest}")
            if known and store.exists(known):
                _drop(parts)
                _finish(table, store, upload_id, known, duplicate=True)
                return
            if table.cache.add(lock, upload_id, expire=STALE_S * 4):
                have_lock = True
                break
            time.sleep(0.2)
            table.update(upload_id, heartbeat=time.time())
        srcs = [_Tracked(path, shown) for path, shown in parts]
        total = max(sum(s.size for s in srcs), 1)
        last = [0.0]

        def progress(_done, _total):
            now = time.monotonic()
            if now - last[0] >= 0.25:
                last[0] = now
                table.cache.touch(lock, expire=STALE_S * 4)
                # Closed files were read to the end; the open ones as far as their position.
                done = sum(s.size if s.closed else s.tell() for s in srcs)
                table.update(upload_id, progress=round(min(done / total, 0.99), 4), heartbeat=time.time())

        before = set(os.listdir(store.root))  # the same content stored earlier (maybe compressed differently)
        source = srcs[0] if len(srcs) == 1 else srcs
        try:
            if append_to is not None:
                info = store.append(append_to, source, max_bytes=limit, progress=progress)
            else:
                info = store.put(source, name=name if len(srcs) == 1 else None, max_bytes=limit, progress=progress)
        except NothingToAppend as exc:
            # Not a failure: every file is part of the dataset already; it stays the answer.
            _drop(parts, srcs)
            _finish(table, store, upload_id, append_to, duplicate=True,
                    note=f"{exc}; dataset {append_to} is unchanged and no new dataset was made")
            return
        finally:
            for s in srcs:
                s.close()
        table.cache.set(f"raw:{digest}", info.id, expire=JOB_TTL_S)
        _drop(parts, srcs)  # before "done": a client that sees it done finds nothing of the upload left
        _finish(table, store, upload_id, info.id, duplicate=info.id in before)
    except InputError as exc:
        _drop(parts, srcs)
        table.update(upload_id, state="failed", error=_web_message(str(exc)), progress=1.0)
    except Exception as exc:  # noqa: BLE001 - a job must end visibly failed, whatever broke
        _drop(parts, srcs)
        if isinstance(exc, OSError) and exc.errno in DISK_FULL:
            log.warning("upload %s: the data disk is full", upload_id)
            error = disk_full_message("the dataset")
        else:
            log.exception("upload %s: ingest failed", upload_id)
            error = f"internal error while ingesting ({type(exc).__name__}); the server log has details"
        table.update(upload_id, state="failed", progress=1.0, error=error)
    finally:
        if have_lock and table.cache.get(lock) == upload_id:
            table.cache.delete(lock)
        _drop(parts, srcs)


def _drop(parts, srcs=()) -> None:
    """Close the received files and delete them (again: harmless)."""
    for s in srcs:
        s.close()
    for path, _ in parts:
        path.unlink(missing_ok=True)


def _web_message(message: str) -> str:
    """An ingest error as the upload shows it: the fix an uploader has, not the CLI's."""
    for cli, web in (("remove it or pass --skip-bad to ingest the other files", "upload the other files without it"),
                     ("`python -m core datasets` lists them", "it was deleted meanwhile; the Data page lists them")):
        message = message.replace(cli, web)
    return message


def _finish(table: JobTable, store: DatasetStore, upload_id: str, dataset_id: str, duplicate: bool,
            note: str | None = None) -> None:
    info = store.info(dataset_id)
    report = store.report(dataset_id).to_dict()
    table.update(upload_id, state="done", progress=1.0, dataset_id=dataset_id, duplicate=duplicate,
                 dataset=info.to_dict(), report=report, note=note)
