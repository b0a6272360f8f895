"""Gaussian expectations of activations: the building block of every kernel map.

For a centred bivariate Gaussian (a, b) with covariance [[k11, k12], [k12, k22]] this module
computes E[φ(a)φ(b)] and E[φ(a)]:

- ``linear``: E[ab] = k12.
- ``erf`` (arcsine kernel, Williams 1997): (2/π) arcsin(2k12 / √((1+2k11)(1+2k22))).
- ``relu`` (arc-cosine kernel of degree 1, Cho & Saul 2009):
  √(k11 k22)/(2π) (sin θ + (π − θ) cos θ), θ = arccos(k12/√(k11 k22)).
- anything else: tensor-product Gauss–Hermite quadrature of order ``quad_order``.

All functions are written in ``jax.numpy`` so they are differentiable and run in float64
(fltheory enables ``jax_enable_x64`` on import). Arguments of arcsin/arccos are clipped to [−1, 1].
"""
from __future__ import annotations

from functools import lru_cache

import jax.numpy as jnp
import numpy as np

from .activations import get_activation

DEFAULT_QUAD_ORDER = 64


@lru_cache(maxsize=16)
def _hermite(order: int):
    """Probabilists' Gauss–Hermite nodes and weights normalised to a N(0,1) average."""
    z, w = np.polynomial.hermite_e.hermegauss(order)
    return z, w / np.sqrt(2.0 * np.pi)


def _safe_sqrt(x):
    return jnp.sqrt(jnp.maximum(x, 0.0))


def phiphi(phi, k11, k12, k22, quad_order: int = DEFAULT_QUAD_ORDER):
    """E[φ(a)φ(b)] for (a, b) ~ N(0, [[k11, k12], [k12, k22]]), broadcast elementwise."""
    act = get_activation(phi)
    k11, k12, k22 = (jnp.asarray(k, dtype=jnp.float64) for k in (k11, k12, k22))
    if act.closed_form == "linear":
        return k12 + 0.0 * (k11 + k22)
    if act.closed_form == "erf":
        arg = 2.0 * k12 / jnp.sqrt((1.0 + 2.0 * k11) * (1.0 + 2.0 * k22))
        return (2.0 / jnp.pi) * jnp.arcsin(jnp.clip(arg, -1.0, 1.0))
    if act.closed_form == "relu":
        norm = _safe_sqrt(k11 * k22)
        safe = jnp.where(norm > 0, norm, 1.0)
        cos = jnp.clip(k12 / safe, -1.0, 1.0)
        theta = jnp.arccos(cos)
        val = norm / (2.0 * jnp.pi) * (jnp.sqrt(jnp.maximum(1.0 - cos**2, 0.0)) + (jnp.pi - theta) * cos)
        return jnp.where(norm > 0, val, 0.0)
    return _phiphi_quadrature(act, k11, k12, k22, quad_order)


def _phiphi_quadrature(act, k11, k12, k22, order):
    z, w = _hermite(order)
    z1 = jnp.asarray(z)[:, None]
    z2 = jnp.asarray(z)[None, :]
    ww = jnp.asarray(w)[:, None] * jnp.asarray(w)[None, :]
    k11, k12, k22 = jnp.broadcast_arrays(k11, k12, k22)
    s1 = _safe_sqrt(k11)
    s1_safe = jnp.where(s1 > 0, s1, 1.0)
    rho_s2 = jnp.where(s1 > 0, k12 / s1_safe, 0.0)  # cov(a,b)/sd(a)
    resid = _safe_sqrt(k22 - rho_s2**2)
    e = lambda x: x[..., None, None]
    a = e(s1) * z1
    b = e(rho_s2) * z1 + e(resid) * z2
    return jnp.sum(ww * act(a) * act(b), axis=(-2, -1))


def mean_phi(phi, k, quad_order: int = DEFAULT_QUAD_ORDER):
    """E[φ(a)] for a ~ N(0, k), elementwise."""
    act = get_activation(phi)
    k = jnp.asarray(k, dtype=jnp.float64)
    if act.closed_form in ("linear", "erf"):
        return 0.0 * k
    if act.closed_form == "relu":
        return _safe_sqrt(k / (2.0 * jnp.pi))
    z, w = _hermite(quad_order)
    return jnp.sum(jnp.asarray(w) * act(_safe_sqrt(k)[..., None] * jnp.asarray(z)), axis=-1)


def kernel_map(phi, K, quad_order: int = DEFAULT_QUAD_ORDER):
    """C_ij = E[φ(h_i)φ(h_j)] for h ~ N(0, K): the representational kernel of a Gaussian layer."""
    K = jnp.asarray(K, dtype=jnp.float64)
    d = jnp.diagonal(K)
    return phiphi(phi, d[:, None], K, d[None, :], quad_order=quad_order)
