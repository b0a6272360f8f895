"""Closed learning dynamics in overlap space.

With the vectors stacked as columns of V (N × n), Σ = VᵀV/N and a loss L(Σ), treat the n² entries
of Σ as independent, let g = ∂L/∂Σ (autodiff through the effective RNN) and G = (g + gᵀ)/2. Then

    ∂L/∂V = (2/N) V G,

because ∂L/∂σ_ab (a < b, one variable) = g_ab + g_ba = 2G_ab and ∂L/∂σ_aa = G_aa. Gradient descent
on the vectors with step N·η per epoch, V ← V − N η ∂L/∂V = V (I − 2ηG), gives exactly

    Σ ← (I − 2ηG) Σ (I − 2ηG)                         (``method="gd"``: the discrete map)

and in the small-step limit the gradient flow (epochs as continuous time)

    dΣ/dt = −2η (ΣG + GΣ) = −η D Dᵀ ∇_σ L              (``method="flow"``: the ODE).

The naive baseline instead descends the visible overlaps as if they were free parameters,
dσ_ab/dt = −η ∂L/∂σ_ab for visible (a, b) and leaves the invisible ones fixed.
With fresh batches per epoch (:attr:`.tasks.Task.epoch_batch`) the loss L_e(Σ) changes from epoch
to epoch: the map uses L_e at step e, and the flow integrates dΣ/dt = −2η(ΣG_e + GₑΣ) over
t ∈ [e, e+1] (one ODE solve per epoch).
Derivation and the check against the hand-written 10-D system: docs/theory/lowrank.md §3.
"""
from __future__ import annotations

import diffrax as dfx
import jax
import jax.numpy as jnp
import numpy as np

from .._validate import ConvergenceError, choice, positive, positive_int
from .effective import make_batch_loss, make_overlap_loss
from .gain import get_lowrank_activation
from .overlaps import Layout, check_gram
from .tasks import Task, check_readout


def symmetric_gradient(loss_fn, S):
    """G = sym(∂L/∂Σ): G_aa = ∂L/∂σ_aa and G_ab = ½ ∂L/∂σ_ab for a ≠ b."""
    g = jax.grad(loss_fn)(S)
    return 0.5 * (g + g.T)


def overlap_velocity(loss_fn, S, eta):
    """dΣ/dt = −2η(ΣG + GΣ) (per epoch of GD with vector step N·η)."""
    G = symmetric_gradient(loss_fn, S)
    return -2.0 * eta * (S @ G + G @ S)


def overlap_partials(loss_fn, S):
    """∂L/∂σ_ab as a symmetric matrix: 2G_ab off the diagonal, G_aa on it."""
    G = symmetric_gradient(loss_fn, S)
    return 2.0 * G - jnp.diag(jnp.diag(G))


def naive_velocity(loss_fn, S, eta, visible_matrix):
    """Naive descent on the visible overlaps only: dσ_ab/dt = −η ∂L/∂σ_ab on visible entries."""
    return -eta * jnp.asarray(visible_matrix, dtype=S.dtype) * overlap_partials(loss_fn, S)


def gd_map_step(loss_fn, S, eta):
    """One epoch of vector GD in overlap space: Σ ← (I − 2ηG) Σ (I − 2ηG)."""
    G = symmetric_gradient(loss_fn, S)
    A = jnp.eye(S.shape[0], dtype=S.dtype) - 2.0 * eta * G
    return A @ S @ A


def _iterate(step, S0, epochs):
    def body(S, _):
        return step(S), S

    S_last, traj = jax.lax.scan(body, S0, None, length=epochs)
    return jnp.concatenate([traj, S_last[None]], axis=0)


def _flow(velocity, S0, epochs, rtol, atol, max_steps):
    term = dfx.ODETerm(lambda t, S, args: velocity(S))
    ts = jnp.arange(epochs + 1, dtype=jnp.float64)
    sol = dfx.diffeqsolve(
        term, dfx.Tsit5(), t0=0.0, t1=float(epochs), dt0=0.5, y0=S0,
        saveat=dfx.SaveAt(ts=ts), stepsize_controller=dfx.PIDController(rtol=rtol, atol=atol),
        max_steps=max_steps, throw=False,
    )
    if sol.result != dfx.RESULTS.successful:
        raise ConvergenceError(f"overlap ODE solver failed: {sol.result}")
    return sol.ys


def _fresh_dynamics(S0, task, layout, act, eta, epochs, method, visible_only, readout, rtol, atol, max_steps,
                    chunk=250):
    """Overlap dynamics with a fresh batch per epoch: a jitted scan over epochs, chunk by chunk."""
    batch_loss = make_batch_loss(layout, act, task.dt, task.tau, readout)
    vis = layout.visible_matrix(act.linear)

    def velocity(S, batch):
        loss_fn = lambda X: batch_loss(X, batch)  # noqa: E731
        if visible_only:
            return naive_velocity(loss_fn, S, eta, vis)
        return overlap_velocity(loss_fn, S, eta)

    def map_step(S, batch):
        if visible_only:
            return S + velocity(S, batch), jnp.array(True)
        return gd_map_step(lambda X: batch_loss(X, batch), S, eta), jnp.array(True)

    term = dfx.ODETerm(lambda t, S, batch: velocity(S, batch))

    def flow_step(S, batch):
        sol = dfx.diffeqsolve(term, dfx.Tsit5(), t0=0.0, t1=1.0, dt0=0.5, y0=S, args=batch,
                              saveat=dfx.SaveAt(t1=True),
                              stepsize_controller=dfx.PIDController(rtol=rtol, atol=atol),
                              max_steps=max_steps, throw=False)
        return sol.ys[-1], sol.result == dfx.RESULTS.successful

    step = flow_step if method == "flow" else map_step

    @jax.jit
    def run(S, batches):
        def body(S, batch):
            S_new, ok = step(S, batch)
            return S_new, (S, batch_loss(S, batch), ok)

        return jax.lax.scan(body, S, batches)

    traj, losses, ok = [], [], []
    S, done = S0, 0
    while done < epochs:
        n = min(chunk, epochs - done)
        S, (tr, lo, good) = run(S, tuple(jnp.asarray(a) for a in task.batches(done, n)))
        traj.append(np.asarray(tr))
        losses.append(np.asarray(lo))
        ok.append(np.asarray(good))
        done += n
    if not np.all(np.concatenate(ok)):
        raise ConvergenceError("overlap ODE solver failed on at least one epoch (fresh batches)")
    last = tuple(jnp.asarray(a) for a in task.batch(epochs))
    losses.append(np.asarray(jax.jit(batch_loss)(S, last))[None])
    return np.concatenate(traj + [np.asarray(S)[None]]), np.concatenate(losses)


def overlap_dynamics(S0, task: Task, rank: int = 1, phi="linear", eta: float = 5e-3, epochs: int = 2000,
                     method: str = "flow", visible_only: bool = False, rtol: float = 1e-9,
                     atol: float = 1e-12, max_steps: int = 200_000, readout: str = "next") -> dict:
    """Evolve the overlaps from ``S0`` (n × n Gram matrix) for ``epochs`` epochs.

    ``method="flow"``: gradient-flow ODE (diffrax Tsit5, adaptive, tolerances ``rtol``/``atol``);
    ``method="gd"``: the exact overlap image of discrete GD with vector step N·η.
    ``visible_only=True``: the naive baseline (descend visible overlaps, freeze invisible ones).
    ``readout``: ``"next"`` (y_k from κ_{k+1}, default) or ``"current"`` (y_k from κ_k, the paper's);
    see :data:`.tasks.READOUTS`. A task with fresh batches is descended on batch e at epoch e.

    Returns ``{"gram": [E+1, n, n], "loss": [E+1]}`` sampled at every epoch (entry 0 = S0);
    ``loss[e]`` is on the batch of epoch e.
    """
    layout = Layout(rank)
    act = get_lowrank_activation(phi)
    S0 = jnp.asarray(check_gram("S0", S0, layout))
    eta = positive("eta", eta)
    epochs = positive_int("epochs", epochs)
    choice("method", method, ("flow", "gd"))
    readout = check_readout(readout)
    if task.fresh:
        traj, losses = _fresh_dynamics(S0, task, layout, act, eta, epochs, method, visible_only, readout,
                                       rtol, atol, max_steps)
        if not np.all(np.isfinite(losses)):
            raise ConvergenceError("overlap dynamics diverged (non-finite loss); use a smaller eta")
        return {"gram": traj, "loss": losses}
    loss_fn = make_overlap_loss(task, layout, act, readout)
    vis = layout.visible_matrix(act.linear)
    if visible_only:
        velocity = jax.jit(lambda S: naive_velocity(loss_fn, S, eta, vis))
        step = jax.jit(lambda S: S + velocity(S))
    else:
        velocity = jax.jit(lambda S: overlap_velocity(loss_fn, S, eta))
        step = jax.jit(lambda S: gd_map_step(loss_fn, S, eta))
    if method == "flow":
        traj = _flow(velocity, S0, epochs, rtol, atol, max_steps)
    else:
        traj = jax.jit(lambda S: _iterate(step, S, epochs))(S0)
    traj = np.asarray(traj)
    losses = np.asarray(jax.jit(jax.vmap(loss_fn))(jnp.asarray(traj)))
    if not np.all(np.isfinite(losses)):
        raise ConvergenceError("overlap dynamics diverged (non-finite loss); use a smaller eta")
    return {"gram": traj, "loss": losses}
