"""Twins: networks with the same loss-visible and different loss-invisible overlaps (issue #16).

Two networks whose overlaps Σ_a, Σ_b agree on every loss-visible entry compute the same function
(exactly for linear φ at any N; for a nonlinear φ up to the O(N^{-1/2}) closure error of
docs/theory/lowrank.md §2), so no loss can tell them apart at initialisation. Learning can: the
overlap dynamics dΣ/dt = −2η(ΣG + GΣ) multiply the gradient G, which lives on the visible block, by
Σ itself, invisible entries included, so the twins move differently and their losses and visible
overlaps separate. :func:`twins` trains such a pair on each of several tasks (full network *and*
overlap ODE from the same overlaps) and returns one dataset; :func:`.figures.plot_twins` draws it.

The partner of Σ_a is :func:`.compare.degenerate_partner` (linear φ: σ_uu → 2, σ_mu → 0.8; a
nonlinear φ: σ_vv → 2, σ_zv → 0.8) or any set of invisible entries (``partner={"v.v": 1.5}``).
Both twins' vectors are drawn from the same whitened Gaussian matrix (``vectors_with_gram`` with one
key), so their finite-N fluctuations are as alike as their Gram matrices allow.
"""
from __future__ import annotations

from typing import Callable, Sequence

import jax
import numpy as np
import xarray as xr

from .._validate import FLTheoryInputError, choice, positive, positive_int
from .compare import degenerate_partner, with_invisible
from .dynamics import overlap_dynamics
from .gain import get_lowrank_activation
from .network import init_vectors, network_rollout, train_network, vectors_with_gram
from .overlaps import Layout, check_gram
from .tasks import Task, check_readout, decision_making, flip_flop, impulse_response, teacher_student

TWIN_TASKS = ("flipflop", "decision", "teacher", "impulse")
"""Task names :func:`twins` builds itself, at a CI-friendly grid (dt = 0.1); pass :class:`Task` objects
for other settings."""


def twin_task(name: str, rank: int = 1, phi="linear", readout: str = "next", seed: int = 0) -> Task:
    """The twins experiment's version of a task (dt = 0.1): ``flipflop`` (4 trials, T = 12),
    ``decision`` (6 trials, T = 6), ``teacher`` (4 trials with input noise 0.5, T = 10, a teacher of
    this rank, φ and readout) or ``impulse`` (T = 10)."""
    choice("task", name, TWIN_TASKS)
    if name == "flipflop":
        return flip_flop(n_trials=4, dt=0.1, T=12.0, seed=seed)
    if name == "decision":
        return decision_making(n_trials=6, dt=0.1, seed=seed)
    if name == "teacher":
        return teacher_student(rank=rank, phi=phi, n_trials=4, noise=0.5, dt=0.1, T=10.0, readout=readout,
                               seed=seed)
    return impulse_response(0.2, dt=0.1, T=10.0)


def twin_grams(S_a, layout: Layout, linear: bool, partner: dict | None = None) -> np.ndarray:
    """Σ_b: Σ_a with invisible entries changed (``partner`` labels → values, else the default partner)."""
    if partner is None:
        return degenerate_partner(S_a, layout, linear)
    if not isinstance(partner, dict) or not partner:
        raise FLTheoryInputError(f"partner: expected a non-empty dict of invisible overlaps, e.g. "
                                 f"{{'v.v': 2.0}}, got {partner!r}")
    return with_invisible(S_a, layout, linear, **partner)


def twins(tasks: Sequence[Task | str] = ("decision", "teacher"), rank: int = 1, phi="erf",
          N: int = 600, eta: float = 0.1, epochs: int = 300, seed: int = 0, method: str = "flow",
          readout: str = "next", partner: dict | None = None, S0=None, draw: int = 0,
          progress: Callable[[str, int, int], None] | None = None) -> xr.Dataset:
    """Train a pair of twins on each task: full networks (GD, vector step N·η) and the overlap ODE.

    Parameters
    ----------
    tasks : :class:`Task` objects or names of :data:`TWIN_TASKS` (built by :func:`twin_task`).
    rank, phi, N, eta, epochs, seed, method, readout : as in :func:`.compare.compare`.
    partner : invisible entries of twin b (default :func:`.compare.degenerate_partner`).
    S0 : twin a's overlaps (default: those of random normalised Gaussian vectors of width N).
    draw : which realisation of the twins' vectors (the overlaps, the teacher and the tasks stay those of
        ``seed``): 0 is the default draw; draws 1, 2, … are independent realisations of the same pair of Gram
        matrices, whose spread is the finite-N noise of the separation (docs/theory/lowrank.md §5, "Twins").

    Returns a Dataset with dims ``task``, ``twin`` (a, b), ``epoch``, ``overlap``: ``sigma_net``,
    ``sigma_theory`` [task, twin, epoch, overlap], ``loss_net``, ``loss_theory`` [task, twin, epoch],
    the separations ``loss_gap_*`` = |L_a − L_b| and ``visible_gap_*`` = max over visible overlaps of
    |σ_a − σ_b| [task, epoch], ``output_gap0_net`` [task] (max |y_a − y_b| of the two untrained networks)
    and ``visible`` [overlap].
    """
    layout = Layout(rank)
    act = get_lowrank_activation(phi)
    readout = check_readout(readout)
    N = positive_int("N", N, minimum=layout.n)
    eta = positive("eta", eta)
    epochs = positive_int("epochs", epochs)
    seed = positive_int("seed", seed, minimum=0)
    draw = positive_int("draw", draw, minimum=0)
    choice("method", method, ("flow", "gd"))
    if isinstance(tasks, (str, Task)) or len(tasks) == 0:
        raise FLTheoryInputError(f"tasks: expected a non-empty list of tasks, got {tasks!r}")
    tasks = [twin_task(t, rank, act, readout, seed) if isinstance(t, str) else t for t in tasks]
    for t in tasks:
        if not isinstance(t, Task):
            raise FLTheoryInputError(f"tasks: expected Task objects or names in {list(TWIN_TASKS)}, got {t!r}")
    key = jax.random.PRNGKey(seed)
    S_a = np.asarray(init_vectors(key, N, layout).gram()) if S0 is None else check_gram("S0", S0, layout)
    S_b = twin_grams(S_a, layout, act.linear, partner)
    kv = jax.random.fold_in(key, 1) if draw == 0 else jax.random.fold_in(jax.random.fold_in(key, 2), draw)
    vecs = [vectors_with_gram(kv, N, S, layout) for S in (S_a, S_b)]
    grams0 = [np.asarray(v.gram()) for v in vecs]
    note = progress or (lambda stage, done, total: None)
    vis = layout.visible(act.linear)
    n_steps = 4 * len(tasks)

    sig_net, sig_th, loss_net, loss_th, gap0 = [], [], [], [], []
    done = 0
    for task in tasks:
        ya, yb = (np.asarray(network_rollout(v, task.inputs, act, task.dt, task.tau, readout)) for v in vecs)
        gap0.append(float(np.abs(ya - yb).max()))
        rows = {"net": [], "theory": []}
        for twin, (v, S) in zip("ab", zip(vecs, grams0)):
            note(f"{task.name}: twin {twin}, network", done, n_steps)
            rows["net"].append(train_network(v, task, act, epochs, "gd", eta=eta, readout=readout))
            done += 1
            note(f"{task.name}: twin {twin}, overlap ODE", done, n_steps)
            rows["theory"].append(overlap_dynamics(S, task, rank, act, eta, epochs, method, readout=readout))
            done += 1
        note("done", done, n_steps)
        sig_net.append([layout.flatten(r["gram"]) for r in rows["net"]])
        sig_th.append([layout.flatten(r.gram) for r in rows["theory"]])
        loss_net.append([r["loss"] for r in rows["net"]])
        loss_th.append([r.loss for r in rows["theory"]])
    sig_net, sig_th = np.asarray(sig_net), np.asarray(sig_th)
    loss_net, loss_th = np.asarray(loss_net), np.asarray(loss_th)

    def vis_gap(sig):
        return np.abs(sig[:, 0] - sig[:, 1])[..., vis].max(-1)

    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        names = [f"{n}#{i}" for i, n in enumerate(names)]
    ds = xr.Dataset(
        {
            "sigma_net": (("task", "twin", "epoch", "overlap"), sig_net),
            "sigma_theory": (("task", "twin", "epoch", "overlap"), sig_th),
            "loss_net": (("task", "twin", "epoch"), loss_net),
            "loss_theory": (("task", "twin", "epoch"), loss_th),
            "loss_gap_net": (("task", "epoch"), np.abs(loss_net[:, 0] - loss_net[:, 1])),
            "loss_gap_theory": (("task", "epoch"), np.abs(loss_th[:, 0] - loss_th[:, 1])),
            "visible_gap_net": (("task", "epoch"), vis_gap(sig_net)),
            "visible_gap_theory": (("task", "epoch"), vis_gap(sig_th)),
            "output_gap0_net": ("task", np.asarray(gap0)),
            "visible": ("overlap", vis.astype(np.int8)),
            "gram0": (("twin", "row", "col"), np.stack(grams0)),
        },
        coords={"task": names, "twin": ["a", "b"], "epoch": np.arange(epochs + 1), "overlap": list(layout.labels),
                "row": list(layout.names), "col": list(layout.names)},
        attrs={"rank": rank, "phi": act.name, "N": N, "eta": eta, "epochs": epochs, "seed": seed, "draw": draw,
               "method": method, "readout": readout,
               "partner": ", ".join(f"{layout.labels[j]}: {S_a[layout.pairs[j]]:.3g} -> {S_b[layout.pairs[j]]:.3g}"
                                    for j in np.flatnonzero(~np.isclose(layout.flatten(S_a), layout.flatten(S_b)))),
               "convention": "Σ = VᵀV/N; vector GD step N·η; loss Σ W (y−y*)² (conventions §10)"},
    )
    return describe_twins(ds)


def describe_twins(ds: xr.Dataset) -> xr.Dataset:
    """``long_name``/``units`` of every variable of a :func:`twins` dataset (conventions §8)."""
    from ..io import describe

    return describe(ds, {
        "task": ("task the twins are trained on", None),
        "twin": ("twin: a = the original overlaps, b = the same visible and different invisible overlaps", None),
        "epoch": ("training epoch (GD step; overlap-ODE time / eta)", "1"),
        "overlap": ("overlap label a.b of sigma_ab = a.b/N", None),
        "row": ("vector (row of the Gram matrix)", None),
        "col": ("vector (column of the Gram matrix)", None),
        "sigma_net": ("overlaps sigma_ab = a.b/N, full network trained by GD", "1"),
        "sigma_theory": ("overlaps sigma_ab = a.b/N, overlap ODE (theory)", "1"),
        "loss_net": ("loss sum W (y - y*)^2, full network trained by GD", "1"),
        "loss_theory": ("loss sum W (y - y*)^2, overlap ODE (theory)", "1"),
        "loss_gap_net": ("|loss of twin a - loss of twin b|, full networks", "1"),
        "loss_gap_theory": ("|loss of twin a - loss of twin b|, overlap ODE", "1"),
        "visible_gap_net": ("max over loss-visible overlaps of |sigma(a) - sigma(b)|, full networks", "1"),
        "visible_gap_theory": ("max over loss-visible overlaps of |sigma(a) - sigma(b)|, overlap ODE", "1"),
        "output_gap0_net": ("max |y(a) - y(b)| of the untrained twin networks on the task's inputs", "1"),
        "visible": ("1 if the overlap enters the loss (loss-visible), 0 if invisible", "1"),
        "gram0": ("initial Gram matrix of the twin's network vectors", "1"),
    })


def twin_errors(ds: xr.Dataset) -> dict:
    """Per task: max / rms |σ_theory − σ_net| over twins, epochs and overlaps, the largest network
    separations (loss and visible overlaps) with the theory's prediction of them, and the signed loss split
    L_a − L_b at the epoch ``peak_epoch`` where the theory's is largest (``split_theory``, ``split_net``) and
    at epoch 0 (``split0_net``). The largest |ΔL| over epochs includes the untrained twins' O(N^{-1/2})
    function gap; the split at the theory's peak is the statistic that resolves small separations
    (docs/theory/lowrank.md §5, "Twins")."""
    out = {}
    for name in ds["task"].values:
        d = ds.sel(task=name)
        err = np.abs(d["sigma_theory"].values - d["sigma_net"].values)
        split_net = d["loss_net"].sel(twin="a").values - d["loss_net"].sel(twin="b").values
        split_th = d["loss_theory"].sel(twin="a").values - d["loss_theory"].sel(twin="b").values
        peak = int(np.abs(split_th).argmax())
        out[str(name)] = {
            "peak_epoch": peak, "split_theory": float(split_th[peak]), "split_net": float(split_net[peak]),
            "split0_net": float(split_net[0]),
            "max": float(err.max()), "rms": float(np.sqrt((err**2).mean())),
            "loss_gap_net": float(d["loss_gap_net"].max()), "loss_gap_theory": float(d["loss_gap_theory"].max()),
            "visible_gap_net": float(d["visible_gap_net"].max()),
            "visible_gap_theory": float(d["visible_gap_theory"].max()),
            "output_gap0_net": float(d["output_gap0_net"]),
        }
    return out

