"""Activation φ of the low-rank RNN and its Gaussian gain G(Δ) = ⟨φ′(√Δ ξ)⟩, ξ ~ N(0, 1).

Names (conventions §10):

- ``"linear"`` (alias ``"identity"``): φ(x) = x, G ≡ 1.
- ``"erf"``: the *scaled* error function φ(x) = erf(√π x / 2), chosen so that φ′(0) = 1.
  φ′(x) = exp(−π x² / 4), hence G(Δ) = (1 + π Δ / 2)^(−1/2) in closed form.
  (This differs from the plain ``erf`` of :mod:`fltheory.activations`.)
- any callable φ: G(Δ) by Gauss–Hermite quadrature of φ′ (obtained by autodiff).

By Stein's lemma, for zero-mean jointly Gaussian (a, x) with Var x = Δ,
⟨a φ(x)⟩ = Cov(a, x) G(Δ); this is what turns (1/N) vᵀφ(x) into G(Δ) Σ_b σ_vb κ_b.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .._validate import FLTheoryInputError

_SQRT_PI_HALF = float(np.sqrt(np.pi) / 2.0)


@dataclass(frozen=True)
class LowRankActivation:
    """φ with its Gaussian gain. ``linear`` is True only for the identity (G ≡ 1 exactly)."""

    name: str
    phi: Callable
    gain: Callable
    linear: bool


def _scaled_erf(x):
    return jax.scipy.special.erf(_SQRT_PI_HALF * x)


def _erf_gain(delta):
    return 1.0 / jnp.sqrt(1.0 + 0.5 * jnp.pi * delta)


def _linear_gain(delta):
    return jnp.ones_like(delta)


def _quadrature_gain(phi: Callable, order: int = 64) -> Callable:
    z, w = np.polynomial.hermite_e.hermegauss(order)
    z = jnp.asarray(z)
    w = jnp.asarray(w / np.sqrt(2.0 * np.pi))
    dphi = jax.vmap(jax.grad(lambda s: phi(s)))

    def gain(delta):
        delta = jnp.asarray(delta)
        sd = jnp.sqrt(jnp.maximum(delta, 0.0))
        vals = dphi((sd[..., None] * z).ravel()).reshape(sd.shape + z.shape)
        return jnp.sum(w * vals, axis=-1)

    return gain


def _identity(x):
    return x


LINEAR = LowRankActivation("linear", _identity, _linear_gain, linear=True)
ERF = LowRankActivation("erf", _scaled_erf, _erf_gain, linear=False)


def get_lowrank_activation(phi="linear") -> LowRankActivation:
    """Resolve ``phi`` ("linear", "identity", "erf" = erf(√π x/2), or a callable).

    Named activations are module-level singletons, so jitted code keyed on them compiles once.
    """
    if isinstance(phi, LowRankActivation):
        return phi
    if isinstance(phi, str):
        key = phi.lower()
        if key in ("linear", "identity"):
            return LINEAR
        if key == "erf":
            return ERF
        raise FLTheoryInputError(
            f"phi: unknown activation {phi!r}; choose 'linear', 'erf' (= erf(√π x/2)) or pass a callable"
        )
    if callable(phi):
        return LowRankActivation(getattr(phi, "__name__", "custom"), phi, _quadrature_gain(phi), linear=False)
    raise FLTheoryInputError(f"phi: expected an activation name or a callable, got {phi!r}")
