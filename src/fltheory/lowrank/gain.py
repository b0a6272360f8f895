"""Activation φ of the low-rank RNN and its Gaussian gain G(Δ) = ⟨φ′(√Δ ξ)⟩, ξ ~ N(0, 1).

A thin adapter around the package's one activation registry (:mod:`fltheory.activations`) and its
Gaussian expectations (:func:`fltheory.gaussian.mean_dphi`). Names (conventions §10):

- ``"linear"`` (alias ``"identity"``): φ(x) = x, G ≡ 1.
- ``"erf_unit"``: the unit-slope error function φ(x) = erf(√π x / 2), φ′(0) = 1.
  φ′(x) = exp(−π x² / 4), hence G(Δ) = (1 + π Δ / 2)^(−1/2) in closed form.
- ``"erf"``: **here an alias of** ``"erf_unit"`` (the paper's φ, and this package's name for it
  before the registries were merged), *not* the plain erf of :mod:`fltheory.activations`. To run
  the low-rank RNN with the plain erf(x), pass ``fltheory.get_activation("erf")``.
- any other name of :mod:`fltheory.activations` (``tanh``, ``relu``), an
  :class:`~fltheory.activations.Activation`, or a callable φ: G(Δ) in closed form where
  :func:`~fltheory.gaussian.mean_dphi` has one, else by Gauss–Hermite quadrature of φ′ (autodiff).

By Stein's lemma, for zero-mean jointly Gaussian (a, x) with Var x = Δ,
⟨a φ(x)⟩ = Cov(a, x) G(Δ); this is what turns (1/N) vᵀφ(x) into G(Δ) Σ_b σ_vb κ_b.
"""
from __future__ import annotations

from dataclasses import dataclass

from .._validate import FLTheoryInputError
from ..activations import Activation, get_activation
from ..gaussian import mean_dphi

_LOWRANK_ALIASES = {"erf": "erf_unit"}
"""Names that mean something else in lowrank than in :mod:`fltheory.activations` (backward compatibility)."""


@dataclass(frozen=True)
class LowRankActivation:
    """φ with its Gaussian gain, wrapping a shared :class:`~fltheory.activations.Activation`.

    ``phi(x)`` is φ, ``gain(Δ)`` = E[φ′(√Δ ξ)], ``linear`` is True only for the identity (G ≡ 1
    exactly). Equal (and equally hashed) whenever the wrapped activation is, so jitted code with
    the activation as a static argument compiles once per activation.
    """

    activation: Activation

    @property
    def name(self) -> str:
        return self.activation.name

    @property
    def linear(self) -> bool:
        return self.activation.closed_form == "linear"

    def phi(self, x):
        """φ(x), elementwise."""
        return self.activation.fn(x)

    def gain(self, delta):
        """G(Δ) = E[φ′(a)], a ~ N(0, Δ), elementwise (:func:`fltheory.gaussian.mean_dphi`)."""
        return mean_dphi(self.activation, delta)


def get_lowrank_activation(phi="linear") -> LowRankActivation:
    """Resolve ``phi``: a name of :mod:`fltheory.activations` (``"erf"`` here means ``"erf_unit"``
    = erf(√π x/2), see the module docstring), an :class:`~fltheory.activations.Activation`, a
    :class:`LowRankActivation`, or a callable.
    """
    if isinstance(phi, LowRankActivation):
        return phi
    if isinstance(phi, str):
        key = _LOWRANK_ALIASES.get(phi.lower(), phi.lower())
        try:
            return LowRankActivation(get_activation(key, "phi"))
        except FLTheoryInputError:
            raise FLTheoryInputError(
                f"phi: unknown activation {phi!r}; choose 'linear', 'erf' (= 'erf_unit' = erf(√π x/2)), "
                "'tanh', 'relu' or pass a callable") from None
    if not (isinstance(phi, Activation) or callable(phi)):
        raise FLTheoryInputError(f"phi: expected an activation name or a callable, got {phi!r}")
    return LowRankActivation(get_activation(phi, "phi"))
