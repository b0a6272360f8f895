"""DNN and RNN with one set of equations (conventions §2).

    h_1 = U_1 x_1/√D,   h_t = W_t φ(h_{t-1})/√N + U_t x_t/√D  (t ≥ 2),   f_t = w_t·φ(h_t)/N^γ

``tied=True`` (RNN) shares W, U, w over time; ``tied=False`` (DNN = RNN unrolled with untied
weights) gives every step its own. :func:`rnn_cell` is the single-step update; :meth:`RecurrentNet.apply`
drives it with ``jax.lax.scan``.
"""
from __future__ import annotations

from dataclasses import InitVar, dataclass, field
from typing import Any, Callable

import jax
import jax.numpy as jnp

from .._validate import FLTheoryInputError, positive, positive_int
from ..activations import Activation, get_activation
from ..priors import Priors, resolve_priors
from .parametrization import readout_exponent


def rnn_cell(W, U, h_prev, x_t, phi: Callable, N: int, D: int):
    """One step: h_t = W φ(h_{t-1})/√N + U x_t/√D, batched over patterns (rows of ``h_prev``).

    Shapes: ``W[N, N]``, ``U[D, N]`` (acting as ``x @ U``), ``h_prev[P, N]``, ``x_t[P, D]``.
    Row-vector convention: ``φ(h) @ W`` implements W φ(h) with W stored transposed.
    """
    return phi(h_prev) @ W / jnp.sqrt(N) + x_t @ U / jnp.sqrt(D)


@dataclass(frozen=True)
class RecurrentNet:
    """Configuration of a DNN/RNN; ``init``/``apply`` are pure functions of a parameter dict.

    Parameters
    ----------
    N, D, T, O : width, input dimension, number of steps (= depth), output dimension.
    phi : activation name or callable.
    tied : True for the RNN (shared weights), False for the DNN.
    parametrization : ``mup`` (γ=1) or ``ntk``/``standard`` (γ=1/2).
    g2, gu2, gw2 : prior variances of W, U, w entries (conventions §3); each defaults to 1.
    priors : a :class:`fltheory.Priors` instead of ``g2``/``gu2``/``gw2`` (not both: one error naming
        ``priors``). Its ``kappa`` is the sampler's: ``sample_posterior(net, task, priors=priors)``.
    """

    N: int
    D: int
    T: int
    O: int = 1
    phi: Any = "erf"
    tied: bool = True
    parametrization: str = "mup"
    g2: float = None
    gu2: float = None
    gw2: float = None
    act: Activation = field(init=False, repr=False, compare=False)
    priors: InitVar[Priors | None] = None

    def __post_init__(self, priors):
        for name in ("N", "D", "T", "O"):
            positive_int(name, getattr(self, name))
        if priors is not None:  # the Priors' validated floats; both vocabularies at once is an error
            for name, v in zip(("g2", "gu2", "gw2"), resolve_priors(priors, g2=self.g2, gu2=self.gu2, gw2=self.gw2)):
                object.__setattr__(self, name, v)
        for name in ("g2", "gu2", "gw2"):
            value = getattr(self, name)
            if value is None:
                object.__setattr__(self, name, 1.0)
            else:  # validated, but kept as given (a refactor must not change the numbers)
                positive(name, value)
        readout_exponent(self.parametrization)
        object.__setattr__(self, "act", get_activation(self.phi, "phi"))

    @property
    def gamma(self) -> float:
        return readout_exponent(self.parametrization)

    def param_shapes(self) -> dict:
        N, D, T, O = self.N, self.D, self.T, self.O
        if self.tied:
            return {"U": (D, N), "W": (N, N), "w": (N, O)}
        return {"U": (T, D, N), "W": (T - 1, N, N), "w": (T, N, O)}

    def prior_variances(self) -> dict:
        """Per-entry prior variances, a pytree matching the parameters (conventions §3)."""
        return {"U": self.gu2, "W": self.g2, "w": self.gw2}

    def init(self, key, dtype=jnp.float32) -> dict:
        """Draw parameters from the prior."""
        shapes = self.param_shapes()
        var = self.prior_variances()
        keys = jax.random.split(key, len(shapes))
        return {
            name: jnp.sqrt(var[name]) * jax.random.normal(k, shapes[name], dtype)
            for k, name in zip(keys, sorted(shapes))
        }

    def hidden(self, params: dict, X) -> jax.Array:
        """Pre-activations ``h[P, T, N]`` for inputs ``X[P, T, D]``."""
        if X.ndim != 3 or X.shape[1] != self.T or X.shape[2] != self.D:
            raise FLTheoryInputError(f"X: expected shape [P, {self.T}, {self.D}], got {tuple(X.shape)}")
        X = X.astype(params["W"].dtype)
        xs = jnp.swapaxes(X, 0, 1)  # [T, P, D]
        U, W = params["U"], params["W"]
        U1 = U if self.tied else U[0]
        h1 = xs[0] @ U1 / jnp.sqrt(self.D)
        if self.T == 1:
            return h1[:, None, :]

        if self.tied:
            def step(h, x_t):
                h = rnn_cell(W, U, h, x_t, self.act, self.N, self.D)
                return h, h
            _, hs = jax.lax.scan(step, h1, xs[1:])
        else:
            def step(h, inp):
                x_t, W_t, U_t = inp
                h = rnn_cell(W_t, U_t, h, x_t, self.act, self.N, self.D)
                return h, h
            _, hs = jax.lax.scan(step, h1, (xs[1:], W, U[1:]))
        return jnp.swapaxes(jnp.concatenate([h1[None], hs], axis=0), 0, 1)

    def readout(self, params: dict, h) -> jax.Array:
        """f_t = w_t·φ(h_t)/N^γ, shape ``[P, T, O]``."""
        a = self.act(h)
        if self.tied:
            f = a @ params["w"]
        else:
            f = jnp.einsum("ptn,tno->pto", a, params["w"])
        return f / self.N**self.gamma

    def apply(self, params: dict, X) -> jax.Array:
        """Network outputs ``f[P, T, O]``."""
        return self.readout(params, self.hidden(params, X))

    def kernel(self, params: dict, X) -> jax.Array:
        """Empirical representational kernel C = φ(h)φ(h)ᵀ/N, ``[T·P, T·P]`` time-major (conventions §1)."""
        a = self.act(self.hidden(params, X))
        P, T, N = a.shape
        A = jnp.swapaxes(a, 0, 1).reshape(T * P, N)
        return A @ A.T / N
