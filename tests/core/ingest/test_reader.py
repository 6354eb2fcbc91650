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


def test_read_in_turn_reads_several_inputs_in_order_each_with_its_own_digest(tmp_path):
    from core.ingest.reader import read_in_turn

    contents = [_log(40_000), gzip.compress(_log(7)), _log(3)[:-1]]
    paths = []
    for k, data in enumerate(contents):
        paths.append(tmp_path / f"in{k}.log")
        paths[-1].write_bytes(data)
    plain = [_log(40_000), _log(7), _log(3)[:-1]]
    got: dict[int, list[bytes]] = {}
    ends = []
    for k, src, chunk in read_in_turn([lambda p=p: open_sources(p, max_bytes=1 << 30)[0] for p in paths],
                                      chunk_bytes=256 << 10):
        if chunk is None:
            ends.append(k)
            assert src.digest == hashlib.sha256(plain[k]).hexdigest()  # complete when its end is handed over
            src.close()
        else:
            assert k not in ends
            got.setdefault(k, []).append(chunk.tobytes())
    assert ends == [0, 1, 2]
    for k, data in enumerate(plain):
        assert b"".join(got[k]) == (data if data.endswith(b"\n") else data + b"\n")


def test_read_in_turn_raises_a_later_inputs_error_and_closes_what_it_opened(tmp_path):
    from core.ingest.reader import read_in_turn

    good = tmp_path / "good.log"
    good.write_bytes(_log(100))
    opened = []

    def first():
        opened.append(open_sources(good, max_bytes=1 << 30)[0])
        return opened[-1]

    with pytest.raises(InputError, match="no such file"):
        for _ in read_in_turn([first, lambda: open_sources(tmp_path / "gone.log")[0]]):
            pass
    assert opened[0].raw.closed
