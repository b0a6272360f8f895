"""Two-layer network f(x) = Σ_i a_i φ(w_i·x/√D)/N^γ (conventions §2, §9)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp

from .._validate import FLTheoryInputError, positive, positive_int
from ..activations import Activation, get_activation
from .parametrization import readout_exponent


@dataclass(frozen=True)
class TwoLayerNet:
    """Two-layer network with first-layer weights ``w[N, D]`` and readout ``a[N]``.

    Priors: w entries ~ N(0, sw2), a entries ~ N(0, sa2). The 1/√D is in the forward pass.
    """

    N: int
    D: int
    phi: Any = "relu"
    parametrization: str = "mup"
    sw2: float = 1.0
    sa2: float = 1.0
    act: Activation = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        positive_int("N", self.N)
        positive_int("D", self.D)
        positive("sw2", self.sw2)
        positive("sa2", self.sa2)
        readout_exponent(self.parametrization)
        object.__setattr__(self, "act", get_activation(self.phi, "phi"))

    @property
    def gamma(self) -> float:
        return readout_exponent(self.parametrization)

    def prior_variances(self) -> dict:
        return {"w": self.sw2, "a": self.sa2}

    def init(self, key, dtype=jnp.float32) -> dict:
        kw, ka = jax.random.split(key)
        return {
            "w": jnp.sqrt(self.sw2) * jax.random.normal(kw, (self.N, self.D), dtype),
            "a": jnp.sqrt(self.sa2) * jax.random.normal(ka, (self.N,), dtype),
        }

    def features(self, params: dict, X) -> jax.Array:
        """φ(w_i·x/√D), shape ``[P, N]`` for ``X[P, D]``."""
        if X.ndim != 2 or X.shape[1] != self.D:
            raise FLTheoryInputError(f"X: expected shape [P, {self.D}], got {tuple(X.shape)}")
        return self.act(X.astype(params["w"].dtype) @ params["w"].T / jnp.sqrt(self.D))

    def apply(self, params: dict, X) -> jax.Array:
        """Outputs ``f[P]``."""
        return self.features(params, X) @ params["a"] / self.N**self.gamma
