"""Closed learning dynamics in overlap space.

With the vectors stacked as columns of V (N × n), Σ = VᵀV/N and a loss L(Σ), treat the n² entries
of Σ as independent, let g = ∂L/∂Σ (autodiff through the effective RNN) and G = (g + gᵀ)/2. Then

    ∂L/∂V = (2/N) V G,

because ∂L/∂σ_ab (a < b, one variable) = g_ab + g_ba = 2G_ab and ∂L/∂σ_aa = G_aa. Gradient descent
on the vectors with step N·η per epoch, V ← V − N η ∂L/∂V = V (I − 2ηG), gives exactly

    Σ ← (I − 2ηG) Σ (I − 2ηG)                         (``method="gd"``: the discrete map)

and in the small-step limit the gradient flow (epochs as continuous time)

    dΣ/dt = −2η (ΣG + GΣ) = −η D Dᵀ ∇_σ L              (``method="flow"``: the ODE).

The flow differs from the map at first order in η. Backward error analysis removes that order: GD on
the vectors with step h = Nη follows, to second order, the gradient flow of L + (h/4)‖∂L/∂V‖² =
L + η tr(GΣG), a function of Σ again, so its overlap flow is the same ODE with the modified loss
L̃(Σ) = L(Σ) + η tr(G Σ G)                           (``method="flow-corrected"``).

The naive baseline instead descends the visible overlaps as if they were free parameters,
dσ_ab/dt = −η ∂L/∂σ_ab for visible (a, b) and leaves the invisible ones fixed.
With fresh batches per epoch (:attr:`.tasks.Task.epoch_batch`) the loss L_e(Σ) changes from epoch
to epoch: the map uses L_e at step e, and the flow integrates dΣ/dt = −2η(ΣG_e + GₑΣ) over
t ∈ [e, e+1] (one ODE solve per epoch).
Derivation and the check against the hand-written 10-D system: docs/theory/lowrank.md §3.

:func:`overlap_dynamics` returns an :class:`OverlapTrajectory` (Σ and the loss per epoch) with the
common :class:`~fltheory.diagnostics.Diagnostics` and the package's one failure policy: a failed ODE
solve or a diverging loss raises :class:`~fltheory.ConvergenceError`; ``throw=False`` returns the
trajectory with ``diagnostics.converged = False`` and a :class:`~fltheory.ConvergenceWarning`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import diffrax as dfx
import jax
import jax.numpy as jnp
import numpy as np

from .._validate import FLTheoryInputError, choice, positive, positive_int, report_nonconvergence
from ..diagnostics import Diagnostics
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


def corrected_loss(loss_fn, eta):
    """The modified loss L̃(Σ) = L(Σ) + η tr(GΣG) whose gradient flow follows vector GD with step N·η to
    second order in η (backward error analysis: GD with step h follows the flow of L + (h/4)‖∇L‖², and
    ‖∂L/∂V‖² = (4/N) tr(GΣG))."""
    def loss(S):
        G = symmetric_gradient(loss_fn, S)
        return loss_fn(S) + eta * jnp.trace(G @ S @ G)

    return loss


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


@dataclass(frozen=True)
class OverlapTrajectory:
    """The overlaps and the loss at every epoch of :func:`overlap_dynamics`, with its convergence record.

    ``gram[e]`` is Σ (n × n) after e epochs (``gram[0]`` = S0, float64 ``[E+1, n, n]``); ``loss[e]``
    the loss there (on the batch of epoch e for a task with fresh batches, ``[E+1]``).
    ``diagnostics`` (:class:`~fltheory.diagnostics.Diagnostics`): ``converged`` = every ODE solve
    succeeded and the loss stayed finite; ``iterations`` = accepted ODE steps (``method="flow"``) or
    epochs of the map (``"gd"``); ``residual`` = NaN (an explicit integration has no residual; the
    local error per step is below ``rtol``/``atol``); ``method``; ``wall_time`` = seconds, including
    compilation. ``traj["gram"]`` and ``traj["loss"]`` still work (the former dict return).
    """

    gram: np.ndarray
    loss: np.ndarray
    diagnostics: Diagnostics

    def __getitem__(self, key: str) -> np.ndarray:
        """``traj["gram"]``, ``traj["loss"]``: the dict access of the former return value."""
        if key not in ("gram", "loss"):
            raise KeyError(key)
        return getattr(self, key)


def _flow(velocity, S0, epochs, rtol, atol, max_steps):
    """Gradient flow saved at every epoch: (Σ trajectory, diffrax succeeded, accepted steps, status)."""
    term = dfx.ODETerm(lambda t, S, args: velocity(S))
    ts = jnp.arange(epochs + 1, dtype=jnp.float64)
    sol = dfx.diffeqsolve(
        term, dfx.Tsit5(), t0=0.0, t1=float(epochs), dt0=0.5, y0=S0,
        saveat=dfx.SaveAt(ts=ts), stepsize_controller=dfx.PIDController(rtol=rtol, atol=atol),
        max_steps=max_steps, throw=False,
    )
    ok = bool(sol.result == dfx.RESULTS.successful)
    return sol.ys, ok, int(sol.stats["num_accepted_steps"]), dfx.RESULTS[sol.result]


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
            return S + velocity(S, batch), jnp.array(True), jnp.array(1)
        return gd_map_step(lambda X: batch_loss(X, batch), S, eta), jnp.array(True), jnp.array(1)

    term = dfx.ODETerm(lambda t, S, batch: velocity(S, batch))

    def flow_step(S, batch):
        sol = dfx.diffeqsolve(term, dfx.Tsit5(), t0=0.0, t1=1.0, dt0=0.5, y0=S, args=batch,
                              saveat=dfx.SaveAt(t1=True),
                              stepsize_controller=dfx.PIDController(rtol=rtol, atol=atol),
                              max_steps=max_steps, throw=False)
        return sol.ys[-1], sol.result == dfx.RESULTS.successful, sol.stats["num_accepted_steps"]

    step = flow_step if method == "flow" else map_step

    @jax.jit
    def run(S, batches):
        def body(S, batch):
            S_new, ok, n_steps = step(S, batch)
            return S_new, (S, batch_loss(S, batch), ok, n_steps)

        return jax.lax.scan(body, S, batches)

    traj, losses, ok, steps = [], [], [], 0
    S, done = S0, 0
    while done < epochs:
        n = min(chunk, epochs - done)
        S, (tr, lo, good, n_steps) = run(S, tuple(jnp.asarray(a) for a in task.batches(done, n)))
        traj.append(np.asarray(tr))
        losses.append(np.asarray(lo))
        ok.append(np.asarray(good))
        steps += int(np.sum(n_steps))
        done += n
    ok = np.concatenate(ok)
    last = tuple(jnp.asarray(a) for a in task.batch(epochs))
    losses.append(np.asarray(jax.jit(batch_loss)(S, last))[None])
    status = ("successful" if ok.all()
              else f"failed on {int((~ok).sum())} of {epochs} epochs (first: epoch {int(np.argmin(ok))})")
    return np.concatenate(traj + [np.asarray(S)[None]]), np.concatenate(losses), bool(ok.all()), steps, status


def overlap_dynamics(S0, task: Task, rank: int = 1, phi="linear", eta: float = 5e-3, epochs: int = 2000,
                     method: str = "flow", visible_only: bool = False, rtol: float = 1e-9,
                     atol: float = 1e-12, max_steps: int = 200_000, readout: str = "next",
                     throw: bool = True) -> OverlapTrajectory:
    """Evolve the overlaps from ``S0`` (n × n Gram matrix) for ``epochs`` epochs.

    ``method="flow"``: gradient-flow ODE (diffrax Tsit5, adaptive, tolerances ``rtol``/``atol``, at
    most ``max_steps`` steps per solve); ``method="gd"``: the exact overlap image of discrete GD with
    vector step N·η; ``method="flow-corrected"``: the flow of the modified loss :func:`corrected_loss`,
    which follows GD to second order in η (a fixed batch only; not with ``visible_only``; the reported
    loss is L, not L̃). ``visible_only=True``: the naive baseline (descend visible overlaps, freeze
    invisible ones). ``readout``: ``"next"`` (y_k from κ_{k+1}, default) or ``"current"`` (y_k from
    κ_k, the paper's); see :data:`.tasks.READOUTS`. A task with fresh batches is descended on batch e
    at epoch e.

    Returns an :class:`OverlapTrajectory`: ``gram[E+1, n, n]`` and ``loss[E+1]`` at every epoch (entry
    0 = S0; ``loss[e]`` is on the batch of epoch e) and ``diagnostics``. A failed ODE solve or a
    non-finite loss raises :class:`~fltheory.ConvergenceError`; with ``throw=False`` the trajectory
    comes back with ``diagnostics.converged = False`` (entries past the failure are not finite) and a
    :class:`~fltheory.ConvergenceWarning`.
    """
    layout = Layout(rank)
    act = get_lowrank_activation(phi)
    S0 = jnp.asarray(check_gram("S0", S0, layout))
    eta = positive("eta", eta)
    epochs = positive_int("epochs", epochs)
    choice("method", method, ("flow", "gd", "flow-corrected"))
    readout = check_readout(readout)
    max_steps = positive_int("max_steps", max_steps)
    if method == "flow-corrected" and (task.fresh or visible_only):
        raise FLTheoryInputError("method: 'flow-corrected' needs a fixed batch and the full metric (not "
                                 "fresh batches, not visible_only)")
    t0 = time.perf_counter()
    if task.fresh:
        traj, losses, ok, steps, status = _fresh_dynamics(S0, task, layout, act, eta, epochs, method, visible_only,
                                                          readout, rtol, atol, max_steps)
    else:
        loss_fn = make_overlap_loss(task, layout, act, readout)
        vis = layout.visible_matrix(act.linear)
        if visible_only:
            velocity = jax.jit(lambda S: naive_velocity(loss_fn, S, eta, vis))
            step = jax.jit(lambda S: S + velocity(S))
        else:
            flow_loss = corrected_loss(loss_fn, eta) if method == "flow-corrected" else loss_fn
            velocity = jax.jit(lambda S: overlap_velocity(flow_loss, S, eta))
            step = jax.jit(lambda S: gd_map_step(loss_fn, S, eta))
        if method != "gd":
            traj, ok, steps, status = _flow(velocity, S0, epochs, rtol, atol, max_steps)
        else:
            traj = jax.jit(lambda S: _iterate(step, S, epochs))(S0)
            ok, steps, status = True, epochs, "successful"
        traj = np.asarray(traj)
        losses = np.asarray(jax.jit(jax.vmap(loss_fn))(jnp.asarray(traj)))
    wall = time.perf_counter() - t0
    what = ("naive visible-only " if visible_only else "") + {"flow": "gradient flow", "gd": "GD map",
                                                               "flow-corrected": "eta-corrected gradient flow"}[method]
    solver = f": diffrax.Tsit5+PID(rtol={rtol:g}, atol={atol:g})" if method != "gd" else ""
    if not ok:
        report_nonconvergence(f"overlap_dynamics: the {what} ODE solve failed after {steps} accepted steps "
                              f"(max_steps = {max_steps} per solve): {status}; remedies: a larger max_steps, "
                              "looser rtol/atol, or a smaller eta", throw)
    elif not np.all(np.isfinite(losses)):
        ok = False
        first = int(np.argmin(np.isfinite(losses)))
        report_nonconvergence(f"overlap_dynamics: the {what} diverged (non-finite loss from epoch {first}); "
                              "use a smaller eta", throw)
    diagnostics = Diagnostics(converged=ok, iterations=int(steps), residual=float("nan"),
                              method=what + solver, wall_time=wall)
    return OverlapTrajectory(gram=traj, loss=losses, diagnostics=diagnostics)
