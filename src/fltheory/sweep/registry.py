"""Point functions by short name.

A *point function* computes one grid point of a sweep::

    fn(*, seed: int, **params) -> dict[str, float | np.ndarray | xarray.DataArray]

(``seed`` is optional: it is passed only if the function accepts it). A spec names its function
either by a registered short name or by a dotted path ``"package.module:function"``.

Besides its signature a point function may declare (:class:`PointInfo`, attached by :func:`declare`
or given to :func:`register`):

- ``outputs``: every observable it may return, each with a human-readable label. The spec loader
  then checks the figure's variables before the first point, and figures use the labels;
- ``validate``: a callable ``validate(**params)`` that checks parameter values *without computing*
  and raises :class:`~fltheory._validate.FLTheoryInputError` whose message starts with the
  parameter's name. The spec loader runs it on every grid point's parameters (over the function's
  defaults), so an out-of-range value fails before any work starts, naming its spec field.

The engine knows no domain code (docs/architecture.md): experiments declare their point functions
where they define them (``@declare(outputs=..., validate=...)`` from this module), and
:data:`BUILTIN` maps the short names of the packaged ones to dotted paths, imported only when a spec
names them. Register your own function at run time with :func:`register`.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from .._validate import FLTheoryInputError

#: short name -> "package.module:function", imported on first use.
BUILTIN: dict[str, str] = {
    "nngp-depth": "fltheory.experiments.nngp_depth:nngp_depth_point",
    "sequential": "fltheory.experiments.sequential:sequential_point",
    "learning-curve": "fltheory.experiments.learning_curve:learning_curve_point",
    "lowrank": "fltheory.experiments.lowrank:lowrank_point",
    "depth-gap": "fltheory.experiments.depth_gap:depth_gap_point",
    "phase": "fltheory.experiments.phase:phase_point",
    "transition": "fltheory.experiments.phase:transition_point",
}


@dataclass(frozen=True)
class PointInfo:
    """What a point function declares besides its signature.

    ``outputs``: observable name -> human-readable label (legends, ``long_name``), listing every
    observable the function may return (some may be returned only for some parameters); ``None``:
    undeclared, the figure's variables are then checked only after the run. ``validate``: a callable
    (or its dotted path) run as ``validate(**params)`` on every point's parameters before any work;
    ``None``: values are checked only by the point function itself, i.e. during the run.
    """

    outputs: dict[str, str] | None = None
    validate: Callable[..., object] | str | None = None

    def validator(self) -> Callable[..., object] | None:
        """``validate`` as a callable (a dotted path is imported here)."""
        return import_dotted(self.validate) if isinstance(self.validate, str) else self.validate


_REGISTERED: dict[str, Callable] = {}


def _check_outputs(where: str, outputs) -> dict[str, str] | None:
    if outputs is None:
        return None
    if not isinstance(outputs, dict) or not outputs:
        raise FLTheoryInputError(f"{where}: outputs must be a non-empty dict {{name: label}}, got {outputs!r}")
    for k, v in outputs.items():
        if not isinstance(k, str) or not k or ":" in k:
            raise FLTheoryInputError(f"{where}: output names must be non-empty strings without ':', got {k!r}")
        if not isinstance(v, str) or not v:
            raise FLTheoryInputError(f"{where}: the label of output {k!r} must be a non-empty string, got {v!r}")
    return dict(outputs)


def declare(*, outputs: dict[str, str] | None = None, validate: Callable[..., object] | None = None):
    """Decorator attaching a :class:`PointInfo` to a point function (as ``fn.point_info``); it
    returns the function unchanged otherwise. The declarations travel with the function, so a spec
    that names it by short name or by dotted path gets them alike.

    Example::

        from fltheory._validate import positive, positive_int
        from fltheory.sweep.registry import declare

        def check_my_point(*, n, g2, **_):
            positive_int("n", n)
            positive("g2", g2)

        @declare(outputs={"err": "test error", "q": "order parameter q"}, validate=check_my_point)
        def my_point(*, seed: int, n: int, g2: float) -> dict:
            ...
    """
    where = "declare"
    info = PointInfo(_check_outputs(where, outputs), validate)
    if validate is not None and not callable(validate):
        raise FLTheoryInputError(f"{where}: validate must be callable, got {validate!r}")

    def deco(fn: Callable) -> Callable:
        if not callable(fn):
            raise FLTheoryInputError(f"{where}: expected a callable, got {fn!r}")
        fn.point_info = info
        return fn

    return deco


def register(name: str, *, outputs: dict[str, str] | None = None,
             validate: Callable[..., object] | None = None):
    """Decorator registering a point function under the short ``name``; ``outputs`` and ``validate``
    (optional) are declared as by :func:`declare`.

    Example::

        @register("my-point", outputs={"err": "test error"}, validate=check_my_point)
        def my_point(*, seed: int, n: int, g2: float) -> dict:
            ...
    """
    if not isinstance(name, str) or not name:
        raise FLTheoryInputError(f"name: expected a non-empty string, got {name!r}")
    try:
        declaration = declare(outputs=outputs, validate=validate) if (outputs or validate) else None
    except FLTheoryInputError as exc:
        raise FLTheoryInputError(str(exc).replace("declare:", f"register({name!r}):", 1)) from None

    def deco(fn: Callable) -> Callable:
        if not callable(fn):
            raise FLTheoryInputError(f"register({name!r}): expected a callable, got {fn!r}")
        if declaration is not None:
            declaration(fn)
        _REGISTERED[name] = fn
        return fn

    return deco


def point_info(ref: str) -> PointInfo:
    """The declarations of the point function named by ``ref`` (a short name or a dotted path);
    an empty :class:`PointInfo` when it declares nothing."""
    info = getattr(resolve(ref), "point_info", None)
    return info if isinstance(info, PointInfo) else PointInfo()


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
