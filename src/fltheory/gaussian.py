"""Gaussian expectations: the one home of Gauss–Hermite quadrature and of the kernel maps.

**Quadrature convention.** Everything here uses the *probabilists'* Gauss–Hermite rule (weight
function exp(−z²/2), nodes of He_n, :func:`numpy.polynomial.hermite_e.hermegauss`) with the weights
divided by √(2π), so that Σ_i w_i f(z_i) ≈ E[f(z)] for z ~ N(0, 1); an ``order``-node rule is
exact for polynomials of degree ≤ 2·order − 1 (:func:`hermite_rule`). Built on it:

- :func:`gaussian_mean`: E[f(x)], x ~ N(μ, σ²) (f may return a tuple of arrays).
- :func:`gaussian_pair_mean`: E[f(a) g(b)] for a centred pair (a, b) ~ N(0, [[k11, k12], [k12, k22]]).
- :func:`hermite_projections`: E[f(σ z) He_n(z)], n = 0..n_max.

**Activations** (:mod:`fltheory.activations`). For a centred bivariate Gaussian (a, b) with
covariance [[k11, k12], [k12, k22]], :func:`phiphi` computes E[φ(a)φ(b)], :func:`mean_phi` E[φ(a)]
and :func:`mean_dphi` E[φ′(a)]; closed forms where they exist:

- ``linear``: E[ab] = k12, E[φ] = 0, E[φ′] = 1.
- ``erf`` and ``erf_unit`` (φ(x) = erf(c x), c = 1 resp. √π/2; arcsine kernel, Williams 1997):
  E[φ(a)φ(b)] = (2/π) arcsin(2c² k12 / √((1 + 2c² k11)(1 + 2c² k22))), E[φ] = 0,
  E[φ′(a)] = (2c/√π) / √(1 + 2c² k11). For ``erf_unit`` 2c² = π/2 and 2c/√π = 1.
- ``relu`` (arc-cosine kernel of degree 1, Cho & Saul 2009):
  √(k11 k22)/(2π) (sin θ + (π − θ) cos θ), θ = arccos(k12/√(k11 k22)); E[φ] = √(k/2π); E[φ′] = 1/2.
- anything else: Gauss–Hermite quadrature of order ``quad_order`` (tensor product in 2-D; φ′ by
  autodiff).

All functions are written in ``jax.numpy`` so they are differentiable and run in float64
(fltheory enables ``jax_enable_x64`` on import). Arguments of arcsin/arccos are clipped to [−1, 1].
"""
from __future__ import annotations

from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from ._validate import FLTheoryInputError, positive_int
from .activations import get_activation

DEFAULT_QUAD_ORDER = 64

_ERF_C2 = {"erf": 2.0, "erf_unit": 0.5 * np.pi}  # 2c² for φ(x) = erf(c x)


@lru_cache(maxsize=16)
def hermite_rule(order: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilists' Gauss–Hermite nodes ``z[order]`` and weights ``w[order]`` for a N(0, 1) average.

    Σ_i w_i f(z_i) ≈ E[f(z)], z ~ N(0, 1): the nodes are the roots of He_order (weight function
    exp(−z²/2)) and the weights of :func:`numpy.polynomial.hermite_e.hermegauss` divided by √(2π)
    (they sum to 1). Exact for polynomials of degree ≤ 2·order − 1. float64, cached and read-only.
    Beyond about 350 nodes the smallest weights underflow float64: such orders raise
    :class:`~fltheory.FLTheoryInputError` rather than return NaN.
    """
    order = positive_int("quad_order", order)
    with np.errstate(all="ignore"):
        z, w = np.polynomial.hermite_e.hermegauss(order)
    if not (np.all(np.isfinite(z)) and np.all(np.isfinite(w))):
        raise FLTheoryInputError(f"quad_order: {order} Gauss–Hermite nodes underflow float64; use at most 350")
    w = w / np.sqrt(2.0 * np.pi)
    z.flags.writeable = False
    w.flags.writeable = False
    return z, w


@lru_cache(maxsize=16)
def _hermite_times_weights(n_max: int, order: int) -> np.ndarray:
    """H[n, i] = He_n(z_i) w_i, n = 0..n_max, for the rule of :func:`hermite_rule` (read-only)."""
    z, w = hermite_rule(order)
    eye = np.eye(n_max + 1)
    He = np.stack([np.polynomial.hermite_e.hermeval(z, eye[i]) for i in range(n_max + 1)])
    Hw = He * w
    Hw.flags.writeable = False
    return Hw


def _safe_sqrt(x):
    return jnp.sqrt(jnp.maximum(x, 0.0))


def gaussian_mean(fn, mu=0.0, sd=1.0, order: int = DEFAULT_QUAD_ORDER):
    """E[fn(x)] for x ~ N(μ, σ²) by ``order``-node probabilists' Gauss–Hermite quadrature.

    ``mu`` and ``sd`` (σ ≥ 0, the standard deviation) broadcast elementwise; the result has their
    broadcast shape. ``fn`` is applied once to an array of shape ``broadcast(mu, sd) + (order,)``
    (x = μ + σ z_i) and must act elementwise; it may return a tuple (or any pytree) of such arrays,
    e.g. ``lambda x: (φ(x), φ(x)**2)`` for two moments at once, and the result has the same structure.
    """
    z, w = hermite_rule(order)
    mu = jnp.asarray(mu, dtype=jnp.float64)
    sd = jnp.asarray(sd, dtype=jnp.float64)
    vals = fn(mu[..., None] + sd[..., None] * jnp.asarray(z))
    w = jnp.asarray(w)
    return jax.tree_util.tree_map(lambda v: jnp.sum(w * v, axis=-1), vals)


def gaussian_pair_mean(f, g, k11, k12, k22, order: int = DEFAULT_QUAD_ORDER):
    """E[f(a) g(b)] for (a, b) ~ N(0, [[k11, k12], [k12, k22]]), broadcast elementwise.

    Tensor-product probabilists' Gauss–Hermite rule of ``order`` nodes per axis on the Cholesky
    factorisation a = √k11 z₁, b = (k12/√k11) z₁ + √(k22 − k12²/k11) z₂ (k11 = 0 is handled:
    then a = 0 and b = √k22 z₂). ``f``, ``g`` act elementwise; ``g=None`` means ``g = f``.
    """
    g = f if g is None else g
    z, w = hermite_rule(order)
    z1 = jnp.asarray(z)[:, None]
    z2 = jnp.asarray(z)[None, :]
    ww = jnp.asarray(w)[:, None] * jnp.asarray(w)[None, :]
    k11, k12, k22 = (jnp.asarray(k, dtype=jnp.float64) for k in (k11, k12, k22))
    k11, k12, k22 = jnp.broadcast_arrays(k11, k12, k22)
    s1 = _safe_sqrt(k11)
    s1_safe = jnp.where(s1 > 0, s1, 1.0)
    rho_s2 = jnp.where(s1 > 0, k12 / s1_safe, 0.0)  # cov(a,b)/sd(a)
    resid = _safe_sqrt(k22 - rho_s2**2)
    e = lambda x: x[..., None, None]  # noqa: E731
    a = e(s1) * z1
    b = e(rho_s2) * z1 + e(resid) * z2
    return jnp.sum(ww * f(a) * g(b), axis=(-2, -1))


def hermite_projections(fn, sd, n_max: int, order: int = DEFAULT_QUAD_ORDER):
    """E[fn(σ z) He_n(z)] for z ~ N(0, 1) and n = 0..n_max (probabilists' Hermite polynomials He_n,
    E[He_n He_m] = n! δ_nm; *not* divided by √n!), by ``order``-node Gauss–Hermite quadrature.

    ``sd`` = σ (broadcast); the result has shape ``shape(sd) + (n_max + 1,)``.
    """
    z, _ = hermite_rule(order)
    sd = jnp.asarray(sd, dtype=jnp.float64)
    v = fn(sd[..., None] * jnp.asarray(z))
    Hw = jnp.asarray(_hermite_times_weights(int(n_max), int(order)))
    return jnp.moveaxis(jnp.tensordot(Hw, v, axes=([1], [v.ndim - 1])), 0, -1)


def phiphi(phi, k11, k12, k22, quad_order: int = DEFAULT_QUAD_ORDER):
    """E[φ(a)φ(b)] for (a, b) ~ N(0, [[k11, k12], [k12, k22]]), broadcast elementwise."""
    act = get_activation(phi)
    k11, k12, k22 = (jnp.asarray(k, dtype=jnp.float64) for k in (k11, k12, k22))
    if act.closed_form == "linear":
        return k12 + 0.0 * (k11 + k22)
    if act.closed_form in _ERF_C2:
        c2 = _ERF_C2[act.closed_form]
        arg = c2 * k12 / jnp.sqrt((1.0 + c2 * k11) * (1.0 + c2 * k22))
        return (2.0 / jnp.pi) * jnp.arcsin(jnp.clip(arg, -1.0, 1.0))
    if act.closed_form == "relu":
        norm = _safe_sqrt(k11 * k22)
        safe = jnp.where(norm > 0, norm, 1.0)
        cos = jnp.clip(k12 / safe, -1.0, 1.0)
        theta = jnp.arccos(cos)
        val = norm / (2.0 * jnp.pi) * (jnp.sqrt(jnp.maximum(1.0 - cos**2, 0.0)) + (jnp.pi - theta) * cos)
        return jnp.where(norm > 0, val, 0.0)
    return gaussian_pair_mean(act, act, k11, k12, k22, quad_order)


def mean_phi(phi, k, quad_order: int = DEFAULT_QUAD_ORDER):
    """E[φ(a)] for a ~ N(0, k), elementwise."""
    act = get_activation(phi)
    k = jnp.asarray(k, dtype=jnp.float64)
    if act.closed_form in ("linear", *_ERF_C2):
        return 0.0 * k
    if act.closed_form == "relu":
        return _safe_sqrt(k / (2.0 * jnp.pi))
    return gaussian_mean(act, 0.0, _safe_sqrt(k), quad_order)


def mean_dphi(phi, k, quad_order: int = DEFAULT_QUAD_ORDER):
    """E[φ′(a)] for a ~ N(0, k), elementwise: the Gaussian gain G(k) of the low-rank RNN (§10).

    Closed forms for linear (1), erf (2/√(π(1 + 2k))), erf_unit ((1 + πk/2)^(−1/2)) and relu (1/2);
    otherwise Gauss–Hermite quadrature of φ′ obtained by autodiff. By Stein's lemma
    E[x φ(a)] = Cov(x, a) E[φ′(a)] for jointly Gaussian centred (x, a). ``k`` keeps a floating dtype
    (float64 under fltheory's x64 default), so that scans carrying it keep theirs.
    """
    act = get_activation(phi)
    k = jnp.asarray(k)
    if not jnp.issubdtype(k.dtype, jnp.floating):
        k = k.astype(jnp.float64)
    if act.closed_form == "linear":
        return jnp.ones_like(k)
    if act.closed_form == "erf_unit":
        return 1.0 / jnp.sqrt(1.0 + 0.5 * jnp.pi * k)
    if act.closed_form == "erf":
        return (2.0 / jnp.sqrt(jnp.pi)) / jnp.sqrt(1.0 + 2.0 * k)
    if act.closed_form == "relu":
        return jnp.full_like(k, 0.5)
    return gaussian_mean(act.deriv, 0.0, _safe_sqrt(k), quad_order)


def kernel_map(phi, K, quad_order: int = DEFAULT_QUAD_ORDER):
    """C_ij = E[φ(h_i)φ(h_j)] for h ~ N(0, K): the representational kernel of a Gaussian layer."""
    K = jnp.asarray(K, dtype=jnp.float64)
    d = jnp.diagonal(K)
    return phiphi(phi, d[:, None], K, d[None, :], quad_order=quad_order)
