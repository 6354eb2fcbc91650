"""Experiment (not used by ingest): the Common Log Format parsed by pyarrow's CSV tokenizer, checked vectorized.

Issue #16 item 6 idea 1: parse without numba's runtime (about a second of a fresh process) using pyarrow,
which the store imports anyway. Measured and not kept (bench/results/coldstart.md): it gives exactly the
kernel's result, but costs 2-2.5x the kernel's CPU (the tokenizer alone ~1.3-1.5x), so the whole process got
slower; the ahead-of-time kernel (``core/ingest/_clf_aot.py``) removes numba's second instead.

Usage:
    OMP_NUM_THREADS=1 python bench/bench_clf_arrow.py /tmp/nasa.log [--mb 16] [--limit-mb 400]

Per piece of ``--mb`` MB (cut at newlines): the experiment's ParsedChunk must equal numba's kernel's (fields
in any order, rejected lines with their numbers and reasons, counts); the CPU seconds of each are summed.

How it parses: a piece of whole lines is split on single spaces (no quoting, no escapes) into the ten tokens of
``host ident user [dd/Mon/yyyy:hh:mm:ss +zzzz] "method path version" status size``. A row is *trusted* when
every token passes the checks of ``_fields``; it is then exactly a line that ``apache.LINE_RE`` accepts (with
ten tokens, a quote ending the eighth and a valid status and size last, no earlier quote can close the
request). Every other line goes to ``apache.parse_line``. Each line's byte span is rebuilt from its tokens
and checked against the newlines; a piece the tokenizer reads otherwise (a carriage return, which it takes
for a line end; a byte-order mark, which it drops; an odd line that is not UTF-8, which pyarrow's
``invalid_row_handler`` cannot receive) raises ``_Misread`` (ingest would have used the kernel there).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.ingest import apache  # noqa: E402
from core.ingest.apache import ParsedChunk, parse_line  # noqa: E402
from core.ingest.decode import days_from_civil, gather, uint_field  # noqa: E402

_NAMES = ("host", "ident", "user", "ts", "tz", "method", "path", "version", "status", "size")
_DICT = pa.dictionary(pa.int32(), pa.binary())
_CONVERT = pacsv.ConvertOptions(
    # Dictionaries (few distinct values: checked and decoded once each), but the timestamp and the path.
    column_types={n: (pa.binary() if n in ("ts", "path") else _DICT) for n in _NAMES},
    check_utf8=False, strings_can_be_null=False, quoted_strings_can_be_null=False,
    null_values=[], true_values=[], false_values=[],
)
_MONTHS = np.frombuffer(b"JanFebMarAprMayJunJulAugSepOctNovDec", dtype=np.uint8).reshape(12, 3).astype(np.int32)
_KEYS = (_MONTHS[:, 0] << 16) | (_MONTHS[:, 1] << 8) | _MONTHS[:, 2]
_MONTH_KEYS = np.sort(_KEYS)  # the three letters as one number, sorted (searchsorted finds the month)
_MONTH_NUMBER = (np.argsort(_KEYS) + 1).astype(np.int64)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_STANDARD = apache._HTTP_VERSION_RE  # the kernel's standard request line
#: Above this share of odd lines a piece goes to the numba kernel (the reference regex is per line).
ODD_SHARE = 0.05


class _Misread(Exception):
    """The tokenizer's rows do not line up with the piece's lines: parse the piece with the kernel."""


#: pyarrow decodes an odd row's text as UTF-8 before it calls the handler; on a latin-1 line that fails,
#: pyarrow reports it as an "Exception ignored" on stderr and the read raises (the piece then goes to the
#: kernel). The hook keeps that expected report off the terminal; any other one passes through.
_QUIET = "clf_arrow._read.handler"


def _quiet_hook(previous):
    def hook(unraisable) -> None:
        if getattr(unraisable.object, "__qualname__", None) == _QUIET:
            return
        previous(unraisable)

    hook.quiet_clf_arrow = True
    return hook


if not getattr(sys.unraisablehook, "quiet_clf_arrow", False):
    sys.unraisablehook = _quiet_hook(sys.unraisablehook)


def _column(table: pa.Table, name: str):
    """A binary column as (data, start, end) numpy arrays."""
    arr = table.column(name).combine_chunks()
    _, offsets, data = arr.buffers()[:3]
    off = np.frombuffer(offsets, dtype=np.int32, count=arr.offset + len(arr) + 1)[arr.offset:].astype(np.int64)
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
    return data, off[:-1], off[1:]


def _fnv(data: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """FNV-1a 64 of each span (the kernel's host hash), one byte column at a time."""
    n = len(start)
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    length = end - start
    width = int(length.max()) if n else 0
    long = length > 64
    if long.any():  # rare: a long host; hashed in Python rather than a wide matrix
        for i in np.flatnonzero(long):
            h[i] = _fnv_bytes(data[start[i]:end[i]].tobytes())
        width = 64
    g = gather(data, start, width)
    for j in range(width):
        inside = (j < length) & ~long
        h = np.where(inside, (h ^ g[:, j].astype(np.uint64)) * _FNV_PRIME, h)
    return h


def _fnv_bytes(b: bytes) -> np.uint64:
    h = 0xCBF29CE484222325
    for c in b:
        h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return np.uint64(h)


def _digits(g: np.ndarray, cols: list[int]):
    d = g[:, cols].astype(np.int64) - 48
    ok = ((d >= 0) & (d <= 9)).all(axis=1)
    return (d * (10 ** np.arange(len(cols) - 1, -1, -1))).sum(axis=1), ok


def _dict_column(table: pa.Table, name: str):
    """A dictionary column as (row indices, (data, start, end) of its distinct values)."""
    arr = table.column(name).combine_chunks()
    if isinstance(arr, pa.ChunkedArray):  # no chunks at all
        arr = pa.array([], type=_DICT)
    idx = np.frombuffer(arr.indices.buffers()[1], dtype=np.int32, count=arr.indices.offset + len(arr))
    values = pa.chunked_array([arr.dictionary])
    return idx[arr.indices.offset:], _column(pa.table({"v": values}), "v")


def _values(spans, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values' first ``width`` bytes (an ``(m, width)`` array) and their lengths."""
    data, s, e = spans
    return gather(data, s, width), e - s


def _fields(table: pa.Table):
    """Per row: (trusted, token bytes, minute, offset, status, size, host hash, non-standard request).

    Every column but the timestamp and the path is a dictionary: its few distinct values are checked
    and decoded once, and each row looks its value up.
    """
    cols = {n: _dict_column(table, n) for n in _NAMES if n not in ("ts", "path")}
    lens = {n: (e - s)[idx] for n, (idx, (_, s, e)) in cols.items()}
    _, ps, pe = _column(table, "path")
    tdata, ts, te = _column(table, "ts")
    tokens = sum(lens.values()) + (pe - ps) + (te - ts)
    n = len(ts)

    def per_row(name: str, values: np.ndarray) -> np.ndarray:
        return values[cols[name][0]]

    ok = (lens["host"] > 0) & (lens["ident"] > 0) & (lens["user"] > 0)
    # '+zzzz]'
    g, ln = _values(cols["tz"][1], 6)
    oh, ok1 = _digits(g, [1, 2])
    om, ok2 = _digits(g, [3, 4])
    good = (ln == 6) & ok1 & ok2 & ((g[:, 0] == 43) | (g[:, 0] == 45)) & (g[:, 5] == 93) & (oh <= 23) & (om <= 59)
    offset = per_row("tz", (oh * 60 + om) * np.where(g[:, 0] == 45, -1, 1))
    ok &= per_row("tz", good)
    # '"method' and 'version"': the request's quotes; a standard request is '[A-Z]... HTTP/d.d'.
    g, ln = _values(cols["method"][1], 2)
    ok &= per_row("method", (ln >= 1) & (g[:, 0] == 34))
    std = per_row("method", (ln >= 2) & (g[:, 1] >= 65) & (g[:, 1] <= 90))
    data, s, e = cols["version"][1]
    g, ln = gather(data, s, 9), e - s
    last = gather(data, e - 1, 1)[:, 0]
    ok &= per_row("version", (ln >= 1) & (last == 34))
    _, okv = _digits(g, [5, 7])
    good = (ln == 9) & okv & (g[:, 6] == 46) & (g[:, 8] == 34)
    for j, c in enumerate(b"HTTP/"):
        good &= g[:, j] == c
    std &= per_row("version", good)
    # 'SSS' (100-599) and 'SIZE' (1-15 digits or '-')
    g, ln = _values(cols["status"][1], 3)
    status, ok1 = _digits(g, [0, 1, 2])
    ok &= per_row("status", (ln == 3) & ok1 & (g[:, 0] >= 49) & (g[:, 0] <= 53))
    status = per_row("status", status)
    data, s, e = cols["size"][1]
    size, ok1 = uint_field(data, s, e)
    ok &= per_row("size", ok1)
    size = per_row("size", size)
    # '[dd/Mon/yyyy:hh:mm:ss': one row each (a view of the bytes when every token has 21)
    if n and ts[0] == 0 and int(te[-1]) == 21 * n and (te - ts == 21).all():
        g = tdata[: 21 * n].reshape(n, 21)
    else:
        g = gather(tdata, ts, 21)
    d = g[:, [1, 2, 8, 9, 10, 11, 13, 14, 16, 17, 19, 20]] - np.uint8(48)
    ok &= (te - ts == 21) & (d <= 9).all(axis=1)
    d = d.astype(np.int32)
    day = d[:, 0] * 10 + d[:, 1]
    year = d[:, 2] * 1000 + d[:, 3] * 100 + d[:, 4] * 10 + d[:, 5]
    hh = d[:, 6] * 10 + d[:, 7]
    mi = d[:, 8] * 10 + d[:, 9]
    ss = d[:, 10] * 10 + d[:, 11]
    key = (g[:, 4].astype(np.int32) << 16) | (g[:, 5].astype(np.int32) << 8) | g[:, 6]
    at = np.minimum(np.searchsorted(_MONTH_KEYS, key), 11)
    mon = _MONTH_NUMBER[at]
    ok &= (_MONTH_KEYS[at] == key) & (g[:, 0] == 91) & (g[:, 3] == 47) & (g[:, 7] == 47)
    ok &= (g[:, 12] == 58) & (g[:, 15] == 58) & (g[:, 18] == 58)
    ok &= (day >= 1) & (day <= 31) & (hh <= 23) & (mi <= 59) & (ss <= 60)
    minute = days_from_civil(year.astype(np.int64), mon, day) * 1440 + hh * 60 + mi - offset
    hidx, hspans = cols["host"]
    hashes = _fnv(*hspans)[hidx]
    return ok, tokens, minute, offset, status, size, hashes, ~std


def _read(piece: np.ndarray) -> tuple[pa.Table, list[int]]:
    odd: list[int] = []

    def handler(row) -> str:
        if row.number is None:
            raise _Misread
        odd.append(row.number)  # 1-based line number within the piece
        return "skip"

    handler.__qualname__ = _QUIET  # see _quiet_hook

    options = pacsv.ParseOptions(delimiter=" ", quote_char=False, escape_char=False, double_quote=False,
                                 newlines_in_values=False, ignore_empty_lines=False, invalid_row_handler=handler)
    read = pacsv.ReadOptions(column_names=list(_NAMES), use_threads=False, block_size=max(1 << 20, len(piece) + 1))
    table = pacsv.read_csv(pa.py_buffer(piece), read_options=read, parse_options=options, convert_options=_CONVERT)
    return table, odd


def _newline(piece: np.ndarray, start: int) -> int:
    """Index of the first newline at or after ``start`` (the piece ends with one)."""
    step = 256
    while True:
        hits = np.flatnonzero(piece[start:start + step] == 10)
        if len(hits):
            return start + int(hits[0])
        start += step
        step *= 4


def _parse(piece: np.ndarray, keep: int) -> ParsedChunk:
    table, odd = _read(piece)
    rows = table.num_rows
    lines = rows + len(odd)
    ok, tokens, minute, offset, status, size, hashes, nonstd = _fields(table) if rows else (
        np.zeros(0, dtype=bool), *(np.zeros(0, dtype=np.int64),) * 6, np.zeros(0, dtype=bool))
    # A row of ten empty tokens is an empty line (or nine spaces): its span is found, not computed.
    blank = tokens == 0
    if len(odd) + int((~ok).sum()) > max(64, ODD_SHARE * lines):
        raise _Misread
    is_row = np.ones(lines, dtype=bool)
    is_row[np.asarray(odd, dtype=np.int64) - 1] = False
    row_line = np.flatnonzero(is_row)
    known = np.zeros(lines, dtype=np.int64)
    known[row_line] = np.where(blank, 0, tokens + 10)  # ten tokens, nine spaces and the newline
    search = np.sort(np.concatenate([np.asarray(odd, dtype=np.int64) - 1, row_line[blank]]))
    before = np.concatenate([[0], np.cumsum(known)])
    # The odd lines' spans, in order: each starts where the lines before it end.
    found_start = np.empty(len(search), dtype=np.int64)
    found_end = np.empty(len(search), dtype=np.int64)
    extra = 0
    for k, line in enumerate(search.tolist()):
        a = int(before[line]) + extra
        if a >= len(piece):
            raise _Misread
        b = _newline(piece, a)
        if (piece[a:b] == 13).any():
            raise _Misread
        found_start[k], found_end[k] = a, b
        extra += b - a + 1
    if int(before[-1]) + extra != len(piece):
        raise _Misread
    shift = np.concatenate([[0], np.cumsum(found_end - found_start + 1)])
    start = before[row_line] + shift[np.searchsorted(search, row_line)]
    end = start + tokens + 9  # the newline ending a row's line
    solid = ~blank
    if not (piece[np.minimum(end[solid], len(piece) - 1)] == 10).all():
        raise _Misread
    # Trusted rows directly; the rest by the reference parser, in line order.
    take = ok & solid
    odd_lines = np.concatenate([search, row_line[solid & ~ok]])
    odd_start = np.concatenate([found_start, start[solid & ~ok]])
    odd_end = np.concatenate([found_end, end[solid & ~ok]])
    order = np.argsort(odd_lines, kind="stable")
    extra_rows: list[tuple] = []
    rejected: list[tuple[int, str, bytes]] = []
    rejected_count = 0
    for i in order.tolist():
        line = piece[odd_start[i]:odd_end[i]].tobytes()
        ref = parse_line(line)
        if isinstance(ref, str):
            if rejected_count < keep:
                rejected.append((int(odd_lines[i]), ref, line[:300]))
            rejected_count += 1
        else:
            extra_rows.append(ref)
    m = [r[0] for r in extra_rows]
    return ParsedChunk(
        minute=np.concatenate([minute[take], np.array(m, dtype=np.int64)]).astype(np.int64),
        offset_min=np.concatenate([offset[take], [r[1] for r in extra_rows]]).astype(np.int16),
        status=np.concatenate([status[take], [r[2] for r in extra_rows]]).astype(np.int16),
        size=np.concatenate([size[take], [r[3] for r in extra_rows]]).astype(np.int64),
        host_hash=np.concatenate([hashes[take], np.array([_fnv_bytes(r[4]) for r in extra_rows], dtype=np.uint64)]
                                 ).astype(np.uint64),
        lines_total=int(lines),
        nonstandard_request=int(nonstd[take].sum()) + sum(_STANDARD.match(r[5]) is None for r in extra_rows),
        rejected=rejected,
        rejected_count=rejected_count,
    )


def _canon(c: ParsedChunk) -> list:
    order = np.lexsort((c.host_hash, c.size, c.status, c.offset_min, c.minute))
    return [x[order].tolist() for x in (c.minute, c.offset_min, c.status, c.size, c.host_hash)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("log", type=Path)
    ap.add_argument("--mb", type=int, default=16, help="piece size (MB)")
    ap.add_argument("--limit-mb", type=int, default=400, help="read at most this much of the log")
    args = ap.parse_args()
    raw = args.log.open("rb").read(args.limit_mb << 20)
    raw = raw[: raw.rfind(b"\n") + 1]
    buf = np.frombuffer(raw, dtype=np.uint8).copy()
    apache.warm_up(jit=True)
    cpu = {"numba kernel (JIT)": 0.0, "pyarrow tokenizer only": 0.0, "pyarrow experiment, whole": 0.0}
    lo, pieces, misread = 0, 0, 0
    while lo < len(buf):
        hi = raw.rfind(b"\n", lo, min(len(buf), lo + (args.mb << 20))) + 1 if lo + (args.mb << 20) < len(buf) \
            else len(buf)
        piece = buf[lo:hi]
        c0 = time.process_time()
        ref = apache.parse_range(buf, lo, hi, 5, jit=True)
        c1 = time.process_time()
        _read(piece)
        c2 = time.process_time()
        try:
            got = _parse(piece, 5)
        except _Misread:
            misread += 1
            got = ref
        c3 = time.process_time()
        for k, v in zip(cpu, (c1 - c0, c2 - c1, c3 - c2), strict=True):
            cpu[k] += v
        same = (got.lines_total, got.rejected_count, got.nonstandard_request, got.rejected) == \
            (ref.lines_total, ref.rejected_count, ref.nonstandard_request, ref.rejected) and _canon(got) == _canon(ref)
        if not same:
            raise SystemExit(f"different results in the piece at bytes {lo}..{hi}")
        lo, pieces = hi, pieces + 1
    mb = len(buf) / 1e6
    print(f"{pieces} pieces of {args.mb} MB, {mb:.0f} MB: the same ParsedChunk as the kernel in every piece "
          f"({misread} read otherwise and left to the kernel)\n")
    print("| parser (one thread) | CPU s | CPU s per 100 MB | x kernel |\n|---|---:|---:|---:|")
    base = cpu["numba kernel (JIT)"]
    for k, v in cpu.items():
        print(f"| {k} | {v:.2f} | {v / mb * 100:.3f} | {v / base:.2f} |")


if __name__ == "__main__":
    main()
