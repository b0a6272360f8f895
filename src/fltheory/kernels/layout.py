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


#: Dimension names of a (time, pattern) kernel in stored datasets (conventions §8): K[t, μ, s, ν].
KERNEL_DIMS = ("t", "mu", "s", "nu")


def split_time(K, T: int, P: int) -> np.ndarray:
    """``K[T·P, T·P] -> K[T, P, T, P]`` indexed ``[t, μ, s, ν]`` (the stored layout, conventions §8).

    Unlike :func:`blocks` ([t, s, μ, ν]) the axes keep the row/column order, so
    :func:`merge_time` is a plain reshape back.
    """
    return np.asarray(K).reshape(T, P, T, P)


def merge_time(K4) -> np.ndarray:
    """``K[T, P, T, P] -> K[T·P, T·P]`` (time-major rows ``t·P + μ``); inverse of :func:`split_time`."""
    K4 = np.asarray(K4)
    T, P = K4.shape[:2]
    return K4.reshape(T * P, T * P)


def kernel_dataarray(K, T: int, P: int):
    """An ``xarray.DataArray`` over dims ``(t, mu, s, nu)`` with coordinates t, s = 1..T and μ, ν = 0..P−1.

    Read a stored kernel back as a matrix with ``merge_time(da.transpose(*KERNEL_DIMS).values)``.
    """
    import xarray as xr

    steps, pats = np.arange(1, T + 1), np.arange(P)
    return xr.DataArray(split_time(K, T, P), dims=KERNEL_DIMS,
                        coords={"t": steps, "mu": pats, "s": steps, "nu": pats})
