"""Invisible overlaps as memory of the training history (A → B → A protocol).

For the linear model the overlap image of discrete GD, Σ ← (I − 2ηG)Σ(I − 2ηG), is *exactly* what
full-network GD does to the overlaps at any N and under either readout convention (``readout="next"``
or ``"current"``, conventions §10; docs/theory/lowrank.md §3), so a training history
can be replayed in overlap space at the cost of a 2-D RNN per epoch, for many networks at once
(``jax.vmap``). :func:`decode_history` trains networks either on A only or on A → B → A and asks a
cross-validated logistic regression to tell the histories apart from the final visible or the
final invisible overlaps.
"""
from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .._validate import FLTheoryInputError, finite_array, positive, positive_int
from .dynamics import gd_map_step
from .effective import effective_rollout
from .gain import get_lowrank_activation
from .network import init_vectors
from .overlaps import Layout, conserved_quantity
from .tasks import check_readout, impulse_response


def _check_schedule(schedule):
    if len(schedule) == 0:
        raise FLTheoryInputError("schedule: needs at least one (decay, epochs[, noise]) phase")
    out = []
    for i, ph in enumerate(schedule):
        if not isinstance(ph, (tuple, list)) or len(ph) not in (2, 3):
            raise FLTheoryInputError(f"schedule: phase {i} must be (decay, epochs[, noise]), got {ph!r}")
        noise = ph[2] if len(ph) == 3 else 0.0
        out.append((positive("schedule decay", ph[0], allow_zero=True), positive_int("schedule epochs", ph[1]),
                    positive("schedule noise", noise, allow_zero=True)))
    return out


def _schedule_fn(schedule, eta, dt, T, layout, act, readout="next"):
    """A jittable (Σ0, key) → (Σ trajectory [E+1, n, n], loss [E+1]) for the schedule.

    A phase ``(c, epochs, noise)`` descends L = Σ dt (y − y* − noise·ξ)² with fresh ξ ~ N(0, 1) per
    time step and epoch (target noise, as in Ger & Barak's final phase); the recorded loss is the
    noise-free one. ``readout`` (:data:`.tasks.READOUTS`) is the time at which y_k is read.
    """
    base = impulse_response(0.0, dt, T)
    phases = []
    for c, e, noise in schedule:
        task = impulse_response(c, dt, T)
        phases.append((jnp.asarray(task.targets), e, noise))

    def run(S0, key):
        trajs, losses = [], []
        S = S0
        for target, e, noise in phases:
            def loss_fn(S, tgt):
                _, y = effective_rollout(S, base.inputs, layout, act, dt, base.tau, readout)
                return jnp.sum(jnp.asarray(base.weights) * (y - tgt) ** 2)

            def body(carry, _, target=target, noise=noise, loss_fn=loss_fn):
                S, k = carry
                k, sub = jax.random.split(k)
                tgt = target + noise * jax.random.normal(sub, target.shape)
                return (gd_map_step(lambda X: loss_fn(X, tgt), S, eta), k), (S, loss_fn(S, target))

            (S, key), (tr, lo) = jax.lax.scan(body, (S, key), None, length=e)
            trajs.append(tr)
            losses.append(lo)
            last = (loss_fn, target)
        trajs.append(S[None])
        losses.append(last[0](S, last[1])[None])
        return jnp.concatenate(trajs), jnp.concatenate(losses)

    return run


def run_schedule(S0, schedule: Sequence[tuple], eta: float = 5e-3, dt: float = 0.05,
                 T: float = 20.0, rank: int = 1, seed: int = 0, readout: str = "next") -> dict:
    """Train a linear low-rank RNN on impulse-response targets e^{−c t} phase by phase.

    ``schedule`` is a list of ``(c, epochs)`` or ``(c, epochs, noise)``, e.g.
    ``[(0.2, 1500), (0.4, 1500), (0.2, 1500)]`` for A → B → A. ``S0`` is one Gram matrix (n × n)
    or a batch [M, n, n]. Returns ``gram`` ([..., E+1, n, n]), ``loss`` (noise-free, on the task of
    the current phase) and ``conserved``. ``readout``: ``"next"`` (y_k from κ_{k+1}, default) or
    ``"current"`` (y_k from κ_k, the paper's), see :data:`.tasks.READOUTS`. The replay is the exact
    overlap image of the network's GD under either convention: the identity ∂L/∂V = (2/N) V G holds for
    any loss that depends on the vectors through Σ only, whichever state the output is read from.
    """
    layout = Layout(rank)
    act = get_lowrank_activation("linear")
    schedule = _check_schedule(schedule)
    eta = positive("eta", eta)
    readout = check_readout(readout)
    S0 = jnp.asarray(S0, dtype=jnp.float64)
    if S0.shape[-2:] != (layout.n, layout.n):
        raise FLTheoryInputError(f"S0: expected shape [..., {layout.n}, {layout.n}], got {S0.shape}")
    run = _schedule_fn(schedule, eta, dt, T, layout, act, readout)
    key = jax.random.PRNGKey(seed)
    if S0.ndim == 3:
        gram, loss = jax.jit(jax.vmap(run))(S0, jax.random.split(key, S0.shape[0]))
    else:
        gram, loss = jax.jit(run)(S0, key)
    gram = np.asarray(gram)
    return {"gram": gram, "loss": np.asarray(loss), "conserved": np.asarray(conserved_quantity(gram, layout))}


def decode_history(n_networks: int = 40, N: int = 500, eta: float = 5e-3,
                   epochs: Sequence[int] = (1500, 1500, 1500, 1000), decay_a: float = 0.2, decay_b: float = 0.4,
                   noise: float = 0.1, dt: float = 0.05, T: float = 20.0, seed: int = 0, folds: int = 5,
                   readout: str = "next") -> dict:
    """Can a logistic regression tell "A only" from "A → B → A" from the final overlaps?

    ``n_networks`` independent random networks (width N, normalised Gaussian vectors) per history;
    ``epochs = (e1, e2, e3, e4)``: "A only" trains on e^{−decay_a t} for e1+e2+e3 epochs,
    "A→B→A" switches to e^{−decay_b t} for the middle e2 epochs; both histories then share a final
    A phase of e4 epochs with target noise ``noise`` (so that neither is "more converged" than the
    other: without it, the residual of convergence alone separates the histories). Returns cross-validated
    accuracies for visible, invisible and all overlaps (chance = 0.5) with their binomial standard errors
    ``accuracy_*_se`` (√(p(1−p)/n) over the n = 2·n_networks held-out predictions) and ``chance_se``
    (√(0.25/n), the spread of a chance-level accuracy), the final losses, and the final overlaps ``X``
    with labels ``y``. ``readout`` as in :func:`run_schedule`.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n_networks = positive_int("n_networks", n_networks, minimum=folds)
    readout = check_readout(readout)
    layout = Layout(1)
    if len(epochs) != 4:
        raise FLTheoryInputError(f"epochs: expected (e1, e2, e3, e4), got {epochs!r}")
    e1, e2, e3, e4 = (positive_int("epochs", e) for e in epochs)
    keys = jax.random.split(jax.random.PRNGKey(seed), 2 * n_networks)
    S0 = np.stack([np.asarray(init_vectors(k, N, layout).gram()) for k in keys])
    tail = [(decay_a, e4, noise)]
    only_a = run_schedule(S0[:n_networks], [(decay_a, e1 + e2 + e3)] + tail, eta, dt, T, seed=seed, readout=readout)
    aba = run_schedule(S0[n_networks:], [(decay_a, e1), (decay_b, e2), (decay_a, e3)] + tail, eta, dt, T,
                       seed=seed + 1, readout=readout)
    final = np.concatenate([only_a["gram"][:, -1], aba["gram"][:, -1]])
    # Fix the exact symmetry (u, v) → (−u, −v) (W = uvᵀ/N unchanged) by making σ_uz ≥ 0, so that
    # sign-odd overlaps (m.u, v.z, m.v, u.z) carry a consistent sign across networks.
    flip = np.where(final[:, 1, 3] < 0, -1.0, 1.0)
    signs = np.ones((len(final), layout.n))
    signs[:, 1:3] = flip[:, None]
    final = final * signs[:, :, None] * signs[:, None, :]
    X = layout.flatten(final)
    y = np.repeat([0, 1], n_networks)
    vis = layout.visible(linear=True)
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)

    def acc(cols):
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
        return float(cross_val_score(clf, X[:, cols], y, cv=cv).mean())

    accs = {"visible": acc(vis), "invisible": acc(~vis), "all": acc(np.ones_like(vis))}
    n_total = len(y)
    return {
        **{f"accuracy_{k}": a for k, a in accs.items()},
        # binomial standard error of the fraction of correct held-out predictions (each network is held out once)
        **{f"accuracy_{k}_se": float(np.sqrt(a * (1 - a) / n_total)) for k, a in accs.items()},
        "chance_se": float(np.sqrt(0.25 / n_total)),
        "final_loss_only_a": only_a["loss"][:, -1],
        "final_loss_aba": aba["loss"][:, -1],
        "X": X, "y": y, "labels": layout.labels, "visible": vis,
        "gram_only_a": only_a["gram"], "gram_aba": aba["gram"],
        "params": {"n_networks": n_networks, "N": N, "eta": eta, "e1": e1, "e2": e2, "e3": e3, "e4": e4,
                   "decay_a": decay_a, "decay_b": decay_b, "noise": noise, "dt": dt, "T": T, "seed": seed,
                   "folds": folds, "readout": readout},
    }


def memory_dataset(result: dict):
    """The :func:`decode_history` result as a described ``xarray.Dataset`` (conventions §8): final overlaps
    per network, the history label, the visibility mask, and the accuracies as numeric attributes."""
    import xarray as xr

    from ..io import describe

    ds = xr.Dataset(
        {"final_overlaps": (("network", "overlap"), result["X"]), "history": ("network", result["y"]),
         "visible": ("overlap", np.asarray(result["visible"]).astype(np.int8))},
        coords={"network": np.arange(len(result["y"])), "overlap": list(result["labels"])},
        attrs={**{k: float(result[k]) for k in ("accuracy_visible", "accuracy_invisible", "accuracy_all")},
               **{k: float(result[k]) for k in ("accuracy_visible_se", "accuracy_invisible_se", "accuracy_all_se",
                                                "chance_se") if k in result},
               **result.get("params", {})},
    )
    return describe(ds, {
        "network": ("network index", "1"),
        "overlap": ("overlap label a.b of sigma_ab = a.b/N over the vectors [m, u, v, z]", None),
        "final_overlaps": ("final overlaps sigma_ab (sign of u, v fixed by sigma_uz >= 0)", "1"),
        "history": ("training history: 0 = A only, 1 = A -> B -> A", "1"),
        "visible": ("1 if the overlap enters the loss (loss-visible), 0 if invisible", "1"),
    })


def memory_regime_map(noises: Sequence[float] = (0.0, 0.1, 0.3), b_epochs: Sequence[int] = (500, 1500),
                      eta: float = 5e-3, n_networks: int = 40, N: int = 500, a_epochs: int = 1500,
                      final_epochs: int = 1000, decay_a: float = 0.2, decay_b: float = 0.4, dt: float = 0.05,
                      T: float = 20.0, seed: int = 0, readout: str = "next", progress=None):
    """When does the history show in the invisible overlaps? :func:`decode_history` over a grid of the
    final phase's target ``noise`` and the length of the B phase (``b_epochs``), the A phases lasting
    ``a_epochs`` and the final noisy A phase ``final_epochs``.

    Returns an ``xarray.Dataset`` with dims ``noise`` × ``b_epochs``: ``accuracy`` and ``accuracy_se``
    [features, noise, b_epochs] for ``features`` = visible / invisible / all, ``chance_se`` (√(0.25/n)),
    and the parameters as attributes. Each point uses the same seed (the same random networks).
    """
    import xarray as xr

    from ..io import describe

    noises = [positive("noises", x, allow_zero=True) for x in finite_array("noises", noises, ndim=1)]
    b_epochs = [positive_int("b_epochs", e) for e in b_epochs]
    if not noises or not b_epochs:
        raise FLTheoryInputError("noises, b_epochs: each needs at least one value")
    readout = check_readout(readout)
    feats = ("visible", "invisible", "all")
    acc = np.full((3, len(noises), len(b_epochs)), np.nan)
    se = np.full_like(acc, np.nan)
    note = progress or (lambda done, total: None)
    total, done = len(noises) * len(b_epochs), 0
    for i, noise in enumerate(noises):
        for j, e2 in enumerate(b_epochs):
            res = decode_history(n_networks=n_networks, N=N, eta=eta, epochs=(a_epochs, e2, a_epochs, final_epochs),
                                 decay_a=decay_a, decay_b=decay_b, noise=noise, dt=dt, T=T, seed=seed,
                                 readout=readout)
            for k, f in enumerate(feats):
                acc[k, i, j] = res[f"accuracy_{f}"]
                se[k, i, j] = res[f"accuracy_{f}_se"]
            chance = res["chance_se"]
            done += 1
            note(done, total)
    ds = xr.Dataset(
        {"accuracy": (("features", "noise", "b_epochs"), acc), "accuracy_se": (("features", "noise", "b_epochs"), se)},
        coords={"features": list(feats), "noise": np.asarray(noises), "b_epochs": np.asarray(b_epochs)},
        attrs={"chance_se": float(chance), "eta": float(eta), "n_networks": int(n_networks), "N": int(N),
               "a_epochs": int(a_epochs), "final_epochs": int(final_epochs), "decay_a": float(decay_a),
               "decay_b": float(decay_b), "dt": float(dt), "T": float(T), "seed": int(seed), "readout": readout},
    )
    return describe(ds, {
        "features": ("overlaps given to the decoder: loss-visible, loss-invisible or all", None),
        "noise": ("target noise of the final A phase", "1"),
        "b_epochs": ("epochs of the B phase (A only: 2 a_epochs + b_epochs epochs of A)", "1"),
        "accuracy": ("5-fold cross-validated accuracy, A only vs A -> B -> A (chance 0.5)", "1"),
        "accuracy_se": ("binomial standard error of the accuracy, sqrt(p (1 - p) / n)", "1"),
    })
