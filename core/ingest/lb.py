"""AWS load balancer access logs: Application (ALB) and Classic (ELB).

One space-separated record per request, time in ISO 8601 UTC::

    ALB: type time elb client:port target:port t1 t2 t3 elb_status_code target_status_code
         received_bytes sent_bytes "request" "user_agent" ...
    ELB: time elb client:port backend:port t1 t2 t3 elb_status_code backend_status_code
         received_bytes sent_bytes "request" "user_agent" ...

A request counts with the load balancer's status (``elb_status_code``), the
bytes sent to the client (``sent_bytes``) and the client address without its
port as the host. A line whose ``elb_status_code`` is ``-`` (a TCP listener's
connection, not an HTTP request) is rejected with that reason.
"""

from __future__ import annotations

import re

import numpy as np

from core.ingest import decode
from core.ingest.apache import ParsedChunk
from core.ingest.delimited import ends_with_newline, first_failure, split, to_chunk

__all__ = ["looks_like_alb", "looks_like_elb", "alb_parser", "elb_parser", "parse_lb"]

_TS = rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"
_TAIL = rb" \S+ \S+ \S+ \S+ \S+ \S+ (?:\d{3}|-) (?:\d{3}|-) (?:\d+|-) (?:\d+|-) \""
ALB_RE = re.compile(rb"^(?:https?|h2|grpcs?|wss?) " + _TS + _TAIL)
ELB_RE = re.compile(rb"^" + _TS + _TAIL)

#: (time, client, elb_status_code, sent_bytes, request) field numbers.
ALB_FIELDS = (1, 3, 8, 11, 12)
ELB_FIELDS = (0, 2, 7, 10, 11)

_REASONS = [
    "empty line",
    "fewer fields than a load balancer log line",
    "bad timestamp (expected ISO 8601 like 2024-05-13T23:39:43.945958Z)",
    "no HTTP status (elb_status_code is '-': a TCP connection, not a request)",
    "bad elb_status_code (expected 3 digits 100-599)",
    "bad sent_bytes (expected digits)",
    "the request field is not quoted",
]


def _share(rx: re.Pattern, sample: bytes) -> float:
    lines = [ln for ln in sample.split(b"\n")[:200] if ln.strip()]
    if not lines:
        return 0.0
    return sum(1 for ln in lines if rx.match(ln)) / len(lines)


def looks_like_alb(sample: bytes) -> float:
    """Share of the sample's non-empty lines that look like ALB log lines."""
    return _share(ALB_RE, sample)


def looks_like_elb(sample: bytes) -> float:
    """Share of the sample's non-empty lines that look like Classic ELB log lines."""
    return _share(ELB_RE, sample)


def parse_lb(buf: np.ndarray, lo: int, hi: int, keep: int, fields: tuple[int, ...]) -> ParsedChunk:
    """Parse the load balancer lines of ``buf[lo:hi]``; ``fields`` from ``ALB_FIELDS``/``ELB_FIELDS``."""
    buf, lo, hi = ends_with_newline(buf, lo, hi)
    lines = split(buf, lo, hi, 32, list(fields))
    ts, te = lines.field(0)
    cs, ce = lines.field(1)
    ss, se = lines.field(2)
    bs, be = lines.field(3)
    rs, _ = lines.field(4)
    minute, offset, t_ok = decode.iso_minutes(buf, ts, te)
    status, s_ok = decode.uint_field(buf, ss, se, dash=-1, width=3)
    size, b_ok = decode.uint_field(buf, bs, be, dash=0)
    quoted = decode.gather(buf, rs, 1)[:, 0] == 34
    code = first_failure([
        lines.end > lines.start,
        lines.nfields > fields[4],
        t_ok,
        status != -1,
        s_ok & (se - ss == 3) & (status >= 100) & (status <= 599),
        b_ok,
        quoted,
    ])
    host = decode.host_hash(buf, cs, ce, port_mode=1)
    return to_chunk(lines, _REASONS, code, minute=minute, offset=offset, status=status, size=size, host=host,
                    keep=keep)


def alb_parser(_head: bytes, _options: dict):
    return (lambda buf, lo, hi, keep: parse_lb(buf, lo, hi, keep, ALB_FIELDS)), True


def elb_parser(_head: bytes, _options: dict):
    return (lambda buf, lo, hi, keep: parse_lb(buf, lo, hi, keep, ELB_FIELDS)), True
