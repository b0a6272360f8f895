"""Theory vs simulation: the overlap ODE, the naive visible-only descent and the full network.

:func:`compare` trains the full N-dimensional network (GD with vector step N·η, and optionally
Adam), integrates the overlap dynamics from the network's *own* initial overlaps, runs the naive
baseline from the same point, and returns everything as one xarray Dataset (conventions §8, §10).
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .._validate import FLTheoryInputError, choice, positive, positive_int
from .dynamics import overlap_dynamics
from .effective import effective_rollout
from .gain import get_lowrank_activation
from .network import init_vectors, network_rollout, train_network, vectors_with_gram
from .overlaps import Layout, check_gram, conserved_quantity
from .tasks import (Task, check_readout, damped_oscillation, decision_making, flip_flop, impulse_response,
                    teacher_student)

TASKS = ("impulse", "oscillation", "flipflop", "decision", "teacher")


def lowrank_task(name: str, **kw) -> Task:
    """``impulse`` (e^{−0.2t}), ``oscillation`` (e^{−0.3t} cos 2t), ``flipflop``, ``decision``
    (perceptual decision making) or ``teacher`` (teacher–student); ``kw`` go to the builder."""
    choice("task", name, TASKS)
    return {"impulse": impulse_response, "oscillation": damped_oscillation, "flipflop": flip_flop,
            "decision": decision_making, "teacher": teacher_student}[name](**kw)


def with_invisible(S, layout: Layout, linear: bool, **entries) -> np.ndarray:
    """Copy of Σ with some *invisible* overlaps replaced, e.g. ``{"u.u": 2.0, "m.u": 0.8}``.

    Labels are ``"a.b"`` as in :attr:`Layout.labels` (either order). Raises if a label is
    loss-visible (that would change the function) or if the result is not a Gram matrix.
    """
    S = np.array(check_gram("S", S, layout))
    vis = layout.visible_matrix(linear)
    for label, value in entries.items():
        try:
            a, b = label.split(".")
            i, j = layout.names.index(a), layout.names.index(b)
        except ValueError:
            raise FLTheoryInputError(f"{label}: not an overlap label; use one of {list(layout.labels)}") from None
        if vis[i, j]:
            raise FLTheoryInputError(f"{label}: is loss-visible for this φ; only invisible overlaps may change")
        S[i, j] = S[j, i] = float(value)
    return check_gram("S (modified)", S, layout)


def degenerate_partner(S, layout: Layout, linear: bool = True) -> np.ndarray:
    """A functionally equivalent twin of Σ: same visible overlaps, different invisible ones.

    Linear φ: ‖u‖²/N → 2 and mᵀu/N → 0.8 (as in Ger & Barak Fig. 2, N = 500: ‖u‖ ≈ 32, m·u = 400).
    Nonlinear φ (the B–B block is visible): ‖v‖²/N → 2 and zᵀv/N → 0.8.
    """
    u, v = layout.names[1], layout.names[1 + layout.rank]
    if linear:
        return with_invisible(S, layout, linear, **{f"{u}.{u}": 2.0, f"m.{u}": 0.8})
    return with_invisible(S, layout, linear, **{f"{v}.{v}": 2.0, f"{v}.z": 0.8})


def compare(task: Task | str = "impulse", rank: int = 1, phi="linear", N: int = 500, eta: float = 5e-3,
            epochs: int = 2000, seed: int = 0, adam_lr: float | None = 1e-3, S0=None,
            method: str = "flow", naive: bool = True, progress: Callable[[str, int, int], None] | None = None,
            readout: str = "next") -> xr.Dataset:
    """Train the full network and evolve the overlap theory from the same initial overlaps.

    Parameters
    ----------
    task : a :class:`Task` or one of :data:`TASKS` (defaults as in the paper; ``teacher`` gets a teacher
        of this ``rank``, ``phi`` and ``readout``).
    rank, phi : rank 1 or 2; ``"linear"`` or ``"erf"`` (here = ``"erf_unit"`` = erf(√π x/2); see :mod:`.gain`).
    N, eta, epochs : width, overlap-space learning rate (vector GD step N·η), number of epochs.
    seed : PRNG seed for the vectors (i.i.d. Gaussian, normalised to ‖a‖² = N).
    adam_lr : if given, also train the same initial network with Adam (optax) at this rate.
    S0 : optional initial Gram matrix; the vectors are then Gaussian with exactly this Gram matrix.
    method : ``"flow"`` (gradient-flow ODE) or ``"gd"`` (exact overlap image of discrete GD).
    progress : ``progress(stage, n_done, n_total)`` callback (the CLI drives a progress bar with it).
    readout : ``"next"`` (y_k from x_{k+1}, default) or ``"current"`` (y_k from x_k, the paper's), for
        the network and the overlap dynamics alike (:data:`.tasks.READOUTS`).

    Returns an xarray Dataset with dims ``epoch``, ``overlap``, ``trial``, ``time``.
    """
    layout = Layout(rank)
    act = get_lowrank_activation(phi)
    readout = check_readout(readout)
    if isinstance(task, str):
        task = lowrank_task(task, **({"rank": rank, "phi": act, "readout": readout} if task == "teacher" else {}))
    N = positive_int("N", N, minimum=layout.n)
    eta = positive("eta", eta)
    epochs = positive_int("epochs", epochs)
    choice("method", method, ("flow", "gd"))
    key = jax.random.PRNGKey(seed)
    if S0 is None:
        v0 = init_vectors(key, N, layout)
    else:
        v0 = vectors_with_gram(key, N, S0, layout)
    S_init = np.asarray(v0.gram())
    note = progress or (lambda stage, done, total: None)

    counter = {"done": 0}

    def tick(stage):
        def f(n):
            counter["done"] += n
            note(stage, counter["done"], epochs)
        return f

    net = train_network(v0, task, act, epochs, "gd", eta=eta, progress=tick("network (GD)"), readout=readout)
    counter["done"] = 0
    adam = None
    if adam_lr is not None:
        adam = train_network(v0, task, act, epochs, "adam", lr=adam_lr, progress=tick("network (Adam)"),
                             readout=readout)
    note("overlap theory", 0, 1)
    theory = overlap_dynamics(S_init, task, rank, act, eta, epochs, method, readout=readout)
    note("overlap theory", 1, 1)
    nv = None
    if naive:
        note("naive visible-only descent", 0, 1)
        nv = overlap_dynamics(S_init, task, rank, act, eta, epochs, method, visible_only=True, readout=readout)
        note("naive visible-only descent", 1, 1)

    ep = np.arange(epochs + 1)
    data = {
        "sigma_net": (("epoch", "overlap"), layout.flatten(net["gram"])),
        "sigma_theory": (("epoch", "overlap"), layout.flatten(theory.gram)),
        "loss_net": ("epoch", net["loss"]),
        "loss_theory": ("epoch", theory.loss),
        "conserved_net": ("epoch", np.asarray(conserved_quantity(net["gram"], layout))),
        "conserved_theory": ("epoch", np.asarray(conserved_quantity(theory.gram, layout))),
        "visible": ("overlap", layout.visible(act.linear)),
        "target": (("trial", "time"), task.targets),
        "weights": (("trial", "time"), task.weights),
        "inputs": (("trial", "time"), task.inputs),
        "y_net": (("trial", "time"), np.asarray(network_rollout(net["vectors"], task.inputs, act, task.dt, task.tau,
                                                                readout))),
        "y_theory": (("trial", "time"), np.asarray(effective_rollout(jnp.asarray(theory.gram[-1]), task.inputs,
                                                                    layout, act, task.dt, task.tau, readout).y)),
    }
    if nv is not None:
        data["sigma_naive"] = (("epoch", "overlap"), layout.flatten(nv.gram))
        data["loss_naive"] = ("epoch", nv.loss)
        data["y_naive"] = (("trial", "time"), np.asarray(effective_rollout(jnp.asarray(nv.gram[-1]), task.inputs,
                                                                          layout, act, task.dt, task.tau, readout).y))
    if adam is not None:
        data["sigma_adam"] = (("epoch", "overlap"), layout.flatten(adam["gram"]))
        data["loss_adam"] = ("epoch", adam["loss"])
        data["conserved_adam"] = ("epoch", np.asarray(conserved_quantity(adam["gram"], layout)))
    ds = xr.Dataset(
        data,
        coords={"epoch": ep, "overlap": list(layout.labels), "trial": np.arange(task.n_trials), "time": task.times},
        attrs={"task": task.name, "rank": rank, "phi": act.name, "N": N, "eta": eta, "epochs": epochs,
               "seed": seed, "adam_lr": float("nan") if adam_lr is None else float(adam_lr), "method": method,
               "dt": task.dt, "tau": task.tau, "readout": readout, "fresh_batches": int(task.fresh),
               "convention": "Σ = VᵀV/N; vector GD step N·η; loss Σ W (y−y*)² (conventions §10)"},
    )
    return describe_compare(ds)


def describe_compare(ds: xr.Dataset) -> xr.Dataset:
    """``long_name``/``units`` of every variable of a :func:`compare` dataset (in place).

    Time is in units of τ (the neurons' time constant), overlaps σ_ab = a·b/N are dimensionless.
    """
    from ..io import describe

    meta = {
        "epoch": ("training epoch (GD or Adam step; overlap-ODE time / eta)", "1"),
        "overlap": ("overlap label a.b of sigma_ab = a.b/N over the vectors [m, u, v, z]", None),
        "trial": ("trial (input sequence) index", "1"),
        "time": ("time t, in units of the time constant tau", "1"),
        "visible": ("1 if the overlap enters the loss (loss-visible), 0 if invisible", "1"),
        "target": ("target output y*(t) (the epoch-0 batch if fresh_batches)", "1"),
        "weights": ("loss weight W(t) of each time step", "1"),
        "inputs": ("input s(t) (the epoch-0 batch if fresh_batches)", "1"),
    }
    who = {"net": "full network trained by GD", "theory": "overlap ODE (theory)",
           "naive": "naive visible-only descent", "adam": "full network trained by Adam"}
    for k, w in who.items():
        meta[f"sigma_{k}"] = (f"overlaps sigma_ab = a.b/N, {w}", "1")
        meta[f"loss_{k}"] = (f"loss sum W (y - y*)^2, {w}", "1")
        meta[f"conserved_{k}"] = (f"conserved quantity C = s_zz + s_vv - s_mm - s_uu, {w}", "1")
        meta[f"y_{k}"] = (f"output y(t) after training, {w}", "1")
    return describe(ds, meta)


def overlap_errors(ds: xr.Dataset, which: str = "theory") -> dict:
    """Max and RMS (over epochs and overlaps) of |σ_which − σ_net|, on all / visible / invisible overlaps."""
    d = np.abs(ds[f"sigma_{which}"].values - ds["sigma_net"].values)
    vis = ds["visible"].values
    out = {"max": float(d.max()), "rms": float(np.sqrt((d**2).mean()))}
    out["max_visible"] = float(d[:, vis].max())
    out["max_invisible"] = float(d[:, ~vis].max()) if (~vis).any() else 0.0
    return out
