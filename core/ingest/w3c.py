"""W3C extended log files: IIS, and AWS CloudFront standard logs (tab-separated W3C).

A ``#Fields:`` directive names the columns of the lines after it and may
change mid-file (IIS writes a new header block when it restarts), so a file
is parsed in order, directive by directive. A request needs ``date`` and
``time`` (UTC, as W3C and CloudFront write them); ``sc-status``, ``sc-bytes``
and ``c-ip`` feed the error, bytes and unique-host columns, which are left
out (with a warning) when the directive does not name them. Directive lines
are counted as skipped, not rejected. CloudFront lines without their header
are read with CloudFront's documented column order.
"""

from __future__ import annotations

import numpy as np

from core.ingest import decode
from core.ingest.apache import ParsedChunk
from core.ingest.delimited import ends_with_newline, first_failure, split, to_chunk

__all__ = ["looks_like_w3c", "looks_like_cloudfront", "w3c_parser", "W3CParser", "CLOUDFRONT_FIELDS"]

CLOUDFRONT_FIELDS = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) "
    "cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken "
    "x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status "
    "fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
    "sc-range-start sc-range-end"
).split()

#: Columns a request is read from, by W3C field name (first present wins).
_HOST_FIELDS = ("c-ip", "c-dns")

_REASONS = [
    "empty line",
    "no #Fields directive before this line (the W3C header is missing)",
    "the #Fields directive names no date and time fields",
    "fewer fields than the #Fields directive names",
    "bad date or time (expected 2024-05-13 and 23:39:43)",
    "bad sc-status (expected 3 digits 100-599)",
    "bad sc-bytes (expected digits)",
]


def _directive_fields(head: bytes) -> list[str] | None:
    for line in head.split(b"\n")[:50]:
        if line.startswith(b"#Fields:"):
            return line[8:].decode("latin-1").split()
    return None


def _is_cloudfront_line(line: bytes) -> bool:
    parts = line.rstrip(b"\r").split(b"\t")
    return len(parts) >= 20 and len(parts[0]) == 10 and parts[0][4:5] == b"-" and parts[1][2:3] == b":"


def looks_like_cloudfront(sample: bytes) -> float:
    """1 for a W3C header naming CloudFront's ``x-edge-*`` fields, else the share of CloudFront-shaped lines."""
    fields = _directive_fields(sample)
    if fields is not None:
        return 1.0 if any(f.startswith("x-edge-") for f in fields) else 0.0
    lines = [ln for ln in sample.split(b"\n")[:200] if ln.strip() and not ln.startswith(b"#")]
    return sum(map(_is_cloudfront_line, lines)) / len(lines) if lines else 0.0


def looks_like_w3c(sample: bytes) -> float:
    """0.99 for a W3C header whose ``#Fields:`` name a date and a time (CloudFront's scores 1)."""
    fields = _directive_fields(sample)
    if fields is None or not {"date", "time"} <= set(fields):
        return 0.0
    return 0.0 if any(f.startswith("x-edge-") for f in fields) else 0.99


class W3CParser:
    """Parses a W3C file chunk by chunk, in order (the ``#Fields`` directive in force carries over)."""

    def __init__(self, head: bytes) -> None:
        self.fields: list[str] | None = None
        self.declared = True  # the fields come from a directive: a line must have all of them
        first = next((ln for ln in head.split(b"\n")[:200] if ln.strip() and not ln.startswith(b"#")), b"")
        if _directive_fields(head) is None and _is_cloudfront_line(first):
            # A CloudFront log whose header lines were cut off: its documented columns, of which
            # older logs have fewer (only those read must be there).
            self.fields, self.declared = list(CLOUDFRONT_FIELDS), False

    def __call__(self, buf: np.ndarray, lo: int, hi: int, keep: int) -> ParsedChunk:
        buf, lo, hi = ends_with_newline(buf, lo, hi)
        nl = lo + np.flatnonzero(buf[lo:hi] == 10)
        starts = np.concatenate(([lo], nl[:-1] + 1))
        directive = np.flatnonzero(buf[starts] == 35)
        pieces: list[tuple[int, ParsedChunk]] = []
        line = 0  # index of the first line of the current segment
        for d in [*directive.tolist(), len(starts)]:
            if d > line:
                seg_lo, seg_hi = int(starts[line]), int(nl[d - 1]) + 1
                pieces.append((line, self._segment(buf, seg_lo, seg_hi, keep)))
            if d < len(starts):
                text = buf[starts[d]:nl[d]].tobytes().rstrip(b"\r")
                if text.startswith(b"#Fields:"):
                    self.fields, self.declared = text[8:].decode("latin-1").split(), True
            line = d + 1
        return _concat(pieces, len(starts), len(directive), keep)

    def _segment(self, buf: np.ndarray, lo: int, hi: int, keep: int) -> ParsedChunk:
        fields = self.fields or []
        names = {f: k for k, f in enumerate(fields)}
        first_end = lo + int(np.argmax(buf[lo:hi] == 10))
        sep = 9 if (buf[lo:first_end] == 9).any() else 32
        date, time_ = names.get("date", -1), names.get("time", -1)
        status = names.get("sc-status", -1)
        size = names.get("sc-bytes", -1)
        host = next((names[f] for f in _HOST_FIELDS if f in names), -1)
        wanted = sorted({k for k in (date, time_, status, size, host) if k >= 0})
        lines = split(buf, lo, hi, sep, wanted or [0], count_all=True)
        n = len(lines)

        def span(k: int):
            if k < 0:
                return np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)
            return lines.field(wanted.index(k))

        minute, t_ok = decode.date_time_minutes(buf, *span(date), *span(time_))
        ss, se = span(status)
        st, s_ok = decode.uint_field(buf, ss, se, dash=-1, width=3)
        if status < 0:
            st, s_ok = np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)
        else:
            s_ok &= (se - ss == 3) & (st >= 100) & (st <= 599)
        bs, be = span(size)
        sz, b_ok = decode.uint_field(buf, bs, be, dash=0)
        if size < 0:
            sz, b_ok = np.full(n, -1, dtype=np.int64), np.ones(n, dtype=bool)
        hh = decode.host_hash(buf, *span(host)) if host >= 0 else np.zeros(n, dtype=np.uint64)
        code = first_failure([
            lines.end > lines.start,
            np.full(n, bool(fields)),
            np.full(n, date >= 0 and time_ >= 0),
            lines.nfields >= (len(fields) if self.declared else max(wanted, default=0) + 1),
            t_ok,
            s_ok,
            b_ok,
        ])
        return to_chunk(lines, _REASONS, code, minute=minute, offset=0, status=st, size=sz, host=hh, keep=keep)


def _concat(pieces: list[tuple[int, ParsedChunk]], lines_total: int, directives: int, keep: int) -> ParsedChunk:
    """One chunk from its segments (rejected line numbers made relative to the chunk)."""
    rejected = [(first + i, reason, text) for first, pc in pieces for i, reason, text in pc.rejected][:keep]

    def cat(attr: str, dtype) -> np.ndarray:
        arrays = [getattr(pc, attr) for _, pc in pieces]
        return np.concatenate(arrays) if arrays else np.zeros(0, dtype=dtype)

    return ParsedChunk(
        minute=cat("minute", np.int64), offset_min=cat("offset_min", np.int16), status=cat("status", np.int16),
        size=cat("size", np.int64), host_hash=cat("host_hash", np.uint64), lines_total=lines_total,
        nonstandard_request=0, rejected=rejected, rejected_count=sum(pc.rejected_count for _, pc in pieces),
        skipped=directives + sum(pc.skipped for _, pc in pieces),
    )


def w3c_parser(head: bytes, _options: dict):
    """A fresh stateful parser per file (CloudFront and W3C alike)."""
    return W3CParser(head), False
