"""Streaming uploads: ``POST /upload`` to disk, ingest in the background, ``GET /upload/<id>`` for progress.

- The body (raw: one file; or ``multipart/form-data``: one file or up to ``MAX_FILES``) is streamed to
  ``<data_dir>/.uploads/<upload id>.part`` (the first file) and ``<upload id>.<k>.part`` (the others) in
  1 MiB blocks: never held in memory, never base64. The client's file names are only display names
  (sanitized); paths are built from the generated id only. Several files make ONE dataset (one job, one
  ingest; a report line per file).
- ``POST /upload?append=<dataset id>`` adds the files to a stored log dataset: a new dataset (old + new
  files, ``DatasetStore.append``); the old one stays. The id is checked before the body is read.
- The size limit (``settings.max_upload_mb``) holds per file and is enforced before reading: a
  ``Content-Length`` over it (over ``MAX_FILES`` times it for a multipart body) is refused at once, and a
  counting loop stops a file at the limit, naming it. Ingest enforces the same limit on the
  decompressed content (gzip bombs stop there).
- Ingest runs in a thread of the worker that received the upload; the job
  table (diskcache under ``settings.cache_dir/uploads``, shared by every
  worker) holds state, progress, the ingest report and the dataset id. A job
  whose worker died (pid gone, or no heartbeat for 30 s) reads as failed; the
  store writes datasets atomically, so nothing half-written is ever listed.
- The same bytes twice give one dataset: identical uploads are recognized by
  the SHA-256 of the raw bytes (a lock makes simultaneous ones ingest once), and
  ``DatasetStore.put`` dedups by the hash of the decompressed content.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import secrets
import shutil
import time
import unicodedata
from pathlib import Path
from urllib.parse import unquote

from flask import Blueprint, Flask, current_app, jsonify, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from core.errors import InputError
from core.ingest import ACCEPTED_FORMATS
from core.store import DatasetStore, validate_id
from dashapp.runtime.auth import request_problem
from dashapp.runtime.backends import start_ingest
from dashapp.runtime.ingest_jobs import DISK_FULL, HOST, disk_full_message, jobs_table, part_path, parts_digest
from dashapp.web.errors import json_error, unmatched_route

__all__ = ["MAX_FILES", "init_upload", "sanitize_name"]

log = logging.getLogger(__name__)
bp = Blueprint("upload", __name__)

BLOCK = 1024 * 1024
ID_RE = re.compile(r"^[0-9a-f]{24}$")
MAX_NAME = 300
#: Files in one upload (one multipart body).
MAX_FILES = 20


def sanitize_name(name: str | None) -> str:
    """A display name from a client's file name: no directories, no control characters, at most 300 characters.

    Never used to build a path (uploads are stored under generated ids).
    """
    text = unicodedata.normalize("NFC", str(name or ""))
    text = text.replace("\\", "/").split("/")[-1]  # both separators: Windows clients send C:\\dir\\file
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C")  # NUL, controls, bidi overrides
    text = text.strip().lstrip(".").strip()
    if len(text) > MAX_NAME:
        stem, dot, ext = text.rpartition(".")
        keep = ext if dot and len(ext) <= 10 else ""
        text = text[: MAX_NAME - len(keep) - (1 if keep else 0)] + (f".{keep}" if keep else "")
    return text or "upload"


def _error(status: int, message: str):
    return json_error(status, message)


def _limit(settings) -> int:
    return int(settings.max_upload_mb * 1024 * 1024)


#: Free space an upload must leave on the data disk (the dataset and caches written after it need room too).
DISK_RESERVE = 16 * 1024 * 1024
def _disk_full():
    resp = _error(507, disk_full_message())
    resp.headers["Connection"] = "close"  # the rest of the body is never read
    return resp


def _too_large(limit: int, got: int | None = None, name: str | None = None):
    size = f" ({got:,} bytes)" if got else ""
    what = f"{name}{size} exceeds the limit of {limit / 1024 / 1024:g} MB per file" if name else \
        f"the upload{size} exceeds the limit of {limit / 1024 / 1024:g} MB"
    resp = _error(413, f"{what}; compress it with gzip, split it, or raise TRAFFIC_MAX_UPLOAD_MB; nothing was "
                       "stored")
    resp.headers["Connection"] = "close"
    return resp


class _TooLarge(Exception):
    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self.name = name


class _CountingFile(io.RawIOBase):
    """Writes to the .part file, hashing and counting, refusing bytes past the limit."""

    def __init__(self, path: Path, limit: int, name: str | None = None) -> None:
        self.f = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.limit = limit
        self.name = name  # the client's file name of a multipart part (for the over-limit message)
        self.count = 0
        self.sha = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:  # werkzeug rewinds a finished file part
        return self.f.seek(pos, whence)

    def write(self, b) -> int:
        n = len(b)
        self.count += n
        if self.count > self.limit:
            raise _TooLarge(self.name)
        self.sha.update(b)
        return self.f.write(b)

    def close(self) -> None:
        if not self.f.closed:
            self.f.close()
        super().close()


def _receive(folder: Path, upload_id: str, limit: int) -> list[dict]:
    """Stream the request body into the upload's part files: ``[{"name", "bytes", "sha256"}]``, one per file.

    A raw body is one file (its name None here: the query or a header names it); a multipart body holds
    one file per file field (up to ``MAX_FILES``), each written to ``part_path(folder, upload_id, k)``.

    Raises:
        _TooLarge: a file past ``limit`` (the rest of the body is never read).
        InputError: a multipart body without a file, or with too many.
    """
    sinks: list[_CountingFile] = []
    try:
        if request.mimetype == "multipart/form-data":
            from werkzeug.formparser import FormDataParser

            def factory(total_content_length, content_type, filename, content_length=None):
                if len(sinks) >= MAX_FILES:
                    raise InputError(f"at most {MAX_FILES} files per upload; upload the others with \"Add files\" "
                                     "once this dataset is stored")
                sinks.append(_CountingFile(part_path(folder, upload_id, len(sinks)), limit,
                                           sanitize_name(filename) if filename else None))
                return sinks[-1]

            # The decoder's buffer holds one 64 KiB read plus what is left of the previous one (the next part's
            # headers and first bytes): its memory limit must exceed a read, or a second file is refused.
            parser = FormDataParser(stream_factory=factory, max_form_memory_size=BLOCK, silent=False,
                                    max_form_parts=2 * MAX_FILES + 10)
            try:
                parser.parse(request.stream, request.mimetype, request.content_length, request.mimetype_params)
            except ValueError as exc:
                raise InputError(f"malformed multipart body ({exc})") from None
            if not sinks:
                raise InputError("the multipart body holds no file; send it as the field 'file'")
        else:
            sinks.append(_CountingFile(part_path(folder, upload_id, 0), limit))
            stream = request.stream
            while True:
                block = stream.read(BLOCK)
                if not block:
                    break
                sinks[0].write(block)
        return [{"name": s.name, "bytes": s.count, "sha256": s.sha.hexdigest()} for s in sinks]
    finally:
        for sink in sinks:
            sink.close()


def _remove_parts(folder: Path, upload_id: str) -> None:
    for p in folder.glob(f"{upload_id}*.part"):  # ids are hex: no other upload's file matches
        p.unlink(missing_ok=True)


def _append_target(dataset_id: str, settings):
    """The log dataset ``?append=`` names, or an error response (checked before the body is read)."""
    try:
        validate_id(dataset_id)
    except InputError as exc:
        return _error(400, str(exc))
    store = DatasetStore(settings.data_dir)
    if not store.exists(dataset_id):
        return _error(404, f"unknown dataset id {dataset_id!r}: it may have been deleted; nothing was stored: pick "
                           "a dataset on the Data page (or GET /api/datasets) and add the files to it")
    info = store.info(dataset_id)
    if not info.appendable:
        return _error(400, f"dataset {dataset_id} ({info.name}) is a {info.format} series, not access logs: files "
                           "can be added to log datasets only; upload the files as a new dataset instead")
    return None


def _job_view(job: dict) -> dict:
    out = {k: v for k, v in job.items() if k not in ("pid", "host", "heartbeat", "raw_sha256")}
    out["status_url"] = url_for("upload.status", upload_id=job["upload_id"])
    return out


# -- routes --------------------------------------------------------------------------------------


@bp.get("/upload")
def limits():
    settings = current_app.config["TRAFFIC_SETTINGS"]
    limit = _limit(settings)
    return jsonify(max_bytes=limit, max_mb=settings.max_upload_mb, accepted=ACCEPTED_FORMATS,
                   compression=["gzip", "bz2"])


@bp.post("/upload")
def upload():
    denied = request_problem("upload")  # TRAFFIC_UPLOADERS (dashapp/runtime/auth.py); checked before any body byte
    if denied:
        resp = _error(403, denied)
        resp.headers["Connection"] = "close"  # the body is never read
        return resp
    settings = current_app.config["TRAFFIC_SETTINGS"]
    limit = _limit(settings)
    length = request.content_length
    multipart = request.mimetype == "multipart/form-data"
    body_limit = limit * MAX_FILES + BLOCK if multipart else limit  # the limit per file is _receive's
    if length is not None and length > body_limit:
        return _too_large(limit, length)  # refused before a single body byte is read
    request.max_content_length = body_limit  # the app's MAX_CONTENT_LENGTH is one file's
    if length == 0:
        return _error(400, f"the upload is empty; send a file: {ACCEPTED_FORMATS}")
    append_to = request.args.get("append") or None
    if append_to is not None and (refused := _append_target(append_to, settings)) is not None:
        return refused  # before a single body byte is read
    upload_id = secrets.token_hex(12)
    folder = Path(settings.data_dir) / ".uploads"
    folder.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(folder).free < (length or 0) + DISK_RESERVE:
        return _disk_full()  # refused before a single body byte is read
    try:
        parts = _receive(folder, upload_id, limit)
    except (_TooLarge, RequestEntityTooLarge) as exc:  # ours, or werkzeug's MAX_CONTENT_LENGTH stream guard
        _remove_parts(folder, upload_id)
        return _too_large(limit, name=exc.name if isinstance(exc, _TooLarge) else None)
    except InputError as exc:
        _remove_parts(folder, upload_id)
        return _error(400, str(exc))
    except OSError as exc:
        _remove_parts(folder, upload_id)
        if exc.errno in DISK_FULL:
            return _disk_full()
        raise
    except BaseException:
        _remove_parts(folder, upload_id)  # client went away mid-body, or anything else: no debris
        raise
    empty = [p["name"] or "the upload" for p in parts if p["bytes"] == 0]
    if empty:
        _remove_parts(folder, upload_id)
        return _error(400, f"{', '.join(empty)} {'is' if len(empty) == 1 else 'are'} empty; nothing was stored: "
                           f"send files with content: {ACCEPTED_FORMATS}")
    if len(parts) == 1:
        header_name = unquote(request.headers.get("X-File-Name", ""))  # percent-encoded: headers are latin-1
        parts[0]["name"] = sanitize_name(request.args.get("name") or header_name or parts[0]["name"])
    names = [p["name"] or f"file {k + 1}" for k, p in enumerate(parts)]
    name = names[0] if len(names) == 1 else _names(names)
    digest = parts_digest([p["sha256"] for p in parts], append_to)
    table = jobs_table(settings)
    now = time.time()
    job = {"upload_id": upload_id, "state": "queued", "name": name, "bytes": sum(p["bytes"] for p in parts),
           "files": [{"name": n, "bytes": p["bytes"]} for n, p in zip(names, parts, strict=True)],
           "append_to": append_to, "progress": 0.0, "dataset_id": None, "duplicate": False, "report": None,
           "dataset": None, "note": None, "error": None,
           "created": now, "pid": os.getpid(), "host": HOST, "heartbeat": now, "raw_sha256": digest}
    table.put(job)

    start_ingest(settings, upload_id, name, digest, limit)  # a thread here, or a Celery worker (redis backend)
    resp = jsonify(_job_view(job))
    resp.status_code = 202
    resp.headers["Location"] = url_for("upload.status", upload_id=upload_id)
    return resp


def _names(names: list[str]) -> str:
    return ", ".join(names) if len(names) <= 3 else f"{names[0]} and {len(names) - 1} more files"


@bp.get("/upload/<upload_id>")
def status(upload_id: str):
    if not ID_RE.match(upload_id):
        return _error(400, f"invalid upload id {upload_id[:40]!r}: ids are 24 hex digits as returned by POST /upload")
    table = jobs_table(current_app.config["TRAFFIC_SETTINGS"])
    job = table.get(upload_id)
    if job is None:
        return _error(404, f"unknown upload id {upload_id!r} (jobs are kept for 7 days)")
    if job["state"] in ("queued", "running") and not table.alive(job):
        job = table.update(upload_id, state="failed", error="the server process ingesting this upload stopped "
                           "(a restart or a crash); nothing was stored: upload the file again")
        settings = current_app.config["TRAFFIC_SETTINGS"]
        _remove_parts(Path(settings.data_dir) / ".uploads", upload_id)
    return jsonify(_job_view(job))


@bp.route("/upload/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def _unmatched(rest: str):
    return unmatched_route()


# -- the background ingest -------------------------------------------------------------------------


def _sweep(folder: Path, older_than_s: float = 6 * 3600) -> None:
    """Remove .part files left by a crash."""
    now = time.time()
    for p in folder.glob("*.part"):
        try:
            if now - p.stat().st_mtime > older_than_s:
                p.unlink()
        except OSError:
            pass


def init_upload(server: Flask, settings) -> None:
    """Register the upload routes on the Flask ``server``."""
    folder = Path(settings.data_dir) / ".uploads"
    folder.mkdir(parents=True, exist_ok=True)
    _sweep(folder)
    server.register_blueprint(bp)
