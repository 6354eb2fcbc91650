"""Assemble BENCHMARKS.md from the per-area results in bench/results/ (each written by its benchmark).

Usage: python bench/collect.py
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["ingest", "ingest_formats", "fields_kernel", "ingest_files", "coldstart", "forecast", "intervals",
         "headroom_coverage", "ensemble", "anomalies", "scaling", "recommend", "choice_rule", "plan",
         "plan_calibration", "pages", "first_paint", "job_start", "uploads", "cache", "load", "scaleout"]
HEADER = """# Benchmarks

Latest results of the scripts in `bench/` (run by hand, never in CI), assembled by
`python bench/collect.py` from `bench/results/*.md`. Each section names its command and machine (2 cores;
sessions have run on AMD EPYC and Intel Xeon hosts, shared and noisy): every section compares against a
baseline measured in the same run, and ratios are more trustworthy than absolute seconds.
"""


def main() -> None:
    results = ROOT / "bench" / "results"
    files = sorted(results.glob("*.md"), key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else 99, p.stem))
    parts = [HEADER] + [p.read_text().strip() + "\n" for p in files]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(parts))
    print(f"BENCHMARKS.md: {len(files)} sections ({', '.join(p.stem for p in files)})")


if __name__ == "__main__":
    main()
