"""Input validation at the public boundary.

Every check raises :class:`FLTheoryInputError` (a ``ValueError``) whose message starts
with the name of the offending parameter, so a user sees one clear error.
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Sequence

import numpy as np


class FLTheoryInputError(ValueError):
    """Raised when a public function receives invalid input. The message names the parameter."""


class ConvergenceError(RuntimeError):
    """Raised when an iterative solver does not converge (never returned silently)."""


class ConvergenceWarning(RuntimeWarning):
    """Issued instead of :class:`ConvergenceError` when a caller asked for an unconverged result."""


class MonteCarloWarning(RuntimeWarning):
    """A Monte-Carlo estimate (e.g. the importance-sampled C of ``saddle.solve``) is less accurate than
    asked (``mc_tol``); ``error`` is its relative error. Sweeps gather these into one summary
    (:func:`summarise_mc_warnings`)."""

    def __init__(self, message: str, error: float = float("nan")):
        super().__init__(message)
        self.error = float(error)


@contextlib.contextmanager
def summarise_mc_warnings(what: str):
    """For sweeps: the :class:`MonteCarloWarning` of each solve inside is held back, and one summary
    (how many solves, the worst one's message) is issued on exit; other warnings pass through."""
    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("always", MonteCarloWarning)
        yield
    mc = [w.message for w in log if isinstance(w.message, MonteCarloWarning)]
    for w in log:
        if not isinstance(w.message, MonteCarloWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if mc:
        worst = max(mc, key=lambda m: m.error if m.error == m.error else -1.0)
        warnings.warn(MonteCarloWarning(f"{what}: {len(mc)} solve(s) above the Monte-Carlo tolerance; worst: "
                                        f"{worst}", worst.error), stacklevel=3)


def report_nonconvergence(message: str, throw: bool, stacklevel: int = 3) -> None:
    """The one failure policy of every solver: raise :class:`ConvergenceError` (``throw=True``, the
    default everywhere), or warn with :class:`ConvergenceWarning` and let the caller return its result
    with ``converged = False`` (``throw=False``, an explicit opt-in)."""
    if throw:
        raise ConvergenceError(message)
    import warnings

    warnings.warn(message, ConvergenceWarning, stacklevel=stacklevel)


def finite_array(name: str, a, ndim: int | None = None, shape: Sequence[int | None] | None = None):
    """Return ``np.asarray(a, float64)`` after checking finiteness, ``ndim`` and ``shape``.

    ``shape`` entries that are ``None`` are free.
    """
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:  # pragma: no cover - message path
        raise FLTheoryInputError(f"{name}: cannot be converted to a float array ({exc})") from None
    if ndim is not None and arr.ndim != ndim:
        raise FLTheoryInputError(f"{name}: expected {ndim} dimensions, got shape {arr.shape}")
    if shape is not None:
        if arr.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, arr.shape)):
            want = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
            raise FLTheoryInputError(f"{name}: expected shape {want}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise FLTheoryInputError(f"{name}: contains NaN or inf")
    return arr


def positive(name: str, value, allow_zero: bool = False) -> float:
    """Check a scalar variance / temperature / size is positive (or non-negative)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise FLTheoryInputError(f"{name}: expected a number, got {value!r}") from None
    if not np.isfinite(v):
        raise FLTheoryInputError(f"{name}: must be finite, got {v}")
    if v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise FLTheoryInputError(f"{name}: must be {bound}, got {v}")
    return v


def positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise FLTheoryInputError(f"{name}: expected an integer, got {value!r}")
    if value < minimum:
        raise FLTheoryInputError(f"{name}: must be >= {minimum}, got {value}")
    return int(value)


def choice(name: str, value, options: Sequence[str]) -> str:
    if value not in options:
        raise FLTheoryInputError(f"{name}: unknown value {value!r}; choose one of {list(options)}")
    return value
