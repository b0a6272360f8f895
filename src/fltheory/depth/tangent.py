"""First-order (tangent-kernel) theory of reused vs decoupled backward weights, at infinite width.

One GD step changes the outputs by Δf(x) = −(η₀/P) Σ_μ K(x, x_μ) (f(x_μ) − y_μ) with

    K(x, x') = N Σ_θ ∂f(x)/∂θ · ∂̃f(x')/∂θ,

where ∂f is the true derivative (how the forward network responds) and ∂̃f the derivative the
backward pass reports. With backward signals g_ℓ = N ∂f/∂h_ℓ (true) and g̃_ℓ (decoupled), at
infinite width (conventions §11; derivation in docs/theory/depth.md)

    K = Φ_L + Σ_{ℓ=1}^{L} c_L² 𝒢_ℓ ⊙ Φ_{ℓ−1} + 𝒢_0 ⊙ X Xᵀ/D,      Φ_ℓ = E[φ(h_ℓ)φ(h_ℓ)ᵀ],

with 𝒢_ℓ = lim g_ℓ·g_ℓ'/N (reused) or lim g_ℓ·g̃_ℓ'/N (decoupled):

    G_L = g_w² Ė_L,     G_{ℓ−1} = s² G_ℓ + c_L² G_ℓ ⊙ Ė_{ℓ−1}          (reused: true NTK)
    G̃_L = G_L,          G̃_{ℓ−1} = s² G̃_ℓ                               (decoupled)

Ė_ℓ = E[φ'(h_ℓ)φ'(h_ℓ)ᵀ]. The W_ℓᵀ branch of true backprop adds c_L² Ė G per layer to the gradient
covariance; the independent W̃_ℓ(0)ᵀ branch is uncorrelated with the forward Jacobian, so its
contribution is lost. Under depth-muP (c_L² = a²/L, s = 1) the true G grows towards the input like
the ODE dG_t/dt = −a² G_t ⊙ Ė_t while G̃ stays at G_1, so the lost part of K tends to the non-zero
integral a² ∫_0^1 (G_t − G_1) ⊙ Φ_t dt as L → ∞: it does **not** vanish with depth.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from .._validate import finite_array, positive, positive_int
from ..activations import get_activation
from ..gaussian import kernel_map, phiphi
from .kernel_ode import input_kernel, recursion_kernel
from .model import ResNetConfig, forward


def deriv_kernel_map(phi, K):
    """Ė_ij = E[φ'(h_i)φ'(h_j)] for h ~ N(0, K): closed forms for linear, relu, erf; quadrature otherwise."""
    act = get_activation(phi)
    K = jnp.asarray(K, dtype=jnp.float64)
    d = jnp.diagonal(K)
    k11, k22 = d[:, None], d[None, :]
    if act.closed_form == "linear":
        return jnp.ones_like(K)
    if act.closed_form == "relu":
        cos = jnp.clip(K / jnp.sqrt(jnp.maximum(k11 * k22, 1e-300)), -1.0, 1.0)
        return (jnp.pi - jnp.arccos(cos)) / (2.0 * jnp.pi)
    if act.closed_form == "erf":
        return (4.0 / jnp.pi) / jnp.sqrt((1.0 + 2.0 * k11) * (1.0 + 2.0 * k22) - 4.0 * K**2)
    return phiphi(lambda x: act.deriv(x), k11, K, k22)


def tangent_kernels(X, cfg: ResNetConfig, X2=None):
    """Infinite-width first-step kernels ``(K_reused, K_decoupled)`` between ``X2`` (rows) and ``X`` (cols).

    ``X2`` defaults to ``X``. Both are ``[P2, P]`` float64 arrays (module docstring for the formula).
    """
    X = finite_array("X", X, shape=(None, cfg.D))
    Xa = X if X2 is None else jnp.concatenate([jnp.asarray(finite_array("X2", X2, shape=(None, cfg.D))), X])
    P2 = Xa.shape[0] - X.shape[0] if X2 is not None else X.shape[0]
    Sig = recursion_kernel(Xa, cfg.phi, cfg.a, cfg.L, cfg.gu2, cfg.arch)  # [L+1, Q, Q]
    Phi = jax.vmap(lambda S: kernel_map(cfg.phi, S))(Sig)
    Edot = jax.vmap(lambda S: deriv_kernel_map(cfg.phi, S))(Sig)
    s2, c2 = cfg.skip**2, cfg.branch**2
    GL = cfg.gw2 * Edot[-1]

    def back(carry, E_prev):
        G, Gt = carry
        Gn, Gtn = s2 * G + c2 * G * E_prev, s2 * Gt
        return (Gn, Gtn), (Gn, Gtn)

    _, (Gs, Gts) = jax.lax.scan(back, (GL, GL), Edot[:-1], reverse=True)  # G_0..G_{L-1}
    G = jnp.concatenate([Gs, GL[None]])
    Gt = jnp.concatenate([Gts, GL[None]])
    Kx = input_kernel(Xa, 1.0)

    def K_of(G):
        return Phi[-1] + c2 * jnp.sum(G[1:] * Phi[:-1], axis=0) + G[0] * Kx

    Kr, Kd = K_of(G), K_of(Gt)
    if X2 is None:
        return Kr, Kd
    return Kr[:P2, P2:], Kd[:P2, P2:]


@partial(jax.jit, static_argnames=("cfg",))
def empirical_tangent_kernels(params, frozen_reused, frozen_decoupled, X, cfg: ResNetConfig):
    """Finite-N ``(K_reused, K_decoupled)`` = N ∇f(x)·∇f(x') and N ∇f(x)·∇̃f(x') on inputs ``X``.

    ``∇f`` is taken with ``frozen_reused`` (true backprop), ``∇̃f`` with ``frozen_decoupled``; the two
    must share ``W0`` so that they describe the same forward network.
    """
    def jac(frozen):
        J = jax.jacrev(lambda p: forward(p, frozen, X, cfg))(params)
        return jnp.concatenate([j.reshape(X.shape[0], -1) for j in jax.tree_util.tree_leaves(J)], axis=1)

    Jr, Jd = jac(frozen_reused), jac(frozen_decoupled)
    return cfg.N * Jr @ Jr.T, cfg.N * Jr @ Jd.T


def linearised_losses(K, K_test, y, y_test, lr: float, steps: int):
    """Train/test losses of GD in function space with a frozen kernel, from f = 0 (infinite-width muP).

    f ← f − (η₀/P) K (f − y) on the training set, f_test ← f_test − (η₀/P) K_test (f − y).
    Returns ``(train[steps+1], test[steps+1])`` with the conventions of :func:`fltheory.depth.train`.
    """
    lr = positive("lr", lr)
    steps = positive_int("steps", steps)
    y, y_test = jnp.asarray(y, jnp.float64), jnp.asarray(y_test, jnp.float64)
    K, K_test = jnp.asarray(K, jnp.float64), jnp.asarray(K_test, jnp.float64)
    P = y.shape[0]

    def step(c, _):
        f, ft = c
        r = f - y
        out = (0.5 * jnp.mean(r**2), 0.5 * jnp.mean((ft - y_test) ** 2))
        return (f - lr / P * K @ r, ft - lr / P * K_test @ r), out

    (f, ft), (tr, te) = jax.lax.scan(step, (jnp.zeros_like(y), jnp.zeros_like(y_test)), None, length=steps)
    tr = jnp.concatenate([tr, (0.5 * jnp.mean((f - y) ** 2))[None]])
    te = jnp.concatenate([te, (0.5 * jnp.mean((ft - y_test) ** 2))[None]])
    return tr, te
