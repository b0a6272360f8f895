"""The result store: one directory per sweep, one file per finished grid point.

Layout of ``<out>/`` (default ``./fltheory-out/sweep/<spec name>/``)::

    spec.yaml            the spec as run (profiles applied)
    points/<key>.npz     one finished point (observables + metadata), written atomically
    failures/<key>.json  a failed point: parameters and traceback (retried by the next run)
    results.nc           the assembled xarray Dataset (netCDF, h5netcdf)

A point file is written to ``points/.<key>.<pid>.tmp`` and renamed onto ``points/<key>.npz``
(``os.replace`` is atomic on POSIX), so a killed sweep leaves either a complete file or none.
On reading, a file that is not a valid archive, whose metadata does not match its key, or whose
SHA-256 of the observables does not match the stored one, is reported as corrupt, deleted, and
its point is recomputed.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .hashing import canonical

META = "__meta__"


@dataclass
class PointRecord:
    """A finished point: observables (``values``), their own dims/coords, and metadata."""

    key: str
    values: dict[str, np.ndarray]
    dims: dict[str, list[str] | None]
    coords: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)


def _digest(values: dict[str, np.ndarray], coords: dict[str, dict[str, np.ndarray]]) -> str:
    h = hashlib.sha256()
    for name in sorted(values):
        a = np.ascontiguousarray(values[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}".encode())
        h.update(a.tobytes())
    for name in sorted(coords):
        for c in sorted(coords[name]):
            a = np.ascontiguousarray(coords[name][c])
            h.update(f"{name}.{c}|{a.dtype.str}|{a.shape}".encode())
            h.update(a.tobytes() if a.dtype.kind != "O" else repr(a.tolist()).encode())
    return h.hexdigest()


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Store:
    """A sweep's result directory."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.points_dir = self.root / "points"
        self.failures_dir = self.root / "failures"
        self.points_dir.mkdir(parents=True, exist_ok=True)
        self.failures_dir.mkdir(parents=True, exist_ok=True)
        self.corrupt: list[str] = []  # keys found corrupt (and removed) by load()

    # ---- paths -------------------------------------------------------------------------------
    def point_path(self, key: str) -> Path:
        return self.points_dir / f"{key}.npz"

    def failure_path(self, key: str) -> Path:
        return self.failures_dir / f"{key}.json"

    @property
    def results_path(self) -> Path:
        return self.root / "results.nc"

    @property
    def spec_path(self) -> Path:
        return self.root / "spec.yaml"

    # ---- points --------------------------------------------------------------------------------
    def write_point(self, rec: PointRecord) -> Path:
        """Write a finished point atomically (temp file + rename) and clear any old failure."""
        meta = dict(rec.meta)
        meta.update(key=rec.key, dims=rec.dims, coord_names={k: sorted(v) for k, v in rec.coords.items()},
                    digest=_digest(rec.values, rec.coords))
        arrays = {f"v:{k}": np.asarray(v) for k, v in rec.values.items()}
        for name, cs in rec.coords.items():
            for c, a in cs.items():
                arrays[f"c:{name}:{c}"] = np.asarray(a)
        arrays[META] = np.frombuffer(json.dumps(canonical(meta)).encode(), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        path = self.point_path(rec.key)
        _atomic_write_bytes(path, buf.getvalue())
        self.failure_path(rec.key).unlink(missing_ok=True)
        return path

    def load_point(self, key: str) -> PointRecord | None:
        """The finished point ``key``, or None if absent. A corrupt file is removed (None)."""
        path = self.point_path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                files = {name: z[name] for name in z.files}
            meta = json.loads(files.pop(META).tobytes().decode())
            values = {k[2:]: v for k, v in files.items() if k.startswith("v:")}
            coords: dict[str, dict[str, np.ndarray]] = {}
            for k, v in files.items():
                if k.startswith("c:"):
                    _, name, c = k.split(":", 2)
                    coords.setdefault(name, {})[c] = v
            if meta.get("key") != key or meta.get("digest") != _digest(values, coords):
                raise ValueError("metadata or checksum mismatch")
            if set(values) != set(meta["dims"]):
                raise ValueError("observable list mismatch")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError, UnicodeError):
            self.corrupt.append(key)
            path.unlink(missing_ok=True)
            return None
        return PointRecord(key, values, meta["dims"], coords, meta)

    def write_failure(self, key: str, info: dict) -> Path:
        path = self.failure_path(key)
        _atomic_write_bytes(path, json.dumps(canonical(info), indent=1).encode())
        return path

    def load_failure(self, key: str) -> dict | None:
        path = self.failure_path(key)
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def write_spec(self, yaml_text: str) -> Path:
        _atomic_write_bytes(self.spec_path, yaml_text.encode())
        return self.spec_path
