"""The reader: whole-line chunks, and a content hash that does not depend on how the bytes were read."""

from __future__ import annotations

import bz2
import gzip
import hashlib

import numpy as np
import pytest

from core.errors import InputError
from core.ingest.reader import open_sources

LINE = b'host%d - - [01/Jul/1995:00:00:01 -0400] "GET /x HTTP/1.0" 200 %d\n'


def _log(n: int) -> bytes:
    return b"".join(LINE % (i % 97, i) for i in range(n))


_CASES = {
    "log": _log(40_000),  # ~2.5 MB: several chunks, small first chunks
    "no-final-newline": _log(40_000)[:-1],  # one is added to the last chunk, never hashed
    "line-longer-than-first-read": b"x" * 5_000_000 + b"\n" + _log(10),  # carried over to the next read
    "long-unterminated-last-line": b"y" * 100_000 + b"\n" + b"z" * 100_000,
}


@pytest.mark.parametrize("prefetch", [True, False])
@pytest.mark.parametrize(
    ("case", "chunk_bytes"),
    [("log", 256 << 10), ("log", 1 << 20), ("log", 32 << 20), ("no-final-newline", 256 << 10),
     ("no-final-newline", 32 << 20), ("line-longer-than-first-read", 32 << 20),
     ("long-unterminated-last-line", 256 << 10), ("long-unterminated-last-line", 32 << 20)],
)
def test_chunks_are_whole_lines_and_the_digest_is_the_contents_sha256(tmp_path, case, chunk_bytes, prefetch):
    content = _CASES[case]
    path = tmp_path / "in.log"
    path.write_bytes(content)
    src = open_sources(path, max_bytes=1 << 30)[0]
    chunks = [c.tobytes() for c in src.chunks(chunk_bytes=chunk_bytes, prefetch=prefetch)]
    assert all(c.endswith(b"\n") for c in chunks)
    joined = b"".join(chunks)
    assert joined == (content if content.endswith(b"\n") else content + b"\n")
    assert src.digest == hashlib.sha256(content).hexdigest()


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress], ids=["gzip", "bz2"])
def test_compressed_input_hashes_its_decompressed_content(tmp_path, compress):
    content = _log(30_000)
    path = tmp_path / "in.log.z"
    path.write_bytes(compress(content))
    src = open_sources(path, max_bytes=1 << 30)[0]
    n = sum(len(c) for c in src.chunks(chunk_bytes=1 << 20))
    assert n == len(content)
    assert src.digest == hashlib.sha256(content).hexdigest()


def test_a_line_longer_than_half_a_chunk_is_refused(tmp_path):
    path = tmp_path / "in.log"
    path.write_bytes(b"x" * (1 << 20) + b"\n")
    src = open_sources(path, max_bytes=1 << 30)[0]
    with pytest.raises(InputError, match="line is longer than"):
        for _ in src.chunks(chunk_bytes=1 << 20):
            pass


def test_chunks_are_arrays_ready_for_the_parser(tmp_path):
    path = tmp_path / "in.log"
    path.write_bytes(_log(1000))
    chunk = next(iter(open_sources(path, max_bytes=1 << 30)[0].chunks()))
    assert chunk.dtype == np.uint8
    assert chunk.ctypes.data % 8 == 0  # the kernel views it as uint64 words
