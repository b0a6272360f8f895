"""Synthetic regression task, generated locally (never downloaded).

Inputs x ~ N(0, I_D); targets from a fixed random two-layer teacher

    y(x) = Σ_k v_k tanh(u_k · x / √D) / √K,     u_k ~ N(0, 2 I_D), v_k ~ N(0, 1),

rescaled so that the training targets have unit second moment. Train and test sets share the
teacher and are drawn independently.
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from .._validate import positive_int


@dataclass(frozen=True)
class RegressionTask:
    X: jnp.ndarray  # [P, D]
    y: jnp.ndarray  # [P]
    X_test: jnp.ndarray  # [P_test, D]
    y_test: jnp.ndarray  # [P_test]


def teacher_task(key, P: int = 32, P_test: int = 256, D: int = 16, K: int = 4, dtype=jnp.float32):
    """Draw a :class:`RegressionTask` from the random two-layer teacher (module docstring)."""
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
    return RegressionTask(X, y / scale, X_test, y_test / scale)
