"""The one data contract: a regular, tz-aware traffic series with its gaps.

Everything downstream (store, forecasting, scaling, pages) takes a
``TrafficSeries`` and trusts it; validation happens here, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

__all__ = ["COLUMNS", "Gap", "TrafficSeries", "parse_granularity"]

#: Columns a series may carry. Absent columns are absent, never zeros.
COLUMNS = ("requests", "bytes", "errors_4xx", "errors_5xx", "unique_hosts")
_SUMMABLE = ("requests", "bytes", "errors_4xx", "errors_5xx")


@dataclass(frozen=True)
class Gap:
    """A run of periods with no traffic where traffic was expected.

    ``start`` is the first silent period, ``end`` the first period with
    data again (half-open ``[start, end)``), both in the series' offset.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    kind: str  # "missing" (no data at all) or "silent" (zero requests)

    def to_dict(self) -> dict:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "kind": self.kind,
            "minutes": int((self.end - self.start) / pd.Timedelta(minutes=1)),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Gap:
        return cls(pd.Timestamp(d["start"]), pd.Timestamp(d["end"]), d["kind"])


def parse_granularity(value: str | int | pd.Timedelta) -> pd.Timedelta:
    """Turn ``5``, ``"5"``, ``"5min"``, ``"1h"`` or a Timedelta into a Timedelta.

    Raises:
        ValueError: naming the bad value and the accepted forms.
    """
    try:
        if isinstance(value, pd.Timedelta):
            td = value
        elif isinstance(value, (int, np.integer)) or (isinstance(value, str) and value.strip().isdigit()):
            td = pd.Timedelta(minutes=int(value))
        else:
            td = pd.Timedelta(str(value).strip())
    except (ValueError, TypeError):
        td = None
    if td is None or pd.isna(td) or td <= pd.Timedelta(0):
        raise ValueError(
            f"granularity must be a positive duration such as 5, '5min' or '1h', got {value!r}"
        )
    return td


@dataclass(frozen=True)
class TrafficSeries:
    """A regular time grid of traffic counts.

    Attributes:
        frame: indexed by period start (tz-aware, fixed UTC offset of the
            source), on a regular grid of ``interval``; columns from
            ``COLUMNS``. ``requests`` is NaN where the source had no data.
        interval: the grid step.
        gaps: outages and missing stretches found at ingest.
        host_pairs: optional ``(period_index, host_id)`` int32 pairs at this
            interval, one per distinct host per period, so that unique hosts
            can be counted exactly at any coarser grain. Host ids are 32-bit
            keys stored bit for bit (they may read as negative; int64 pairs
            from older datasets work too).
    """

    frame: pd.DataFrame
    interval: pd.Timedelta
    gaps: tuple[Gap, ...] = ()
    host_pairs: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        idx = self.frame.index
        if not isinstance(idx, pd.DatetimeIndex) or idx.tz is None:
            raise ValueError("TrafficSeries needs a tz-aware DatetimeIndex; localize the timestamps first")
        if idx.unit != "ns":
            # pandas 3 infers second/ms resolution; asi8 arithmetic below assumes ns.
            object.__setattr__(self, "frame", self.frame.set_axis(idx.as_unit("ns")))
            idx = self.frame.index
        if "requests" not in self.frame.columns:
            raise ValueError("TrafficSeries needs a 'requests' column")
        unknown = set(self.frame.columns) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown columns {sorted(unknown)}; allowed: {', '.join(COLUMNS)}")
        if self.interval <= pd.Timedelta(0):
            raise ValueError(f"interval must be positive, got {self.interval}")
        if len(idx) > 1:
            steps = np.diff(idx.asi8)
            if not (steps == self.interval.value).all():
                raise ValueError("TrafficSeries index must be a regular grid at its interval")

    # -- views -----------------------------------------------------------
    def __len__(self) -> int:
        return len(self.frame)

    @property
    def interval_minutes(self) -> float:
        return self.interval / pd.Timedelta(minutes=1)

    @property
    def index(self) -> pd.DatetimeIndex:
        return self.frame.index

    @property
    def requests(self) -> np.ndarray:
        """Requests per period as float64 (NaN where no data)."""
        return self.frame["requests"].to_numpy(dtype=np.float64)

    @property
    def start(self) -> pd.Timestamp:
        return self.frame.index[0]

    @property
    def end(self) -> pd.Timestamp:
        """End of the last period (exclusive)."""
        return self.frame.index[-1] + self.interval

    def gap_mask(self) -> np.ndarray:
        """True for every period inside a gap or without data."""
        mask = np.isnan(self.requests)
        t = self.frame.index.asi8
        for g in self.gaps:
            mask |= (t >= g.start.value) & (t < g.end.value)
        return mask

    def window(self, start=None, end=None) -> TrafficSeries:
        """Periods with ``start <= t < end`` (strings are read in the series' offset)."""
        idx = self.frame.index
        lo = 0 if start is None else idx.searchsorted(self._ts(start), side="left")
        hi = len(idx) if end is None else idx.searchsorted(self._ts(end), side="left")
        if hi <= lo:
            raise ValueError(
                f"window {start} .. {end} holds no periods; the series covers {self.start} .. {self.end}"
            )
        pairs = None
        if self.host_pairs is not None:
            p = self.host_pairs
            keep = (p[:, 0] >= lo) & (p[:, 0] < hi)
            pairs = p[keep] - np.array([lo, 0], dtype=p.dtype)
        gaps = tuple(g for g in self.gaps if g.end > idx[lo] and g.start < idx[hi - 1] + self.interval)
        return replace(self, frame=self.frame.iloc[lo:hi], gaps=gaps, host_pairs=pairs)

    def _ts(self, value) -> pd.Timestamp:
        ts = pd.Timestamp(value)
        if ts.tz is None:
            ts = ts.tz_localize(self.frame.index.tz)
        return ts

    def resample(self, granularity) -> TrafficSeries:
        """Sum into a coarser grid (a whole multiple of the interval).

        Periods are aligned to the series' local midnight. A coarse period
        is NaN only if all its base periods are NaN. Unique hosts are
        recounted exactly from ``host_pairs`` when present, else dropped.
        """
        step = parse_granularity(granularity)
        ratio = step / self.interval
        if ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(
                f"granularity {step} must be a whole multiple of the series interval {self.interval}"
            )
        k = int(round(ratio))
        if k == 1:
            return self
        idx = self.frame.index
        # Bin number of each base period, aligned to local midnight.
        local_ns = idx.asi8 + int(idx[0].utcoffset().total_seconds()) * 10**9
        day_ns = 86_400 * 10**9
        first_bin_start = local_ns[0] - ((local_ns[0] % day_ns) % step.value)
        bins = (local_ns - first_bin_start) // step.value
        nbins = int(bins[-1]) + 1
        new_index = pd.date_range(idx[0] - pd.Timedelta(local_ns[0] - first_bin_start), periods=nbins, freq=step)
        out = {}
        for col in _SUMMABLE:
            if col in self.frame.columns:
                v = self.frame[col].to_numpy(dtype=np.float64)
                have = ~np.isnan(v)
                sums = np.bincount(bins[have], weights=v[have], minlength=nbins)
                count = np.bincount(bins[have], minlength=nbins)
                sums[count == 0] = np.nan
                out[col] = sums
        pairs = None
        if self.host_pairs is not None and "unique_hosts" in self.frame.columns:
            pb = bins[self.host_pairs[:, 0]]
            # Host keys are 32-bit patterns that may read as negative int32: mask after widening.
            key = pb.astype(np.int64) << 32 | (self.host_pairs[:, 1].astype(np.int64) & 0xFFFFFFFF)
            uk = np.sort(key)  # sort-based unique: numpy's hash-based np.unique is ~5x slower here
            uk = uk[np.concatenate([[True], uk[1:] != uk[:-1]])] if len(uk) else uk
            pairs = np.empty((len(uk), 2), dtype=np.int32)
            pairs[:, 0] = uk >> 32
            np.copyto(pairs[:, 1], uk, casting="unsafe")  # low 32 bits
            out["unique_hosts"] = np.bincount(uk >> 32, minlength=nbins).astype(np.float64)
            out["unique_hosts"][np.isnan(out["requests"])] = np.nan
        frame = pd.DataFrame(out, index=new_index)
        return TrafficSeries(frame=frame, interval=step, gaps=self.gaps, host_pairs=pairs)

    def to_dict_summary(self) -> dict:
        req = self.requests
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "interval_seconds": int(self.interval.total_seconds()),
            "periods": len(self),
            "requests_total": float(np.nansum(req)),
            "gaps": [g.to_dict() for g in self.gaps],
        }
