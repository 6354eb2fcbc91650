"""Apache Common / Combined Log Format parser.

A chunk of the file is one ``uint8`` array; every line is parsed in one
compiled pass that also finds its end (``_clf_kernel.parse_lines``),
producing arrays of (minute, status, size, host hash), never a Python
object per line. ``LINE_RE`` states the same
acceptance rule as a regex: it names the reason for rejected lines and the
property tests check that the two agree.

What counts as a request: a line with a host, ident and user field, a valid
``[dd/Mon/yyyy:hh:mm:ss +zzzz]`` timestamp, a quoted request field (whatever
it holds: the server answered it), a 3-digit status 100-599 and a size that
is digits or ``-``, optionally followed by the Combined format's quoted
referer and user agent. A garbage request answered with 400, an HTTP/0.9
request without a version, or a path with latin-1 bytes is therefore a
request (the server did the work and it loads capacity); it is also counted
under ``nonstandard_request``. Empty lines and lines missing any of those
fields (e.g. truncated ones) are rejected and reported.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

__all__ = ["ParsedChunk", "parse_chunk", "parse_range", "split_lines", "parse_line", "LINE_RE", "looks_like_apache",
           "kernel", "KERNEL_ENV", "warm_up"]

_MONTHS = b"JanFebMarAprMayJunJulAugSepOctNovDec"

LINE_RE = re.compile(
    rb"^(?P<host>[^ ]+) [^ ]+ [^ ]+ \[(?P<ts>\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    rb'"(?P<req>.*?)" (?P<status>[1-5]\d{2}) (?P<size>\d{1,15}|-)'
    rb'(?: "(?P<ref>[^"]*)" "(?P<ua>.*)")?[ \t]*$',
    re.DOTALL,
)
_HTTP_VERSION_RE = re.compile(rb"^[A-Z].* HTTP/\d\.\d$", re.DOTALL)
_CUMDAYS = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01: ``_clf_kernel._days_from_civil`` in Python (calling that one would load numba)."""
    yy = y - 1 if m <= 2 else y
    leaps = yy // 4 - yy // 100 + yy // 400
    return 365 * (y - 1970) + (leaps - (1969 // 4 - 1969 // 100 + 1969 // 400)) + _CUMDAYS[m - 1] + d - 1


#: ``TRAFFIC_CLF_KERNEL=jit`` makes ingest parse with numba's kernel even when the ahead-of-time one is built.
KERNEL_ENV = "TRAFFIC_CLF_KERNEL"


def kernel(jit: bool = False) -> tuple[str, object]:
    """The compiled ``parse_lines`` ingest runs: ``("aot", f)`` when ``python -m core warmup`` built it ahead of
    time (no numba to load: ``_clf_aot``), else ``("jit", f)``, numba's, loaded (or compiled) on first use.
    Both are the same code and give the same result; ``jit`` (or ``TRAFFIC_CLF_KERNEL=jit``) picks numba's.
    """
    if not jit and os.environ.get(KERNEL_ENV, "").lower() != "jit":
        from core.ingest import _clf_aot

        aot = _clf_aot.load()
        if aot is not None:
            return "aot", aot
    from core.ingest._clf_kernel import parse_lines

    return "jit", parse_lines


@dataclass
class ParsedChunk:
    """Fields of the accepted lines of one chunk, plus what was rejected.

    Every log format's parser produces one. A field a line does not carry is
    marked: status 0, size -1, host hash 0 (the aggregator then leaves that
    column out and says why).
    """

    minute: np.ndarray  # int64 UTC minutes since the epoch
    offset_min: np.ndarray  # int16 UTC offset of each line, minutes
    status: np.ndarray  # int16 (0 = not in the line)
    size: np.ndarray  # int64 bytes ('-' = 0, -1 = not in the line)
    host_hash: np.ndarray  # uint64 FNV-1a of the client host (0 = not in the line)
    lines_total: int
    nonstandard_request: int
    rejected: list[tuple[int, str, bytes]]  # (line number within chunk, reason, line)
    rejected_count: int
    #: Lines that are no requests and no errors either (W3C directives, headers).
    skipped: int = 0


def looks_like_apache(sample: bytes) -> float:
    """Share of non-empty lines in ``sample`` that parse as CLF/Combined."""
    lines = [ln.rstrip(b"\r") for ln in sample.split(b"\n")[:200] if ln.strip()]
    if not lines:
        return 0.0
    return sum(1 for ln in lines if LINE_RE.match(ln)) / len(lines)


def split_lines(buf: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """Byte ranges of ``buf`` cut at newlines into about ``parts`` equal pieces."""
    n = len(buf)
    cuts = [0]
    for k in range(1, parts):
        target = n * k // parts
        nxt = np.flatnonzero(buf[target : min(n, target + 65536)] == 10)
        if len(nxt) and target + nxt[0] + 1 > cuts[-1]:
            cuts.append(int(target + nxt[0] + 1))
    cuts.append(n)
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def parse_range(buf: np.ndarray, lo: int, hi: int, keep_examples: int = 5, jit: bool = False) -> ParsedChunk:
    """Parse the lines in ``buf[lo:hi]`` (normally ending with a newline); releases the GIL while parsing.

    ``jit`` parses with numba's kernel even when the ahead-of-time one is built (see :func:`kernel`).
    """
    _, parse_lines = kernel(jit)
    if hi > lo and buf[hi - 1] != 10:  # the kernel's scans stop at newlines: end the last line with one
        buf, lo, hi = np.append(buf[lo:hi], np.uint8(10)), 0, hi - lo + 1
    if buf.ctypes.data % 8 or not buf.flags.c_contiguous:  # the word view needs an aligned start (reader
        buf = np.ascontiguousarray(buf).copy()  # buffers are); the ahead-of-time kernel takes C order only
    words = buf[: len(buf) // 8 * 8].view(np.uint64)
    minute, offset, status, size, hhash, lines, bad_count, nonstd, bad = parse_lines(buf, words, lo, hi, keep_examples)
    rejected: list[tuple[int, str, bytes]] = []
    for i, s, e in bad.tolist():
        line = buf[s:e].tobytes()
        reason = parse_line(line)
        rejected.append((i, reason if isinstance(reason, str) else "not Common/Combined Log Format", line[:300]))
    return ParsedChunk(
        minute=minute,
        offset_min=offset,
        status=status,
        size=size,
        host_hash=hhash,
        lines_total=int(lines),
        nonstandard_request=int(nonstd),
        rejected=rejected,
        rejected_count=int(bad_count),
    )


def warm_up(jit: bool = False) -> ParsedChunk:
    """Parse one known line: numba loads the compiled parser from its disk cache on first use (~0.5 s),
    or the ahead-of-time one loads (``jit`` warms numba's even then).

    A server calls this once per worker before it serves, so that its first upload does not pay it.
    """
    # A writable copy: numba compiles a read-only array (np.frombuffer of bytes) as another signature
    # than the reader's buffers, so a read-only sample would warm a kernel that ingest never calls.
    line = b'h - - [01/Jul/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 5\n'
    buf = np.frombuffer(line, dtype=np.uint8).copy()
    return parse_range(buf, 0, len(buf), jit=jit)


def parse_chunk(buf: np.ndarray, keep_examples: int = 5) -> ParsedChunk:
    """Parse a chunk of whole lines (``buf``: uint8, ending with a newline) in one range."""
    return parse_range(buf, 0, len(buf), keep_examples)


def parse_line(line: bytes):
    """Parse one line exactly like the fast path; a reason string if rejected.

    Returns:
        ``(utc_minute, offset_minutes, status, size, host_bytes, request_bytes)``
        or the rejection reason.
    """
    line = line.rstrip(b"\r\n \t")
    if not line:
        return "empty line"
    m = LINE_RE.match(line)
    if m is None:
        if b"[" not in line:
            return "no [timestamp] field"
        if line.count(b'"') < 2:
            return "truncated or unquoted request"
        return "not Common/Combined Log Format"
    ts = m.group("ts")
    try:
        day, mon, year = int(ts[0:2]), _MONTHS.index(ts[3:6]) // 3 + 1, int(ts[7:11])
        if _MONTHS.index(ts[3:6]) % 3:
            raise ValueError
    except ValueError:
        return "bad month in timestamp"
    hh, mi, ss = int(ts[12:14]), int(ts[15:17]), int(ts[18:20])
    tzh, tzm = int(ts[22:24]), int(ts[24:26])
    if not (1 <= day <= 31 and hh <= 23 and mi <= 59 and ss <= 60 and tzh <= 23 and tzm <= 59):
        return "timestamp out of range"
    offset = (tzh * 60 + tzm) * (-1 if ts[21:22] == b"-" else 1)
    local = _days_from_civil(year, mon, day) * 1440 + hh * 60 + mi
    size = m.group("size")
    return (
        local - offset,
        offset,
        int(m.group("status")),
        0 if size == b"-" else int(size),
        m.group("host"),
        m.group("req"),
    )
