"""The reduced (effective) RNN: activity of the N-dimensional network as a function of Σ.

From x(0) = 0 the state stays in span{m, u_1..u_r}: x = κ_m m + Σ_r κ_{u_r} u_r. Projecting
τ ẋ = −x + (1/N) U Vᵀ φ(x) + m s(t) on that span (Euler step dt, as in the full network):

    κ_m     ← κ_m + (dt/τ)(−κ_m + s_k)
    κ_{u_r} ← κ_{u_r} + (dt/τ)(−κ_{u_r} + G(Δ) Σ_b σ_{v_r b} κ_b)
    y_k     = G(Δ') Σ_b σ_{zb} κ'_b          (readout "next": from the updated state κ' = κ_{k+1};
                                               readout "current": from κ = κ_k, see tasks.READOUTS)

with b ∈ {m, u_1..u_r} and Δ = κᵀ Σ_BB κ the variance of the entries of x. For φ = identity G ≡ 1
and these equations are exact at every N; for a nonlinear φ, (1/N) vᵀφ(x) = G(Δ) Σ_b σ_vb κ_b is
Stein's lemma, exact for Gaussian vector entries as N → ∞ (docs/theory/lowrank.md §2).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from .gain import LowRankActivation
from .overlaps import Layout
from .tasks import Task, check_readout


# functional form: field types stay objects (see lowrank.tasks.Batch)
Rollout = NamedTuple("Rollout", [("kappa", jax.Array), ("y", jax.Array)])
Rollout.__doc__ = """States and outputs of the effective RNN (:func:`effective_rollout`): ``kappa``
[B, K, r+1], the state κ = (κ_m, κ_u…) that y_k is read from, and ``y`` [B, K], the outputs y_k."""


def effective_rollout(S, inputs, layout: Layout, act: LowRankActivation, dt: float, tau: float = 1.0,
                      readout: str = "next") -> Rollout:
    """Run the effective RNN. ``S``: Σ (n × n); ``inputs``: [B, K]. Returns a :class:`Rollout`
    (``kappa`` [B, K, r+1], ``y`` [B, K]).

    κ[:, k] is the state y_k is read from: κ_{k+1} for ``readout="next"``, κ_k for ``"current"``.
    """
    readout = check_readout(readout)
    S = jnp.asarray(S)
    B_idx = layout.input_side
    S_BB = S[B_idx][:, B_idx]
    S_vB = S[layout.v_idx][:, B_idx]  # r × (r+1)
    S_zB = S[layout.z_idx, B_idx]  # (r+1,)
    a = dt / tau
    inputs = jnp.asarray(inputs, dtype=S.dtype)

    def delta(k):
        return jnp.einsum("bi,ij,bj->b", k, S_BB, k)

    def read(k):
        return act.gain(delta(k)) * (k @ S_zB)

    def step(k, s_t):
        g = act.gain(delta(k))
        drive = jnp.concatenate([s_t[:, None], g[:, None] * (k @ S_vB.T)], axis=1)
        k_next = k + a * (-k + drive)
        k_read = k_next if readout == "next" else k
        return k_next, (k_read, read(k_read))

    k0 = jnp.zeros((inputs.shape[0], layout.rank + 1), dtype=S.dtype)
    _, (ks, ys) = jax.lax.scan(step, k0, inputs.T)
    return Rollout(jnp.swapaxes(ks, 0, 1), ys.T)


def make_batch_loss(layout: Layout, act: LowRankActivation, dt: float, tau: float = 1.0, readout: str = "next"):
    """Return L(Σ, batch) = Σ_{b,k} W_bk (y_bk(Σ) − y*_bk)² for ``batch = (inputs, targets, weights)``."""
    readout = check_readout(readout)

    def loss(S, batch):
        inputs, targets, weights = batch
        _, y = effective_rollout(S, inputs, layout, act, dt, tau, readout)
        return jnp.sum(weights * (y - targets) ** 2)

    return loss


def make_overlap_loss(task: Task, layout: Layout, act: LowRankActivation, readout: str = "next", epoch: int = 0):
    """Return L(Σ) = Σ_{b,k} W_bk (y_bk(Σ) − y*_bk)² computed through the effective RNN.

    For a task with fresh batches (:attr:`Task.epoch_batch`) this is the loss on the batch of ``epoch``.
    """
    batch = tuple(jnp.asarray(a) for a in task.batch(epoch))
    batch_loss = make_batch_loss(layout, act, task.dt, task.tau, readout)

    def loss(S):
        return batch_loss(S, batch)

    return loss
