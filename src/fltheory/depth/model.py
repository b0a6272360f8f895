"""The depth-muP ResNet and its two relatives, as pure ``init`` / ``apply`` functions (conventions §11).

    h_0 = U x / √D
    h_ℓ = s·h_{ℓ−1} + c_L · W_ℓ φ(h_{ℓ−1}) / √N          ℓ = 1..L
    f   = w · φ(h_L) / N                                   (muP readout, conventions §2 with γ = 1)

with U_ij ~ N(0, g_u²), (W_ℓ)_ij ~ N(0, 1), w_i ~ N(0, g_w²) and, per architecture,

| ``arch``      | skip s | branch multiplier c_L |
|---------------|--------|-----------------------|
| ``depth_mup`` | 1      | a / √L                |
| ``mup_resnet``| 1      | a                     |
| ``dnn``       | 0      | a                     |

Each hidden weight is stored as ``W0`` (initial value, frozen) plus ``dW`` (the accumulated update,
trained). The backward pass of a hidden layer multiplies the incoming gradient by the transpose of
``Wb0 + dW``: with ``Wb0 = W0`` this is ordinary backpropagation ("reused" mode); with ``Wb0`` an
independent draw it is the "decoupled" mode of the issue (see :mod:`fltheory.depth.backward`).
"""
from __future__ import annotations

from dataclasses import InitVar, dataclass

import jax
import jax.numpy as jnp

from .._validate import FLTheoryInputError, choice, positive, positive_int
from ..activations import get_activation
from ..priors import Priors, depth_priors
from .backward import decoupled_matmul

ARCHS = ("depth_mup", "mup_resnet", "dnn")
MODES = ("reused", "decoupled")


@dataclass(frozen=True)
class ResNetConfig:
    """Static description of a network (hashable, so it can be a jit static argument).

    ``arch``: one of ``depth_mup``, ``mup_resnet``, ``dnn`` (table in the module docstring).
    ``a``: branch multiplier; ``gu2``/``gw2``: input and readout prior variances (conventions §3; default 1).
    ``priors``: a :class:`fltheory.Priors` instead of ``gu2``/``gw2`` (not both: one error naming
    ``priors``); its ``kappa`` is unused (gradient descent) and its ``g2`` must be 1, the hidden scale
    being the multiplier ``a`` (:func:`fltheory.priors.depth_priors`). It is not stored: the config holds
    the resolved ``gu2``/``gw2``, so equal networks compare and hash equal however they were stated.
    """

    N: int
    L: int
    D: int
    phi: str = "relu"
    arch: str = "depth_mup"
    a: float = 1.0
    gu2: float | None = None
    gw2: float | None = None
    priors: InitVar[Priors | None] = None

    def __post_init__(self, priors):
        gu2, gw2 = depth_priors(priors, gu2=self.gu2, gw2=self.gw2)
        object.__setattr__(self, "gu2", gu2)
        object.__setattr__(self, "gw2", gw2)
        positive_int("N", self.N)
        positive_int("L", self.L)
        positive_int("D", self.D)
        choice("arch", self.arch, ARCHS)
        positive("a", self.a)
        positive("gu2", self.gu2)
        positive("gw2", self.gw2)
        if not isinstance(self.phi, str):
            raise FLTheoryInputError("phi: ResNetConfig needs an activation name (str)")
        get_activation(self.phi)

    @property
    def branch(self) -> float:
        """Branch multiplier c_L."""
        return self.a / (self.L ** 0.5) if self.arch == "depth_mup" else self.a

    @property
    def skip(self) -> float:
        return 0.0 if self.arch == "dnn" else 1.0


def init_params(key, cfg: ResNetConfig, mode: str = "reused", dtype=jnp.float32):
    """Draw the initial parameters.

    Returns ``(params, frozen)``: ``params = {"U", "dW", "w"}`` are trained (``dW`` starts at 0);
    ``frozen = {"W0", "Wb0"}`` hold the forward and backward initial hidden weights, ``[L, N, N]``.
    ``mode="reused"`` sets ``Wb0 = W0``; ``"decoupled"`` draws ``Wb0`` independently. The draws of
    U, W0, w do not depend on ``mode``, so the two modes share the same forward network.
    """
    choice("mode", mode, MODES)
    kU, kW, kw, kb = jax.random.split(key, 4)
    N, L, D = cfg.N, cfg.L, cfg.D
    U = jnp.sqrt(cfg.gu2) * jax.random.normal(kU, (N, D), dtype)
    W0 = jax.random.normal(kW, (L, N, N), dtype)
    w = jnp.sqrt(cfg.gw2) * jax.random.normal(kw, (N,), dtype)
    Wb0 = W0 if mode == "reused" else jax.random.normal(kb, (L, N, N), dtype)
    params = {"U": U, "dW": jnp.zeros_like(W0), "w": w}
    return params, {"W0": W0, "Wb0": Wb0}


def forward(params, frozen, X, cfg: ResNetConfig, return_all: bool = False, probe=None):
    """Forward pass on inputs ``X[P, D]``.

    Returns the readout ``f[P]`` and, with ``return_all``, the pre-activations ``hs[L+1, P, N]``
    (h_0 .. h_L). Differentiating ``f`` uses ``Wb0 + dW`` in the backward pass of every hidden layer.
    ``probe[L+1, P, N]`` (zeros) is added to h_0..h_L; differentiating with respect to it gives the
    backward signals g_ℓ = ∂f/∂h_ℓ of the chosen backward mode.
    """
    act = get_activation(cfg.phi)
    N, D = cfg.N, cfg.D
    h0 = X @ params["U"].T / jnp.sqrt(D)
    c = cfg.branch / jnp.sqrt(N)
    if probe is None:
        probe = jnp.zeros((cfg.L + 1,) + h0.shape, h0.dtype)
    h0 = h0 + probe[0]

    def layer(h, xs):
        W0, Wb0, dW, e = xs
        h = cfg.skip * h + c * decoupled_matmul(act(h), W0, Wb0, dW) + e
        return h, h

    hL, hs = jax.lax.scan(layer, h0, (frozen["W0"], frozen["Wb0"], params["dW"], probe[1:]))
    f = act(hL) @ params["w"] / N
    if return_all:
        return f, jnp.concatenate([h0[None], hs], axis=0)
    return f
