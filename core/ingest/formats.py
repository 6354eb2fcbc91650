"""The log formats ingest reads, how each is recognised, and its parser.

Each format turns a chunk of whole lines into a :class:`~core.ingest.apache.ParsedChunk`
(UTC minute, offset, status, bytes, host hash per accepted request), so all of
them aggregate the same way (``logs.LogAggregator``). Detection looks at the
first 64 KiB of decompressed content; ``--format`` forces one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.errors import InputError
from core.ingest.apache import looks_like_apache, parse_range

__all__ = ["LogFormat", "LOG_FORMATS", "SERIES_FORMATS", "FORMAT_NAMES", "detect_log_format", "log_parser", "warm_up"]


@dataclass(frozen=True)
class LogFormat:
    """A log format: its name (``--format``), what the report calls it, how to spot and parse it.

    Attributes:
        detect: share of the head's lines that look like this format (0..1).
        parser: ``parser(head, options) -> (parse, stateless)``, ``parse(buf, lo, hi, keep) -> ParsedChunk``.
    """

    name: str
    label: str
    detect: Callable[[bytes], float]
    parser: Callable[[bytes, dict], tuple[Callable, bool]]


def _apache_parser(_head: bytes, _options: dict):
    return parse_range, True


def _registry() -> dict[str, LogFormat]:
    from core.ingest import jsonl, lb, w3c

    formats = [
        LogFormat("apache", "Apache/nginx Common or Combined Log Format", looks_like_apache, _apache_parser),
        LogFormat("alb", "AWS Application Load Balancer access log", lb.looks_like_alb, lb.alb_parser),
        LogFormat("elb", "AWS Classic Load Balancer access log", lb.looks_like_elb, lb.elb_parser),
        LogFormat("cloudfront", "AWS CloudFront standard log", w3c.looks_like_cloudfront, w3c.w3c_parser),
        LogFormat("w3c", "W3C extended / IIS log", w3c.looks_like_w3c, w3c.w3c_parser),
        LogFormat("jsonl", "JSON lines (nginx, Caddy, Envoy)", jsonl.looks_like_jsonl, jsonl.jsonl_parser),
    ]
    return {f.name: f for f in formats}


LOG_FORMATS: dict[str, LogFormat] = _registry()
#: Series formats (one value per period, not one line per request).
SERIES_FORMATS = ("csv", "txt")
#: Every name ``--format`` accepts.
FORMAT_NAMES = (*LOG_FORMATS, *SERIES_FORMATS)


def detect_log_format(head: bytes) -> str | None:
    """The log format most of the head's lines match (at least 30% of them), else None."""
    best, share = None, 0.0
    for fmt in LOG_FORMATS.values():
        s = fmt.detect(head)
        if s >= 0.3 and s > share:
            best, share = fmt.name, s
        if share >= 0.99:
            break
    return best


def log_parser(fmt: str, head: bytes, options: dict) -> tuple[Callable, bool]:
    """The parse function of ``fmt`` for a file starting with ``head``, and whether it is stateless.

    Raises:
        InputError: the format needs something the head lacks (e.g. no timestamp field in JSON lines).
    """
    if fmt not in LOG_FORMATS:
        raise InputError(f"unknown log format {fmt!r}; choose one of {', '.join(FORMAT_NAMES)}")
    return LOG_FORMATS[fmt].parser(head, options)


#: One known line (with its header where the format has one) per log format, for :func:`warm_up`.
_SAMPLES = {
    "apache": b'h - - [01/Jul/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 5\n',
    "alb": (b'http 2018-07-02T22:23:00.186641Z app/lb/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 '
            b'0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - '
            b'arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/t/73e2d6bc24d8a067 '
            b'"Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" '
            b'"10.0.0.1:80" "200" "-" "-"\n'),
    "w3c": (b"#Fields: date time s-ip cs-method cs-uri-stem c-ip sc-status sc-bytes\n"
            b"2024-05-14 00:00:01 10.0.0.1 GET / 192.0.2.1 200 512\n"),
    "jsonl": b'{"time": "2024-05-14T00:00:01+00:00", "status": 200, "bytes": 512, "remote_addr": "192.0.2.1"}\n',
}


def warm_up() -> dict[str, int]:
    """Parse one known line of each parser family (CLF, load balancer, W3C, JSON lines): numba loads the
    compiled kernels from its disk cache on first use, so a server calls this once per worker before it
    serves and its first upload, whatever its format, does not pay it. Returns lines parsed per format."""
    from core.ingest.apache import warm_up as warm_clf

    warm_clf(jit=True)  # numba's CLF kernel too: what ingest falls back to without the ahead-of-time one
    out = {}
    for fmt, sample in _SAMPLES.items():
        parse, _ = log_parser(fmt, sample, {})
        # writable, like the reader's buffers: a read-only array is another numba signature
        chunk = parse(np.frombuffer(sample, dtype=np.uint8).copy(), 0, len(sample), 1)
        out[fmt] = int(chunk.minute.size)
    return out
