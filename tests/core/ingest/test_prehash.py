"""The content hash computed ahead of the parse (``core.prehash``): the same digest as the reader's own, used only
when it covers exactly the bytes parsed of the unchanged file."""

from __future__ import annotations

import gzip
import hashlib
import os

import pytest

from core import prehash
from core.errors import InputError
from core.ingest import ingest
from core.ingest.reader import open_sources

LINE = b'host%d - - [01/Jul/1995:00:%02d:01 -0400] "GET /x HTTP/1.0" 200 %d\n'


def _log(n: int, minute: int = 0) -> bytes:
    return b"".join(LINE % (i % 97, (minute + i // 1000) % 60, i) for i in range(n))


def _read(path, chunk_bytes=1 << 20) -> tuple[str, bytes]:
    src = open_sources(path, max_bytes=1 << 30)[0]
    try:
        data = b"".join(c.tobytes() for c in src.chunks(chunk_bytes=chunk_bytes))
        return src.digest, data
    finally:
        src.close()


def _read_while(path, change) -> tuple[str, bytes]:
    """Read ``path`` in small chunks, calling ``change()`` once the first chunk is read (the file is claimed then)."""
    src = open_sources(path, max_bytes=1 << 30)[0]
    try:
        parts = []
        for chunk in src.chunks(chunk_bytes=256 << 10, prefetch=False):
            if not parts:
                change()
            parts.append(chunk.tobytes())
        return src.digest, b"".join(parts)
    finally:
        src.close()


def test_a_file_hashed_ahead_gives_the_readers_digest_and_is_claimed_once(tmp_path):
    path = tmp_path / "a.log"
    content = _log(30_000)
    path.write_bytes(content)
    (ahead,) = prehash.start([str(path), str(tmp_path), str(tmp_path / "missing.log"), "--json"])
    digest, _ = _read(path)
    assert ahead.claimed
    assert ahead.digest == digest == hashlib.sha256(content).hexdigest()
    again, _ = _read(path)  # claimed already: the reader hashes it itself
    assert again == digest


def test_a_file_that_grows_while_it_is_read_is_hashed_as_parsed(tmp_path):
    path = tmp_path / "live.log"
    path.write_bytes(_log(20_000))
    (ahead,) = prehash.start([path])
    ahead.done.wait()

    def grow():  # claimed with the first chunk; then the log grows
        with open(path, "ab") as f:
            f.write(_log(500, minute=30))

    digest, data = _read_while(path, grow)
    assert ahead.claimed
    assert ahead.digest is not None
    assert data == path.read_bytes()
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest() != ahead.digest


def test_a_file_changed_before_it_is_read_is_not_claimed(tmp_path):
    path = tmp_path / "grown.log"
    path.write_bytes(_log(20_000))
    (ahead,) = prehash.start([path])
    ahead.done.wait()
    with open(path, "ab") as f:
        f.write(_log(500, minute=30))
    digest, data = _read(path)
    assert not ahead.claimed
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert data == path.read_bytes()


def test_a_file_rewritten_after_it_was_hashed_ahead_is_not_claimed(tmp_path):
    path = tmp_path / "b.log"
    path.write_bytes(_log(20_000))
    (ahead,) = prehash.start([path])
    ahead.done.wait()
    os.utime(path, ns=(1, 1))  # same bytes, another modification time: not the file that was hashed
    digest, _ = _read(path)
    assert not ahead.claimed
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_shortened_after_it_was_claimed_is_an_input_error(tmp_path):
    path = tmp_path / "c.log"
    path.write_bytes(_log(20_000))
    (ahead,) = prehash.start([path])
    src = open_sources(path, max_bytes=1 << 30)[0]
    try:
        for _ in src.chunks(chunk_bytes=1 << 20):
            pass
        with open(path, "r+b") as f:
            f.truncate(1000)
        with pytest.raises(InputError, match="changed while it was being read"):
            _ = src.digest
    finally:
        src.close()
    assert ahead.claimed


def test_compressed_files_are_left_to_the_reader(tmp_path):
    path = tmp_path / "d.log.gz"
    content = _log(20_000)
    path.write_bytes(gzip.compress(content))
    (ahead,) = prehash.start([path])
    ahead.done.wait()
    assert ahead.digest is None
    digest, data = _read(path)
    assert digest == hashlib.sha256(content).hexdigest()
    assert data == content


def test_the_same_file_twice_is_still_one_dataset_file_and_one_duplicate(tmp_path):
    path = tmp_path / "e.log"
    path.write_bytes(_log(20_000))
    link = tmp_path / "e-link.log"
    link.symlink_to(path)
    prehash.start([path, link])
    res = ingest([str(path), str(link)])
    plain = ingest(str(path))
    assert len(res.files) == 1
    assert res.files[0]["digest"] == plain.files[0]["digest"]
    assert res.report.files[0].skipped == ""
    assert res.report.files[1].skipped.startswith("duplicate of")


def test_a_log_rotated_away_while_it_is_read_is_hashed_from_the_file_read(tmp_path):
    """Rotated during the read (grown, renamed, a new file in its place): the digest is the parsed file's."""
    path = tmp_path / "access.log"
    path.write_bytes(_log(20_000))
    (ahead,) = prehash.start([path])
    ahead.done.wait()

    def rotate():
        with open(path, "ab") as f:
            f.write(_log(500, minute=30))
        path.rename(tmp_path / "access.log.1")
        path.write_bytes(_log(100, minute=40))

    digest, data = _read_while(path, rotate)
    rotated = (tmp_path / "access.log.1").read_bytes()
    assert data == rotated
    assert digest == hashlib.sha256(rotated).hexdigest()
