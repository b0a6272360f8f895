"""Synthetic regression task, generated locally (never downloaded).

Inputs x ~ N(0, I_D); targets from a fixed random two-layer teacher

    y(x) = Σ_k v_k tanh(u_k · x / √D) / √K,     u_k ~ N(0, 2 I_D), v_k ~ N(0, 1),

rescaled so that the training targets have unit second moment. Train and test sets share the
teacher and are drawn independently.

:class:`RegressionTask` is the depth module's feed-forward view of the shared
:class:`fltheory.tasks.Task` (conventions §1): the task builders here make a one-step ``Task`` with
:meth:`~fltheory.tasks.Task.from_static` and read it back with :meth:`~fltheory.tasks.Task.static`
(:meth:`RegressionTask.from_task`), and every depth entry point that takes a task accepts either
(:func:`as_regression_task`).
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from .._validate import FLTheoryInputError, positive_int
from ..tasks import Task


@dataclass(frozen=True)
class RegressionTask:
    """Feed-forward regression data ``X[P, D]``, ``y[P]``, ``X_test[P_test, D]``, ``y_test[P_test]`` (one
    scalar output, conventions §11); the explicit view of a one-step :class:`fltheory.tasks.Task`."""

    X: jnp.ndarray  # [P, D]
    y: jnp.ndarray  # [P]
    X_test: jnp.ndarray  # [P_test, D]
    y_test: jnp.ndarray  # [P_test]

    @classmethod
    def from_task(cls, task: Task, dtype=None) -> "RegressionTask":
        """The feed-forward view of a one-step, fully supervised :class:`~fltheory.tasks.Task` with one
        output (:meth:`~fltheory.tasks.Task.static`); numpy float64 arrays, or jax arrays of ``dtype``.
        A sequence or masked task is an error naming ``T`` or ``M``, several outputs one naming ``task``."""
        if not isinstance(task, Task):
            raise FLTheoryInputError(f"task: expected a fltheory.tasks.Task, got {type(task).__name__}")
        if task.O != 1:
            raise FLTheoryInputError(f"task: the depth network has one scalar output (conventions §11), "
                                     f"got O = {task.O} outputs")
        arrays = task.static()
        if dtype is not None:
            arrays = [jnp.asarray(a, dtype) for a in arrays]
        return cls(*arrays)

    def to_task(self, config: dict | None = None) -> Task:
        """The same data as a one-step :class:`~fltheory.tasks.Task` (:meth:`~fltheory.tasks.Task.from_static`)."""
        return Task.from_static(self.X, self.y, self.X_test, self.y_test, config=config)


def as_regression_task(task):
    """``task`` as the depth module reads it: a :class:`fltheory.tasks.Task` through
    :meth:`RegressionTask.from_task` (float64), anything else (a :class:`RegressionTask`) unchanged."""
    return RegressionTask.from_task(task) if isinstance(task, Task) else task


def teacher_task(key, P: int = 32, P_test: int = 256, D: int = 16, K: int = 4, dtype=jnp.float32):
    """Draw a :class:`RegressionTask` (arrays of ``dtype``) from the random two-layer teacher (module
    docstring), built as a one-step :class:`fltheory.tasks.Task` (``.to_task()`` gives it back)."""
    P, P_test, D, K = (positive_int(n, v) for n, v in (("P", P), ("P_test", P_test), ("D", D), ("K", K)))
    kt, kv, kx, kxt = jax.random.split(key, 4)
    u = jnp.sqrt(2.0) * jax.random.normal(kt, (K, D), dtype)
    v = jax.random.normal(kv, (K,), dtype)

    def teacher(X):
        return jnp.tanh(X @ u.T / jnp.sqrt(D)) @ v / jnp.sqrt(K)

    X = jax.random.normal(kx, (P, D), dtype)
    X_test = jax.random.normal(kxt, (P_test, D), dtype)
    y, y_test = teacher(X), teacher(X_test)
    scale = jnp.sqrt(jnp.mean(y**2))
    task = Task.from_static(X, y / scale, X_test, y_test / scale)  # float64 copies: exact for float32 draws
    return RegressionTask.from_task(task, dtype)
