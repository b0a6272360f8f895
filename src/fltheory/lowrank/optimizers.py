"""Optimisers and the conservation law of the linear low-rank RNN (issue #16, docs/theory/lowrank.md §3).

For linear φ the loss depends on the vectors only through AᵀB (A = [v, z], B = [m, u]), so

    C = tr(JΣ) = σ_zz + Σ σ_vv − σ_mm − Σ σ_uu

is conserved by gradient flow. Discrete GD with vector step N·η changes it, exactly, by

    C_{k+1} − C_k = 4η² tr(J G_k Σ_k G_k)            (G_k = sym ∂L/∂Σ at step k),

a second-order drift that vanishes as η → 0; Adam rescales each coordinate of the gradient
separately, so its update is no longer V·(matrix) and C drifts at first order.
:func:`optimizer_comparison` runs the flow, GD at several step sizes (the exact overlap map, which *is*
the network's GD for linear φ at any N) and Adam on the full network from the same initial vectors,
and returns the loss, C(e) − C(0) and, for GD, the closed-form drift above as one dataset.
"""
from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .._validate import FLTheoryInputError, finite_array, positive, positive_int
from .dynamics import overlap_dynamics, symmetric_gradient
from .effective import make_overlap_loss
from .gain import get_lowrank_activation
from .network import init_vectors, train_network
from .overlaps import Layout, conserved_quantity
from .tasks import Task, check_readout, impulse_response


def gd_drift_closed_form(gram, task: Task, layout: Layout, eta: float, readout: str = "next") -> np.ndarray:
    """Cumulative Σ_{k<e} 4η² tr(J G_k Σ_k G_k) along a GD trajectory ``gram`` [E+1, n, n] (linear φ):
    the exact C(e) − C(0) of discrete GD with vector step N·η."""
    act = get_lowrank_activation("linear")
    loss_fn = make_overlap_loss(task, layout, act, readout)
    J = jnp.asarray(layout.conserved_signs)

    @jax.jit
    def per_step(S):
        G = symmetric_gradient(loss_fn, S)
        return 4.0 * eta**2 * jnp.trace(J[:, None] * (G @ S @ G))

    steps = np.asarray(jax.vmap(per_step)(jnp.asarray(gram[:-1])))
    return np.concatenate([[0.0], np.cumsum(steps)])


def optimizer_comparison(task: Task | None = None, rank: int = 1, N: int = 500,
                         etas: Sequence[float] = (5e-3, 2e-2, 4e-2), adam_lr: float = 1e-3, epochs: int = 1000,
                         seed: int = 0, readout: str = "next",
                         progress: Callable[[str, int, int], None] | None = None) -> xr.Dataset:
    """Loss and drift of the conserved quantity under gradient flow, GD at the step sizes ``etas`` and
    Adam (rate ``adam_lr``), all from the same random linear network of width ``N`` (linear φ).

    ``task`` defaults to the impulse response e^{−0.2t}. The flow runs at η = ``etas[0]`` (its time in
    epochs of that η). Returns a Dataset with dims ``optimizer`` and ``epoch``: ``loss``, ``conserved``,
    ``drift`` = C(e) − C(0), ``drift_closed_form`` (GD only; NaN where it does not exist) and
    ``step_size`` [optimizer] (η in overlap units for the flow and GD, the Adam rate for Adam).
    """
    layout = Layout(rank)
    act = get_lowrank_activation("linear")
    readout = check_readout(readout)
    task = impulse_response(0.2) if task is None else task
    if not isinstance(task, Task):
        raise FLTheoryInputError(f"task: expected a Task, got {task!r}")
    N = positive_int("N", N, minimum=layout.n)
    etas = finite_array("etas", etas, ndim=1)
    if etas.size == 0:
        raise FLTheoryInputError("etas: need at least one GD step size")
    etas = [positive("etas", e) for e in etas]
    adam_lr = positive("adam_lr", adam_lr)
    epochs = positive_int("epochs", epochs)
    seed = positive_int("seed", seed, minimum=0)
    note = progress or (lambda stage, done, total: None)
    total = len(etas) + 2

    v0 = init_vectors(jax.random.PRNGKey(seed), N, layout)
    S0 = np.asarray(v0.gram())
    names, sizes, losses, grams, closed = [], [], [], [], []
    note("gradient flow", 0, total)
    flow = overlap_dynamics(S0, task, rank, act, etas[0], epochs, "flow", readout=readout)
    names.append(f"flow (eta={etas[0]:g})")
    sizes.append(etas[0])
    losses.append(flow.loss)
    grams.append(flow.gram)
    closed.append(np.full(epochs + 1, np.nan))
    for k, eta in enumerate(etas):
        note(f"GD eta={eta:g}", k + 1, total)
        gd = overlap_dynamics(S0, task, rank, act, eta, epochs, "gd", readout=readout)
        names.append(f"gd (eta={eta:g})")
        sizes.append(eta)
        losses.append(gd.loss)
        grams.append(gd.gram)
        closed.append(gd_drift_closed_form(gd.gram, task, layout, eta, readout))
    note("Adam (full network)", len(etas) + 1, total)
    adam = train_network(v0, task, act, epochs, "adam", lr=adam_lr, readout=readout)
    names.append(f"adam (lr={adam_lr:g})")
    sizes.append(adam_lr)
    losses.append(adam["loss"])
    grams.append(adam["gram"])
    closed.append(np.full(epochs + 1, np.nan))
    note("done", total, total)

    C = np.asarray(conserved_quantity(np.stack(grams), layout))
    from ..io import describe

    ds = xr.Dataset(
        {"loss": (("optimizer", "epoch"), np.stack(losses)), "conserved": (("optimizer", "epoch"), C),
         "drift": (("optimizer", "epoch"), C - C[:, :1]),
         "drift_closed_form": (("optimizer", "epoch"), np.stack(closed)),
         "step_size": ("optimizer", np.asarray(sizes))},
        coords={"optimizer": names, "epoch": np.arange(epochs + 1)},
        attrs={"task": task.name, "rank": rank, "phi": act.name, "N": N, "adam_lr": adam_lr, "epochs": epochs,
               "seed": seed, "readout": readout, "dt": task.dt,
               "convention": "C = tr(J Σ) = s_zz + s_vv - s_mm - s_uu; GD: vector step N·η (conventions §10)"},
    )
    return describe(ds, {
        "optimizer": ("optimiser: gradient flow (overlap ODE), GD (exact overlap map = network GD), Adam (network)",
                      None),
        "epoch": ("training epoch", "1"),
        "loss": ("loss sum W (y - y*)^2", "1"),
        "conserved": ("C = s_zz + s_vv - s_mm - s_uu", "1"),
        "drift": ("C(epoch) - C(0)", "1"),
        "drift_closed_form": ("GD: cumulative sum of 4 eta^2 tr(J G Sigma G) (exact drift); NaN otherwise", "1"),
        "step_size": ("eta (overlap units) for flow and GD; Adam learning rate for Adam", "1"),
    })
