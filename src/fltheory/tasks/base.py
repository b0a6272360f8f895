"""The :class:`Task` container and the registry that rebuilds a task from its config dict."""

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

from .._validate import FLTheoryInputError, finite_array

_BUILDERS: dict[str, Callable[..., "Task"]] = {}


def register_task(kind: str):
    """Decorator registering a task builder under ``kind`` (used by :func:`make_task`)."""
    def deco(fn):
        _BUILDERS[kind] = fn
        return fn
    return deco


def make_task(kind: str, **kwargs) -> "Task":
    """Build a task from its config: ``make_task(**task.to_config())`` reproduces ``task``."""
    if kind not in _BUILDERS:
        raise FLTheoryInputError(f"kind: unknown task kind {kind!r}; choose one of {sorted(_BUILDERS)}")
    return _BUILDERS[kind](**kwargs)


def _check_split(prefix: str, X, Y, M):
    X = finite_array(f"{prefix}X", X, ndim=3)
    P, T, _ = X.shape
    Y = finite_array(f"{prefix}Y", Y, ndim=3)
    if Y.shape[:2] != (P, T):
        raise FLTheoryInputError(f"{prefix}Y: expected shape [{P}, {T}, O], got {Y.shape}")
    M = finite_array(f"{prefix}M", M, shape=(P, T))
    if not np.all((M == 0) | (M == 1)):
        raise FLTheoryInputError(f"{prefix}M: must contain only 0 and 1")
    return X, Y, M


class StaticArrays(NamedTuple):
    """The feed-forward (one-step) view of a :class:`Task`: ``X[P, D]``, ``y[P]`` (``[P, O]`` when
    O > 1) and the same for the test split. The field names are those of ``depth.RegressionTask``
    (``RegressionTask(*task.static())``) and the order that of the two-layer arrays (X, Y, X_test, Y_test)."""

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def _static_targets(name: str, y, P: int) -> np.ndarray:
    y = finite_array(name, y)
    if y.ndim not in (1, 2) or y.shape[0] != P:
        raise FLTheoryInputError(f"{name}: expected shape [{P}] or [{P}, O], got {y.shape}")
    return y.reshape(P, 1, -1)


@dataclass(frozen=True, eq=False)
class Task:
    """Train/test arrays plus the config that produced them.

    ``M`` marks supervised steps; ``M_test`` marks the steps where test error is evaluated
    (by default every step that has a defined target).
    """

    X: np.ndarray
    Y: np.ndarray
    M: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    M_test: np.ndarray
    config: dict = field(default_factory=dict)

    def __post_init__(self):
        X, Y, M = _check_split("", self.X, self.Y, self.M)
        Xt, Yt, Mt = _check_split("test ", self.X_test, self.Y_test, self.M_test)
        if Xt.shape[1:] != X.shape[1:] or Yt.shape[2] != Y.shape[2]:
            raise FLTheoryInputError(
                f"X_test: shape {Xt.shape} does not match the training shapes {X.shape}, {Y.shape}"
            )
        for name, val in dict(X=X, Y=Y, M=M, X_test=Xt, Y_test=Yt, M_test=Mt).items():
            object.__setattr__(self, name, val)

    P = property(lambda self: self.X.shape[0])
    P_test = property(lambda self: self.X_test.shape[0])
    T = property(lambda self: self.X.shape[1])
    D = property(lambda self: self.X.shape[2])
    O = property(lambda self: self.Y.shape[2])

    def to_config(self) -> dict:
        """The plain dict that rebuilds this task with :func:`make_task`."""
        return dict(self.config)

    @classmethod
    def from_config(cls, config: dict) -> "Task":
        return make_task(**config)

    @classmethod
    def from_arrays(cls, X, Y, M=None, X_test=None, Y_test=None, M_test=None) -> "Task":
        """Wrap user arrays (mask defaults to all ones; test split defaults to the training set)."""
        X = np.asarray(X, dtype=float)
        M = np.ones(X.shape[:2]) if M is None else M
        if X_test is None:
            X_test, Y_test, M_test = X, Y, M
        M_test = np.ones(np.shape(X_test)[:2]) if M_test is None else M_test
        return cls(X, Y, M, X_test, Y_test, M_test, config={"kind": "arrays"})

    @classmethod
    def from_static(cls, X, y, X_test, y_test, config: dict | None = None) -> "Task":
        """A one-step task (T = 1, every entry supervised) from feed-forward arrays ``X[P, D]``,
        ``y[P]`` or ``y[P, O]`` and the same for the test split: the explicit adapter from the
        ``[P, D]`` arrays of the two-layer and depth modules to the shared ``X[P, T, D]`` layout.
        :meth:`static` is its inverse."""
        X = finite_array("X", X, ndim=2)
        X_test = finite_array("X_test", X_test, ndim=2)
        Y = _static_targets("y", y, X.shape[0])
        Y_test = _static_targets("y_test", y_test, X_test.shape[0])
        return cls(X[:, None, :], Y, np.ones((X.shape[0], 1)), X_test[:, None, :], Y_test,
                   np.ones((X_test.shape[0], 1)), config=dict(config) if config else {"kind": "arrays"})

    def static(self) -> StaticArrays:
        """The feed-forward view ``(X[P, D], y, X_test, y_test)`` of a one-step, fully supervised task
        (the inverse of :meth:`from_static`); ``y`` is ``[P]`` when O = 1. A sequence task (T > 1) or a
        masked one is an error naming ``T`` or ``M``: it has no feed-forward view."""
        if self.T != 1:
            raise FLTheoryInputError(f"T: a feed-forward view needs a one-step task (T = 1), got T = {self.T}")
        if not (np.all(self.M == 1) and np.all(self.M_test == 1)):
            raise FLTheoryInputError("M: a feed-forward view needs every entry supervised (M and M_test all 1)")
        sq = (lambda A: A[:, 0, 0]) if self.O == 1 else (lambda A: A[:, 0, :])
        return StaticArrays(self.X[:, 0, :], sq(self.Y), self.X_test[:, 0, :], sq(self.Y_test))
