"""NNGP / kernel ridge regression: the infinite-width, no-feature-learning level (conventions §9).

At γ = ½ and N → ∞ the posterior of f is a Gaussian process with covariance

    Σ(x, x') = sa2 · N^{1−2γ} · E_{w~N(0, sw2 I)}[φ(w·x/√d) φ(w·x'/√d)]

(the arc-cosine kernel of conventions §4 for relu, with K = sw2 x·x'/d), and noise variance κ².
The posterior mean is kernel ridge regression with ridge κ² (:func:`nngp_regression`, which uses
the training set — exactly what SGLD sees). Its population (P → ∞ at fixed P/κ², Σ_μ → P E_x)
counterpart on the Boolean cube is the spectral shrinkage m_A = c_A g_A/(1 + g_A)
(:func:`nngp_parity_population`).
"""
from __future__ import annotations

import numpy as np

from .._validate import FLTheoryInputError, positive, positive_int
from ..gaussian import kernel_map
from ..kernels.gp import gp_posterior
from ..priors import Priors, two_layer_priors
from .features import cube_kernel_eigenvalue
from .mean_field import kernel_limit_coefficients


def nngp_kernel(X1, X2, *, sw2: float = 1.0, sa2: float = 1.0, N: int = 1, gamma: float = 0.5,
                phi: str = "relu") -> np.ndarray:
    """Output kernel Σ(x, x') between the rows of ``X1[n1, d]`` and ``X2[n2, d]``."""
    X1, X2 = np.asarray(X1, float), np.asarray(X2, float)
    if X1.ndim != 2 or X2.ndim != 2 or X1.shape[1] != X2.shape[1]:
        raise FLTheoryInputError(f"X1: expected [n1, d] and X2 [n2, d], got {X1.shape}, {X2.shape}")
    d = X1.shape[1]
    Xa = np.concatenate([X1, X2])
    K = sw2 * Xa @ Xa.T / d
    C = np.asarray(kernel_map(phi, K))
    return sa2 * float(N) ** (1.0 - 2.0 * gamma) * C[: len(X1), len(X1):]


def nngp_regression(X, Y, X_test, *, kappa2: float | None = None, sw2: float | None = None,
                    sa2: float | None = None, N: int = 1, gamma: float = 0.5, phi: str = "relu",
                    priors: Priors | None = None) -> np.ndarray:
    """Kernel-ridge (NNGP posterior-mean) predictions on ``X_test`` from the training set (X, Y).
    Priors: ``priors=fltheory.Priors(...)`` or ``sw2``/``sa2``/``kappa2`` (conventions §9), not both."""
    N, gamma = positive_int("N", N), positive("gamma", gamma)
    sw2, sa2, kappa2 = two_layer_priors(priors, sw2=sw2, sa2=sa2, kappa2=kappa2, N=N, gamma=gamma)
    X = np.asarray(X, float)
    kw = dict(sw2=sw2, sa2=sa2, N=N, gamma=gamma, phi=phi)
    K_SS = nngp_kernel(X, X, **kw)
    K_xS = nngp_kernel(X_test, X, **kw)
    mean, _ = gp_posterior(K_SS, K_xS, np.asarray(Y, float).reshape(-1), kappa2)
    return mean


def nngp_parity_population(*, d: int, k: int, P: float, kappa2: float | None = None, sw2: float | None = None,
                           sa2: float | None = None, N: int = 1, gamma: float = 0.5, phi: str = "relu",
                           priors: Priors | None = None) -> dict[str, float]:
    """Population NNGP on k-sparse parity: m_S = g/(1+g), g = P N^{1−2γ} sa2 λ_k/κ², MSE = (1−m_S)²."""
    d, k = positive_int("d", d), positive_int("k", k)
    N, gamma = positive_int("N", N), positive("gamma", gamma)
    sw2, sa2, kappa2 = two_layer_priors(priors, sw2=sw2, sa2=sa2, kappa2=kappa2, N=N, gamma=gamma)
    lam = cube_kernel_eigenvalue(k, d, sw2, phi)
    m = float(kernel_limit_coefficients([1.0], [lam], P, positive("kappa2", kappa2), N, gamma, sa2)[0])
    return dict(m_target=m, test_mse=(1.0 - m) ** 2, eigenvalue=lam)
