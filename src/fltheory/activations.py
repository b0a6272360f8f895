"""Activation functions φ, looked up by name or given as a callable.

Names: ``linear``, ``tanh``, ``erf``, ``relu``. Every activation carries a flag ``odd`` (used by
symmetry arguments) and a ``closed_form`` tag telling :mod:`fltheory.gaussian` whether
E[φ(a)φ(b)] has a closed form. A user callable works everywhere; its Gaussian expectations
fall back to Gauss–Hermite quadrature.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp

from ._validate import FLTheoryInputError


@dataclass(frozen=True)
class Activation:
    name: str
    fn: Callable
    odd: bool
    closed_form: str | None  # "linear" | "erf" | "relu" | None

    def __call__(self, x):
        return self.fn(x)

    def deriv(self, x):
        """φ'(x), elementwise, by autodiff."""
        return jax.vmap(jax.grad(lambda s: self.fn(s)))(jnp.ravel(x)).reshape(jnp.shape(x))


def _relu(x):
    return jnp.maximum(x, 0.0)


_REGISTRY = {
    "linear": Activation("linear", lambda x: x, odd=True, closed_form="linear"),
    "identity": Activation("linear", lambda x: x, odd=True, closed_form="linear"),
    "tanh": Activation("tanh", jnp.tanh, odd=True, closed_form=None),
    "erf": Activation("erf", jax.scipy.special.erf, odd=True, closed_form="erf"),
    "relu": Activation("relu", _relu, odd=False, closed_form="relu"),
}

NAMES = ("linear", "tanh", "erf", "relu")


def get_activation(phi, name: str = "phi") -> Activation:
    """Resolve ``phi`` (a name, an :class:`Activation`, or a callable) to an :class:`Activation`.

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
