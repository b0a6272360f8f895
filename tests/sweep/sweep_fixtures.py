"""Small, fast, honest point functions for the sweep-engine tests (importable as ``sweep_fixtures``).

Each call appends one line ``<name> <params>`` to the file named by the environment variable
``FLTHEORY_SWEEP_COUNTER`` (when set), so tests can count exactly which points were computed.
A single ``os.write`` on an ``O_APPEND`` descriptor keeps concurrent appends whole.
"""
from __future__ import annotations

import json
import os
import time
from typing import Literal

import numpy as np
import xarray as xr

COUNTER_ENV = "FLTHEORY_SWEEP_COUNTER"


def _count(name: str, **params) -> None:
    path = os.environ.get(COUNTER_ENV)
    if path:
        line = f"{name} {json.dumps(params, sort_keys=True)}\n".encode()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def read_counter(path) -> list[tuple[str, dict]]:
    """The calls recorded in a counter file, in order."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [(ln.split(" ", 1)[0], json.loads(ln.split(" ", 1)[1])) for ln in f if ln.strip()]


def noisy_point(*, a: float, b: int = 1, seed: int) -> dict:
    """Depends on its seed: a scalar, an unnamed array and a named DataArray."""
    _count("noisy", a=a, b=b)
    rng = np.random.default_rng(seed)
    return {
        "y": a * b + rng.standard_normal(),
        "vec": rng.standard_normal(3),
        "curve": xr.DataArray(a * np.arange(4.0) + rng.standard_normal(4), dims=["t"], coords={"t": np.arange(4)}),
    }


def slow_point(*, a: float, b: int, delay: float = 0.3, seed: int) -> dict:
    """Sleeps ``delay`` seconds (a point that takes time), then returns seed-dependent values."""
    _count("slow", a=a, b=b)
    time.sleep(delay)
    rng = np.random.default_rng(seed)
    return {"y": a + b * rng.standard_normal(), "z": float(seed % 1000)}


def failing_point(*, a: float, seed: int) -> dict:
    """Raises for negative ``a``."""
    _count("failing", a=a)
    if a < 0:
        raise ValueError(f"negative a={a} is not allowed")
    return {"y": a + np.random.default_rng(seed).standard_normal()}


def typed_point(*, n: int, g2: float, phi: Literal["erf", "relu"], flag: bool = False,
                sizes: tuple[int, ...] = (1,), label: str | None = None) -> dict:
    """No seed; annotated parameters for the type checks."""
    return {"v": n * g2 + sum(sizes) + (1.0 if flag else 0.0) + (phi == "erf")}


def varying_shape_point(*, n: int) -> dict:
    """An observable whose shape changes along the sweep (cannot be assembled)."""
    return {"arr": np.zeros(n)}
