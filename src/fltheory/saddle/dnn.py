"""The DNN saddle point: the RNN equations with δ_ts-masked kernels (independent layers).

    K_DNN = δ_ts ⊙ K_RNN,  Σ_DNN = g_w² δ_ts ⊙ C,  Ĉ_DNN = δ_ts ⊙ Ĉ

so the single-neuron measure factorises over layers. Everything is in :mod:`.rnn`.
"""
from __future__ import annotations

from .rnn import solve as _solve


def solve_dnn(task, **kw):
    """:func:`fltheory.saddle.rnn.solve` with ``arch='dnn'``."""
    kw.pop("arch", None)
    return _solve(task, arch="dnn", **kw)


__all__ = ["solve_dnn"]
