"""NNGP recursion for the DNN (untied) and the weight-shared RNN (tied), conventions §4.

    K[(t,μ),(s,ν)] = g² C[(t-1,μ),(s-1,ν)] + g_u² x_t^μ·x_s^ν/D,   C = E[φ(h)φ(h)ᵀ] under N(0, K)
    K_DNN = δ_ts ⊙ K_RNN

The recursion fills row-blocks t = 1..T: block (t, s ≤ t) of K needs block (t−1, s−1) of C, and
block (t, s) of C needs K's blocks (t, t), (t, s), (s, s).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._resources import require_memory
from .._validate import finite_array
from ..activations import get_activation
from ..gaussian import DEFAULT_QUAD_ORDER, phiphi
from ..priors import Priors, resolve_priors
from .gp import KernelPrediction, predict_with_kernel
from .layout import time_major


@dataclass(frozen=True)
class NNGPKernels:
    """Pre-activation kernel ``K`` and representational kernel ``C``, both ``[T·P, T·P]`` time-major."""

    K: np.ndarray
    C: np.ndarray
    T: int
    P: int


def nngp_kernels(X, phi="erf", g2: float | None = None, gu2: float | None = None, tied: bool = True,
                 quad_order: int = DEFAULT_QUAD_ORDER, *, priors: Priors | None = None) -> NNGPKernels:
    """Infinite-width prior kernels of the RNN (``tied=True``) or the DNN (``tied=False``).

    ``X[P, T, D]``; float64 throughout. Priors: ``priors=fltheory.Priors(...)`` (the object
    ``saddle.solve`` and the samplers take; the prior kernels use its ``g2`` and ``gu2``) or the two
    names (each default 1), not both: that is one error naming ``priors``.
    """
    X = finite_array("X", X, ndim=3)
    g2, gu2 = resolve_priors(priors, g2=g2, gu2=gu2)
    P, T, D = X.shape
    n = T * P
    # K, C and the Gram matrix in float64, plus a few temporaries of one P×P block (×order² for quadrature)
    per_entry = 1 if get_activation(phi, "phi").closed_form else quad_order**2
    require_memory("X", 8.0 * (3 * n * n + 4 * P * P * per_entry), f"the NNGP kernels of T·P = {n} inputs",
                   "use fewer patterns P or time steps T (memory grows like (T·P)²)")
    G = time_major(X)
    G = G @ G.T / D
    K = np.zeros((T * P, T * P))
    C = np.zeros((T * P, T * P))
    b = lambda t: slice(t * P, (t + 1) * P)
    for t in range(T):
        for s in range(t + 1):
            if not tied and s != t:
                continue
            k = gu2 * G[b(t), b(s)]
            if t > 0 and s > 0:
                k = k + g2 * C[b(t - 1), b(s - 1)]
            K[b(t), b(s)] = k
            K[b(s), b(t)] = k.T
        for s in range(t + 1):
            ktt = np.diag(K[b(t), b(t)])[:, None]
            kss = np.diag(K[b(s), b(s)])[None, :]
            c = np.asarray(phiphi(phi, ktt, K[b(t), b(s)], kss, quad_order=quad_order))
            C[b(t), b(s)] = c
            C[b(s), b(t)] = c.T
    return NNGPKernels(K=K, C=C, T=T, P=P)


def nngp_predict(task, phi="erf", g2: float | None = None, gu2: float | None = None, gw2: float | None = None,
                 kappa: float | None = None, tied: bool = True, *, priors: Priors | None = None) -> KernelPrediction:
    """GP (lazy, infinite-width) posterior predictor on ``task``'s test set (conventions §5).

    Priors: ``priors=fltheory.Priors(g2, gu2, gw2, kappa)`` (all four used) or the four names (each
    default 1), not both: that is one error naming ``priors``.
    """
    g2, gu2, gw2, kappa = resolve_priors(priors, g2=g2, gu2=gu2, gw2=gw2, kappa=kappa)
    X_all = np.concatenate([task.X, task.X_test], axis=0)
    kern = nngp_kernels(X_all, phi=phi, g2=g2, gu2=gu2, tied=tied)
    return predict_with_kernel(kern.C, task, tied=tied, gw2=gw2, kappa=kappa)
