"""Canonical parameters, point keys and point seeds.

A point is identified by its *full* parameter dict (fixed parameters and the values of every
sweep axis), its replicate number and the package version:

- ``point_seed(params, replicate)`` — the seed passed to the point function — is derived from a
  SHA-256 of the canonical parameters and the replicate only. It does not depend on the executor,
  the worker, the order of completion or the package version.
- ``point_key(function, params, replicate, seed, version)`` — the file name of the point in the
  result store — also hashes the function's dotted path, the seed and the package version, so a
  new version of fltheory never reuses results computed by an old one.

(A spec's ``seed_by`` restricts the parameters the seed is hashed from, for common random
numbers across an axis; the key still hashes all parameters.)

Canonical form: JSON with sorted keys, tuples as lists, numpy scalars/arrays as Python values,
floats via ``repr`` (exact round trip). Parameters are first coerced to their annotated types by
the spec validation, so ``g2: 1`` and ``g2: 1.0`` give the same key for ``g2: float``.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np

from .._validate import FLTheoryInputError


def canonical(obj, name: str = "params"):
    """Convert ``obj`` to plain JSON types (dicts, lists, str, int, float, bool, None)."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise FLTheoryInputError(f"{name}: keys must be strings, got {k!r}")
            out[k] = canonical(v, f"{name}.{k}")
        return out
    if isinstance(obj, (list, tuple)):
        return [canonical(v, f"{name}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, np.ndarray):
        return canonical(obj.tolist(), name)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj)
    if obj is None or isinstance(obj, str):
        return obj
    raise FLTheoryInputError(
        f"{name}: value {obj!r} of type {type(obj).__name__} cannot be hashed; sweep parameters must be "
        "numbers, strings, booleans, None, or lists/dicts of them"
    )


def canonical_json(obj) -> str:
    """Deterministic JSON text of ``canonical(obj)``."""
    return json.dumps(canonical(obj), sort_keys=True, separators=(",", ":"), allow_nan=True)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def point_seed(params: dict, replicate: int | None) -> int:
    """The seed of a point: 31 bits of SHA-256(canonical params, replicate)."""
    digest = _sha(canonical_json({"params": params, "replicate": replicate}))
    return int(digest[:8], 16) & 0x7FFFFFFF


def point_key(function: str, params: dict, replicate: int | None, seed: int, version: str) -> str:
    """The store key of a point: SHA-256(function, canonical params, replicate, seed, package version)."""
    return _sha(canonical_json(
        {"function": function, "params": params, "replicate": replicate, "seed": seed, "version": version}
    ))[:32]
