"""Activation functions φ, looked up by name or given as a callable: the one registry of the package.

Names:

- ``linear`` (alias ``identity``): φ(x) = x.
- ``tanh``.
- ``erf``: the plain error function φ(x) = erf(x) (φ′(0) = 2/√π) of the kernel papers (conventions §2).
- ``erf_unit``: the unit-slope error function φ(x) = erf(√π x / 2), φ′(x) = exp(−π x²/4), so
  φ′(0) = 1 — the ``erf`` of the low-rank RNN paper (conventions §10; :mod:`fltheory.lowrank`
  still accepts its old name ``"erf"`` for it).
- ``relu``.

Every activation carries a flag ``odd`` (used by symmetry arguments) and a ``closed_form`` tag
telling :mod:`fltheory.gaussian` whether its Gaussian expectations (E[φ(a)φ(b)], E[φ(a)],
E[φ′(a)]) have a closed form. A user callable works everywhere; its Gaussian expectations fall
back to Gauss–Hermite quadrature (:mod:`fltheory.gaussian`), its derivative to autodiff.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp

from ._validate import FLTheoryInputError

ERF_UNIT_SCALE = math.sqrt(math.pi) / 2.0
"""c in erf_unit(x) = erf(c x), c = √π/2, the scale that makes φ′(0) = (2/√π) c = 1."""


@dataclass(frozen=True)
class Activation:
    """A named φ. ``closed_form`` is ``"linear"``, ``"erf"``, ``"erf_unit"``, ``"relu"`` or None."""

    name: str
    fn: Callable
    odd: bool
    closed_form: str | None  # "linear" | "erf" | "erf_unit" | "relu" | None

    def __call__(self, x):
        return self.fn(x)

    def deriv(self, x):
        """φ'(x), elementwise, by autodiff."""
        return jax.vmap(jax.grad(lambda s: self.fn(s)))(jnp.ravel(x)).reshape(jnp.shape(x))


def _relu(x):
    return jnp.maximum(x, 0.0)


def _identity(x):
    return x


def _erf_unit(x):
    """erf(√π x / 2): the error function rescaled to unit slope at 0."""
    return jax.scipy.special.erf(ERF_UNIT_SCALE * x)


_LINEAR = Activation("linear", _identity, odd=True, closed_form="linear")

_REGISTRY = {
    "linear": _LINEAR,
    "identity": _LINEAR,
    "tanh": Activation("tanh", jnp.tanh, odd=True, closed_form=None),
    "erf": Activation("erf", jax.scipy.special.erf, odd=True, closed_form="erf"),
    "erf_unit": Activation("erf_unit", _erf_unit, odd=True, closed_form="erf_unit"),
    "relu": Activation("relu", _relu, odd=False, closed_form="relu"),
}

NAMES = ("linear", "tanh", "erf", "erf_unit", "relu")


def get_activation(phi, name: str = "phi") -> Activation:
    """Resolve ``phi`` (a name, an :class:`Activation`, or a callable) to an :class:`Activation`.

    Named activations are module-level singletons (jitted code keyed on them compiles once).
    Raises FLTheoryInputError naming ``name`` for an unknown string.
    """
    if isinstance(phi, Activation):
        return phi
    if isinstance(phi, str):
        try:
            return _REGISTRY[phi.lower()]
        except KeyError:
            raise FLTheoryInputError(
                f"{name}: unknown activation {phi!r}; choose one of {list(NAMES)} or pass a callable"
            ) from None
    if callable(phi):
        return Activation(getattr(phi, "__name__", "custom"), phi, odd=False, closed_form=None)
    raise FLTheoryInputError(f"{name}: expected an activation name or a callable, got {phi!r}")
