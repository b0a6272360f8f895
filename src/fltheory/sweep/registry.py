"""Point functions by short name.

A *point function* computes one grid point of a sweep::

    fn(*, seed: int, **params) -> dict[str, float | np.ndarray | xarray.DataArray]

(``seed`` is optional: it is passed only if the function accepts it). A spec names its function
either by a registered short name or by a dotted path ``"package.module:function"``.

Built-in names are listed in :data:`BUILTIN` as dotted paths and imported lazily, so importing
:mod:`fltheory.sweep` does not import every theory module. Add a built-in by adding one line to
:data:`BUILTIN`; register your own function at run time with :func:`register`.
"""
from __future__ import annotations

import importlib
from typing import Callable

from .._validate import FLTheoryInputError

#: short name -> "package.module:function", imported on first use.
BUILTIN: dict[str, str] = {
    "nngp-depth": "fltheory.sweep.builtin:nngp_depth_point",
    "sequential": "fltheory.experiments.sequential:sequential_point",
    "learning-curve": "fltheory.experiments.learning_curve:learning_curve_point",
    "lowrank": "fltheory.sweep.points:lowrank_point",
    "depth-gap": "fltheory.sweep.points:depth_gap_point",
}

_REGISTERED: dict[str, Callable] = {}


def register(name: str):
    """Decorator registering a point function under ``name``.

    Example::

        from fltheory.sweep.registry import register

        @register("my-point")
        def my_point(*, seed: int, n: int, g2: float) -> dict:
            ...
    """
    if not isinstance(name, str) or not name:
        raise FLTheoryInputError(f"name: expected a non-empty string, got {name!r}")

    def deco(fn: Callable) -> Callable:
        if not callable(fn):
            raise FLTheoryInputError(f"register({name!r}): expected a callable, got {fn!r}")
        _REGISTERED[name] = fn
        return fn

    return deco


def available() -> list[str]:
    """All short names: registered at run time and built in."""
    return sorted(set(_REGISTERED) | set(BUILTIN))


def import_dotted(path: str) -> Callable:
    """Import ``"package.module:function"`` (attribute path after the colon may contain dots)."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise FLTheoryInputError(f"function: {path!r} is not of the form 'package.module:function'")
    try:
        obj = importlib.import_module(module_name)
    except ImportError as exc:
        raise FLTheoryInputError(f"function: cannot import module {module_name!r} ({exc})") from None
    try:
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise FLTheoryInputError(f"function: module {module_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise FLTheoryInputError(f"function: {path!r} is not callable")
    return obj


def resolve(ref: str) -> Callable:
    """Return the point function named by ``ref`` (a short name or a dotted path)."""
    if not isinstance(ref, str) or not ref:
        raise FLTheoryInputError(f"function: expected a name or 'package.module:function', got {ref!r}")
    if ":" in ref:
        return import_dotted(ref)
    if ref in _REGISTERED:
        return _REGISTERED[ref]
    if ref in BUILTIN:
        return import_dotted(BUILTIN[ref])
    raise FLTheoryInputError(
        f"function: unknown function {ref!r}; use a registered name {available()} "
        "or a dotted path 'package.module:function'"
    )


def dotted_path(fn: Callable) -> str:
    """The importable ``"module:qualname"`` of ``fn`` (what worker processes import)."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not module or not qualname or "<locals>" in qualname or module == "__main__":
        raise FLTheoryInputError(
            f"function: {fn!r} is not importable by worker processes; define it at module level "
            "in an importable module (not __main__ or a closure)"
        )
    return f"{module}:{qualname}"
