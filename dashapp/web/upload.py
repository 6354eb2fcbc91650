"""Streaming uploads: ``POST /upload`` to disk, ingest in the background, ``GET /upload/<id>`` for progress.

- The body (raw, or one file in ``multipart/form-data``) is streamed to
  ``<data_dir>/.uploads/<upload id>.part`` in 1 MiB blocks: never held in memory,
  never base64. The client's file name is only a display name (sanitized);
  paths are built from the generated id only.
- The size limit (``settings.max_upload_mb``) is enforced before reading: a
  ``Content-Length`` over it is refused at once, and a counting loop stops a
  chunked body at the limit. Ingest enforces the same limit on the
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
from dashapp.runtime.auth import request_problem
from dashapp.runtime.backends import start_ingest
from dashapp.runtime.ingest_jobs import DISK_FULL, HOST, disk_full_message, jobs_table
from dashapp.web.errors import json_error, unmatched_route

__all__ = ["init_upload", "sanitize_name"]

log = logging.getLogger(__name__)
bp = Blueprint("upload", __name__)

BLOCK = 1024 * 1024
ID_RE = re.compile(r"^[0-9a-f]{24}$")
MAX_NAME = 300


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


def _too_large(limit: int, got: int | None = None):
    size = f" ({got:,} bytes)" if got else ""
    resp = _error(413, f"the upload{size} exceeds the limit of {limit / 1024 / 1024:g} MB; compress it with gzip, "
                       "split it, or raise TRAFFIC_MAX_UPLOAD_MB")
    resp.headers["Connection"] = "close"
    return resp


class _TooLarge(Exception):
    pass


class _CountingFile(io.RawIOBase):
    """Writes to the .part file, hashing and counting, refusing bytes past the limit."""

    def __init__(self, path: Path, limit: int) -> None:
        self.f = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.limit = limit
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
            raise _TooLarge()
        self.sha.update(b)
        return self.f.write(b)

    def close(self) -> None:
        if not self.f.closed:
            self.f.close()
        super().close()


def _receive(part: Path, limit: int) -> tuple[int, str, str | None]:
    """Stream the request body into ``part``: ``(bytes, sha256, multipart file name or None)``.

    Raises:
        _TooLarge: past ``limit`` (the rest of the body is never read).
        InputError: a multipart body without a file.
    """
    sink = _CountingFile(part, limit)
    try:
        if request.mimetype == "multipart/form-data":
            from werkzeug.formparser import FormDataParser

            name_seen: list[str] = []

            def factory(total_content_length, content_type, filename, content_length=None):
                if name_seen:
                    raise InputError("send one file per upload")
                name_seen.append(filename or "")
                return sink

            parser = FormDataParser(stream_factory=factory, max_form_memory_size=64 * 1024, silent=False,
                                    max_form_parts=20)
            try:
                parser.parse(request.stream, request.mimetype, request.content_length, request.mimetype_params)
            except ValueError as exc:
                raise InputError(f"malformed multipart body ({exc})") from None
            if not name_seen:
                raise InputError("the multipart body holds no file; send it as the field 'file'")
            filename = name_seen[0]
        else:
            stream = request.stream
            while True:
                block = stream.read(BLOCK)
                if not block:
                    break
                sink.write(block)
            filename = None
        return sink.count, sink.sha.hexdigest(), filename
    finally:
        sink.close()


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
    if length is not None and length > limit:
        return _too_large(limit, length)  # refused before a single body byte is read
    if length == 0:
        return _error(400, f"the upload is empty; send a file: {ACCEPTED_FORMATS}")
    upload_id = secrets.token_hex(12)
    folder = Path(settings.data_dir) / ".uploads"
    folder.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(folder).free < (length or 0) + DISK_RESERVE:
        return _disk_full()  # refused before a single body byte is read
    part = folder / f"{upload_id}.part"
    try:
        size, digest, multipart_name = _receive(part, limit)
    except (_TooLarge, RequestEntityTooLarge):  # ours, or werkzeug's MAX_CONTENT_LENGTH stream guard
        part.unlink(missing_ok=True)
        return _too_large(limit)
    except InputError as exc:
        part.unlink(missing_ok=True)
        return _error(400, str(exc))
    except OSError as exc:
        part.unlink(missing_ok=True)
        if exc.errno in DISK_FULL:
            return _disk_full()
        raise
    except BaseException:
        part.unlink(missing_ok=True)  # client went away mid-body, or anything else: no debris
        raise
    if size == 0:
        part.unlink(missing_ok=True)
        return _error(400, f"the upload is empty; send a file: {ACCEPTED_FORMATS}")
    header_name = unquote(request.headers.get("X-File-Name", ""))  # percent-encoded: headers are latin-1
    name = sanitize_name(request.args.get("name") or header_name or multipart_name)
    table = jobs_table(settings)
    now = time.time()
    job = {"upload_id": upload_id, "state": "queued", "name": name, "bytes": size, "progress": 0.0,
           "dataset_id": None, "duplicate": False, "report": None, "dataset": None, "error": None,
           "created": now, "pid": os.getpid(), "host": HOST, "heartbeat": now, "raw_sha256": digest}
    table.put(job)

    start_ingest(settings, upload_id, name, digest, limit)  # a thread here, or a Celery worker (redis backend)
    resp = jsonify(_job_view(job))
    resp.status_code = 202
    resp.headers["Location"] = url_for("upload.status", upload_id=upload_id)
    return resp


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
        (Path(settings.data_dir) / ".uploads" / f"{upload_id}.part").unlink(missing_ok=True)
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
