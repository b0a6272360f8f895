"""Invisible overlaps as memory of the training history (issue #16; docs/theory/lowrank.md §5).

The paper's protocol: :func:`memory_schedule` (A-B-A-B-A vs A only, then a shared noisy A phase),
:func:`memory_protocol` (decoding from visible / invisible / invisible-given-visible overlaps and from the
drift of the conserved matrix K, with Clopper–Pearson intervals: :func:`decode_features`,
:func:`binomial_interval`, :func:`chance_p_value`), :func:`memory_map` (its regime map over η × noise ×
phase length) and :func:`network_memory_check` (the full network against the replay). The earlier
A → B → A protocol (:func:`decode_history`, :func:`memory_regime_map`) is kept.

For the linear model the overlap image of discrete GD, Σ ← (I − 2ηG)Σ(I − 2ηG), is *exactly* what
full-network GD does to the overlaps at any N and under either readout convention (``readout="next"``
or ``"current"``, conventions §10; docs/theory/lowrank.md §3), so a training history
can be replayed in overlap space at the cost of a 2-D RNN per epoch, for many networks at once
(``jax.vmap``). :func:`decode_history` trains networks either on A only or on A → B → A and asks a
cross-validated logistic regression to tell the histories apart from the final visible or the
final invisible overlaps.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .._validate import FLTheoryInputError, finite_array, positive, positive_int
from .dynamics import symmetric_gradient
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


@lru_cache(maxsize=32)
def _replay_kernel(dt: float, T: float, rank: int, readout: str):
    """Jitted replays of a schedule (one network, and vmapped over networks) for a grid (dt, T):
    (Σ0, key, targets [E, 1, K], noises [E], η) → (Σ trajectory [E+1, n, n], loss [E+1], K [E+1, n, n]).

    Epoch e descends L = Σ dt (y − y*_e − noise_e·ξ)² with fresh ξ ~ N(0, 1) per time step and epoch (the
    key is split once per epoch, noisy or not); the recorded loss is the noise-free one, on the target of
    the epoch (the last entry: on the last epoch's target). K is the conserved N × N matrix K = V J Vᵀ
    (docs/theory/lowrank.md §3) in the coordinates of the initial vectors: GD keeps every vector in the span
    of the initial ones, V = V0 M with M ← M(I − 2ηG), and K = V0 (M J Mᵀ) V0ᵀ, so M J Mᵀ (= J at epoch 0)
    holds every entry K_ij = Σ_ab (V0)_ia (MJMᵀ)_ab (V0)_jb. One scan over all epochs: every schedule of
    the same length shares one compilation, and η is an argument (not a constant of the trace).
    """
    layout = Layout(rank)
    act = get_lowrank_activation("linear")
    base = impulse_response(0.0, dt, T)
    inputs, weights = jnp.asarray(base.inputs), jnp.asarray(base.weights)
    eye = jnp.eye(layout.n)
    J = jnp.diag(jnp.asarray(layout.conserved_signs))

    def loss_fn(S, tgt):
        _, y = effective_rollout(S, inputs, layout, act, dt, base.tau, readout)
        return jnp.sum(weights * (y - tgt) ** 2)

    def run(S0, key, targets, noises, eta):
        def body(carry, x):
            S, M, k = carry
            target, noise = x
            k, sub = jax.random.split(k)
            tgt = target + noise * jax.random.normal(sub, target.shape)
            # V ← V(I − 2ηG): Σ ← AΣA and the coefficients M of V = V0 M follow M ← M A
            A = eye - 2.0 * eta * symmetric_gradient(lambda X: loss_fn(X, tgt), S)
            return (A @ S @ A, M @ A, k), (S, M @ J @ M.T, loss_fn(S, target))

        (S, M, _), (tr, kt, lo) = jax.lax.scan(body, (S0, eye, key), (targets, noises))
        return (jnp.concatenate([tr, S[None]]), jnp.concatenate([lo, loss_fn(S, targets[-1])[None]]),
                jnp.concatenate([kt, (M @ J @ M.T)[None]]))

    return jax.jit(run), jax.jit(jax.vmap(run, in_axes=(0, 0, None, None, None)))


def _schedule_arrays(schedule, dt, T):
    """Per-epoch targets e^{−c t_k} [E, 1, K] (as :func:`.tasks.impulse_response`) and target noises [E]."""
    t = np.arange(impulse_response(0.0, dt, T).n_steps) * dt
    targets = np.concatenate([np.broadcast_to(np.exp(-c * t)[None, None], (e, 1, len(t))) for c, e, _ in schedule])
    noises = np.concatenate([np.full(e, nz) for _, e, nz in schedule])
    return jnp.asarray(targets), jnp.asarray(noises)


def run_schedule(S0, schedule: Sequence[tuple], eta: float = 5e-3, dt: float = 0.05,
                 T: float = 20.0, rank: int = 1, seed: int = 0, readout: str = "next") -> dict:
    """Train a linear low-rank RNN on impulse-response targets e^{−c t} phase by phase.

    ``schedule`` is a list of ``(c, epochs)`` or ``(c, epochs, noise)``, e.g.
    ``[(0.2, 1500), (0.4, 1500), (0.2, 1500)]`` for A → B → A. ``S0`` is one Gram matrix (n × n)
    or a batch [M, n, n]. Returns ``gram`` ([..., E+1, n, n]), ``loss`` (noise-free, on the task of
    the current phase), ``conserved`` and ``K`` ([..., E+1, n, n]: the conserved matrix K = V J Vᵀ in the
    coordinates of the initial vectors, M J Mᵀ with V = V0 M; J at epoch 0, constant under gradient flow,
    drifting by 4η² M G J G Mᵀ per GD step). ``readout``: ``"next"`` (y_k from κ_{k+1}, default) or
    ``"current"`` (y_k from κ_k, the paper's), see :data:`.tasks.READOUTS`. The replay is the exact
    overlap image of the network's GD under either convention: the identity ∂L/∂V = (2/N) V G holds for
    any loss that depends on the vectors through Σ only, whichever state the output is read from.
    """
    layout = Layout(rank)
    schedule = _check_schedule(schedule)
    eta = positive("eta", eta)
    dt, T = positive("dt", dt), positive("T", T)
    impulse_response(0.0, dt, T)  # T on the grid of dt, else a named error
    readout = check_readout(readout)
    S0 = jnp.asarray(S0, dtype=jnp.float64)
    if S0.shape[-2:] != (layout.n, layout.n):
        raise FLTheoryInputError(f"S0: expected shape [..., {layout.n}, {layout.n}], got {S0.shape}")
    one, many = _replay_kernel(float(dt), float(T), rank, readout)
    targets, noises = _schedule_arrays(schedule, dt, T)
    key = jax.random.PRNGKey(seed)
    if S0.ndim == 3:
        gram, loss, K = many(S0, jax.random.split(key, S0.shape[0]), targets, noises, eta)
    else:
        gram, loss, K = one(S0, key, targets, noises, eta)
    gram = np.asarray(gram)
    return {"gram": gram, "loss": np.asarray(loss), "conserved": np.asarray(conserved_quantity(gram, layout)),
            "K": np.asarray(K)}


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


# ------------------------------------------------------------------------------------------------
# The paper's protocol: A-B-A-B-A (vs A only, same length), a final noisy A phase, logistic decoding
# with exact binomial confidence intervals, the entries of the conserved matrix K tracked.
# ------------------------------------------------------------------------------------------------
MEMORY_FEATURES = ("visible", "invisible", "invisible|visible", "K", "all")
"""Feature sets given to the decoder: loss-visible overlaps; loss-invisible overlaps; the invisible overlaps'
residuals after a least-squares fit on the visible ones (label-free, over all networks: what the invisible
overlaps say beyond the visible ones); the diagonal drift of the conserved matrix K (in the coordinates of
the initial vectors) with its Frobenius norm; all overlaps."""


def _residuals(Y, X):
    """Residuals of the columns of Y after an affine least-squares fit on the columns of X."""
    D = np.column_stack([np.ones(len(X)), X])
    coef, *_ = np.linalg.lstsq(D, Y, rcond=None)
    return Y - D @ coef


def _check_history(name: str, history) -> str:
    if not isinstance(history, str) or not history or set(history) - {"A", "B"}:
        raise FLTheoryInputError(f"{name}: expected a non-empty string of phases 'A'/'B' (e.g. 'ABABA'), "
                                 f"got {history!r}")
    return history


def memory_schedule(history: str = "ABABA", phase_epochs: int = 300, final_epochs: int = 600,
                    noise: float = 0.1, decay_a: float = 0.2, decay_b: float = 0.4) -> list[tuple]:
    """The :func:`run_schedule` phases of one training history.

    Each letter of ``history`` is a phase of ``phase_epochs`` epochs on target e^{−decay_a t} ("A") or
    e^{−decay_b t} ("B"); consecutive equal letters merge into one phase ("AAAAA" → one A phase of
    5·phase_epochs). Every history ends with the shared A phase of ``final_epochs`` epochs with target
    noise ``noise``. Returns ``[(decay, epochs, noise), ...]``: the paper's A-B-A-B-A is
    ``memory_schedule("ABABA")``, its control ``memory_schedule("AAAAA")`` (the same number of epochs).
    """
    history = _check_history("history", history)
    phase_epochs = positive_int("phase_epochs", phase_epochs)
    final_epochs = positive_int("final_epochs", final_epochs)
    noise = positive("noise", noise, allow_zero=True)
    decay = {"A": positive("decay_a", decay_a, allow_zero=True), "B": positive("decay_b", decay_b, allow_zero=True)}
    phases: list[list] = []
    for letter in history:
        if phases and phases[-1][0] == decay[letter]:
            phases[-1][1] += phase_epochs
        else:
            phases.append([decay[letter], phase_epochs, 0.0])
    return [tuple(p) for p in phases] + [(decay["A"], final_epochs, noise)]


def schedule_boundaries(schedule) -> np.ndarray:
    """Epoch at which each phase starts, then the total: ``[0, e1, e1+e2, …, E]`` (entry e of a
    :func:`run_schedule` trajectory is the state before update e, so phase p spans entries
    boundaries[p] .. boundaries[p+1] − 1 and entry E is the final state)."""
    return np.concatenate([[0], np.cumsum([e for _, e, _ in _check_schedule(schedule)])]).astype(int)


def binomial_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson) two-sided ``level`` confidence interval of a binomial proportion k/n.

    lower = Beta⁻¹(α/2; k, n−k+1) (0 for k = 0), upper = Beta⁻¹(1−α/2; k+1, n−k) (1 for k = n),
    α = 1 − level; closed forms at the edges: k = n gives lower = (α/2)^{1/n}, k = 0 upper = 1 − (α/2)^{1/n}.
    """
    from scipy.stats import beta

    n = positive_int("n", n)
    k = positive_int("k", k, minimum=0)
    if k > n:
        raise FLTheoryInputError(f"k: must be <= n = {n}, got {k}")
    level = positive("level", level)
    if level >= 1:
        raise FLTheoryInputError(f"level: must lie in (0, 1), got {level}")
    a = 1.0 - level
    lo = 0.0 if k == 0 else float(beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def chance_p_value(k: int, n: int) -> float:
    """One-sided exact binomial p-value of ≥ k correct out of n at chance 1/2: P(Bin(n, ½) ≥ k)."""
    from scipy.stats import binom

    n = positive_int("n", n)
    k = positive_int("k", k, minimum=0)
    if k > n:
        raise FLTheoryInputError(f"k: must be <= n = {n}, got {k}")
    return float(binom.sf(k - 1, n, 0.5))


def decode_features(X, y, folds: int = 5, seed: int = 0, level: float = 0.95) -> dict:
    """Cross-validated logistic regression (standardised features, stratified ``folds``-fold, every sample
    held out once): ``accuracy`` = k/n, ``correct`` k, ``n``, the Clopper–Pearson ``ci`` at ``level``
    and the one-sided binomial ``p_value`` against chance 1/2 (:func:`binomial_interval`,
    :func:`chance_p_value`). The n held-out predictions are treated as independent Bernoulli trials, the
    usual approximation for cross-validated accuracy (the folds share training data)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = finite_array("X", X, ndim=2)
    y = np.asarray(y)
    if y.shape != (X.shape[0],) or set(np.unique(y)) != {0, 1}:
        raise FLTheoryInputError(f"y: expected labels 0/1 of shape ({X.shape[0]},), got {y!r}")
    folds = positive_int("folds", folds, minimum=2)
    if np.bincount(y).min() < folds:
        raise FLTheoryInputError(f"folds: {folds} folds need at least {folds} networks per history")
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    pred = cross_val_predict(clf, X, y, cv=cv)
    k, n = int(np.sum(pred == y)), len(y)
    return {"accuracy": k / n, "correct": k, "n": n, "ci": binomial_interval(k, n, level),
            "p_value": chance_p_value(k, n)}


def _fix_gauge(final, layout):
    """(u, v) → (−u, −v) is an exact symmetry; make σ_uz ≥ 0 so that sign-odd overlaps are comparable."""
    flip = np.where(final[:, layout.u_idx[0], layout.z_idx] < 0, -1.0, 1.0)
    signs = np.ones((len(final), layout.n))
    signs[:, layout.u_idx] = flip[:, None]
    signs[:, layout.v_idx] = flip[:, None]
    return final * signs[:, :, None] * signs[:, None, :]


def initial_grams(n_networks: int, N: int, seed: int = 0, balanced: bool = False, rank: int = 1) -> np.ndarray:
    """Initial overlaps [n_networks, n, n] of independent width-N networks (:func:`.network.init_vectors`,
    key ``split(PRNGKey(seed), n_networks)[i]``), optionally balanced (K = 0)."""
    layout = Layout(rank)
    keys = jax.random.split(jax.random.PRNGKey(seed), n_networks)
    return np.stack([np.asarray(init_vectors(k, N, layout, balanced=balanced).gram()) for k in keys])


def memory_protocol(n_networks: int = 40, N: int = 500, eta: float = 1e-2, phase_epochs: int = 300,
                    final_epochs: int = 600, noise: float = 0.1, decay_a: float = 0.2, decay_b: float = 0.4,
                    histories: tuple[str, str] = ("AAAAA", "ABABA"), dt: float = 0.05, T: float = 20.0,
                    seed: int = 0, folds: int = 5, level: float = 0.95, readout: str = "next",
                    balanced: bool = False, keep_every: int = 10) -> dict:
    """Decode the training history (``histories[0]`` vs ``histories[1]``, default A only vs A-B-A-B-A,
    each followed by the shared noisy A phase of :func:`memory_schedule`) from the final overlaps of
    ``n_networks`` linear rank-1 networks per history, replayed exactly in overlap space.

    Returns, for every feature set of :data:`MEMORY_FEATURES`, ``accuracy_<f>`` (cross-validated, k/n with
    n = 2·n_networks), ``correct_<f>``, ``ci_<f>`` (Clopper–Pearson at ``level``) and ``p_<f>`` (one-sided
    binomial test against chance 1/2); ``n``; the final overlaps ``X`` (gauge σ_uz ≥ 0), labels ``y``;
    ``K_drift`` [2·n_networks, n, n] (final K − J in initial-vector coordinates) and ``K_max_drift``; the
    trajectories ``mean_sigma``/``sd_sigma`` [history, epoch/keep_every, overlap] over networks,
    ``epochs`` and the schedules' ``boundaries``; ``final_loss`` [2·n_networks]; and ``params``.
    Networks i and n_networks + i are different draws (the same seed gives the same networks).
    """
    n_networks = positive_int("n_networks", n_networks, minimum=2)
    folds = positive_int("folds", folds, minimum=2)
    if n_networks < folds:
        raise FLTheoryInputError(f"n_networks: {folds}-fold decoding needs at least {folds} networks per "
                                 f"history, got {n_networks}")
    if not isinstance(histories, (tuple, list)) or len(histories) != 2:
        raise FLTheoryInputError(f"histories: expected two histories, e.g. ('AAAAA', 'ABABA'), got {histories!r}")
    h0, h1 = (_check_history("histories", h) for h in histories)
    if h0 == h1:
        raise FLTheoryInputError(f"histories: the two histories must differ, got {h0!r} twice")
    eta = positive("eta", eta)
    readout = check_readout(readout)
    keep_every = positive_int("keep_every", keep_every)
    N = positive_int("N", N, minimum=4)
    scheds = [memory_schedule(h, phase_epochs, final_epochs, noise, decay_a, decay_b) for h in (h0, h1)]
    bounds = [schedule_boundaries(s) for s in scheds]
    if bounds[0][-1] != bounds[1][-1]:
        raise FLTheoryInputError(f"histories: {h0!r} and {h1!r} must have the same number of phases "
                                 "(the same training time)")
    layout = Layout(1)
    S0 = initial_grams(2 * n_networks, N, seed, balanced)
    runs = [run_schedule(S0[i * n_networks:(i + 1) * n_networks], s, eta, dt, T, seed=seed + i, readout=readout)
            for i, s in enumerate(scheds)]
    final = _fix_gauge(np.concatenate([r["gram"][:, -1] for r in runs]), layout)
    X = layout.flatten(final)
    y = np.repeat([0, 1], n_networks)
    vis = layout.visible(linear=True)
    J = np.diag(layout.conserved_signs)
    K_drift = np.concatenate([r["K"][:, -1] for r in runs]) - J
    kfeat = np.concatenate([np.diagonal(K_drift, axis1=1, axis2=2),
                            np.linalg.norm(K_drift, axis=(1, 2))[:, None]], axis=1)
    feats = {"visible": X[:, vis], "invisible": X[:, ~vis], "invisible|visible": _residuals(X[:, ~vis], X[:, vis]),
             "K": kfeat, "all": X}
    if balanced:  # V0 has rank r+1: its coordinates of K are not unique (K = 0), no K feature
        feats.pop("K")
    out = {"n": 2 * n_networks}
    for f in MEMORY_FEATURES:
        if f not in feats:
            out.update({f"accuracy_{f}": np.nan, f"correct_{f}": -1, f"ci_{f}": (np.nan, np.nan), f"p_{f}": np.nan})
            continue
        F = feats[f]
        d = decode_features(F, y, folds, seed, level)
        out.update({f"accuracy_{f}": d["accuracy"], f"correct_{f}": d["correct"], f"ci_{f}": d["ci"],
                    f"p_{f}": d["p_value"]})
    keep = np.arange(0, bounds[0][-1] + 1, keep_every)
    trajs = [_fix_gauge(r["gram"][:, keep].reshape(-1, layout.n, layout.n), layout)
             .reshape(n_networks, len(keep), layout.n, layout.n) for r in runs]
    sig = np.stack([layout.flatten(t) for t in trajs])  # [history, network, epoch, overlap]
    out.update({
        "X": X, "y": y, "labels": layout.labels, "visible": vis, "histories": (h0, h1),
        "K_drift": K_drift, "K_max_drift": float("nan") if balanced else float(np.abs(K_drift).max()),
        "mean_sigma": sig.mean(1), "sd_sigma": sig.std(1), "epochs": keep, "boundaries": bounds,
        "final_loss": np.concatenate([r["loss"][:, -1] for r in runs]),
        "params": {"n_networks": n_networks, "N": N, "eta": eta, "phase_epochs": int(phase_epochs),
                   "final_epochs": int(final_epochs), "noise": float(noise), "decay_a": float(decay_a),
                   "decay_b": float(decay_b), "dt": float(dt), "T": float(T), "seed": int(seed), "folds": folds,
                   "level": float(level), "readout": readout, "balanced": int(bool(balanced)),
                   "histories": f"{h0} vs {h1}"},
    })
    return out


def memory_protocol_dataset(result: dict):
    """A :func:`memory_protocol` result as a described ``xarray.Dataset`` (conventions §8)."""
    import xarray as xr

    from ..io import describe

    feats = list(MEMORY_FEATURES)
    ds = xr.Dataset(
        {"final_overlaps": (("network", "overlap"), result["X"]),
         "history": ("network", result["y"]),
         "visible": ("overlap", np.asarray(result["visible"]).astype(np.int8)),
         "K_drift": (("network", "vec_a", "vec_b"), result["K_drift"]),
         "final_loss": ("network", result["final_loss"]),
         "accuracy": ("features", [result[f"accuracy_{f}"] for f in feats]),
         "correct": ("features", [result[f"correct_{f}"] for f in feats]),
         "ci_low": ("features", [result[f"ci_{f}"][0] for f in feats]),
         "ci_high": ("features", [result[f"ci_{f}"][1] for f in feats]),
         "p_value": ("features", [result[f"p_{f}"] for f in feats]),
         "mean_sigma": (("schedule", "epoch", "overlap"), result["mean_sigma"]),
         "sd_sigma": (("schedule", "epoch", "overlap"), result["sd_sigma"])},
        coords={"network": np.arange(len(result["y"])), "overlap": list(result["labels"]),
                "vec_a": list(Layout(1).names), "vec_b": list(Layout(1).names), "features": feats,
                "schedule": [0, 1], "schedule_name": ("schedule", list(result["histories"])),
                "epoch": result["epochs"]},
        attrs={"n_predictions": int(result["n"]), "K_max_drift": float(result["K_max_drift"]),
               "boundaries_0": np.asarray(result["boundaries"][0]), "boundaries_1": np.asarray(result["boundaries"][1]),
               **result["params"]},
    )
    return describe(ds, {
        "network": ("network index", "1"),
        "overlap": ("overlap label a.b of sigma_ab = a.b/N over the vectors [m, u, v, z]", None),
        "vec_a": ("vector of the initial basis (row of K)", None),
        "vec_b": ("vector of the initial basis (column of K)", None),
        "features": ("overlaps given to the decoder: visible, invisible, invisible|visible (residuals of the "
                     "invisible after a linear fit on the visible), K (diagonal drift and norm), all", None),
        "schedule": ("training history, as the decoder's label (0: first, 1: second)", "1"),
        "schedule_name": ("training history before the shared noisy A phase", None),
        "epoch": ("epoch (every keep_every-th)", "1"),
        "final_overlaps": ("final overlaps sigma_ab (sign of u, v fixed by sigma_uz >= 0)", "1"),
        "history": ("training history label of the network (0: first history, 1: second)", "1"),
        "visible": ("1 if the overlap enters the loss (loss-visible), 0 if invisible", "1"),
        "K_drift": ("final K - J: the conserved matrix K = V J V^T in the coordinates of the initial vectors", "1"),
        "final_loss": ("final noise-free loss", "1"),
        "accuracy": ("cross-validated decoding accuracy k/n (chance 0.5)", "1"),
        "correct": ("number k of correct held-out predictions out of n_predictions", "1"),
        "ci_low": ("Clopper-Pearson lower confidence bound of the accuracy (attrs level)", "1"),
        "ci_high": ("Clopper-Pearson upper confidence bound of the accuracy (attrs level)", "1"),
        "p_value": ("one-sided binomial p-value of the accuracy against chance 1/2", "1"),
        "mean_sigma": ("mean over networks of the overlaps during training", "1"),
        "sd_sigma": ("standard deviation over networks of the overlaps during training", "1"),
    })


def memory_map(etas: Sequence[float] = (5e-3, 1e-2), noises: Sequence[float] = (0.03, 0.1),
               phase_epochs: Sequence[int] = (100, 300), final_factor: float = 2.0, n_networks: int = 40,
               N: int = 500, decay_a: float = 0.2, decay_b: float = 0.4, dt: float = 0.05, T: float = 20.0,
               seed: int = 0, level: float = 0.95, readout: str = "next", balanced: bool = False,
               progress=None):
    """The regime map of memory: :func:`memory_protocol` (A only vs A-B-A-B-A) over learning rate ``etas``
    × final-phase target noise ``noises`` × ``phase_epochs`` (the final noisy phase lasts
    ``final_factor``·phase_epochs). The same networks (seed) at every point.

    Returns an ``xarray.Dataset`` with dims ``features`` × ``eta`` × ``noise`` × ``phase_epochs``:
    ``accuracy``, ``ci_low``, ``ci_high`` (Clopper–Pearson at ``level``), ``p_value`` (against chance ½),
    ``K_max_drift`` and ``final_loss`` (median) per point; parameters as attributes.
    """
    import xarray as xr

    from ..io import describe

    etas = [positive("etas", x) for x in finite_array("etas", etas, ndim=1)]
    noises = [positive("noises", x, allow_zero=True) for x in finite_array("noises", noises, ndim=1)]
    if isinstance(phase_epochs, (int, np.integer)):
        phase_epochs = [phase_epochs]
    phase_epochs = [positive_int("phase_epochs", e) for e in phase_epochs]
    if not etas or not noises or not phase_epochs:
        raise FLTheoryInputError("etas, noises, phase_epochs: each needs at least one value")
    final_factor = positive("final_factor", final_factor)
    readout = check_readout(readout)
    feats = list(MEMORY_FEATURES)
    shape = (len(feats), len(etas), len(noises), len(phase_epochs))
    acc, lo, hi, pv = (np.full(shape, np.nan) for _ in range(4))
    kmax, floss = np.full(shape[1:], np.nan), np.full(shape[1:], np.nan)
    note = progress or (lambda done, total: None)
    total, done = int(np.prod(shape[1:])), 0
    for i, eta in enumerate(etas):
        for j, noise in enumerate(noises):
            for k, e in enumerate(phase_epochs):
                res = memory_protocol(n_networks=n_networks, N=N, eta=eta, phase_epochs=e,
                                      final_epochs=max(1, int(round(final_factor * e))), noise=noise,
                                      decay_a=decay_a, decay_b=decay_b, dt=dt, T=T, seed=seed, level=level,
                                      readout=readout, balanced=balanced, keep_every=max(1, e))
                for f_i, f in enumerate(feats):
                    acc[f_i, i, j, k] = res[f"accuracy_{f}"]
                    lo[f_i, i, j, k], hi[f_i, i, j, k] = res[f"ci_{f}"]
                    pv[f_i, i, j, k] = res[f"p_{f}"]
                kmax[i, j, k] = res["K_max_drift"]
                floss[i, j, k] = float(np.median(res["final_loss"]))
                done += 1
                note(done, total)
    dims = ("features", "eta", "noise", "phase_epochs")
    ds = xr.Dataset(
        {"accuracy": (dims, acc), "ci_low": (dims, lo), "ci_high": (dims, hi), "p_value": (dims, pv),
         "K_max_drift": (dims[1:], kmax), "final_loss": (dims[1:], floss)},
        coords={"features": feats, "eta": np.asarray(etas), "noise": np.asarray(noises),
                "phase_epochs": np.asarray(phase_epochs)},
        attrs={"n_networks": int(n_networks), "n_predictions": 2 * int(n_networks), "N": int(N),
               "final_factor": float(final_factor), "decay_a": float(decay_a), "decay_b": float(decay_b),
               "dt": float(dt), "T": float(T), "seed": int(seed), "level": float(level), "readout": readout,
               "balanced": int(bool(balanced)), "histories": "AAAAA vs ABABA"},
    )
    return describe(ds, {
        "features": ("overlaps given to the decoder (see fltheory.lowrank.memory.MEMORY_FEATURES)", None),
        "eta": ("overlap learning rate (vector GD step N eta)", "1"),
        "noise": ("target noise of the final A phase", "1"),
        "phase_epochs": ("epochs of each of the five A/B phases (final noisy phase: final_factor times)", "1"),
        "accuracy": ("cross-validated accuracy, A only vs A-B-A-B-A (chance 0.5)", "1"),
        "ci_low": ("Clopper-Pearson lower confidence bound of the accuracy (attrs level)", "1"),
        "ci_high": ("Clopper-Pearson upper confidence bound of the accuracy (attrs level)", "1"),
        "p_value": ("one-sided binomial p-value of the accuracy against chance 1/2", "1"),
        "K_max_drift": ("max |K - J| over networks and entries (K in initial-vector coordinates)", "1"),
        "final_loss": ("median final noise-free loss over networks", "1"),
    })


def _noise_chain(key, n_epochs: int, shape) -> np.ndarray:
    """The unit target-noise draws ξ_e [n_epochs, *shape] that :func:`run_schedule` uses for one network
    with PRNG key ``key``: every epoch (noisy or not) splits the key once, ξ_e = normal(sub_e)."""
    def body(k, _):
        k, sub = jax.random.split(k)
        return k, jax.random.normal(sub, shape)

    return np.asarray(jax.lax.scan(body, key, None, length=n_epochs)[1])


def network_memory_check(history: str = "ABABA", n_networks: int = 2, N: int = 600, eta: float = 1e-2,
                         phase_epochs: int = 300, final_epochs: int = 600, noise: float = 0.1,
                         decay_a: float = 0.2, decay_b: float = 0.4, dt: float = 0.05, T: float = 20.0,
                         seed: int = 0, readout: str = "next", pairs: int = 3, progress=None) -> dict:
    """The full width-N networks through one history of :func:`memory_schedule`, against the overlap replay.

    Networks j = 0..n_networks−1 start from ``init_vectors(split(PRNGKey(seed), n_networks)[j], N)`` and
    are trained by GD (:func:`.network.train_network`) phase by phase on the same noisy targets as the
    replay (:func:`run_schedule` with the same ``seed``). Returns ``overlap_error`` (max |σ_net − σ_replay|
    over epochs, overlaps and networks), ``invisible_motion`` (max change of an invisible overlap),
    ``K_drift_net`` (max_ij |K_ij(E) − K_ij(0)| of the N × N matrix K = V J Vᵀ/N, from the vectors),
    ``K_drift_error`` (its max difference from the replay's V0 (MJMᵀ − J) V0ᵀ/N), ``K_scale``
    (max_ij |K_ij(0)|), ``K_entries`` [network, phase boundary, pair] (``pairs`` fixed neuron pairs (i, j)
    tracked at every phase boundary) with ``boundaries``, and the replay / network ``gram``s.
    """
    from .network import train_network
    from .tasks import Task

    readout = check_readout(readout)
    n_networks = positive_int("n_networks", n_networks)
    pairs = positive_int("pairs", pairs)
    layout = Layout(1)
    act = get_lowrank_activation("linear")
    sched = memory_schedule(history, phase_epochs, final_epochs, noise, decay_a, decay_b)
    bounds = schedule_boundaries(sched)
    keys = jax.random.split(jax.random.PRNGKey(seed), n_networks)
    vecs0 = [init_vectors(k, N, layout) for k in keys]
    rep = run_schedule(np.stack([np.asarray(v.gram()) for v in vecs0]), sched, eta, dt, T, seed=seed, readout=readout)
    J = np.diag(layout.conserved_signs)
    rng = np.random.default_rng(seed)
    ij = rng.integers(0, N, size=(pairs, 2))
    note = progress or (lambda done, total: None)
    grams, K_entries, err_K, drift_K, scale_K = [], [], 0.0, 0.0, 0.0
    for j, (key, v) in enumerate(zip(jax.random.split(jax.random.PRNGKey(seed), n_networks), vecs0)):
        xi = _noise_chain(key, int(bounds[-1]), (1, int(round(T / dt))))
        V0 = np.asarray(v.stacked())
        K0 = V0 @ J @ V0.T / N
        entries, parts = [K0[ij[:, 0], ij[:, 1]]], []
        for p, (c, e, nz) in enumerate(sched):
            base = impulse_response(c, dt, T)
            if nz > 0:
                noisy = base.targets[None] + nz * xi[bounds[p]:bounds[p + 1]]
                task = Task(base.name, base.inputs, base.targets, base.weights, base.dt, base.tau,
                            epoch_batch=lambda ep, base=base, noisy=noisy: (
                                base.inputs, noisy[ep] if ep < len(noisy) else base.targets, base.weights))
            else:
                task = base
            run = train_network(v, task, act, e, "gd", eta=eta, readout=readout)
            parts.append(run["gram"][:-1])
            v = run["vectors"]
            Vt = np.asarray(v.stacked())
            entries.append((Vt @ J @ Vt.T / N)[ij[:, 0], ij[:, 1]])
            note(j * len(sched) + p + 1, n_networks * len(sched))
        parts.append(run["gram"][-1:])
        grams.append(np.concatenate(parts))
        dK_net = Vt @ J @ Vt.T / N - K0
        dK_rep = V0 @ (rep["K"][j, -1] - J) @ V0.T / N
        drift_K = max(drift_K, float(np.abs(dK_net).max()))
        err_K = max(err_K, float(np.abs(dK_net - dK_rep).max()))
        scale_K = max(scale_K, float(np.abs(K0).max()))
        K_entries.append(np.stack(entries))
    grams = np.stack(grams)
    inv = ~layout.visible(linear=True)
    flat = layout.flatten(grams)
    return {"overlap_error": float(np.abs(grams - rep["gram"]).max()),
            "invisible_motion": float(np.abs(flat[:, :, inv] - flat[:, :1, inv]).max()),
            "K_drift_net": drift_K, "K_drift_error": err_K, "K_scale": scale_K,
            "K_entries": np.stack(K_entries), "pairs": ij, "boundaries": bounds,
            "gram_net": grams, "gram_replay": rep["gram"]}
