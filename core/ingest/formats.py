"""The log formats ingest reads, how each is recognised, and its parser.

Each format turns a chunk of whole lines into a :class:`~core.ingest.apache.ParsedChunk`
(UTC minute, offset, status, bytes, host hash per accepted request), so all of
them aggregate the same way (``logs.LogAggregator``). Detection looks at the
first 64 KiB of decompressed content; ``--format`` forces one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.errors import InputError
from core.ingest.apache import looks_like_apache, parse_range

__all__ = ["LogFormat", "LOG_FORMATS", "SERIES_FORMATS", "FORMAT_NAMES", "detect_log_format", "log_parser"]


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
