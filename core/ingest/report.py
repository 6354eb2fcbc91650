"""The ingest report: what was read, what was rejected, what was assumed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["IngestReport", "RejectedLine"]


@dataclass(frozen=True)
class RejectedLine:
    line: int  # 1-based line number in the (decompressed) input
    reason: str
    text: str  # the line, decoded as latin-1 and cut to 300 characters


@dataclass
class IngestReport:
    """Everything a user needs to trust (or distrust) an ingested dataset."""

    source: str
    format: str  # "apache" | "csv" | "txt"
    compression: str = "none"
    bytes_read: int = 0
    lines_total: int = 0
    lines_parsed: int = 0
    lines_rejected: int = 0
    rejected_examples: list[RejectedLine] = field(default_factory=list)
    nonstandard_requests: int = 0
    requests_total: float = 0.0
    unique_hosts_total: int | None = None
    start: str = ""
    end: str = ""
    interval_seconds: int = 0
    utc_offset: str = "+00:00"
    periods: int = 0
    gaps: list[dict] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    synthetic: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rejected_examples"] = [asdict(r) for r in self.rejected_examples]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> IngestReport:
        d = dict(d)
        d["rejected_examples"] = [RejectedLine(**r) for r in d.get("rejected_examples", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})
