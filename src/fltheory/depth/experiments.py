"""The three experiments of issue #7, each returning an ``xarray.Dataset`` (plots in :mod:`.plots`).

1. :func:`kernel_experiment` — kernel at initialisation: empirical vs Euler recursion vs depth ODE.
2. :func:`gap_experiment` — train/test loss with reused vs decoupled backward weights against L,
   for the vanilla DNN, the muP ResNet and the depth-muP ResNet, with the infinite-width
   first-order (tangent-kernel) prediction of both modes.
3. :func:`covariance_experiment` — smallest eigenvalue of the feature–gradient covariance during
   training (the seed paper's nondegeneracy check).
"""
from __future__ import annotations

from typing import Callable, Sequence

import jax
import numpy as np
import xarray as xr

from .._validate import FLTheoryInputError, choice, finite_array, positive, positive_int
from ..io import describe
from .data import teacher_task
from .kernel_ode import depth_ode_kernel, empirical_kernels, recursion_kernel
from .model import ARCHS, MODES, ResNetConfig
from .tangent import linearised_losses, tangent_kernels
from .training import train

#: Default branch multiplier per architecture for the training experiments (conventions §11).
DEFAULT_A = {"depth_mup": 1.0, "mup_resnet": 1.0, "dnn": 1.5}


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
                   progress: Callable[[], None] | None = None) -> xr.Dataset:
    """Losses with reused vs decoupled backward weights, against depth, for several architectures.

    For every (arch, L, seed) one forward initialisation is trained twice by full-batch GD
    (``steps`` steps, muP learning rate η₀ = ``lr``): with true backprop and with the decoupled
    backward pass (independent W̃(0), same ΔW). Also stored: the infinite-width linearised
    prediction of both modes (:func:`fltheory.depth.tangent.linearised_losses`). ``gap`` =
    seed-mean of loss(decoupled) − loss(reused), with standard error ``gap_se``.

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
    if a is None:
        a = {}
    elif not isinstance(a, dict):
        a = {k: a for k in archs}  # one number: the same branch multiplier for every architecture
    for k in a:
        choice("a", k, ARCHS)
    a = {**DEFAULT_A, **a}
    # every network is described (and so validated: N, L, D, phi, a) before anything is computed
    cfgs = {(arch, L): ResNetConfig(N=N, L=L, D=D, phi=phi, arch=arch, a=a[arch]) for arch in archs for L in Ls}
    task = teacher_task(jax.random.PRNGKey(seed), P=P, P_test=P_test, D=D)
    shape = (len(archs), len(Ls), len(MODES), n_seeds, steps + 1)
    loss = {k: np.zeros(shape) for k in ("train", "test")}
    theory = {k: np.zeros(shape[:3] + (steps + 1,)) for k in ("train", "test")}
    tick = progress or (lambda: None)
    for i, arch in enumerate(archs):
        for j, L in enumerate(Ls):
            cfg = cfgs[arch, L]
            Ktt = tangent_kernels(task.X, cfg)
            Kst = tangent_kernels(task.X, cfg, X2=task.X_test)
            for m in range(len(MODES)):
                tr, te = linearised_losses(Ktt[m], Kst[m], task.y, task.y_test, lr, steps)
                theory["train"][i, j, m], theory["test"][i, j, m] = tr, te
            for s in range(n_seeds):
                k = jax.random.PRNGKey(10_000 * (seed + 1) + s)
                for m, mode in enumerate(MODES):
                    h = train(k, cfg, task, mode, steps, lr)
                    loss["train"][i, j, m, s], loss["test"][i, j, m, s] = h["train_loss"], h["test_loss"]
                tick()
    dims = ("arch", "L", "mode", "seed", "step")
    ds = xr.Dataset(
        {
            "train_loss": (dims, loss["train"]),
            "test_loss": (dims, loss["test"]),
            "theory_train_loss": (dims[:3] + ("step",), theory["train"]),
            "theory_test_loss": (dims[:3] + ("step",), theory["test"]),
        },
        coords={"arch": list(archs), "L": list(Ls), "mode": list(MODES), "seed": np.arange(n_seeds),
                "step": np.arange(steps + 1)},
        attrs={"N": N, "lr": lr, "phi": phi, "P": P, "P_test": P_test, "D": D, "seed": seed,
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
            "a": ("branch multiplier a of the architecture", "1")}
    for split in ("train", "test"):
        meta[f"{split}_loss"] = (f"{split} loss (1/2P) sum (f - y)^2, finite-width simulation", "1")
        meta[f"theory_{split}_loss"] = (f"{split} loss, infinite-width linearised (tangent-kernel) theory", "1")
        meta[f"{split}_gap"] = (f"{split} loss(decoupled) - loss(reused), seed mean", "1")
        meta[f"{split}_gap_se"] = (f"standard error over seeds of {split}_gap", "1")
        meta[f"theory_{split}_gap"] = (f"{split} loss(decoupled) - loss(reused), linearised theory", "1")
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
