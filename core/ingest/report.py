"""The ingest report: what was read, what was rejected, what was assumed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["FileReport", "IngestReport", "RejectedLine"]


@dataclass(frozen=True)
class RejectedLine:
    line: int  # 1-based line number in the (decompressed) input
    reason: str
    text: str  # the line, decoded as latin-1 and cut to 300 characters
    file: str = ""  # which input, when there were several


@dataclass
class FileReport:
    """One input file of a dataset: what it was and what it gave."""

    name: str
    digest: str = ""  # sha256 of the decompressed content
    format: str = ""
    compression: str = "none"
    bytes_read: int = 0
    lines_total: int = 0
    lines_parsed: int = 0
    lines_rejected: int = 0
    lines_skipped: int = 0  # directives and headers (W3C '#Fields:' and the like)
    start: str = ""  # first and last minute with a request, in the file's own UTC offset
    end: str = ""
    utc_offset: str = ""
    offsets: dict = field(default_factory=dict)  # lines per UTC offset in minutes (as strings)
    rejected_examples: list[RejectedLine] = field(default_factory=list)
    #: "" when the file counts; else why not: "duplicate of NAME", "already in the dataset", or the error.
    skipped: str = ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rejected_examples"] = [asdict(r) for r in self.rejected_examples]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FileReport:
        d = dict(d)
        d["rejected_examples"] = [RejectedLine(**r) for r in d.get("rejected_examples", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class IngestReport:
    """Everything a user needs to trust (or distrust) an ingested dataset."""

    source: str
    format: str  # "apache" | "alb" | "elb" | "cloudfront" | "w3c" | "jsonl" | "csv" | "txt" | "mixed"
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
    lines_skipped: int = 0
    offsets: dict = field(default_factory=dict)  # lines per UTC offset in minutes (as strings), for logs
    #: Every input file, in the order given (those skipped as duplicates or bad say why).
    files: list[FileReport] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        """Files left out because their content was given already."""
        return sum(1 for f in self.files if f.skipped.startswith(("duplicate", "already")))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rejected_examples"] = [asdict(r) for r in self.rejected_examples]
        d["files"] = [f.to_dict() for f in self.files]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> IngestReport:
        d = dict(d)
        d["rejected_examples"] = [RejectedLine(**r) for r in d.get("rejected_examples", [])]
        d["files"] = [FileReport.from_dict(f) for f in d.get("files", [])]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})
