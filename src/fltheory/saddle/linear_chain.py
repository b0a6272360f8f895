"""Closed forms for linear endpoint chains with one training pattern (P = 1).

Block-diagonal branch (DNN, and the RNN below the transition), any depth T, φ = identity, one
pattern x with target y at t = T (docs/theory/unified.md §4). Every layer amplifies its prior
kernel by the same factor r:

    k_1 = g_u² |x|²/D,   c_t = r k_t,   k_{t+1} = g² c_t   ⇒   c_t = r^t g^{2(t−1)} k_1
    r − 1 = z y² / (z + κ)²,      z = g_w² c_T = g_w² c₀ r^T,   c₀ = g^{2(T−1)} k_1
    ĉ_t = (1 − 1/r) / (−2 k_t)   (the same u = 1/r in every layer),   f = z y / (z + κ)

Shortest chain in which W acts twice (T = 3, RNN): linearising the saddle-point map around the
block-diagonal branch in the lag-1 sector gives δC₁₂ ← (r − 1)² δC₁₂, so the block-diagonal
branch loses stability (a pitchfork: the sign symmetry W → −W, h_t → (−1)^t h_t) at

    r_c = 2,    y_c = (z_c + κ)/√z_c,   z_c = 8 g_w² g⁴ k_1.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from .._validate import positive, positive_int


def amplification(y: float, T: int, k1: float = 1.0, g2: float = 1.0, gw2: float = 1.0,
                  kappa: float = 1.0) -> float:
    """The layer amplification r ≥ 1 on the branch connected to the lazy solution (r = 1 at y = 0).

    Solves r − 1 = z y²/(z + κ)², z = g_w² g^{2(T−1)} k_1 r^T, following the root continuously from y = 0.
    """
    T = positive_int("T", T)
    y = abs(float(y))
    c0 = g2 ** (T - 1) * positive("k1", k1)
    f = lambda r, yy: r - 1 - (gw2 * c0 * r**T) * yy**2 / (gw2 * c0 * r**T + kappa) ** 2
    r = 1.0
    for yy in np.linspace(0, y, 201)[1:]:  # continuation in y picks the lazy-connected root
        hi = r + 0.01
        while f(hi, yy) < 0:
            hi = r + 2 * (hi - r)
        r = brentq(f, r, hi, args=(yy,), xtol=1e-15, rtol=1e-15)
    return r


def block_diagonal_solution(y: float, T: int, k1: float = 1.0, g2: float = 1.0, gw2: float = 1.0,
                            kappa: float = 1.0):
    """(C, Ĉ) as T×T diagonal matrices of the block-diagonal branch (P = 1)."""
    r = amplification(y, T, k1, g2, gw2, kappa)
    k = np.empty(T)
    c = np.empty(T)
    k[0] = k1
    for t in range(T):
        c[t] = r * k[t]
        if t + 1 < T:
            k[t + 1] = g2 * c[t]
    chat = (1.0 / r - 1.0) / (2.0 * k)
    return np.diag(c), np.diag(chat)


def critical_signal_T3(k1: float = 1.0, g2: float = 1.0, gw2: float = 1.0, kappa: float = 1.0) -> float:
    """y_c of the RNN with T = 3, P = 1 (φ = identity): where r = 2 on the block-diagonal branch."""
    zc = 8.0 * gw2 * g2**2 * positive("k1", k1)
    return (zc + kappa) / np.sqrt(zc)


__all__ = ["amplification", "block_diagonal_solution", "critical_signal_T3"]


def chain_task(y: float, T: int = 3, D: int = 4):
    """The one-pattern endpoint chain of this module: x = (2, 0, …)/… with |x|²/D = 1 at t = 1,
    target ``y`` at t = T; the test set is the training pattern itself."""
    from ..tasks import Task

    positive_int("T", T)
    X = np.zeros((1, T, D))
    X[0, 0, 0] = np.sqrt(D)
    Y = np.zeros((1, T, 1))
    Y[0, -1, 0] = y
    M = np.zeros((1, T))
    M[0, -1] = 1
    return Task(X, Y, M, X.copy(), Y.copy(), M.copy(), config={"kind": "arrays"})
