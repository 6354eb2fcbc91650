"""JSON lines access logs: nginx ``log_format ... escape=json``, Caddy, Envoy, Traefik and the like.

One JSON object per line. The fields a request is read from are found by
their usual names (first present in the file's first lines wins), or named
with ``--json-fields time=KEY,status=KEY,bytes=KEY,host=KEY`` (a dotted key
reaches into nested objects: Caddy's ``request.remote_ip``):

- time: an ISO 8601 string (its UTC offset is kept), nginx's ``$time_local``
  (``01/Jul/1995:00:00:01 -0400``) or Unix epoch seconds/milliseconds (UTC);
- status, bytes: numbers or numeric strings (bytes ``-`` is 0);
- host: the client address (a ``:port`` suffix and IPv6 brackets are dropped).

Lines are decoded with orjson (one C call per line), the fields then
vectorized like the other formats (``decode.py``).
"""

from __future__ import annotations

import numpy as np
import orjson

from core.errors import InputError
from core.ingest import decode
from core.ingest.apache import ParsedChunk
from core.ingest.delimited import Lines, ends_with_newline, first_failure, to_chunk

__all__ = ["KEYS", "looks_like_jsonl", "jsonl_parser", "parse_json_fields", "JsonLinesParser"]

#: The usual names of each field, in the order they are looked for.
KEYS = {
    "time": ("time", "timestamp", "@timestamp", "time_iso8601", "time_local", "ts", "start_time", "StartUTC",
             "date"),
    "status": ("status", "status_code", "response_code", "DownstreamStatus", "response.status",
               "http.response.status_code", "sc-status"),
    "bytes": ("bytes", "body_bytes_sent", "bytes_sent", "size", "DownstreamContentSize", "response.size",
              "http.response.body.bytes", "sc-bytes"),
    "host": ("remote_addr", "client_ip", "remote_ip", "request.remote_ip", "request.client_ip", "ClientHost",
             "downstream_remote_address", "client", "ip", "c-ip", "source.ip", "client.ip"),
}

_REASONS = [
    "not valid JSON",
    "not a JSON object",
    "no timestamp field",
    "unreadable timestamp (expected ISO 8601, dd/Mon/yyyy:hh:mm:ss +zzzz or Unix epoch seconds)",
    "bad status (expected a number 100-599)",
    "bad bytes (expected a number)",
]
_BAD = -2


def parse_json_fields(value: str | dict | None) -> dict:
    """``"time=ts,status=code"`` or a dict -> ``{"time": "ts", "status": "code"}``.

    Raises:
        InputError: an unknown field or a missing ``=``, naming the accepted form.
    """
    if not value:
        return {}
    pairs = value.items() if isinstance(value, dict) else (
        (p.split("=", 1) if "=" in p else (p, None)) for p in str(value).split(",") if p.strip())
    out = {}
    for k, v in pairs:
        k = str(k).strip()
        if k not in KEYS or not v or not str(v).strip():
            raise InputError(f"--json-fields takes FIELD=KEY pairs with FIELD one of {', '.join(KEYS)}, "
                             f"e.g. time=ts,status=code; got {str(k)[:40]!r}={str(v)[:40] if v else ''!r}")
        out[k] = str(v).strip()
    return out


def _objects(sample: bytes, limit: int = 200) -> tuple[list, int]:
    lines = [ln for ln in sample.split(b"\n")[:limit] if ln.strip()]
    if lines and not sample.endswith(b"\n") and len(sample) >= 64 * 1024:
        lines = lines[:-1]  # the head may cut the last line
    docs = []
    for ln in lines:
        try:
            d = orjson.loads(ln)
        except orjson.JSONDecodeError:
            continue
        if isinstance(d, dict):
            docs.append(d)
    return docs, len(lines)


def looks_like_jsonl(sample: bytes) -> float:
    """Share of the sample's non-empty lines that are JSON objects."""
    if sample.lstrip()[:1] != b"{":
        return 0.0
    docs, n = _objects(sample)
    return len(docs) / n if n else 0.0


def _get(doc: dict, key: str):
    v = doc.get(key)
    if v is not None or "." not in key:
        return v
    for part in key.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


def _resolve(docs: list[dict], fields: dict, name: str) -> dict:
    """Which key each field is read from: the one given, else the first usual name the lines carry."""
    out = {}
    for fld, names in KEYS.items():
        if fld in fields:
            key = fields[fld]
            if docs and not any(_get(d, key) is not None for d in docs):
                raise InputError(f"{name}: no line of the first {len(docs)} has the key {key!r} given for {fld} "
                                 f"in --json-fields; keys seen: {', '.join(sorted(docs[0])[:15])}")
            out[fld] = key
            continue
        out[fld] = next((k for k in names if any(_get(d, k) is not None for d in docs)), None)
    if out["time"] is None:
        seen = ", ".join(sorted(docs[0])[:15]) if docs else "none"
        raise InputError(
            f"{name}: JSON lines without a timestamp field (looked for {', '.join(KEYS['time'])}; keys seen: "
            f"{seen}); name it with --json-fields time=KEY"
        )
    return out


def _host(v) -> bytes:
    return b"" if v is None else (v if isinstance(v, str) else str(v)).encode("utf-8", "surrogatepass")


def _number(v, dash: int) -> int:
    if type(v) is int:
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        s = v.strip()
        if s.isdigit():
            return int(s)
        if s == "-":
            return dash
    return _BAD


def _numbers(values: list, missing: int, dash: int) -> np.ndarray:
    """Integers of ``values`` (numbers or numeric strings; None -> ``missing``, ``-`` -> ``dash``, else _BAD)."""
    try:  # the usual case, in C: all integers, or all digit strings
        arr = np.array(values)
        if arr.dtype.kind in "iu":
            return arr.astype(np.int64)
        if arr.dtype.kind == "U":
            return arr.astype(np.int64)
    except (ValueError, TypeError, OverflowError):
        pass
    return np.fromiter((missing if v is None else _number(v, dash) for v in values), dtype=np.int64,
                       count=len(values))


def _spans(values: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    ends = np.cumsum(lengths)
    buf = np.frombuffer(b"".join(values), dtype=np.uint8)
    return buf, ends - lengths, ends


def _text_spans(values: list, encoding: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The strings of ``values`` in one buffer with their spans (non-strings: empty spans)."""
    try:  # the usual case: all strings without a newline, joined and encoded in one C call each
        data = "\n".join(values).encode(encoding, "replace")
        buf = np.frombuffer(data + b"\n", dtype=np.uint8)
        ends = np.flatnonzero(buf == 10)
        if len(ends) == len(values):
            return buf, np.concatenate(([0], ends[:-1] + 1)), ends
    except TypeError:
        pass
    return _spans([v.encode(encoding, "replace") if isinstance(v, str) else b"" for v in values])


def _times(values: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(UTC minute, offset, ok) of timestamps: ISO or nginx strings, or epoch numbers."""
    n = len(values)
    buf, s, e = _text_spans(values, "latin-1")
    minute, offset, ok = decode.iso_minutes(buf, s, e)
    if not ok.all():
        m2, o2, ok2 = decode.clf_minutes(buf, s, e)
        use = ~ok & ok2
        minute, offset, ok = np.where(use, m2, minute), np.where(use, o2, offset), ok | ok2
    if not ok.all():
        num = np.array([float(v) if type(v) in (int, float) else np.nan for v in values], dtype=np.float64)
        is_num = ~np.isnan(num)
        seconds = np.where(num > 1e14, num / 1e6, np.where(num > 1e11, num / 1e3, num))  # us, ms or s
        minute = np.where(is_num, np.floor(np.nan_to_num(seconds) / 60).astype(np.int64), minute)
        offset = np.where(is_num, 0, offset)
        ok = np.where(is_num, (seconds > 0) & (seconds < 1e10), ok)
    return minute.astype(np.int64), offset.astype(np.int16), ok if n else np.zeros(0, dtype=bool)


def _column(docs: list[dict], key: str) -> list:
    if "." not in key:
        return [d.get(key) for d in docs]
    return [_get(d, key) for d in docs]


class JsonLinesParser:
    """Parses JSON lines with the keys resolved from the file's first lines."""

    def __init__(self, head: bytes, fields: dict, name: str) -> None:
        docs, _ = _objects(head)
        self.keys = _resolve(docs, fields, name)

    def __call__(self, buf: np.ndarray, lo: int, hi: int, keep: int) -> ParsedChunk:
        buf, lo, hi = ends_with_newline(buf, lo, hi)
        raw = buf[lo:hi - 1].tobytes().split(b"\n")
        nl = lo + np.flatnonzero(buf[lo:hi] == 10)
        start = np.concatenate(([lo], nl[:-1] + 1))
        end = nl - (buf[np.maximum(nl - 1, 0)] == 13)
        n = len(raw)
        loads = orjson.loads
        valid = np.ones(n, dtype=bool)
        try:
            docs = [loads(line) for line in raw]  # every line valid: one comprehension, no per-line try
        except orjson.JSONDecodeError:
            docs = []
            for i, line in enumerate(raw):
                try:
                    docs.append(loads(line))
                except orjson.JSONDecodeError:
                    docs.append({})
                    valid[i] = False
        is_obj = np.array([type(d) is dict for d in docs], dtype=bool)
        if not is_obj.all():
            docs = [d if type(d) is dict else {} for d in docs]
        k = self.keys
        tvals = _column(docs, k["time"])
        has_time = np.array([v is not None for v in tvals], dtype=bool)
        minute, offset, t_ok = _times(tvals)
        status = _numbers(_column(docs, k["status"]), 0, _BAD) if k["status"] else np.zeros(n, dtype=np.int64)
        size = _numbers(_column(docs, k["bytes"]), -1, 0) if k["bytes"] else np.full(n, -1, dtype=np.int64)
        host = np.zeros(n, dtype=np.uint64)
        if k["host"]:
            vals = _column(docs, k["host"])
            hb, hs, he = _text_spans(vals, "utf-8")
            if not all(type(v) is str for v in vals):  # numbers as hosts; None (absent) stays 0
                hb, hs, he = _spans([_host(v) for v in vals])
                he = np.where([v is None for v in vals], hs, he)
            host = decode.host_hash(hb, hs, he, port_mode=2)
        code = first_failure([
            valid,
            is_obj,
            has_time,
            t_ok,
            (status == 0) | ((status >= 100) & (status <= 599)),
            size != _BAD,
        ])
        lines = Lines(buf, start, end, np.ones(n, dtype=np.int64), np.zeros((n, 0)), np.zeros((n, 0)))
        return to_chunk(lines, _REASONS, code, minute=minute, offset=offset, status=status, size=size, host=host,
                        keep=keep)


def jsonl_parser(head: bytes, options: dict):
    """A parser whose keys come from ``options["fields"]`` and the file's first lines (stateless)."""
    return JsonLinesParser(head, options.get("fields") or {}, options.get("name", "input")), True
