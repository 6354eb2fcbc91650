"""What the field-based log parsers (load balancers, CloudFront, W3C, JSON lines) share.

``Lines`` holds one chunk's lines; each parser decides, per line, accept or
reject with a reason, and ``to_chunk`` packs the accepted values into the
:class:`~core.ingest.apache.ParsedChunk` every format aggregates through.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.ingest.apache import ParsedChunk

__all__ = ["Lines", "split", "to_chunk", "ends_with_newline", "first_failure"]


def ends_with_newline(buf: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, int, int]:
    """The range as one that ends with a newline (the kernels stop at newlines)."""
    if hi > lo and buf[hi - 1] != 10:
        return np.append(buf[lo:hi], np.uint8(10)), 0, hi - lo + 1
    return buf, lo, hi


@dataclass
class Lines:
    """The lines of one chunk with the spans of the wanted fields."""

    buf: np.ndarray
    start: np.ndarray  # line spans, without newline and trailing \r
    end: np.ndarray
    nfields: np.ndarray
    fstart: np.ndarray  # (lines, wanted fields)
    fend: np.ndarray

    def __len__(self) -> int:
        return len(self.start)

    def field(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.fstart[:, k], self.fend[:, k]


def split(buf: np.ndarray, lo: int, hi: int, sep: int, want: list[int], count_all: bool = False) -> Lines:
    """Split ``buf[lo:hi]`` (ending with a newline) into lines and the wanted fields' spans.

    With ``count_all`` ``nfields`` counts every field of a line; else it is exact up to the last wanted
    field and a lower bound after it (the rest of the line is skipped quickly).
    """
    from core.ingest._fields_kernel import count_newlines, split_fields  # numba loads on first use, not at import

    order = np.asarray(want, dtype=np.int64)
    if buf.ctypes.data % 8:  # the word view needs an aligned start (reader buffers are)
        buf = buf.copy()
    words = buf[: len(buf) // 8 * 8].view(np.uint64)
    nlines = int(count_newlines(buf, words, lo, hi))
    s, e, nf, fs, fe = split_fields(buf, words, lo, hi, sep, order, nlines, count_all)
    return Lines(buf, s, e, nf, fs, fe)


def to_chunk(lines: Lines, reasons: list[str], code: np.ndarray, *, minute, offset, status, size, host,
             keep: int, skipped: np.ndarray | None = None) -> ParsedChunk:
    """Pack accepted lines (``code == 0``) into a ParsedChunk; ``code = k > 0`` rejects with ``reasons[k - 1]``.

    ``skipped`` marks lines that are neither requests nor errors (directives), counted apart.
    """
    if skipped is not None:
        code = np.where(skipped, -1, code)
    ok = code == 0
    bad = np.flatnonzero(code > 0)
    rejected = []
    for i in bad[:keep].tolist():
        text = lines.buf[lines.start[i]:lines.end[i]].tobytes()[:300]
        rejected.append((i, reasons[int(code[i]) - 1], text))
    return ParsedChunk(
        minute=np.asarray(minute, dtype=np.int64)[ok],
        offset_min=np.broadcast_to(np.asarray(offset, dtype=np.int16), ok.shape)[ok],
        status=np.broadcast_to(np.asarray(status, dtype=np.int16), ok.shape)[ok],
        size=np.broadcast_to(np.asarray(size, dtype=np.int64), ok.shape)[ok],
        host_hash=np.broadcast_to(np.asarray(host, dtype=np.uint64), ok.shape)[ok],
        lines_total=len(lines),
        nonstandard_request=0,
        rejected=rejected,
        rejected_count=len(bad),
        skipped=int((code < 0).sum()),
    )


def first_failure(checks: list[np.ndarray]) -> np.ndarray:
    """Per line: 0 if every check passed, else 1 + the index of the first failed check."""
    code = np.zeros(len(checks[0]) if checks else 0, dtype=np.int64)
    for k in range(len(checks) - 1, -1, -1):
        code = np.where(~checks[k], k + 1, code)
    return code
