"""Fixtures shared by the whole suite: the shared NASA data and generated logs."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def shared_path() -> Path:
    """Where the read-only shared data lives (TRAFFIC_SHARED_DIR, default ../shared)."""
    return Path(os.environ.get("TRAFFIC_SHARED_DIR", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = shared_path()
    if not (path / "data" / "nasa-1995").is_dir():
        pytest.skip(f"shared NASA data not found at {path} (set TRAFFIC_SHARED_DIR to run this test)")
    return path


@pytest.fixture(scope="session")
def nasa_dir(shared_dir) -> Path:
    return shared_dir / "data" / "nasa-1995"


@pytest.fixture(scope="session")
def real_per_minute(nasa_dir):
    """The real NASA requests per minute (naive local timestamps, NaN where no log)."""
    import pandas as pd

    df = pd.read_csv(nasa_dir / "requests_per_minute.csv.gz", parse_dates=["timestamp"])
    return df.set_index("timestamp")["requests"]


def _make_log(shared_dir: Path, out: Path, *args: str) -> Path:
    tool = shared_dir / "tools" / "make_nasa_log.py"
    if not tool.exists():
        pytest.skip(f"log generator not found at {tool}")
    subprocess.run([sys.executable, str(tool), str(out), "-q", *args], check=True)
    return out


@pytest.fixture(scope="session")
def make_nasa_log(shared_dir):
    """``make_nasa_log(out_path, *generator_args)``: run the shared generator of realistic NASA logs."""
    return lambda out, *args: _make_log(shared_dir, Path(out), *args)


@pytest.fixture(scope="session")
def outage_log(shared_dir, tmp_path_factory) -> tuple[Path, Path]:
    """Three generated days around the hurricane outage, with 1% junk lines and their index."""
    d = tmp_path_factory.mktemp("outage")
    index = d / "junk.txt"
    log = _make_log(shared_dir, d / "aug01-03.log", "--start", "1995-08-01", "--end", "1995-08-03",
                   "--malformed", "0.01", "--malformed-index", str(index))
    return log, index


@pytest.fixture
def write_gz():
    def _write(path: Path, data: bytes) -> Path:
        with gzip.open(path, "wb") as f:
            f.write(data)
        return path

    return _write
