"""Access logs -> 1-minute TrafficSeries, streaming chunk by chunk.

Per chunk the parser yields arrays of (minute, status, size, host hash); this
module folds them into per-minute sums with ``np.bincount`` and keeps one
``(minute, host key)`` pair per distinct host and minute, so unique hosts can
be recounted at any coarser grain. The host key is the low 32 bits of the
host's 64-bit FNV-1a hash: two hosts collide within one period with
probability ~k^2/2^33 for k hosts (about 1e-6 per minute at NASA's rate,
1e-2 per day-long period), so counts are exact in practice; the dataset's
total uses the full 64-bit hash. Memory is bounded by the chunk size plus
the per-minute arrays and the distinct pairs, not by the file size.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import InputError
from core.ingest.apache import ParsedChunk, parse_range, split_lines
from core.ingest.report import IngestReport, RejectedLine
from core.series import TrafficSeries

__all__ = ["LogAggregator", "MAX_SPAN_MINUTES"]

#: Longest time span a log may cover (10 years at 1 minute); beyond it a
#: stray timestamp would allocate a huge grid.
MAX_SPAN_MINUTES = 10 * 366 * 1440


def sorted_unique(a: np.ndarray, kind: str = "quicksort") -> np.ndarray:
    """``np.unique`` by sorting: numpy 2.4's hash-based unique is ~5x slower on 64-bit keys here."""
    a = np.sort(a, kind=kind)
    if len(a) == 0:
        return a
    keep = np.empty(len(a), dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


@dataclass
class _Partial:
    """One parsed piece folded into per-minute sums (built in a worker thread)."""

    lines_total: int
    rejected_count: int
    nonstandard: int
    rejected: list
    lines_parsed: int = 0
    lo: int = 0
    hi: int = 0
    arrays: dict = field(default_factory=dict)
    pairs: np.ndarray | None = None
    hosts: np.ndarray | None = None
    offsets: list = field(default_factory=list)


def _fold(pc: ParsedChunk) -> _Partial:
    """Per-minute sums, distinct (minute, host) keys and distinct hosts of one piece (numpy releases the GIL)."""
    part = _Partial(pc.lines_total, pc.rejected_count, pc.nonstandard_request, pc.rejected)
    m = pc.minute
    if len(m) == 0:
        return part
    lo, hi = int(m.min()), int(m.max())
    if hi - lo > MAX_SPAN_MINUTES:
        raise InputError(
            f"the log's timestamps span more than 10 years ({_fmt(lo)} .. {_fmt(hi)}); "
            "check for corrupt dates or split the file"
        )
    rel = m - lo
    n = hi - lo + 1
    st = pc.status
    part.lines_parsed, part.lo, part.hi = len(m), lo, hi
    part.arrays = {
        "requests": np.bincount(rel, minlength=n),
        "bytes": np.bincount(rel, weights=pc.size, minlength=n),
        "errors_4xx": np.bincount(rel[(st >= 400) & (st < 500)], minlength=n),
        "errors_5xx": np.bincount(rel[st >= 500], minlength=n),
    }
    key32 = (pc.host_hash & np.uint64(0xFFFFFFFF)).astype(np.int64)
    part.pairs = sorted_unique((m << 32) | key32)
    part.hosts = sorted_unique(pc.host_hash)
    off = pc.offset_min
    if not (off != off[0]).any():  # one offset (the usual case): skip np.unique's sort
        part.offsets = [(int(off[0]), len(off))]
    else:
        vals, counts = np.unique(off, return_counts=True)
        part.offsets = list(zip(vals.tolist(), counts.tolist(), strict=True))
    return part


class LogAggregator:
    """Fold parsed chunks into per-minute arrays."""

    def __init__(self, keep_examples: int = 5) -> None:
        self.keep_examples = keep_examples
        self.parts: list[tuple[int, dict[str, np.ndarray]]] = []
        self.pairs: list[np.ndarray] = []
        self.host_hashes: list[np.ndarray] = []
        self.offsets: Counter[int] = Counter()
        self.lines_total = 0
        self.lines_parsed = 0
        self.rejected_count = 0
        self.nonstandard = 0
        self.examples: list[RejectedLine] = []
        self.min_minute: int | None = None
        self.max_minute: int | None = None

    def add_chunk(self, buf: np.ndarray, pool=None) -> None:
        """Parse and fold one chunk; with a pool, its pieces are parsed and folded in parallel."""
        workers = pool._max_workers if pool is not None else 1
        ranges = split_lines(buf, workers)
        if pool is not None and len(ranges) > 1:
            parts = list(pool.map(lambda r: _fold(parse_range(buf, r[0], r[1], self.keep_examples)), ranges))
        else:
            parts = [_fold(parse_range(buf, lo, hi, self.keep_examples)) for lo, hi in ranges]
        for part in parts:
            self._merge(part)

    def _merge(self, part: _Partial) -> None:
        base_line = self.lines_total
        self.lines_total += part.lines_total
        self.rejected_count += part.rejected_count
        self.nonstandard += part.nonstandard
        for i, reason, text in part.rejected:
            if len(self.examples) < self.keep_examples:
                self.examples.append(RejectedLine(base_line + i + 1, reason, text.decode("latin-1")))
        if part.lines_parsed == 0:
            return
        self.lines_parsed += part.lines_parsed
        self.min_minute = part.lo if self.min_minute is None else min(part.lo, self.min_minute)
        self.max_minute = part.hi if self.max_minute is None else max(part.hi, self.max_minute)
        if self.max_minute - self.min_minute > MAX_SPAN_MINUTES:
            raise InputError(
                "the log's timestamps span more than 10 years "
                f"({_fmt(self.min_minute)} .. {_fmt(self.max_minute)}); check for corrupt dates or split the file"
            )
        self.parts.append((part.lo, part.arrays))
        self.pairs.append(part.pairs)
        self.host_hashes.append(part.hosts)
        for v, c in part.offsets:
            self.offsets[v] += c

    def finish(self) -> tuple[pd.DataFrame, np.ndarray, int]:
        """Per-minute frame (UTC-minute index in the dominant offset), host pairs, offset minutes."""
        if self.min_minute is None:
            raise InputError("no line could be read as an access log entry; see the rejected examples")
        lo, n = self.min_minute, self.max_minute - self.min_minute + 1
        cols = {k: np.zeros(n, dtype=np.float64) for k in ("requests", "bytes", "errors_4xx", "errors_5xx")}
        for plo, arrays in self.parts:
            s = plo - lo
            for k, v in arrays.items():
                cols[k][s : s + len(v)] += v
        keys = sorted_unique(np.concatenate(self.pairs), kind="stable")  # sorted runs: timsort merges them
        # (period, host key) as int32 pairs, the TrafficSeries contract; the span check above keeps
        # periods < 2**31 and the 32-bit host key is stored bit for bit (it may read as negative).
        period = (keys >> 32) - lo
        pairs = np.empty((len(keys), 2), dtype=np.int32)
        pairs[:, 0] = period
        np.copyto(pairs[:, 1], keys, casting="unsafe")  # low 32 bits
        cols["unique_hosts"] = np.bincount(period, minlength=n).astype(np.float64)
        offset = self.offsets.most_common(1)[0][0]
        tz = _offset_tz(offset)
        index = pd.DatetimeIndex(pd.to_datetime((lo + np.arange(n)) * 60, unit="s", utc=True)).tz_convert(tz)
        return pd.DataFrame(cols, index=index), pairs, offset

    def fill_report(self, report: IngestReport, series: TrafficSeries) -> None:
        report.lines_total = self.lines_total
        report.lines_parsed = self.lines_parsed
        report.lines_rejected = self.rejected_count
        report.rejected_examples = self.examples
        report.nonstandard_requests = self.nonstandard
        report.unique_hosts_total = int(len(sorted_unique(np.concatenate(self.host_hashes), kind="stable")))
        if len(self.offsets) > 1:
            desc = ", ".join(f"{_offset_str(o)} ({c} lines)" for o, c in self.offsets.most_common())
            report.warnings.append(f"mixed UTC offsets: {desc}; aggregated in UTC and shown in the most common one")
        if self.nonstandard:
            report.warnings.append(
                f"{self.nonstandard} requests have a non-standard request line (no HTTP version, garbage, "
                "or stray quotes); they are counted as requests because the server answered them"
            )


def _offset_str(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    m = abs(int(minutes))
    return f"{sign}{m // 60:02d}:{m % 60:02d}"


def _offset_tz(minutes: int):
    return _offset_str(minutes)


def _fmt(minute: int) -> str:
    return pd.Timestamp(minute * 60, unit="s", tz="UTC").isoformat()
