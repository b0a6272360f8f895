"""The hidden-layer product z ↦ z (W0 + dW)ᵀ whose backward pass may use a different matrix.

Forward:   y = z (W0 + dW)ᵀ                    (z: [P, N] post-activations, rows are patterns)
Backward:  ∂z = ȳ (Wb0 + dW),   ∂dW = ȳᵀ z,   ∂W0 = ∂Wb0 = 0.

With ``Wb0 = W0`` this is exactly the vector–Jacobian product of the forward map (true
backpropagation, "reused" weights). With ``Wb0`` an independent Gaussian draw it is the
"decoupled" backward pass: the gradient flows down through W̃ = W̃(0) + ΔW while the weight
update ∂dW is the usual outer product, so forward and backward matrices accumulate the same ΔW.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


@jax.custom_vjp
def decoupled_matmul(z, W0, Wb0, dW):
    """Return ``z @ (W0 + dW).T``; its VJP propagates through ``Wb0 + dW`` (module docstring)."""
    return z @ (W0 + dW).T


def _fwd(z, W0, Wb0, dW):
    return z @ (W0 + dW).T, (z, W0, Wb0, dW)


def _bwd(res, ybar):
    z, W0, Wb0, dW = res
    dz = ybar @ (Wb0 + dW)
    ddW = ybar.T @ z
    return dz, jnp.zeros_like(W0), jnp.zeros_like(Wb0), ddW


decoupled_matmul.defvjp(_fwd, _bwd)
