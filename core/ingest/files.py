"""Which files an ingest reads: paths, folders and glob patterns expanded, and the dataset's content id.

A folder stands for every regular file below it (hidden ones left out), a
pattern with ``*``, ``?`` or ``[`` for the files it matches; both in sorted
order, though the order never changes the dataset: files are summed per
minute and the id is a hash over the *set* of their contents.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from core.errors import InputError

__all__ = ["Input", "expand_inputs", "dataset_digest"]

_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class Input:
    """One input: a path or an open binary stream, with the name the report shows."""

    source: object
    name: str
    folder: str = ""  # the folder or pattern it came from, if any

    @property
    def is_path(self) -> bool:
        return isinstance(self.source, (str, os.PathLike))


def _folder_files(path: Path) -> list[Path]:
    out = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out.extend(Path(root) / f for f in sorted(files) if not f.startswith("."))
    return [p for p in out if p.is_file()]


def expand_inputs(source) -> list[Input]:
    """Inputs of ``source``: a path, a stream, or a list of them; folders and patterns expanded.

    Raises:
        InputError: a missing path, a pattern matching no file, or a folder without files.
    """
    items = list(source) if isinstance(source, (list, tuple)) else [source]
    if not items:
        raise InputError("no input given; name log files, folders or patterns such as 'logs/*.gz'")
    out: list[Input] = []
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            name = Path(str(getattr(item, "name", "upload"))).name or "upload"
            out.append(Input(item, name))
            continue
        text = os.fspath(item)
        path = Path(text)
        if path.is_dir():
            found = _folder_files(path)
            if not found:
                raise InputError(f"folder {text} holds no files; give log files or a folder of them")
            out.extend(Input(p, str(p), folder=text) for p in found)
        elif path.exists():
            out.append(Input(path, text))
        elif _GLOB_CHARS & set(text):
            found = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
            if not found:
                raise InputError(f"pattern {text!r} matches no file; check the folder and quote the pattern")
            out.extend(Input(p, str(p), folder=text) for p in found)
        else:
            raise InputError(f"no such file: {path}")
    return out


def dataset_digest(digests: list[str], options: dict | None = None) -> str:
    """Content id of a dataset: the file's own sha256 for one file, else a sha256 over the sorted set.

    ``options`` that change how content is read (a forced format, JSON field names) are part of it,
    so the same bytes read another way are another dataset.
    """
    unique = sorted(set(digests))
    digest = unique[0] if len(unique) == 1 else hashlib.sha256("\n".join(unique).encode()).hexdigest()
    if options:
        blob = json.dumps({"files": digest, "options": options}, sort_keys=True)
        digest = hashlib.sha256(blob.encode()).hexdigest()
    return digest
