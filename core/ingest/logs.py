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
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import InputError
from core.ingest.apache import ParsedChunk, parse_range, split_lines
from core.ingest.report import IngestReport, RejectedLine
from core.series import TrafficSeries

__all__ = ["LogAggregator", "MAX_SPAN_MINUTES", "offset_str"]

#: Longest time span a log may cover (10 years at 1 minute); beyond it a
#: stray timestamp would allocate a huge grid.
MAX_SPAN_MINUTES = 10 * 366 * 1440
#: Minutes since the epoch a timestamp may hold (pandas' nanosecond range, a margin inside 1677 .. 2262).
MIN_MINUTE = int(pd.Timestamp("1678-01-01", tz="UTC").value // 60_000_000_000)
MAX_MINUTE = int(pd.Timestamp("2261-12-31", tz="UTC").value // 60_000_000_000)


def sorted_unique(a: np.ndarray, kind: str = "quicksort") -> np.ndarray:
    """``np.unique`` by sorting: numpy 2.4's hash-based unique is ~5x slower on 64-bit keys here."""
    a = np.sort(a, kind=kind)
    if len(a) == 0:
        return a
    keep = np.empty(len(a), dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


#: Multiplier of the slot function (2**64 / golden ratio, odd): it spreads any bits of a key over the top ones.
_MIX = np.uint64(0x9E3779B97F4A7C15)


def distinct_hashes(h: np.ndarray, rounds: int = 2) -> np.ndarray:
    """The distinct values of 64-bit keys, sorted: ``sorted_unique(h)``, ~3x faster when they repeat.

    A chunk's host hashes repeat (300k lines, ~20k hosts), and sorting them all is a third of the fold's time.
    Instead each key is written into a direct-mapped table of its own size; the table keeps one value per
    slot, all distinct; keys whose value is not in their slot (another key took it) go round again under
    another slot function, and after ``rounds`` the few left are sorted. Only the distinct values are sorted.
    """
    h = np.asarray(h, dtype=np.uint64)
    if len(h) < 4096:  # the tables would cost more than the sort
        return sorted_unique(h)
    bits = int(min(20, max(12, (len(h) // 4).bit_length())))
    shift = np.uint64(64 - bits)
    # An empty slot holds 0, so a key 0 would seem to find itself there: it is counted apart.
    found, rest = [np.zeros(int((h == 0).any()), dtype=np.uint64)], h
    for r in range(rounds):
        slot = ((rest * (_MIX + np.uint64(2 * r))) >> shift).astype(np.intp)
        table = np.zeros(1 << bits, dtype=np.uint64)
        table[slot] = rest
        found.append(table[table != 0])
        rest = rest[table[slot] != rest]
        if len(rest) == 0:
            break
    found.append(sorted_unique(rest))
    return np.sort(np.concatenate(found))


@dataclass
class _Partial:
    """One parsed piece folded into per-minute sums (built in a worker thread)."""

    lines_total: int
    rejected_count: int
    nonstandard: int
    rejected: list
    skipped: int = 0
    lines_parsed: int = 0
    lo: int = 0
    hi: int = 0
    arrays: dict = field(default_factory=dict)
    pairs: np.ndarray | None = None
    hosts: np.ndarray | None = None
    offsets: list = field(default_factory=list)
    missing: dict = field(default_factory=dict)  # field -> accepted lines that did not carry it


def _fold(pc: ParsedChunk) -> _Partial:
    """Per-minute sums, distinct (minute, host) keys and distinct hosts of one piece (numpy releases the GIL)."""
    part = _Partial(pc.lines_total, pc.rejected_count, pc.nonstandard_request, pc.rejected, pc.skipped)
    m = pc.minute
    if len(m) == 0:
        return part
    lo, hi = int(m.min()), int(m.max())
    if lo < MIN_MINUTE or hi > MAX_MINUTE:
        bad = lo if lo < MIN_MINUTE else hi
        year = 1970 + bad // (1440 * 365.2425)
        raise InputError(f"a log timestamp in the year {year:.0f} is outside 1678 .. 2261, the range this tool "
                         "stores; check for corrupt dates (or drop those lines) and ingest again")
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
    hh = pc.host_hash
    no_size = pc.size < 0
    no_status = st == 0
    no_host = hh == 0
    # The CLF parser never marks a field as absent: one vectorized test each, and the rare path below.
    if no_size.any():
        part.missing["bytes"] = int(no_size.sum())
        part.arrays["bytes"] = np.bincount(rel, weights=np.where(no_size, 0, pc.size), minlength=n)
    if no_status.any():
        part.missing["status"] = int(no_status.sum())
    if no_host.any():
        part.missing["host"] = int(no_host.sum())
        keep = ~no_host
        m, hh = m[keep], hh[keep]
    key32 = (hh & np.uint64(0xFFFFFFFF)).astype(np.int64)
    # A log is in time order, so the keys come in runs of one minute: a stable sort (timsort) merges those
    # runs, ~2.5x faster than quicksort here (bench/results/coldstart.md, round 3).
    part.pairs = sorted_unique((m << 32) | key32, kind="stable")
    part.hosts = distinct_hashes(hh)
    off = pc.offset_min
    if not (off != off[0]).any():  # one offset (the usual case): skip np.unique's sort
        part.offsets = [(int(off[0]), len(off))]
    else:
        vals, counts = np.unique(off, return_counts=True)
        part.offsets = list(zip(vals.tolist(), counts.tolist(), strict=True))
    return part


#: Which column a field that lines may lack feeds, and how the report names it.
_FIELD_COLUMNS = {"bytes": ("bytes",), "status": ("errors_4xx", "errors_5xx"), "host": ("unique_hosts",)}

Parse = Callable[[np.ndarray, int, int, int], ParsedChunk]


class LogAggregator:
    """Fold parsed chunks into per-minute arrays; one per file, merged into one per dataset.

    Args:
        parse: ``parse(buf, lo, hi, keep_examples) -> ParsedChunk`` for the lines of ``buf[lo:hi]``
            (default: the Common/Combined Log Format kernel).
        stateless: whether any range of whole lines parses on its own (then a chunk is split
            over the pool's threads); a W3C log's ``#Fields`` directive makes it stateful.
        keep_examples: rejected lines kept with their line numbers.
    """

    def __init__(self, parse: Parse | None = None, *, stateless: bool = True, keep_examples: int = 5) -> None:
        self.parse = parse or parse_range
        self.stateless = stateless
        self.keep_examples = keep_examples
        self.parts: list[tuple[int, dict[str, np.ndarray]]] = []
        self.pairs: list[np.ndarray] = []
        self.host_hashes: list[np.ndarray] = []
        self.offsets: Counter[int] = Counter()
        self.missing: Counter[str] = Counter()
        self.missing_notes: list[str] = []
        self.lines_total = 0
        self.lines_parsed = 0
        self.lines_skipped = 0
        self.rejected_count = 0
        self.nonstandard = 0
        self.examples: list[RejectedLine] = []
        self.min_minute: int | None = None
        self.max_minute: int | None = None
        self._pending_pairs = 0
        self._compacted_pairs = 0
        #: hosts are known by their 32-bit keys only (a stored dataset without 64-bit host ids)
        self.hosts32 = False

    def add_chunk(self, buf: np.ndarray, pool=None) -> None:
        """Parse and fold one chunk; with a pool, its pieces are parsed and folded in parallel."""
        workers = pool._max_workers if pool is not None and self.stateless else 1
        ranges = split_lines(buf, workers)
        keep = self.keep_examples
        if pool is not None and len(ranges) > 1:
            parts = list(pool.map(lambda r: _fold(self.parse(buf, r[0], r[1], keep)), ranges))
        else:
            parts = [_fold(self.parse(buf, lo, hi, keep)) for lo, hi in ranges]
        for part in parts:
            self._merge(part)

    def _merge(self, part: _Partial) -> None:
        base_line = self.lines_total
        self.lines_total += part.lines_total
        self.lines_skipped += part.skipped
        self.rejected_count += part.rejected_count
        self.nonstandard += part.nonstandard
        for i, reason, text in part.rejected:
            if len(self.examples) < self.keep_examples:
                self.examples.append(RejectedLine(base_line + i + 1, reason, text.decode("latin-1")))
        if part.lines_parsed == 0:
            return
        self.missing.update(part.missing)
        self._add(part.lines_parsed, part.lo, part.hi, [(part.lo, part.arrays)], [part.pairs], [part.hosts],
                  part.offsets)

    def _add(self, lines: int, lo: int, hi: int, parts, pairs, hosts, offsets) -> None:
        self.lines_parsed += lines
        self.min_minute = lo if self.min_minute is None else min(lo, self.min_minute)
        self.max_minute = hi if self.max_minute is None else max(hi, self.max_minute)
        if self.max_minute - self.min_minute > MAX_SPAN_MINUTES:
            raise InputError(
                "the log's timestamps span more than 10 years "
                f"({_fmt(self.min_minute)} .. {_fmt(self.max_minute)}); check for corrupt dates or split the file"
            )
        self.parts.extend(parts)
        self.pairs.extend(pairs)
        self.host_hashes.extend(hosts)
        for v, c in offsets:
            self.offsets[v] += c
        self._pending_pairs += sum(len(p) for p in pairs)
        # Many files (several servers) hold the same (minute, host) keys: unite them now and then,
        # so memory follows the distinct keys, not the sum over files.
        if self._pending_pairs > max(4_000_000, 2 * self._compacted_pairs):
            self.compact()

    def compact(self) -> None:
        """Fold the per-chunk pieces into one array each (same result, less memory)."""
        if len(self.pairs) > 1:
            self.pairs = [sorted_unique(np.concatenate(self.pairs), kind="stable")]
            self.host_hashes = [sorted_unique(np.concatenate(self.host_hashes), kind="stable")]
        if len(self.parts) > 1:
            lo, n = self.min_minute, self.max_minute - self.min_minute + 1
            cols = {k: np.zeros(n, dtype=np.float64) for k in ("requests", "bytes", "errors_4xx", "errors_5xx")}
            for plo, arrays in self.parts:
                s = plo - lo
                for k, v in arrays.items():
                    cols[k][s : s + len(v)] += v
            self.parts = [(lo, cols)]
        self._compacted_pairs = sum(len(p) for p in self.pairs)
        self._pending_pairs = 0

    def merge(self, other: LogAggregator, name: str = "") -> None:
        """Add another file's aggregate: requests summed per minute, (minute, host) keys united."""
        for r in other.examples[: max(0, self.keep_examples - len(self.examples))]:
            self.examples.append(RejectedLine(r.line, r.reason, r.text, name or r.file))
        self.lines_total += other.lines_total
        self.lines_skipped += other.lines_skipped
        self.rejected_count += other.rejected_count
        self.nonstandard += other.nonstandard
        self.missing.update(other.missing)
        self.missing_notes.extend(other.missing_notes)
        self.hosts32 |= other.hosts32
        if other.min_minute is not None:
            self._add(other.lines_parsed, other.min_minute, other.max_minute, other.parts, other.pairs,
                      other.host_hashes, list(other.offsets.items()))

    @classmethod
    def from_series(cls, series: TrafficSeries, *, host_ids: np.ndarray | None, offsets: dict[int, int],
                    lines: tuple[int, int, int, int]) -> LogAggregator:
        """The aggregate a stored 1-minute log dataset was built from (to append files to it).

        Args:
            series: the stored series (1-minute periods, with its host pairs).
            host_ids: its distinct 64-bit host hashes, or None (then counted from the 32-bit keys).
            offsets: lines per UTC offset (minutes) of its files.
            lines: ``(total, parsed, rejected, skipped)`` of its files.
        """
        agg = cls()
        frame = series.frame
        lo = int(frame.index[0].value // 60_000_000_000) if len(frame) else 0
        agg.lines_total, _, agg.rejected_count, agg.lines_skipped = lines
        arrays = {k: np.nan_to_num(frame[k].to_numpy(dtype=np.float64)) for k in
                  ("requests", "bytes", "errors_4xx", "errors_5xx") if k in frame.columns}
        parsed = lines[1]
        for fld, cols in _FIELD_COLUMNS.items():
            if not all(c in frame.columns for c in cols):
                agg.missing[fld] = parsed
        pairs, hosts = [], []
        if series.host_pairs is not None and "unique_hosts" in frame.columns:
            p = series.host_pairs
            keys = ((p[:, 0].astype(np.int64) + lo) << 32) | (p[:, 1].astype(np.int64) & 0xFFFFFFFF)
            pairs = [np.sort(keys)]
            if host_ids is None:
                host_ids = sorted_unique(keys & 0xFFFFFFFF).astype(np.uint64)
                agg.hosts32 = True
                agg.missing_notes.append("the stored dataset kept no 64-bit host ids: the total of unique hosts "
                                         "is counted from 32-bit keys")
            hosts = [host_ids]
        agg._add(parsed, lo, lo + len(frame) - 1, [(lo, arrays)], pairs, hosts, list(offsets.items()))
        return agg

    def finish(self) -> tuple[pd.DataFrame, np.ndarray | None, int]:
        """Per-minute frame (UTC-minute index in the dominant offset), host pairs, offset minutes.

        A column is left out when some accepted lines did not carry its field (``report_missing``
        says which and how many).
        """
        if self.min_minute is None:
            first = f" (line {self.examples[0].line}: {self.examples[0].reason}: {self.examples[0].text[:80]!r})" \
                if self.examples else ""
            raise InputError(f"no line could be read as an access log entry{first}; check the file's format "
                             "(--format names it)")
        self.compact()
        lo, n = self.min_minute, self.max_minute - self.min_minute + 1
        cols = {k: v.astype(np.float64) for k, v in self.parts[0][1].items()} if self.parts else {}
        for k in ("requests", "bytes", "errors_4xx", "errors_5xx"):
            cols.setdefault(k, np.zeros(n, dtype=np.float64))
        pairs = None
        if self.missing.get("host", 0) == 0:
            keys = self.pairs[0] if self.pairs else np.zeros(0, dtype=np.int64)
            # (period, host key) as int32 pairs, the TrafficSeries contract; the span check above keeps
            # periods < 2**31 and the 32-bit host key is stored bit for bit (it may read as negative).
            period = (keys >> 32) - lo
            pairs = np.empty((len(keys), 2), dtype=np.int32)
            pairs[:, 0] = period
            np.copyto(pairs[:, 1], keys, casting="unsafe")  # low 32 bits
            cols["unique_hosts"] = np.bincount(period, minlength=n).astype(np.float64)
        for fld, names in _FIELD_COLUMNS.items():
            if self.missing.get(fld, 0):
                for c in names:
                    cols.pop(c, None)
        offset = self.offsets.most_common(1)[0][0]
        tz = _offset_tz(offset)
        index = pd.DatetimeIndex(pd.to_datetime((lo + np.arange(n)) * 60, unit="s", utc=True)).tz_convert(tz)
        order = [c for c in ("requests", "bytes", "errors_4xx", "errors_5xx", "unique_hosts") if c in cols]
        return pd.DataFrame({c: cols[c] for c in order}, index=index), pairs, offset

    def host_ids(self) -> np.ndarray | None:
        """The distinct 64-bit host hashes of all requests (None when some lines carried no host, or when
        a stored dataset without them was appended to)."""
        if self.missing.get("host", 0) or not self.host_hashes or self.hosts32:
            return None
        if len(self.host_hashes) > 1:
            self.host_hashes = [sorted_unique(np.concatenate(self.host_hashes), kind="stable")]
        return self.host_hashes[0]

    def unique_hosts_total(self) -> int | None:
        if self.hosts32 and not self.missing.get("host", 0):
            keys = np.concatenate(self.host_hashes) & np.uint64(0xFFFFFFFF)
            return int(len(sorted_unique(keys)))
        ids = self.host_ids()
        return None if ids is None else int(len(ids))

    def fill_report(self, report: IngestReport, series: TrafficSeries) -> None:
        report.lines_total = self.lines_total
        report.lines_parsed = self.lines_parsed
        report.lines_rejected = self.rejected_count
        report.lines_skipped = self.lines_skipped
        report.rejected_examples = self.examples
        report.nonstandard_requests = self.nonstandard
        report.unique_hosts_total = self.unique_hosts_total()
        report.offsets = {str(k): int(v) for k, v in sorted(self.offsets.items())}
        if len(self.offsets) > 1:
            desc = ", ".join(f"{offset_str(o)} ({c} lines)" for o, c in self.offsets.most_common())
            report.warnings.append(f"mixed UTC offsets: {desc}; aggregated in UTC and shown in the most common one")
        if self.nonstandard:
            report.warnings.append(
                f"{self.nonstandard} requests have a non-standard request line (no HTTP version, garbage, "
                "or stray quotes); they are counted as requests because the server answered them"
            )
        for fld, names in _FIELD_COLUMNS.items():
            if self.missing.get(fld, 0):
                report.warnings.append(
                    f"{self.missing[fld]:,} of {self.lines_parsed:,} requests carry no {fld} field, so "
                    f"{' and '.join(names)} {'is' if len(names) == 1 else 'are'} left out "
                    "(log that field, or name it with --json-fields)"
                )
        report.assumptions.extend(self.missing_notes)


def offset_str(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    m = abs(int(minutes))
    return f"{sign}{m // 60:02d}:{m % 60:02d}"


def _offset_tz(minutes: int):
    return offset_str(minutes)


def _fmt(minute: int) -> str:
    return pd.Timestamp(minute * 60, unit="s", tz="UTC").isoformat()
