"""Index layout of (time, pattern) kernels: row ``t·P + μ`` (time-major, conventions §1)."""
from __future__ import annotations

import numpy as np


def time_major(A) -> np.ndarray:
    """``A[P, T, ...] -> A[T·P, ...]`` (time-major flattening)."""
    A = np.asarray(A)
    P, T = A.shape[:2]
    return np.swapaxes(A, 0, 1).reshape(T * P, *A.shape[2:])


def blocks(K, T: int, P: int) -> np.ndarray:
    """``K[T·P, T·P] -> K[T, T, P, P]``: block (t, s) is the pattern kernel between steps t and s."""
    return np.asarray(K).reshape(T, P, T, P).transpose(0, 2, 1, 3)


def time_diagonal_mask(T: int, P: int) -> np.ndarray:
    """δ_ts on the (T·P)² layout: 1 on same-time blocks, 0 elsewhere."""
    return np.kron(np.eye(T), np.ones((P, P)))


def output_kernel(C, T: int, P: int, tied: bool, gw2: float) -> np.ndarray:
    """Prior covariance of the outputs f_t^μ (up to the 1/N^{2γ−1} factor, conventions §5).

    A shared readout (RNN) correlates outputs across time: g_w² C. Independent per-step readouts
    (DNN) do not: g_w² δ_ts ⊙ C.
    """
    C = np.asarray(C)
    return gw2 * (C if tied else C * time_diagonal_mask(T, P))
