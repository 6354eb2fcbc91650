"""Opening inputs safely: compression by magic bytes, size caps, chunked reads.

Every byte of an input passes through ``Source.chunks`` exactly once: it
enforces the uncompressed size limit (so a gzip bomb stops at the cap, not
when memory runs out) and hashes the decompressed content for the dataset id.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import os
import queue
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from core import prehash
from core.errors import InputError
from core.ingest.apache import looks_like_apache

__all__ = ["Source", "open_sources", "read_in_turn", "DEFAULT_MAX_BYTES", "ACCEPTED_FORMATS"]

DEFAULT_MAX_BYTES = 500 * 1024 * 1024
HEAD_BYTES = 64 * 1024
CHUNK_BYTES = 32 * 1024 * 1024
FIRST_CHUNK_BYTES = 4 * 1024 * 1024
ACCEPTED_FORMATS = (
    "access logs (Apache/nginx Common or Combined, AWS ALB or Classic ELB, CloudFront, W3C/IIS with a "
    "#Fields header, JSON lines), a CSV with a load, request_count or requests column, "
    "or TXT with one number per line (any of them may be gzip- or bz2-compressed)"
)

_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2"}
_KNOWN_BINARY = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (unzip it first)",
    b"\xfd7zXZ": "an xz archive (decompress it first)",
    b"\x28\xb5\x2f\xfd": "a zstd archive (decompress it first)",
    b"\x7fELF": "an executable",
}


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB"


def _last_newline(buf: np.ndarray, total: int) -> int:
    """Index of the last newline in ``buf[:total]``, or -1 (searched backwards in 64 KiB windows)."""
    hi = total
    while hi > 0:
        lo = max(0, hi - 65536)
        hits = np.flatnonzero(buf[lo:hi] == 10)
        if len(hits):
            return lo + int(hits[-1])
        hi = lo
    return -1


class _ContentHash:
    """The sha256 of a source's content, fed in order; for a file hashed ahead (``core.prehash``), that digest.

    ``raw``: the open file of a plain (uncompressed) path, else None. The file is claimed from
    ``core.prehash`` at the first update (so a source opened only to detect the format claims nothing);
    then updates only count the bytes, and :meth:`hexdigest` takes the thread's digest when it covers
    exactly those bytes of the unchanged file, or else hashes the file's first bytes again itself.
    """

    def __init__(self, raw: BinaryIO | None = None, name: str = "input") -> None:
        self._raw = raw
        self._name = name
        self._h = None
        self._ahead: prehash.Ahead | None = None
        self._pos = 0
        self._started = False
        self._hex: str | None = None

    def update(self, data) -> None:
        if not self._started:
            self._started = True
            if self._raw is not None:
                try:
                    self._ahead = prehash.claim(os.fstat(self._raw.fileno()))
                except (OSError, ValueError):
                    self._ahead = None
            if self._ahead is None:
                self._h = hashlib.sha256()
        if self._h is not None:
            self._h.update(data)
        self._pos += len(data) if not isinstance(data, np.ndarray) else data.nbytes

    def hexdigest(self) -> str:
        if self._hex is None:
            if self._ahead is None:
                self._hex = (self._h or hashlib.sha256()).hexdigest()
            else:
                now = self._stat()
                self._hex = (self._ahead.result(self._pos, now) if now is not None else None) or self._rehash()
        return self._hex

    def _stat(self) -> os.stat_result | None:
        """The parsed file's status now: from the open file, else from its path if that still names it."""
        try:
            return os.fstat(self._raw.fileno())
        except (OSError, ValueError):  # closed already
            pass
        try:
            st = os.stat(self._ahead.path)
        except OSError:
            return None
        return st if (st.st_dev, st.st_ino) == self._ahead.identity[:2] else None

    def _rehash(self) -> str:
        """The file changed while it was read (it grew, or was rewritten): hash the bytes parsed, read again
        from the same file (the open one; a file renamed away and replaced meanwhile is still the one read)."""
        h = hashlib.sha256()
        left = self._pos
        try:
            fd = self._raw.fileno()
        except (OSError, ValueError):
            fd = None
        if fd is None or not hasattr(os, "pread"):
            if self._stat() is None:
                raise InputError(f"{self._name} changed while it was being read; ingest it again")
            f = open(self._ahead.path, "rb")  # noqa: SIM115 - closed below
            fd = f.fileno()
        else:
            f = None
        try:
            at = 0
            while left > 0:
                n = min(left, prehash.BLOCK_BYTES)
                block = os.pread(fd, n, at) if hasattr(os, "pread") else os.read(fd, n)
                if not block:
                    break
                h.update(block)
                at += len(block)
                left -= len(block)
        except OSError:
            left = -1
        finally:
            if f is not None:
                f.close()
        if left != 0:
            raise InputError(f"{self._name} changed while it was being read (it is shorter now); ingest it again")
        return h.hexdigest()


class _Ring:
    """Rotating read buffers, shared by the inputs read one after another (allocated once per ingest)."""

    def __init__(self, chunk_bytes: int, nbuf: int) -> None:
        self.chunk_bytes = chunk_bytes
        # np.empty, not bytearray: zero-filling 3 x 32 MB up front cost ~70 ms before the first parse.
        self.buffers = [np.empty(chunk_bytes + 1, dtype=np.uint8) for _ in range(nbuf)]
        self.turn = 0

    def next(self) -> np.ndarray:
        buf = self.buffers[self.turn % len(self.buffers)]
        self.turn += 1
        return buf


@dataclass
class Source:
    """One input stream with its decompression and accounting."""

    name: str
    raw: BinaryIO
    compression: str
    max_bytes: int
    raw_size: int | None = None
    bytes_read: int = 0
    _hash: _ContentHash = field(default_factory=_ContentHash, repr=False)
    _stream: BinaryIO | None = field(default=None, repr=False)
    _head: bytes = b""

    def open(self) -> Source:
        if self.compression == "gzip":
            self._stream = gzip.GzipFile(fileobj=self.raw, mode="rb")
        elif self.compression == "bz2":
            self._stream = bz2.BZ2File(self.raw, mode="rb")
        else:
            self._stream = self.raw
        self._head = self._read(HEAD_BYTES)
        return self

    def _read(self, n: int) -> bytes:
        try:
            data = self._stream.read(n)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(
                f"{self.name}: the {self.compression} data is corrupt or truncated ({exc}); "
                "re-export or re-compress the file"
            ) from None
        self._account(len(data))
        return data

    def _account(self, n: int) -> None:
        self.bytes_read += n
        if self.bytes_read > self.max_bytes:
            what = "inflates" if self.compression != "none" else "is"
            raise InputError(
                f"{self.name} {what} past the size limit of {_mb(self.max_bytes)} uncompressed; "
                "split the file or raise the limit (TRAFFIC_MAX_UPLOAD_MB)"
            )

    @property
    def head(self) -> bytes:
        """The first 64 KiB of decompressed content (for format detection)."""
        return self._head

    def read_all(self) -> bytes:
        """The whole decompressed content (for CSV/TXT, bounded by ``max_bytes``)."""
        parts = [self._head]
        while True:
            block = self._read(CHUNK_BYTES)
            if not block:
                break
            parts.append(block)
        data = b"".join(parts)
        self._hash.update(data)
        return data

    def _fill(self, ring: _Ring, first_chunk: int = FIRST_CHUNK_BYTES) -> Iterator[tuple[np.ndarray, list]]:
        """Read and decompress into the ring's rotating buffers; yield whole-line chunks.

        Each chunk comes with the content bytes first read for it (to be
        hashed, in order, by the consumer: the carried partial line was
        hashed with the chunk before, and an added final newline never is).
        """
        fresh: list = [self._head]
        carry = self._head
        chunk_bytes = ring.chunk_bytes
        turn = 0
        while True:
            buf = ring.next()
            # Small chunks first, so that the parsers start while the rest is still being read.
            limit = min(chunk_bytes, first_chunk << turn)
            turn += 1
            n0 = len(carry)
            if n0 > chunk_bytes // 2:
                raise InputError(f"{self.name}: a line is longer than {chunk_bytes // 2} bytes; not a log file")
            buf[:n0] = np.frombuffer(carry, dtype=np.uint8)
            try:
                got = self._stream.readinto(memoryview(buf)[n0:max(limit, n0 + 1)]) or 0
            except (OSError, EOFError, zlib.error) as exc:
                raise InputError(
                    f"{self.name}: the {self.compression} data is corrupt or truncated ({exc}); "
                    "re-export or re-compress the file"
                ) from None
            self._account(got)
            total = n0 + got
            if total == 0:
                return
            fresh.append(buf[n0:total])
            if not got:
                if buf[total - 1] != 10:
                    buf[total] = 10
                    total += 1
                yield buf[:total], fresh
                return
            cut = _last_newline(buf, total)
            if cut < 0:  # no whole line yet: keep reading (its bytes are hashed with the next chunk)
                carry = buf[:total].tobytes()
                fresh[-1] = carry[n0:]  # a copy: this buffer is reused before the next chunk is hashed
                continue
            carry = buf[cut + 1 : total].tobytes()
            yield buf[: cut + 1], fresh
            fresh = []

    def chunks(self, chunk_bytes: int = CHUNK_BYTES, prefetch: bool = True) -> Iterator[np.ndarray]:
        """Whole-line chunks as uint8 arrays, each ending with a newline.

        Each array views a reused buffer and is valid until the next chunk is
        requested (consumers copy what they keep). With ``prefetch`` a reader
        thread reads and decompresses the next chunk while the consumer
        parses this one, and a hashing thread hashes this one meanwhile
        (zlib, bz2 and hashlib release the GIL): see :func:`read_in_turn`.
        """
        if not prefetch:
            for arr, fresh in self._fill(_Ring(chunk_bytes, 1)):
                for part in fresh:
                    self._hash.update(part)
                yield arr
            return
        for _, _, arr in read_in_turn([lambda: self], chunk_bytes):
            if arr is not None:
                yield arr

    @property
    def digest(self) -> str:
        return self._hash.hexdigest()

    def close(self) -> None:
        for s in (self._stream, self.raw):
            try:
                if s is not None:
                    s.close()
            except OSError:
                pass


def _hash_parts(h, parts: list) -> None:
    for part in parts:
        h.update(part)


def read_in_turn(openers: Sequence[Callable[[], Source]], chunk_bytes: int = CHUNK_BYTES,
                 ) -> Iterator[tuple[int, Source, np.ndarray | None]]:
    """The chunks of several inputs, one input after another, read ahead by one thread.

    Yields ``(k, source, chunk)`` for each whole-line chunk of input ``k`` (opened by ``openers[k]()``
    on the reader thread, when its turn comes: one file open at a time, besides the one being parsed),
    then ``(k, source, None)`` once its content hash is complete. A chunk views one of three rotating
    buffers (one being parsed, one queued, one being filled) and is valid until the next item is
    requested, so memory does not grow with the number or size of the inputs.

    One reader thread and one hashing thread serve all the inputs: a thread started per file or per
    chunk cost ~2-3 ms each on a busy 2-core machine (the new thread waits for the GIL), and the reader
    goes on with the next file while the last chunk of this one is parsed. Only the first input starts
    with small chunks (so that the parsers start early); the next ones are read while the parsers are busy.

    Raises:
        InputError: an input that cannot be opened or read (raised where its chunk would have been).
    """
    q: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    opened: list[Source] = []

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            ring = _Ring(chunk_bytes, 3)
            first = FIRST_CHUNK_BYTES
            for k, opener in enumerate(openers):
                src = opener()
                opened.append(src)
                for arr, fresh in src._fill(ring, first):
                    if not put(("chunk", k, src, arr, fresh)):
                        return
                if not put(("end", k, src, None, None)):
                    return
                first = chunk_bytes
            put(("done", 0, None, None, None))
        except BaseException as exc:  # handed to the consumer, re-raised there
            put(("error", 0, exc, None, None))

    thread = threading.Thread(target=produce, name="ingest-read", daemon=True)
    hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-hash")
    thread.start()
    finished = False
    try:
        while True:
            kind, k, src, arr, fresh = q.get()
            if kind == "done":
                finished = True
                return
            if kind == "error":
                raise src
            if kind == "end":
                yield k, src, None
                continue
            # Hash this chunk's new bytes while the consumer parses it: off the reader thread, which
            # is the critical path for compressed input. Waited for before the next item, so updates
            # stay in order and the buffer is not yet reused.
            done = hasher.submit(_hash_parts, src._hash, fresh)
            try:
                yield k, src, arr
            finally:
                done.result()
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)
        hasher.shutdown(wait=True)
        if not finished:  # after an error or an early stop, close what the reader opened
            for s in opened:
                s.close()


def _open_one(src, max_bytes: int) -> Source:
    if isinstance(src, (str, os.PathLike)):
        path = Path(src)
        if not path.exists():
            raise InputError(f"no such file: {path}")
        if path.is_dir():
            raise InputError(f"{path} is a folder; give a log, CSV or TXT file")
        raw_size = path.stat().st_size
        name = path.name
        raw: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by Source.close
    else:
        raw, name, raw_size = src, getattr(src, "name", "upload"), None
        name = Path(str(name)).name or "upload"
    if raw_size == 0:
        raw.close()
        raise InputError(f"{name} is empty; expected {ACCEPTED_FORMATS}")
    magic = raw.read(4) if raw.seekable() else None
    if magic is None:
        raw = io.BufferedReader(raw)  # type: ignore[arg-type]
        magic = raw.peek(4)[:4]
    else:
        raw.seek(0)
    compression = next((c for m, c in _MAGIC.items() if magic.startswith(m)), "none")
    if compression == "none" and raw_size is not None and raw_size > max_bytes:
        raw.close()
        raise InputError(
            f"{name} is {_mb(raw_size)}, over the size limit of {_mb(max_bytes)}; "
            "split the file or raise the limit (TRAFFIC_MAX_UPLOAD_MB)"
        )
    source = Source(name=name, raw=raw, compression=compression, max_bytes=max_bytes, raw_size=raw_size)
    if raw_size is not None and compression == "none":  # a plain file: perhaps hashed ahead (core.prehash)
        source._hash = _ContentHash(raw, name)
    try:
        source.open()
    except BaseException:
        source.close()
        raise
    _check_text(source)
    return source


_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 13))


def _check_text(source: Source) -> None:
    head = source.head
    if not head:
        raise InputError(f"{source.name} is empty after decompression; expected {ACCEPTED_FORMATS}")
    for magic, what in _KNOWN_BINARY.items():
        if head.startswith(magic):
            raise InputError(f"{source.name} is {what}, not a traffic file; expected {ACCEPTED_FORMATS}")
    sample = head[:8192]
    control = len(sample) - len(sample.translate(None, _CONTROL))
    if b"\x00" in sample or control > len(sample) * 0.05:
        # A crash can leave a run of NUL bytes in a real log (preallocated blocks): if what is
        # left reads as log lines, go on; the damaged lines are rejected and reported.
        if looks_like_apache(sample.replace(b"\x00", b"")) < 0.5:
            raise InputError(f"{source.name} looks binary, not text; expected {ACCEPTED_FORMATS}")


def open_sources(sources, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Source]:
    """Open one or more inputs (paths or binary streams), checking size and type.

    Raises:
        InputError: missing, empty, binary or over-limit input.
    """
    items = sources if isinstance(sources, (list, tuple)) else [sources]
    opened: list[Source] = []
    try:
        for s in items:
            opened.append(_open_one(s, max_bytes))
    except BaseException:
        for o in opened:
            o.close()
        raise
    return opened
