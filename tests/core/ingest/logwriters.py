"""Write the same requests as every log format ingest reads (for tests and the format benchmark).

``records(clf_bytes)`` reads Common Log Format lines into (host, UTC datetime, offset, request, status,
size) tuples; ``write(fmt, records)`` renders them as that format's file content. Sizes written as ``-``
in CLF are 0 elsewhere (CLF's ``-`` counts as 0 bytes).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import quote

__all__ = ["FORMATS", "records", "write"]

_CLF = re.compile(rb'^(\S+) \S+ \S+ \[([^\]]+)\] "(.*)" (\d{3}) (\d+|-)\s*$')


def records(clf: bytes) -> list[tuple]:
    out = []
    for line in clf.splitlines():
        m = _CLF.match(line)
        if not m:
            continue
        when = dt.datetime.strptime(m.group(2).decode(), "%d/%b/%Y:%H:%M:%S %z")
        size = 0 if m.group(5) == b"-" else int(m.group(5))
        out.append((m.group(1).decode("latin-1"), when, m.group(3).decode("latin-1"), int(m.group(4)), size))
    return out


def _iso_z(when: dt.datetime, micro: int = 0) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{micro:06d}Z"


def _path(request: str) -> str:
    parts = request.split(" ")
    return quote(parts[1] if len(parts) > 1 else parts[0] or "/", safe="/%?=&.-_~")


def _alb(recs, classic: bool = False) -> bytes:
    rows = []
    for i, (host, when, req, status, size) in enumerate(recs):
        head = "" if classic else "http "
        tail = "" if classic else (
            ' arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/tg/1 "Root=1-58337262-36d228ad5d99923" '
            '"-" "-" 0 2024-01-01T00:00:00.000000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-"')
        req_q = req.replace('"', '\\"')
        rows.append(f'{head}{_iso_z(when, i % 1000000)} app/my-lb/50dc6c495c0c9188 {host}:{2000 + i % 60000} '
                    f'10.0.0.1:80 0.000 0.001 0.000 {status} {status} 120 {size} "{req_q}" "Mozilla/5.0 (X11)" '
                    f'- -{tail}')
    return ("\n".join(rows) + "\n").encode("latin-1")


def _cloudfront(recs) -> bytes:
    fields = ("date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) "
              "cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol "
              "cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type "
              "cs-protocol-version")
    rows = ["#Version: 1.0", f"#Fields: {fields}"]
    for host, when, req, status, size in recs:
        u = when.astimezone(dt.UTC)
        rows.append("\t".join([u.strftime("%Y-%m-%d"), u.strftime("%H:%M:%S"), "LAX1", str(size), host, "GET",
                               "d1.cloudfront.net", _path(req), str(status), "-", "Mozilla/5.0%20(X11)", "-", "-",
                               "Hit", "abc==", "example.com", "http", "100", "0.001", "-", "-", "-", "Hit",
                               "HTTP/1.0"]))
    return ("\n".join(rows) + "\n").encode("latin-1")


def _w3c(recs) -> bytes:
    """IIS-style W3C; the #Fields directive changes half way (a restart that reorders the columns)."""
    f1 = "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status sc-bytes"
    f2 = "date time c-ip sc-bytes sc-status cs-method cs-uri-stem time-taken"
    rows = ["#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0", "#Date: 1995-07-01 04:00:00",
            f"#Fields: {f1}"]
    half = len(recs) // 2
    for i, (host, when, req, status, size) in enumerate(recs):
        u = when.astimezone(dt.UTC)
        d, t = u.strftime("%Y-%m-%d"), u.strftime("%H:%M:%S")
        if i == half:
            rows += ["#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0",
                     f"#Date: {d} {t}", f"#Fields: {f2}"]
        if i < half:
            rows.append(f"{d} {t} 10.0.0.1 GET {_path(req)} - 80 - {host} Mozilla/5.0+(X11) {status} {size}")
        else:
            rows.append(f"{d} {t} {host} {size} {status} GET {_path(req)} 15")
    return ("\n".join(rows) + "\n").encode("latin-1")


def _jsonl(recs) -> bytes:
    """nginx-style JSON: $time_local for the first third, $time_iso8601 with the offset, then Unix epoch."""
    rows = []
    third = len(recs) // 3
    for i, (host, when, req, status, size) in enumerate(recs):
        if i < third:
            obj = {"time_local": when.strftime("%d/%b/%Y:%H:%M:%S %z"), "remote_addr": host, "request": req,
                   "status": status, "body_bytes_sent": size, "http_user_agent": "Mozilla/5.0"}
        elif i < 2 * third:
            obj = {"time_local": when.isoformat(), "remote_addr": host, "request": req,
                   "status": str(status), "body_bytes_sent": str(size)}
        else:
            obj = {"time_local": when.timestamp(), "remote_addr": host, "status": status, "body_bytes_sent": size}
        rows.append(json.dumps(obj))
    return ("\n".join(rows) + "\n").encode()


FORMATS = {
    "alb": _alb,
    "elb": lambda recs: _alb(recs, classic=True),
    "cloudfront": _cloudfront,
    "w3c": _w3c,
    "jsonl": _jsonl,
}


def write(fmt: str, recs: list[tuple]) -> bytes:
    """The records as a ``fmt`` file's content."""
    return FORMATS[fmt](recs)
