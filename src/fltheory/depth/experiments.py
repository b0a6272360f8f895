"""The three experiments of issue #7, each returning an ``xarray.Dataset`` (plots in :mod:`.plots`).

1. :func:`kernel_experiment` — kernel at initialisation: empirical vs Euler recursion vs depth ODE.
2. :func:`gap_experiment` — train/test loss with reused vs decoupled backward weights against L,
   for the vanilla DNN, the muP ResNet and the depth-muP ResNet, with the infinite-width
   first-order (tangent-kernel) prediction of both modes, and the feature gap (distance between the
   final-layer kernels of the two modes). :func:`gap_scaling_experiment` (issue #15, part 3): the
   same gaps over training steps against N at fixed L and against L at fixed N, with fitted slopes.
   Both use :func:`train_pairs`: the two modes trained side by side from one forward
   initialisation, batched over seeds.
3. :func:`covariance_experiment` — smallest eigenvalue of the feature–gradient covariance during
   training (the seed paper's nondegeneracy check).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .._validate import FLTheoryInputError, choice, finite_array, positive, positive_int
from ..activations import get_activation
from ..io import describe
from .data import teacher_task
from .kernel_ode import depth_ode_kernel, empirical_kernels, recursion_kernel
from .model import ARCHS, MODES, ResNetConfig, forward, init_params
from .tangent import linearised_losses, tangent_kernels
from .training import mse, train

#: Default branch multiplier per architecture for the training experiments (conventions §11).
DEFAULT_A = {"depth_mup": 1.0, "mup_resnet": 1.0, "dnn": 1.5}


def branch_multipliers(a, archs) -> dict:
    """Branch multiplier per architecture: ``None`` → :data:`DEFAULT_A`; one number → the same for every
    architecture in ``archs``; a dict → its entries (keys validated) over the defaults."""
    if a is None:
        a = {}
    elif not isinstance(a, dict):
        a = {k: a for k in archs}
    for k in a:
        choice("a", k, ARCHS)
    return {**DEFAULT_A, **a}


def _ints(name, xs):
    xs = (xs,) if isinstance(xs, (int, np.integer)) else tuple(xs)
    if not xs:
        raise FLTheoryInputError(f"{name}: must not be empty")
    return tuple(positive_int(name, x) for x in xs)


def _seed(seed, minimum: int | None = None) -> int:
    """An integer seed (``minimum=0`` where numpy's generator, which refuses negative seeds, uses it)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise FLTheoryInputError(f"seed: expected an integer, got {seed!r}")
    return int(seed) if minimum is None else positive_int("seed", seed, minimum=minimum)


def _fro(A):
    return float(np.sqrt(np.sum(np.asarray(A) ** 2)))


def _slope(x, y):
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def _wls(x, y, se):
    """Weighted least-squares line y ≈ c0 + c1 x with weights 1/se²; returns (coef[2], cov[2, 2]).

    The covariance is the textbook (AᵀWA)⁻¹, rescaled by the reduced χ² when that exceeds 1 (so a
    poor fit widens the error instead of hiding it)."""
    x, y, se = (np.asarray(v, float) for v in (x, y, se))
    A = np.stack([np.ones_like(x), x], 1)
    w = 1.0 / np.maximum(se, 1e-300) ** 2
    M = A.T @ (w[:, None] * A)
    cov = np.linalg.inv(M)
    coef = cov @ (A.T @ (w * y))
    dof = len(x) - 2
    if dof > 0:
        chi2 = float(np.sum(w * (y - A @ coef) ** 2)) / dof
        cov = cov * max(1.0, chi2)
    return coef, cov


def _loglog_slope(x, mean, se):
    """Slope (± error) of log(mean) against log(x), errors se/mean; NaN where a mean is not > 2 s.e."""
    mean, se = np.asarray(mean, float), np.asarray(se, float)
    if np.any(mean <= 2 * se) or len(mean) < 2:
        return float("nan"), float("nan")
    coef, cov = _wls(np.log(x), np.log(mean), se / mean)
    return float(coef[1]), float(np.sqrt(cov[1, 1])) if len(mean) > 2 else float("nan")


def _seed_keys(base: int, n_seeds: int):
    return jnp.stack([jax.random.PRNGKey(base + s) for s in range(n_seeds)])


@dataclass(frozen=True)
class _Net:
    """What :func:`~fltheory.depth.model.forward` reads from a config, with the architecture's skip
    and branch multiplier as traced numbers: one compiled training loop serves all three
    architectures of a given (N, L, D, φ) (XLA compilation, not training, dominates small runs)."""

    N: int
    L: int
    D: int
    phi: str
    skip: Any
    branch: Any


@partial(jax.jit, static_argnames=("shape", "steps", "n_probe"))
def _pair_scan(keys, X, y, Xt, yt, lr, skip, branch, shape, steps, n_probe):
    cfg = _Net(shape.N, shape.L, shape.D, shape.phi, skip, branch)
    act = get_activation(cfg.phi)
    eta = lr * cfg.N

    def one(key):
        p, fr = init_params(key, shape, "reused", dtype=X.dtype)
        _, fd = init_params(key, shape, "decoupled", dtype=X.dtype)  # same U, W(0), w: independent W̃(0)
        frozen = jax.tree_util.tree_map(lambda u, v: jnp.stack([u, v]), fr, fd)  # [mode, ...]
        params = jax.tree_util.tree_map(lambda u: jnp.stack([u, u]), p)

        def single(q, f):
            loss, g = jax.value_and_grad(lambda r: mse(forward(r, f, X, cfg), y))(q)
            ft, hs = forward(q, f, Xt, cfg, return_all=True)
            z = act(hs[-1, :n_probe])
            q = jax.tree_util.tree_map(lambda a, b: a - eta * b, q, g)
            return q, (loss, mse(ft, yt), z @ z.T / cfg.N)

        def step(ps, _):
            ps, (loss, test, K) = jax.vmap(single)(ps, frozen)
            fgap = jnp.sqrt(jnp.sum((K[1] - K[0]) ** 2) / jnp.sum(K[0] ** 2))
            return ps, {"train_loss": loss, "test_loss": test, "feature_gap": fgap}

        # steps + 1 records: entry k is measured after k updates (the last update is not used)
        _, hist = jax.lax.scan(step, params, None, length=steps + 1)
        return hist

    return jax.vmap(one)(keys)


def train_pairs(cfg: ResNetConfig, X, y, X_test, y_test, keys, steps: int, lr: float, n_probe: int = 16,
                dtype=jnp.float32) -> dict:
    """Train the reused and the decoupled network of each key side by side (full-batch GD, muP lr).

    For every key the two networks share the forward initialisation (U, W(0), w); the decoupled one
    draws its own W̃(0) (conventions §11). One jitted, seed-batched scan per ``cfg``. Returns numpy
    arrays ``train_loss``/``test_loss`` ``[n_keys, 2 (MODES), steps+1]`` and ``feature_gap``
    ``[n_keys, steps+1]`` = ‖Φ_dec − Φ_reu‖_F / ‖Φ_reu‖_F with Φ = φ(h_L)φ(h_L)ᵀ/N, the final-layer
    kernel on the first ``n_probe`` test inputs (0 at step 0: the forward networks are identical).
    A loss that goes non-finite raises one :class:`~fltheory.FLTheoryInputError` naming ``lr``.
    """
    steps, lr = positive_int("steps", steps), positive("lr", lr)
    n_probe = positive_int("n_probe", n_probe, minimum=2)
    X, y, Xt, yt = (jnp.asarray(a, dtype) for a in (X, y, X_test, y_test))
    shape = replace(cfg, arch="depth_mup", a=1.0)  # the static part; arch enters through skip and branch
    hist = _pair_scan(keys, X, y, Xt, yt, jnp.asarray(lr, dtype), jnp.asarray(cfg.skip, dtype),
                      jnp.asarray(cfg.branch, dtype), shape, steps, min(n_probe, Xt.shape[0]))
    out = {k: np.asarray(jax.device_get(v), dtype=np.float64) for k, v in hist.items()}
    out["train_loss"] = np.moveaxis(out["train_loss"], 1, 2)
    out["test_loss"] = np.moveaxis(out["test_loss"], 1, 2)
    bad = ~(np.isfinite(out["train_loss"]) & np.isfinite(out["test_loss"]))
    if bad.any():
        s, m = (int(v[0]) for v in np.nonzero(bad.any(axis=2)))
        k = int(np.argmax(bad[s, m]))  # the first step at which this network's loss is non-finite
        raise FLTheoryInputError(
            f"lr: the loss became non-finite after {k} of {steps} GD steps at lr = {lr:g} ({cfg.arch}, "
            f"N = {cfg.N}, L = {cfg.L}, phi = {cfg.phi}, {MODES[m]} backward weights, seed index {s}); "
            "reduce lr")
    return out


def kernel_experiment(phi: str = "relu", a: float = 1.0, Ns: Sequence[int] = (64, 128, 256, 512),
                      Ls: Sequence[int] = (1, 2, 4, 8, 16, 32), n_seeds: int = 32, L_for_N: int = 8,
                      N_for_L: int = 256, P: int = 4, D: int = 8, seed: int = 0,
                      progress: Callable[[], None] | None = None) -> xr.Dataset:
    """Kernel at initialisation: empirical (finite N, L) vs infinite-width recursion vs depth ODE.

    Errors are relative Frobenius norms of the P×P kernel at the last layer (t = 1):

    - ``disc_err[L]`` = ‖Σ_rec(L) − Σ_ODE‖/‖Σ_ODE‖, deterministic, O(1/L);
    - ``mse_N[N]`` = seed-mean of ‖Σ_emp − Σ_rec‖²/‖Σ_rec‖² at depth ``L_for_N``, O(1/N);
    - ``mse_L[L]`` = the same at width ``N_for_L`` (uniform in L under depth-muP);
    - ``total_err[L]`` = ‖mean_seeds Σ_emp − Σ_ODE‖/‖Σ_ODE‖ at width ``N_for_L``, with
      ``mc_err[L]`` its Monte Carlo standard error (√ of the summed squared SEMs, relative).

    Inputs: ``P`` Gaussian patterns in dimension ``D`` (seeded). Attributes hold fitted slopes.
    """
    Ns, Ls = _ints("Ns", Ns), _ints("Ls", Ls)
    n_seeds = positive_int("n_seeds", n_seeds, minimum=2)
    L_for_N, N_for_L = positive_int("L_for_N", L_for_N), positive_int("N_for_L", N_for_L)
    a = positive("a", a)
    seed = _seed(seed, minimum=0)
    X = np.random.default_rng(seed).normal(size=(positive_int("P", P), positive_int("D", D)))
    ode = depth_ode_kernel(X, phi, a).Sigma[0]
    nrm = _fro(ode)
    key = jax.random.PRNGKey(seed)
    tick = progress or (lambda: None)

    disc, tot, mc, mseL, mseL_se = [], [], [], [], []
    for L in Ls:
        rec = np.asarray(recursion_kernel(X, phi, a, L)[-1])
        disc.append(_fro(rec - ode) / nrm)
        cfg = ResNetConfig(N=N_for_L, L=L, D=D, phi=phi, a=a)
        E = np.asarray(empirical_kernels(jax.random.fold_in(key, 1000 + L), X, cfg, n_seeds)[:, -1])
        tot.append(_fro(E.mean(0) - ode) / nrm)
        mc.append(_fro(E.std(0, ddof=1) / np.sqrt(n_seeds)) / nrm)
        sq = np.sum((E - rec) ** 2, axis=(1, 2)) / _fro(rec) ** 2
        mseL.append(sq.mean())
        mseL_se.append(sq.std(ddof=1) / np.sqrt(n_seeds))
        tick()
    mseN, mseN_se = [], []
    rec = np.asarray(recursion_kernel(X, phi, a, L_for_N)[-1])
    for N in Ns:
        cfg = ResNetConfig(N=N, L=L_for_N, D=D, phi=phi, a=a)
        E = np.asarray(empirical_kernels(jax.random.fold_in(key, 2000 + N), X, cfg, n_seeds)[:, -1])
        sq = np.sum((E - rec) ** 2, axis=(1, 2)) / _fro(rec) ** 2
        mseN.append(sq.mean())
        mseN_se.append(sq.std(ddof=1) / np.sqrt(n_seeds))
        tick()
    ds = xr.Dataset(
        {
            "disc_err": ("L", np.array(disc)),
            "total_err": ("L", np.array(tot)),
            "mc_err": ("L", np.array(mc)),
            "mse_L": ("L", np.array(mseL)),
            "mse_L_se": ("L", np.array(mseL_se)),
            "mse_N": ("N", np.array(mseN)),
            "mse_N_se": ("N", np.array(mseN_se)),
            "sigma_ode": (("mu", "nu"), ode),
        },
        coords={"L": list(Ls), "N": list(Ns), "mu": np.arange(P), "nu": np.arange(P)},
        attrs={"phi": phi, "a": a, "n_seeds": n_seeds, "L_for_N": L_for_N, "N_for_L": N_for_L,
               "slope_disc_vs_L": _slope(Ls, disc), "slope_mse_vs_N": _slope(Ns, mseN),
               "P": P, "D": D, "seed": seed,
               "description": "depth-muP ResNet kernel at init vs depth ODE (docs/theory/depth.md)"},
    )
    return describe(ds, {
        "L": ("depth L (number of residual blocks)", "1"),
        "N": ("width N", "1"),
        "mu": ("input pattern index mu", "1"),
        "nu": ("input pattern index nu", "1"),
        "disc_err": ("relative error ||Sigma_rec(L) - Sigma_ODE|| / ||Sigma_ODE|| (infinite width, t=1)", "1"),
        "total_err": ("relative error of the seed-mean empirical kernel vs the depth ODE at width N_for_L", "1"),
        "mc_err": ("Monte Carlo standard error of total_err", "1"),
        "mse_L": ("seed-mean ||Sigma_emp - Sigma_rec||^2 / ||Sigma_rec||^2 at width N_for_L", "1"),
        "mse_L_se": ("standard error over seeds of mse_L", "1"),
        "mse_N": ("seed-mean ||Sigma_emp - Sigma_rec||^2 / ||Sigma_rec||^2 at depth L_for_N", "1"),
        "mse_N_se": ("standard error over seeds of mse_N", "1"),
        "sigma_ode": ("depth-ODE kernel Sigma_{t=1}[mu, nu] = h(x_mu).h(x_nu)/N at infinite width", "1"),
    })


def gap_experiment(archs: Sequence[str] = ARCHS, Ls: Sequence[int] = (2, 4, 8, 16, 32), N: int = 128,
                   n_seeds: int = 4, steps: int = 40, lr: float = 0.05, phi: str = "erf",
                   a: dict | None = None, P: int = 32, P_test: int = 256, D: int = 16, seed: int = 0,
                   n_probe: int = 16, progress: Callable[[], None] | None = None) -> xr.Dataset:
    """Losses with reused vs decoupled backward weights, against depth, for several architectures.

    For every (arch, L, seed) one forward initialisation is trained twice by full-batch GD
    (``steps`` steps, muP learning rate η₀ = ``lr``): with true backprop and with the decoupled
    backward pass (independent W̃(0), same ΔW), side by side (:func:`train_pairs`). Also stored:
    the infinite-width linearised prediction of both modes
    (:func:`fltheory.depth.tangent.linearised_losses`). ``gap`` = seed-mean of loss(decoupled) −
    loss(reused), with standard error ``gap_se``; ``feature_gap[arch, L, seed, step]`` = relative
    distance of the two networks' final-layer kernels on the first ``n_probe`` test inputs.

    ``a`` maps architectures to their branch multiplier (defaults ``DEFAULT_A``; one number sets it
    for all). A ``lr`` at which a network's GD diverges raises one error naming ``lr``.
    """
    archs = (archs,) if isinstance(archs, str) else tuple(archs)
    if not archs:
        raise FLTheoryInputError("archs: must not be empty")
    archs = tuple(choice("archs", x, ARCHS) for x in archs)
    Ls = _ints("Ls", Ls)
    N, n_seeds, steps = positive_int("N", N), positive_int("n_seeds", n_seeds, minimum=2), positive_int("steps", steps)
    lr = positive("lr", lr)
    seed = _seed(seed)
    n_probe = positive_int("n_probe", n_probe, minimum=2)
    a = branch_multipliers(a, archs)
    # every network is described (and so validated: N, L, D, phi, a) before anything is computed
    cfgs = {(arch, L): ResNetConfig(N=N, L=L, D=D, phi=phi, arch=arch, a=a[arch]) for arch in archs for L in Ls}
    task = teacher_task(jax.random.PRNGKey(seed), P=P, P_test=P_test, D=D)
    shape = (len(archs), len(Ls), len(MODES), n_seeds, steps + 1)
    loss = {k: np.zeros(shape) for k in ("train", "test")}
    theory = {k: np.zeros(shape[:3] + (steps + 1,)) for k in ("train", "test")}
    fgap = np.zeros((len(archs), len(Ls), n_seeds, steps + 1))
    tick = progress or (lambda: None)
    for i, arch in enumerate(archs):
        for j, L in enumerate(Ls):
            cfg = cfgs[arch, L]
            Ktt = tangent_kernels(task.X, cfg)
            Kst = tangent_kernels(task.X, cfg, X2=task.X_test)
            for m in range(len(MODES)):
                tr, te = linearised_losses(Ktt[m], Kst[m], task.y, task.y_test, lr, steps)
                theory["train"][i, j, m], theory["test"][i, j, m] = tr, te
            h = train_pairs(cfg, task.X, task.y, task.X_test, task.y_test,
                            _seed_keys(10_000 * (seed + 1), n_seeds), steps, lr, n_probe)
            loss["train"][i, j] = np.moveaxis(h["train_loss"], 0, 1)
            loss["test"][i, j] = np.moveaxis(h["test_loss"], 0, 1)
            fgap[i, j] = h["feature_gap"]
            for _ in range(n_seeds):
                tick()
    dims = ("arch", "L", "mode", "seed", "step")
    ds = xr.Dataset(
        {
            "train_loss": (dims, loss["train"]),
            "test_loss": (dims, loss["test"]),
            "theory_train_loss": (dims[:3] + ("step",), theory["train"]),
            "theory_test_loss": (dims[:3] + ("step",), theory["test"]),
            "feature_gap": (("arch", "L", "seed", "step"), fgap),
        },
        coords={"arch": list(archs), "L": list(Ls), "mode": list(MODES), "seed": np.arange(n_seeds),
                "step": np.arange(steps + 1)},
        attrs={"N": N, "lr": lr, "phi": phi, "P": P, "P_test": P_test, "D": D, "seed": seed, "n_probe": n_probe,
               "description": "loss(decoupled) - loss(reused) vs depth (docs/theory/depth.md)"},
    )
    ds["a"] = ("arch", np.array([float(a[k]) for k in archs]))
    for split in ("train", "test"):
        d = ds[f"{split}_loss"].sel(mode="decoupled") - ds[f"{split}_loss"].sel(mode="reused")
        ds[f"{split}_gap"] = d.mean("seed")
        ds[f"{split}_gap_se"] = d.std("seed", ddof=1) / np.sqrt(n_seeds)
        t = ds[f"theory_{split}_loss"]
        ds[f"theory_{split}_gap"] = t.sel(mode="decoupled") - t.sel(mode="reused")
    meta = {"arch": ("architecture", None), "L": ("depth L (number of residual blocks)", "1"),
            "mode": ("backward pass: reused (true backprop through W^T) or decoupled (independent W~^T)", None),
            "seed": ("initialisation seed", "1"), "step": ("GD step", "1"),
            "a": ("branch multiplier a of the architecture", "1"),
            "feature_gap": ("||Phi_dec - Phi_reu||_F / ||Phi_reu||_F, final-layer kernel on n_probe test inputs", "1")}
    for split in ("train", "test"):
        meta[f"{split}_loss"] = (f"{split} loss (1/2P) sum (f - y)^2, finite-width simulation", "1")
        meta[f"theory_{split}_loss"] = (f"{split} loss, infinite-width linearised (tangent-kernel) theory", "1")
        meta[f"{split}_gap"] = (f"{split} loss(decoupled) - loss(reused), seed mean", "1")
        meta[f"{split}_gap_se"] = (f"standard error over seeds of {split}_gap", "1")
        meta[f"theory_{split}_gap"] = (f"{split} loss(decoupled) - loss(reused), linearised theory", "1")
    return describe(ds, meta)


def _jackknife_slope(x, samples):
    """Log-log slope of the seed-mean of ``samples[seed, len(x)]`` against x, with its jackknife
    error over seeds (the points share seeds, so a weighted fit would understate the error). NaN
    where some mean is not positive."""
    samples = np.asarray(samples, float)
    n = samples.shape[0]

    def fit(m):
        return float(np.polyfit(np.log(x), np.log(m), 1)[0]) if np.all(m > 0) else float("nan")

    full = fit(samples.mean(0))
    loo = np.array([fit(np.delete(samples, i, 0).mean(0)) for i in range(n)])
    err = float(np.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2))) if np.all(np.isfinite(loo)) else float("nan")
    return full, err


def gap_scaling_experiment(archs: Sequence[str] = ARCHS, Ns: Sequence[int] = (64, 128, 256, 512),
                           L_for_N: Sequence[int] = (4, 16), Ls: Sequence[int] = (2, 4, 8, 16, 32),
                           N_for_L: int = 128, n_seeds: int = 4, steps: int = 40, lr: float = 0.05,
                           phi: str = "erf", a: dict | None = None, P: int = 32, P_test: int = 64, D: int = 16,
                           seed: int = 0, n_probe: int = 16,
                           progress: Callable[[], None] | None = None) -> xr.Dataset:
    """The reused-vs-decoupled gap "as it is" (issue #15, part 3): over training steps, against the
    width N at the depths ``L_for_N`` and against the depth L at width ``N_for_L``.

    Per (arch, N, L, seed) the two modes are trained side by side from one forward initialisation
    (:func:`train_pairs`, as in :func:`gap_experiment`) on the teacher task. Stored per seed and step:
    the train and test loss gaps loss(decoupled) − loss(reused) and the feature gap (relative
    distance of the final-layer kernels). Fits, with errors over seeds:

    - ``slopeN_{train,feature}[arch, L_for_N, step]``: log-log slope of the seed-mean gap against N
      (weighted by the seed s.e.; −1 would be an O(1/N) gap, 0 an O(1) one; NaN where a mean is
      not > 2 s.e.);
    - ``ginfN_train[arch, L_for_N, step]``: the intercept g∞ of the weighted fit gap = g∞ + b/N
      (an O(1/N) gap has g∞ = 0 within its error);
    - ``tslope{N,L}_{train,feature}``: log-log slope of the gap against the step over the second
      last three quarters of training (steps ≥ steps/4), with a jackknife error over seeds — how the gap grows
      with training time.
    """
    archs = (archs,) if isinstance(archs, str) else tuple(archs)
    if not archs:
        raise FLTheoryInputError("archs: must not be empty")
    archs = tuple(choice("archs", x, ARCHS) for x in archs)
    Ns, L_for_N, Ls = _ints("Ns", Ns), _ints("L_for_N", L_for_N), _ints("Ls", Ls)
    N_for_L = positive_int("N_for_L", N_for_L)
    n_seeds = positive_int("n_seeds", n_seeds, minimum=2)
    steps = positive_int("steps", steps, minimum=2)
    lr, seed = positive("lr", lr), _seed(seed)
    n_probe = positive_int("n_probe", n_probe, minimum=2)
    a = branch_multipliers(a, archs)
    pts = [(arch, N, L) for arch in archs for L in L_for_N for N in Ns]
    pts += [(arch, N_for_L, L) for arch in archs for L in Ls]
    cfgs = {(arch, N, L): ResNetConfig(N=N, L=L, D=D, phi=phi, arch=arch, a=a[arch]) for arch, N, L in pts}
    task = teacher_task(jax.random.PRNGKey(seed), P=P, P_test=P_test, D=D)
    tick = progress or (lambda: None)
    res = {}
    for key in pts:  # each distinct network once (the two sweeps may share points); one tick per point
        if key not in res:
            h = train_pairs(cfgs[key], task.X, task.y, task.X_test, task.y_test,
                            _seed_keys(30_000 * (seed + 1), n_seeds), steps, lr, n_probe)
            res[key] = {"train": h["train_loss"][:, 1] - h["train_loss"][:, 0],
                        "test": h["test_loss"][:, 1] - h["test_loss"][:, 0], "feature": h["feature_gap"]}
        tick()
    stepc = np.arange(steps + 1)
    gN = {k: np.array([[[res[arch, N, L][k] for N in Ns] for L in L_for_N] for arch in archs])
          for k in ("train", "test", "feature")}  # [arch, L_for_N, N, seed, step]
    gL = {k: np.array([[res[arch, N_for_L, L][k] for L in Ls] for arch in archs])
          for k in ("train", "test", "feature")}  # [arch, L, seed, step]
    nA, nLN, nN = len(archs), len(L_for_N), len(Ns)
    fits = {k: np.full((nA, nLN, steps + 1), np.nan) for k in
            ("slopeN_train", "slopeN_train_err", "ginfN_train", "ginfN_train_err",
             "slopeN_feature", "slopeN_feature_err")}
    invN = 1.0 / np.asarray(Ns, float)
    for i in range(nA):
        for j in range(nLN):
            for t in range(1, steps + 1):
                for k in ("train", "feature"):
                    x = gN[k][i, j, :, :, t]  # [N, seed]
                    m, se = x.mean(1), x.std(1, ddof=1) / np.sqrt(n_seeds)
                    fits[f"slopeN_{k}"][i, j, t], fits[f"slopeN_{k}_err"][i, j, t] = _loglog_slope(Ns, m, se)
                    if k == "train" and nN >= 2:
                        coef, cov = _wls(invN, m, se)
                        fits["ginfN_train"][i, j, t] = coef[0]
                        fits["ginfN_train_err"][i, j, t] = np.sqrt(cov[0, 0]) if nN > 2 else np.nan
    win = stepc[max(1, steps // 4):]
    tfits = {}
    for k in ("train", "feature"):
        a_ = np.full((nA, nLN, nN, 2), np.nan)
        for i in range(nA):
            for j in range(nLN):
                for n in range(nN):
                    a_[i, j, n] = _jackknife_slope(win, gN[k][i, j, n][:, win])
        tfits[f"tslopeN_{k}"], tfits[f"tslopeN_{k}_err"] = a_[..., 0], a_[..., 1]
        b_ = np.full((nA, len(Ls), 2), np.nan)
        for i in range(nA):
            for j in range(len(Ls)):
                b_[i, j] = _jackknife_slope(win, gL[k][i, j][:, win])
        tfits[f"tslopeL_{k}"], tfits[f"tslopeL_{k}_err"] = b_[..., 0], b_[..., 1]
    dN, dL = ("arch", "L_for_N", "N", "seed", "step"), ("arch", "L", "seed", "step")
    data = {}
    for k in ("train", "test"):
        data[f"gapN_{k}"] = (dN, gN[k])
        data[f"gapL_{k}"] = (dL, gL[k])
    data["fgapN"], data["fgapL"] = (dN, gN["feature"]), (dL, gL["feature"])
    for k, v in fits.items():
        data[k] = (("arch", "L_for_N", "step"), v)
    for k, v in tfits.items():
        data[k] = (("arch", "L_for_N", "N") if k.startswith("tslopeN") else ("arch", "L"), v)
    ds = xr.Dataset(data, coords={"arch": list(archs), "L_for_N": list(L_for_N), "N": list(Ns), "L": list(Ls),
                                  "seed": np.arange(n_seeds), "step": stepc},
                    attrs={"N_for_L": N_for_L, "lr": lr, "phi": phi, "P": P, "P_test": P_test, "D": D,
                           "seed": seed, "n_probe": n_probe, "time_fit_from_step": int(win[0]),
                           "description": "reused-vs-decoupled gap in loss and features vs N, L and "
                                          "training step (docs/theory/depth.md)"})
    ds["a"] = ("arch", np.array([float(a[k]) for k in archs]))
    meta = {"arch": ("architecture", None), "L_for_N": ("depth L of the sweep over N", "1"),
            "N": ("width N", "1"), "L": (f"depth L of the sweep over L (width N_for_L = {N_for_L})", "1"),
            "seed": ("initialisation seed", "1"), "step": ("GD step", "1"),
            "a": ("branch multiplier a of the architecture", "1"),
            "fgapN": ("feature gap ||Phi_dec - Phi_reu||_F / ||Phi_reu||_F (final layer), sweep over N", "1"),
            "fgapL": ("feature gap ||Phi_dec - Phi_reu||_F / ||Phi_reu||_F (final layer), sweep over L", "1"),
            "ginfN_train": ("intercept g_inf of the fit train gap = g_inf + b/N (seed-s.e. weighted)", "1"),
            "ginfN_train_err": ("error of ginfN_train", "1")}
    for k in ("train", "test"):
        meta[f"gapN_{k}"] = (f"{k} loss(decoupled) - loss(reused), per seed, sweep over N", "1")
        meta[f"gapL_{k}"] = (f"{k} loss(decoupled) - loss(reused), per seed, sweep over L", "1")
    for k, what in (("train", "train-loss gap"), ("feature", "feature gap")):
        meta[f"slopeN_{k}"] = (f"log-log slope of the seed-mean {what} against N", "1")
        meta[f"slopeN_{k}_err"] = (f"error of slopeN_{k} (weighted fit, seed s.e.)", "1")
        for sw in ("N", "L"):
            meta[f"tslope{sw}_{k}"] = (f"log-log slope of the seed-mean {what} against the GD step", "1")
            meta[f"tslope{sw}_{k}_err"] = (f"jackknife (over seeds) error of tslope{sw}_{k}", "1")
    return describe(ds, meta)


def covariance_experiment(N: int = 128, L: int = 16, ts: Sequence[float] = (0.25, 0.5, 1.0),
                          steps: int = 40, lr: float = 0.05, phi: str = "erf", arch: str = "depth_mup",
                          n_cov: int = 4, n_seeds: int = 3, P: int = 32, D: int = 16, seed: int = 0,
                          progress: Callable[[], None] | None = None) -> xr.Dataset:
    """Smallest eigenvalue of the feature–gradient covariance at depths ``ts`` during training.

    The covariance is the 2m×2m matrix (1/N) Σ_i v_i v_iᵀ of
    :func:`fltheory.depth.training.feature_gradient_covariance` on the first ``n_cov`` training
    inputs; stored raw (``min_eig``) and for the correlation matrix (``min_eig_normalised``).
    """
    L = positive_int("L", L)
    ts = finite_array("ts", ts, ndim=1)
    if ts.size == 0:
        raise FLTheoryInputError("ts: must not be empty")
    if np.any(ts < 0) or np.any(ts > 1):
        raise FLTheoryInputError(f"ts: every depth must lie in [0, 1], got {ts.tolist()}")
    layers = tuple(int(round(float(t) * L)) for t in ts)
    arch = choice("arch", arch, ARCHS)
    cfg = ResNetConfig(N=N, L=L, D=D, phi=phi, arch=arch, a=DEFAULT_A[arch])
    n_seeds = positive_int("n_seeds", n_seeds)
    steps, lr, n_cov = positive_int("steps", steps), positive("lr", lr), positive_int("n_cov", n_cov)
    seed = _seed(seed)
    task = teacher_task(jax.random.PRNGKey(seed), P=P, P_test=8, D=D)
    raw = np.zeros((len(MODES), n_seeds, steps, len(layers)))
    nrm = np.zeros_like(raw)
    tick = progress or (lambda: None)
    for s in range(n_seeds):
        k = jax.random.PRNGKey(20_000 * (seed + 1) + s)
        for m, mode in enumerate(MODES):
            h = train(k, cfg, task, mode, steps, lr, cov_layers=layers, n_cov=n_cov)
            raw[m, s], nrm[m, s] = h["cov_min_eig"], h["cov_min_eig_normalised"]
        tick()
    dims = ("mode", "seed", "step", "t")
    ds = xr.Dataset(
        {"min_eig": (dims, raw), "min_eig_normalised": (dims, nrm)},
        coords={"mode": list(MODES), "seed": np.arange(n_seeds), "step": np.arange(steps),
                "t": [l / L for l in layers]},
        attrs={"N": N, "L": L, "lr": lr, "phi": phi, "arch": arch, "n_cov": n_cov, "P": P, "D": D, "seed": seed,
               "description": "min eigenvalue of feature-gradient covariance (docs/theory/depth.md)"},
    )
    return describe(ds, {
        "mode": ("backward pass: reused (true backprop through W^T) or decoupled (independent W~^T)", None),
        "seed": ("initialisation seed", "1"), "step": ("GD step", "1"),
        "t": ("depth time t = l/L of the layer", "1"),
        "min_eig": ("smallest eigenvalue of the feature-gradient covariance (1/N) sum_i v_i v_i^T", "1"),
        "min_eig_normalised": ("smallest eigenvalue of the feature-gradient correlation matrix", "1"),
    })
