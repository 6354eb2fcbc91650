"""Trained models on disk under ``models/``, in safe formats only.

A model is stored in ``<root>/<model>/<key>/``: ``meta.json`` (parameters,
calibration, small state), ``arrays.npz`` (numpy arrays, read with
``allow_pickle=False``) and one text file per text blob (LightGBM's text
model, Prophet's JSON serialization). Nothing is ever unpickled.

The key hashes the dataset id, target, granularity, model name, canonical
parameters, a fingerprint of the data itself and the code version, so a
changed dataset or parameter retrains. A missing or unreadable entry
retrains too (the broken entry is replaced), never crashes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

import core
from core.forecast.base import Forecaster, make_model, target_values
from core.series import TrafficSeries

__all__ = ["FORMAT_VERSION", "ModelCache", "series_fingerprint", "cache_key"]

FORMAT_VERSION = 1
_SAFE_NAME = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


def series_fingerprint(series: TrafficSeries, target: str) -> str:
    """SHA-256 of the grid and the target values (gaps included)."""
    h = hashlib.sha256()
    h.update(f"{series.start.isoformat()}|{series.interval.value}|{len(series)}|{target}".encode())
    h.update(np.ascontiguousarray(target_values(series, target)).tobytes())
    return h.hexdigest()


def cache_key(dataset_id: str | None, target: str, granularity_minutes: float, model: str, params: dict,
              fingerprint: str) -> str:
    """Hex key of everything a trained model depends on."""
    blob = json.dumps(
        {"dataset": dataset_id, "target": target, "granularity": granularity_minutes, "model": model,
         "params": params, "data": fingerprint, "code": core.__version__, "format": FORMAT_VERSION},
        sort_keys=True, default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


class ModelCache:
    """Fit-or-load trained models under a root folder (default ``models/``)."""

    def __init__(self, root: str | Path = "models"):
        self.root = Path(root)

    def _dir(self, model: str, key: str) -> Path:
        return self.root / model / key

    def get_or_fit(
        self,
        name: str,
        series: TrafficSeries,
        target: str = "requests",
        params: dict | None = None,
        dataset_id: str | None = None,
        progress=None,
    ) -> tuple[Forecaster, bool]:
        """The fitted model and whether it came from disk.

        Args:
            name: registry name or alias (both find the same entries).
            series: the training data.
            target: the column fitted.
            params: hyperparameters.
            dataset_id: part of the key.
            progress: passed to ``fit``.

        Raises:
            InputError: unknown model or bad parameters.
        """
        model = make_model(name, **(params or {}))
        # Stored under the model's storage name: a model keeps its fits across a rename of its registry name.
        stored = type(model).storage_name or model.name
        key = cache_key(dataset_id, target, series.interval_minutes, stored, model.get_params(),
                        series_fingerprint(series, target))
        path = self._dir(stored, key)
        if path.is_dir():
            try:
                return self._load(model, path, series, target), True
            except Exception as exc:  # noqa: BLE001 - any unreadable entry means "retrain"
                warnings.warn(f"model cache entry {path} unreadable ({type(exc).__name__}); retraining",
                              stacklevel=2)
                shutil.rmtree(path, ignore_errors=True)
        model.fit(series, target=target, progress=progress)
        try:
            self._save(model, path)
        except OSError as exc:
            warnings.warn(f"could not write model cache {path}: {exc}", stacklevel=2)
        return model, False

    def _save(self, model: Forecaster, path: Path) -> None:
        meta, arrays, texts = model.get_state()
        if any(not set(k) <= _SAFE_NAME for k in texts):
            raise ValueError("text blob names must be lowercase identifiers")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=".tmp-"))
        try:
            doc = {"format": FORMAT_VERSION, "params": model.get_params(), "state": meta, "texts": sorted(texts)}
            (tmp / "meta.json").write_text(json.dumps(doc, default=_json_default))
            np.savez(tmp / "arrays.npz", **{k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()})
            for k, v in texts.items():
                (tmp / f"{k}.txt").write_text(v)
            if path.exists():
                shutil.rmtree(path)
            os.replace(tmp, path)  # atomic: readers see a whole entry or none
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _load(self, model: Forecaster, path: Path, series: TrafficSeries, target: str) -> Forecaster:
        doc = json.loads((path / "meta.json").read_text())
        if doc.get("format") != FORMAT_VERSION:
            raise ValueError("format version mismatch")
        with np.load(path / "arrays.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        texts = {k: (path / f"{k}.txt").read_text() for k in doc["texts"] if set(k) <= _SAFE_NAME}
        return model.set_state(series, target, doc["state"], arrays, texts)


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(f"not JSON-serializable: {type(o).__name__}")
