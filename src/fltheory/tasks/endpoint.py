"""Endpoint (DNN-typical) task: input only at t=1, target only at t=T."""
from __future__ import annotations

import numpy as np

from .._validate import FLTheoryInputError, choice, positive, positive_int
from .base import Task, register_task

# E[erf(z)^2] for z ~ N(0,1): normalises the erf-network teacher to unit variance.
_ERF_VAR = (2.0 / np.pi) * np.arcsin(2.0 / 3.0)


def _inputs(rng, n, D, kind):
    if kind == "gaussian":
        return rng.standard_normal((n, D))
    if n > D:
        raise FLTheoryInputError(f"P: orthogonal inputs need P + P_test <= D = {D}, got {n}")
    q, _ = np.linalg.qr(rng.standard_normal((D, D)))
    return np.sqrt(D) * q[:n]


@register_task("endpoint")
def endpoint_task(P: int = 8, P_test: int = 32, T: int = 4, D: int = 16, teacher: str = "linear",
                  signal: float = 1.0, inputs: str = "gaussian", hidden: int = 8, seed: int = 0) -> Task:
    """Endpoint task: x at t=1 (zeros after), target y at t=T only.

    ``teacher``: ``linear`` (y = signal·β·x/√D, β ~ N(0, I)) or ``erf_net`` (a random erf network with
    ``hidden`` units, normalised to unit variance, times ``signal``). ``inputs``: ``gaussian`` or
    ``orthogonal`` (rows of a random orthogonal matrix scaled to norm √D; needs P + P_test ≤ D).
    ``signal`` is the target scale: the learning signal of the phase transition (issue #3).
    """
    P, P_test, T, D = (positive_int(n, v) for n, v in (("P", P), ("P_test", P_test), ("T", T), ("D", D)))
    choice("teacher", teacher, ("linear", "erf_net"))
    choice("inputs", inputs, ("gaussian", "orthogonal"))
    signal = positive("signal", signal, allow_zero=True)
    rng = np.random.default_rng(seed)
    x = _inputs(rng, P + P_test, D, inputs)
    if teacher == "linear":
        beta = rng.standard_normal(D)
        y = x @ beta / np.sqrt(D)
    else:
        positive_int("hidden", hidden)
        from scipy.special import erf

        V = rng.standard_normal((hidden, D))
        a = rng.standard_normal(hidden)
        y = erf(x @ V.T / np.sqrt(D)) @ a / np.sqrt(hidden * _ERF_VAR)
    y = signal * y
    X = np.zeros((P + P_test, T, D))
    X[:, 0] = x
    Y = np.zeros((P + P_test, T, 1))
    Y[:, -1, 0] = y
    M = np.zeros((P + P_test, T))
    M[:, -1] = 1.0
    config = dict(kind="endpoint", P=P, P_test=P_test, T=T, D=D, teacher=teacher, signal=signal,
                  inputs=inputs, hidden=hidden, seed=seed)
    return Task(X[:P], Y[:P], M[:P], X[P:], Y[P:], M[P:], config=config)
