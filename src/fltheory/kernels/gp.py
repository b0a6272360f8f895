"""Kernel regression / GP posterior with a ridge (temperature) κ, and generalisation errors.

With output kernel Σ = g_w² C (RNN) or g_w² δ_ts ⊙ C (DNN) on all (t, μ) entries, supervised set S:

    f* = Σ_{*S} (Σ_SS + κ I)⁻¹ y_S,     var* = Σ_** − Σ_{*S}(Σ_SS + κ I)⁻¹ Σ_{S*}

The variance is that of the γ = 1/2 (ntk/standard) posterior; in muP it is suppressed by 1/N.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from .._validate import FLTheoryInputError, positive
from .layout import output_kernel, time_major


@dataclass(frozen=True)
class KernelPrediction:
    """Posterior-mean outputs on train and test patterns at every step, and their errors."""

    f_train: np.ndarray        # [P, T, O]
    f_test: np.ndarray         # [P_test, T, O]
    var_test: np.ndarray       # [P_test, T] (γ = 1/2 posterior variance)
    error_per_step: np.ndarray  # [T] mean squared test error of the mean predictor (M_test-weighted)
    error: float               # mean over all evaluated test entries
    train_error: float         # mean over supervised training entries


def gp_posterior(K_SS, K_xS, y, ridge: float, K_xx_diag=None):
    """Posterior mean (and variance if ``K_xx_diag`` is given) of GP regression, float64 Cholesky."""
    ridge = positive("kappa", ridge)
    K_SS = np.asarray(K_SS, dtype=float)
    cho = sla.cho_factor(K_SS + ridge * np.eye(K_SS.shape[0]), lower=True)
    alpha = sla.cho_solve(cho, np.asarray(y, dtype=float))
    mean = np.asarray(K_xS) @ alpha
    if K_xx_diag is None:
        return mean, None
    v = sla.cho_solve(cho, np.asarray(K_xS).T)
    var = np.asarray(K_xx_diag) - np.einsum("ij,ji->i", np.asarray(K_xS), v)
    return mean, var


def predict_with_kernel(C_all, task, tied: bool, gw2: float, kappa: float) -> KernelPrediction:
    """Kernel-regression prediction with a representational kernel ``C_all`` over train+test patterns.

    ``C_all`` is ``[T·(P+P_test), T·(P+P_test)]`` time-major, patterns ordered train then test.
    """
    P, Pt, T, O = task.P, task.P_test, task.T, task.O
    n = P + Pt
    C_all = np.asarray(C_all, dtype=float)
    if C_all.shape != (T * n, T * n):
        raise FLTheoryInputError(f"C_all: expected shape {(T * n, T * n)}, got {C_all.shape}")
    Sigma = output_kernel(C_all, T, n, tied, gw2)
    is_train = np.tile(np.arange(n) < P, T)
    sup = np.zeros(T * n, dtype=bool)
    sup[is_train] = time_major(task.M).astype(bool)
    if not sup.any():
        raise FLTheoryInputError("M: no supervised entries in the task")
    y_all = time_major(np.concatenate([task.Y, task.Y_test], axis=0))  # [T·n, O], row t·n + μ
    mean, var = gp_posterior(Sigma[np.ix_(sup, sup)], Sigma[:, sup], y_all[sup], kappa, np.diag(Sigma))
    mean = mean.reshape(T, n, O).transpose(1, 0, 2)
    var = var.reshape(T, n).T
    f_train, f_test = mean[:P], mean[P:]
    sq = np.sum((f_test - task.Y_test) ** 2, axis=-1)
    w = task.M_test
    per_step = np.where(w.sum(0) > 0, (sq * w).sum(0) / np.maximum(w.sum(0), 1), np.nan)
    err = float((sq * w).sum() / w.sum())
    tr = np.sum((f_train - task.Y) ** 2, axis=-1)
    train_err = float((tr * task.M).sum() / task.M.sum())
    return KernelPrediction(f_train, f_test, var[P:], per_step, err, train_err)
