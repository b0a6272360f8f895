"""The ``nngp-depth`` sweep point: NNGP kernel regression error of a deep network vs depth.

Network (conventions §2, endpoint DNN, untied layers; priors conventions §3):

    h_1 = U x / √D,   h_{l+1} = W_l φ(h_l) / √N  (+ U_l x / √D if ``input_every_layer``),
    f = w · φ(h_L) / √N.

Infinite-width kernels (conventions §4), over the P train + P_test inputs:

    K_1 = g_u² X Xᵀ / D,   C_l = kernel_map(φ, K_l),   K_{l+1} = g² C_l (+ g_u² X Xᵀ / D),

and the lazy predictor is kernel ridge regression with the output kernel g_w² C_L and ridge κ
(conventions §5): f* = g_w² C_{*S} (g_w² C_SS + κ I)⁻¹ y.

Task: x ~ N(0, I_D); a random two-layer erf teacher y = Σ_k a_k erf(v_k·x/√D)/√k with
a_k, v_k ~ N(0, 1), k = ``teacher_width``. Everything random is drawn from ``seed``.

Observables (errors are relative: mean squared error / mean y² on the test set):

- ``gp_test_error``: the NNGP (infinite-width) kernel regression error — theory;
- ``rf_test_error``: the same regression with the *empirical* kernel φ(h_L)φ(h_L)ᵀ/N of one
  random network of width ``width`` (random features) — simulation; it converges to
  ``gp_test_error`` as N → ∞ (fluctuations O(1/√N));
- ``gp_train_error``: relative training error of the NNGP predictor;
- ``kernel_corr``: mean off-diagonal correlation C_ij/√(C_ii C_jj) of the test inputs' C_L
  (how far depth has collapsed the kernel).
"""
from __future__ import annotations

import numpy as np

from ..activations import get_activation
from ..gaussian import kernel_map
from .._validate import FLTheoryInputError, choice, positive, positive_int
from ..priors import Priors, as_priors
from ..sweep.registry import declare


def deep_nngp_kernel(X: np.ndarray, depth: int, phi: str, g2: float, gu2: float,
                 input_every_layer: bool = False) -> np.ndarray:
    """C_L (the last layer's representational kernel) of the NNGP recursion over inputs ``X[P, D]``."""
    D = X.shape[1]
    lin = gu2 * (X @ X.T) / D
    K = lin
    for _ in range(depth - 1):
        K = g2 * np.asarray(kernel_map(phi, K)) + (lin if input_every_layer else 0.0)
    return np.asarray(kernel_map(phi, K))


def empirical_kernel(X: np.ndarray, depth: int, phi: str, g2: float, gu2: float, width: int,
                     rng: np.random.Generator, input_every_layer: bool = False) -> np.ndarray:
    """φ(h_L)φ(h_L)ᵀ/N of one random network of width ``width`` (finite-N estimate of C_L)."""
    act = get_activation(phi)
    D = X.shape[1]
    f = lambda h: np.asarray(act(h))  # noqa: E731
    h = X @ (np.sqrt(gu2) * rng.standard_normal((width, D))).T / np.sqrt(D)
    for _ in range(depth - 1):
        W = np.sqrt(g2) * rng.standard_normal((width, width))
        h_new = f(h) @ W.T / np.sqrt(width)
        if input_every_layer:
            h_new = h_new + X @ (np.sqrt(gu2) * rng.standard_normal((width, D))).T / np.sqrt(D)
        h = h_new
    a = f(h)
    return a @ a.T / width


def _krr(C: np.ndarray, y: np.ndarray, P: int, gw2: float, ridge: float) -> np.ndarray:
    """Kernel ridge predictions on all inputs (train first P) with output kernel gw2*C."""
    Kss = gw2 * C[:P, :P] + ridge * np.eye(P)
    alpha = np.linalg.solve(Kss, y[:P])
    return gw2 * C[:, :P] @ alpha


NNGP_DEPTH_OUTPUTS = {
    "gp_test_error": "NNGP test error (N = ∞)",
    "rf_test_error": "random-feature test error (width N)",
    "gp_train_error": "NNGP train error (N = ∞)",
    "kernel_corr": "mean off-diagonal kernel correlation",
}


#: the ridge (= κ, conventions §5) of :func:`nngp_depth_point` when neither ``ridge`` nor ``priors`` is given
DEFAULT_RIDGE = 1e-3


def check_nngp_depth(*, depth, g2=None, phi, gu2=None, gw2=None, P, P_test, D, teacher_width, ridge=None, width,
                     input_every_layer, priors=None, **_) -> None:
    """Parameters of :func:`nngp_depth_point` (which calls this first); ``None``: not given (``g2`` is
    required unless ``priors`` is given)."""
    positive_int("depth", depth)
    if g2 is None and priors is None:
        raise FLTheoryInputError("g2: required (the hidden-weight prior variance, conventions §3), or pass "
                                 "priors=Priors(g2=...)")
    for name, value in (("g2", g2), ("gu2", gu2), ("gw2", gw2), ("ridge", ridge)):
        if value is not None:
            positive(name, value)
    for name, value in (("P", P), ("P_test", P_test), ("D", D), ("teacher_width", teacher_width)):
        positive_int(name, value)
    positive_int("width", width, minimum=0)
    choice("phi", phi, ["linear", "tanh", "erf", "relu"])
    if not isinstance(input_every_layer, bool):
        raise FLTheoryInputError(f"input_every_layer: expected a bool, got {input_every_layer!r}")


@declare(outputs=NNGP_DEPTH_OUTPUTS, validate=check_nngp_depth)
def nngp_depth_point(*, depth: int, g2: float | None = None, phi: str = "erf", gu2: float | None = None,
                     gw2: float | None = None, P: int = 64, P_test: int = 256, D: int = 16, teacher_width: int = 4,
                     ridge: float | None = None, width: int = 256, input_every_layer: bool = False,
                     priors: Priors | None = None, seed: int = 0) -> dict[str, float]:
    """One grid point of the ``nngp-depth`` sweep (see the module docstring). Its parameter checks,
    :func:`check_nngp_depth`, also run on every point when a spec loads.

    Priors: ``g2`` (required), ``gu2``, ``gw2`` (default 1) and the kernel-regression ridge ``ridge`` (the
    temperature κ of conventions §5, default :data:`DEFAULT_RIDGE`), or from Python ``priors`` (its ``g2``,
    ``gu2``, ``gw2`` and ``kappa`` as the ridge); a name beside ``priors`` is one error naming ``priors``."""
    check_nngp_depth(depth=depth, g2=g2, phi=phi, gu2=gu2, gw2=gw2, P=P, P_test=P_test, D=D,
                     teacher_width=teacher_width, ridge=ridge, width=width, input_every_layer=input_every_layer,
                     priors=priors)
    depth, P, P_test, D, teacher_width, width = (int(v) for v in (depth, P, P_test, D, teacher_width, width))
    if priors is not None and ridge is not None:
        raise FLTheoryInputError("priors: pass either priors or ridge (its kappa), not both")
    pr = as_priors(priors, Priors(g2=1.0 if g2 is None else g2, kappa=DEFAULT_RIDGE), g2=g2, gu2=gu2, gw2=gw2)
    g2, gu2, gw2 = pr.g2, pr.gu2, pr.gw2
    ridge = pr.kappa if ridge is None else float(ridge)

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((P + P_test, D))
    V = rng.standard_normal((teacher_width, D))
    a = rng.standard_normal(teacher_width)
    from scipy.special import erf

    y = erf(X @ V.T / np.sqrt(D)) @ a / np.sqrt(teacher_width)
    y_test = y[P:]
    norm = float(np.mean(y_test**2))

    C = deep_nngp_kernel(X, depth, phi, g2, gu2, input_every_layer)
    f = _krr(C, y, P, gw2, ridge)
    Ct = C[P:, P:]
    d = np.sqrt(np.diag(Ct))
    corr = Ct / np.outer(d, d)
    out = {
        "gp_test_error": float(np.mean((f[P:] - y_test) ** 2) / norm),
        "gp_train_error": float(np.mean((f[:P] - y[:P]) ** 2) / np.mean(y[:P] ** 2)),
        "kernel_corr": float((corr.sum() - np.trace(corr)) / (P_test * (P_test - 1))),
    }
    if width > 0:
        Ce = empirical_kernel(X, depth, phi, g2, gu2, width, rng, input_every_layer)
        fe = _krr(Ce, y, P, gw2, ridge)
        out["rf_test_error"] = float(np.mean((fe[P:] - y_test) ** 2) / norm)
    return out
