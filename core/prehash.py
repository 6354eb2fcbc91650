"""The content hash of log files, computed ahead of their parse by a thread of its own.

A dataset's id is the sha256 of its files' (decompressed) content (``core.ingest.reader``). For a plain
file given on the command line, ``python -m core ingest`` starts :func:`start` before it imports
pandas and the ingest modules (~0.2 s of one core, while the other one is idle): a thread reads each
file from the start and hashes it (file reads and hashlib release the GIL). The reader then does not
hash the bytes it parses: when a file's last chunk is read, its :class:`~core.ingest.reader.Source`
takes this thread's digest, provided the thread read exactly as many bytes as the parse did and the
file's size and modification time are the same as when the thread began; otherwise (a file that grew
or was rewritten meanwhile) it hashes what it parsed by reading the file again from the start. Each
file is claimed once, by the first source that hashes it (the same file given twice is hashed again,
by the reader, so its duplicate is still recognised). Compressed files are left to the reader (their
hash is over the decompressed content).

This module imports nothing heavy, so that the thread starts within milliseconds of the process.
"""

from __future__ import annotations

import hashlib
import os
import stat as stat_mod
import threading

__all__ = ["Ahead", "start", "claim", "BLOCK_BYTES"]

#: Read size of the hashing thread: big blocks, because each needs the GIL twice (the imports hold it).
BLOCK_BYTES = 8 * 1024 * 1024
_COMPRESSED = (b"\x1f\x8b", b"BZh")

_LOCK = threading.Lock()
_AHEAD: dict[tuple[int, int], Ahead] = {}


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


class Ahead:
    """One file hashed ahead: the digest of its whole content as read, or None (compressed, changed, unreadable)."""

    def __init__(self, path: str, st: os.stat_result) -> None:
        self.path = path
        self.identity = _identity(st)
        self.nbytes = 0
        self.digest: str | None = None
        self.claimed = False
        self.done = threading.Event()

    def run(self) -> None:
        try:
            with open(self.path, "rb", buffering=0) as f:
                if _identity(os.fstat(f.fileno())) != self.identity:
                    return
                h = hashlib.sha256()
                block = memoryview(bytearray(BLOCK_BYTES))
                n = 0
                while True:
                    k = f.readinto(block)
                    if not k:
                        break
                    if n == 0 and bytes(block[:4]).startswith(_COMPRESSED):
                        return
                    h.update(block[:k])
                    n += k
                if _identity(os.fstat(f.fileno())) == self.identity and n == self.identity[2]:
                    self.nbytes, self.digest = n, h.hexdigest()
        except OSError:
            pass
        finally:
            self.done.set()

    def result(self, nbytes: int, st: os.stat_result) -> str | None:
        """The digest if the thread hashed the same ``nbytes`` of the same, unchanged file (``st`` now), else None."""
        self.done.wait()
        if self.digest is None or self.nbytes != nbytes or _identity(st) != self.identity:
            return None
        return self.digest


def start(paths) -> list[Ahead]:
    """Hash the regular files among ``paths`` one after another in one daemon thread (others are ignored)."""
    todo = []
    for p in paths:
        try:
            st = os.stat(p)
        except (OSError, ValueError):
            continue
        if not stat_mod.S_ISREG(st.st_mode) or st.st_size == 0:
            continue
        key = (st.st_dev, st.st_ino)
        with _LOCK:
            if key in _AHEAD and not _AHEAD[key].claimed:
                continue
            _AHEAD[key] = ahead = Ahead(os.fspath(p), st)
        todo.append(ahead)
    if todo:
        threading.Thread(target=lambda: [a.run() for a in todo], name="ingest-prehash", daemon=True).start()
    return todo


def claim(st: os.stat_result) -> Ahead | None:
    """The file's hash ahead for its first reader (None if there is none, it is taken or the file changed)."""
    with _LOCK:
        ahead = _AHEAD.get((st.st_dev, st.st_ino))
        if ahead is None or ahead.claimed or ahead.identity != _identity(st):
            return None
        ahead.claimed = True
        return ahead
