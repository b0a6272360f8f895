"""Finite depth-muP ResNet → NFD: errors against width N and depth L, with fitted slopes (issue #15).

The error of a finite network splits as for the kernel (docs/theory/depth.md §2 and section "NFD"):

- **width**: at depth L the N → ∞ limit of the network is the NFD scheme with L depth steps
  (``solve_nfd(..., L=L, extrapolate=False)``); the mean-squared deviation of the predictor of a
  width-N network from it is O(1/N) (zero-mean O(1/√N) fluctuations plus an O(1/N) bias);
- **depth**: the depth-L scheme differs from the L = ∞ NFD (Richardson-extrapolated) by O(1/L).

:func:`train_record` trains one network (reused backward weights, the model's own ``forward``) and
records the predictor at every step and the final-layer feature kernel at the last;
:func:`nfd_convergence_experiment` returns an ``xarray.Dataset`` with both error curves, their
standard errors and the fitted log–log slopes.
"""
from __future__ import annotations

from functools import partial
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .._validate import FLTheoryInputError, positive, positive_int
from ..activations import get_activation
from .data import teacher_task
from .model import ResNetConfig, forward, init_params
from .nfd import solve_nfd


@partial(jax.jit, static_argnames=("cfg", "steps"))
def _train_record(key, X_all, y, lr, cfg, steps):
    P = y.shape[0]
    params, frozen = init_params(key, cfg, dtype=jnp.float64)
    eta = lr * cfg.N
    act = get_activation(cfg.phi)

    def loss_fn(p):
        return 0.5 * jnp.mean((forward(p, frozen, X_all[:P], cfg) - y) ** 2)

    def step(p, _):
        f = forward(p, frozen, X_all, cfg)
        g = jax.grad(loss_fn)(p)
        return jax.tree_util.tree_map(lambda a, b: a - eta * b, p, g), f

    p, fs = jax.lax.scan(step, params, None, length=steps)
    fK, hs = forward(p, frozen, X_all, cfg, return_all=True)
    phi = act(hs[-1, :P])
    return jnp.concatenate([fs, fK[None]]), phi @ phi.T / cfg.N


def train_record(key, cfg: ResNetConfig, task, steps: int = 20, lr: float = 0.05):
    """Full-batch GD of one network (reused weights, float64); returns ``(f[steps+1, P+P_test], Phi[P, P])``.

    ``f[k]`` is the predictor on the train then test inputs after k steps (same convention as
    :class:`~fltheory.depth.nfd.NFDResult`); ``Phi`` is φ(h_L)·φ(h_L)ᵀ/N on the train inputs after the last
    step. A non-finite predictor raises one :class:`~fltheory.FLTheoryInputError` naming ``lr``.
    """
    steps = positive_int("steps", steps)
    lr = positive("lr", lr)
    X_all = jnp.asarray(np.concatenate([np.asarray(task.X), np.asarray(task.X_test)]), jnp.float64)
    f, Phi = _train_record(key, X_all, jnp.asarray(task.y, jnp.float64), jnp.float64(lr), cfg, steps)
    f, Phi = np.asarray(f), np.asarray(Phi)
    bad = ~np.all(np.isfinite(f), axis=1)
    if bad.any():
        raise FLTheoryInputError(f"lr: the loss became non-finite after {int(np.argmax(bad))} of {steps} GD steps "
                                 f"at lr = {lr:g} (N = {cfg.N}, L = {cfg.L}); reduce lr")
    return f, Phi


def _ints(name, xs):
    xs = (xs,) if isinstance(xs, (int, np.integer)) else tuple(xs)
    if not xs:
        raise FLTheoryInputError(f"{name}: must not be empty")
    return tuple(positive_int(name, x) for x in xs)


def _rel_sq(f, ref):
    """‖Δf − ref‖² / ‖ref‖² over all steps and inputs, Δf(k) = f(k) − f(0) the training-induced change of a
    network's predictor (its f(0) ~ N(0, g_w² Φ/N) is the trivial O(1/√N) part; the NFD's f(0) = 0)."""
    return float(np.sum((f - f[:1] - ref) ** 2) / np.sum(ref**2))


def _slope_fit(x, y, se):
    """Weighted least-squares slope of log y on log x (weights from the s.e. of log y) and its s.e."""
    x, y, se = np.log(np.asarray(x, float)), np.asarray(y, float), np.asarray(se, float)
    s = np.maximum(se / y, 1e-3)  # s.e. of log y
    W = 1.0 / s**2
    A = np.stack([np.ones_like(x), x], 1)
    cov = np.linalg.inv(A.T @ (W[:, None] * A))
    beta = cov @ A.T @ (W * np.log(y))
    chi2 = float(np.sum(W * (np.log(y) - A @ beta) ** 2))
    scale = max(chi2 / max(len(x) - 2, 1), 1.0)  # inflate by the reduced χ² when the fit is poor
    return float(beta[1]), float(np.sqrt(cov[1, 1] * scale))


def nfd_convergence_experiment(Ns: Sequence[int] = (64, 128, 256, 512, 1024), Ls: Sequence[int] = (2, 4, 8, 16, 32, 64),
                               L_for_N: int = 8, N_for_L: int = 1024, n_seeds: int = 8, phi: str = "erf",
                               lr: float = 0.05, steps: int = 10, P: int = 4, P_test: int = 4, D: int = 8,
                               n_particles: int = 4096, replicas: int = 4, L_nfd: int = 32, seed: int = 0,
                               progress: Callable[[], None] | None = None) -> xr.Dataset:
    """Finite network → NFD, against N (at ``L_for_N``) and against L (at ``N_for_L``).

    Variables (relative mean-squared errors of the predictor over all steps, train and test inputs; for a
    network the training-induced change Δf(k) = f(k) − f(0), whose N = ∞ limit is the NFD's f):

    - ``err_N[N]`` = seed-mean of ‖f_net(N, L_for_N) − f_NFD(L_for_N, N = ∞)‖²/‖f‖², s.e. ``err_N_se``;
    - ``err_L[L]`` = ‖f_NFD(L, N = ∞) − f_NFD(∞)‖²/‖f‖² (MC s.e. ``err_L_se`` from the replicas; all the
      solves share one set of Brownian paths, ``noise_depth``, so this is the depth error);
    - ``err_net_L[L]`` = ‖mean_seeds f_net(N_for_L, L) − f_NFD(∞)‖²/‖f‖²: the network itself, whose
      error follows err_L until the width floor (``err_net_L_se``).

    Attributes: ``slope_N`` ± ``slope_N_se`` and ``slope_L`` ± ``slope_L_se`` (weighted log–log fits;
    err_L is a squared error of an O(1/L) deviation, so its slope is −2 and ``slope_L`` reports half of
    it: the slope of the deviation itself).
    """
    Ns, Ls = _ints("Ns", Ns), _ints("Ls", Ls)
    L_for_N, N_for_L = positive_int("L_for_N", L_for_N), positive_int("N_for_L", N_for_L)
    n_seeds = positive_int("n_seeds", n_seeds, minimum=2)
    get_activation(phi)
    lr = positive("lr", lr)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise FLTheoryInputError(f"seed: expected a non-negative integer, got {seed!r}")
    tick = progress or (lambda: None)
    task = teacher_task(jax.random.PRNGKey(seed), P=P, P_test=P_test, D=D)
    key = jax.random.PRNGKey(seed + 1)
    nfd_kw = dict(steps=steps, lr=lr, phi=phi, n_particles=n_particles, replicas=replicas, seed=seed)

    def ff(res):
        return np.concatenate([res.f_train, res.f_test], axis=1)

    # width: networks at L_for_N against the infinite-width scheme of the same depth
    ref_N = solve_nfd(task, L=L_for_N, extrapolate=False, **nfd_kw)
    fN = ff(ref_N)
    errN, errN_se = [], []
    for N in Ns:
        cfg = ResNetConfig(N=N, L=L_for_N, D=D, phi=phi)
        e = [_rel_sq(train_record(jax.random.fold_in(key, 1000 * N + s), cfg, task, steps, lr)[0], fN)
             for s in range(n_seeds)]
        errN.append(np.mean(e))
        errN_se.append(np.std(e, ddof=1) / np.sqrt(n_seeds))
        tick()
    # depth: the infinite-width schemes at L against the extrapolated NFD, and the network at N_for_L
    L_noise = int(np.lcm.reduce([*Ls, L_nfd]))  # one set of Brownian paths for every depth
    ref = solve_nfd(task, L=L_nfd, extrapolate=True, noise_depth=L_noise, **nfd_kw)
    fI = ff(ref)
    errL, errL_se, errNet, errNet_se = [], [], [], []
    for L in Ls:
        res = solve_nfd(task, L=L, extrapolate=False, noise_depth=L_noise, **nfd_kw)
        d = ff(res) - fI
        errL.append(float(np.sum(d**2) / np.sum(fI**2)))
        # MC s.e. of the squared error, to first order 2|d|·s.e.(d); replica r of both solves shares its
        # Brownian paths, so s.e.(d) comes from the spread of the paired replica differences
        var_d = (res.f_replicas - ref.f_replicas).var(0, ddof=1) / replicas
        errL_se.append(float(2 * np.sqrt(np.sum(d**2 * var_d) + np.sum(var_d**2) / 2) / np.sum(fI**2)))
        cfg = ResNetConfig(N=N_for_L, L=L, D=D, phi=phi)
        fs = np.stack([train_record(jax.random.fold_in(key, 7919 * L + s), cfg, task, steps, lr)[0]
                       for s in range(n_seeds)])
        fs = fs - fs[:, :1]
        dn = fs.mean(0) - fI
        errNet.append(float(np.sum(dn**2) / np.sum(fI**2)))
        errNet_se.append(float(2 * np.sqrt(np.sum(dn**2)) * np.sqrt(np.sum(fs.var(0, ddof=1) / n_seeds))
                               / np.sum(fI**2)))
        tick()
    sN, sN_se = _slope_fit(Ns, errN, errN_se)
    sL2, sL2_se = _slope_fit(Ls, errL, errL_se)
    ds = xr.Dataset(
        {"err_N": ("N", np.array(errN)), "err_N_se": ("N", np.array(errN_se)),
         "err_L": ("L", np.array(errL)), "err_L_se": ("L", np.array(errL_se)),
         "err_net_L": ("L", np.array(errNet)), "err_net_L_se": ("L", np.array(errNet_se)),
         "loss_nfd": ("step", ref.train_loss)},
        coords={"N": list(Ns), "L": list(Ls), "step": np.arange(steps + 1)},
        attrs={"slope_N": sN, "slope_N_se": sN_se, "slope_L": sL2 / 2, "slope_L_se": sL2_se / 2,
               "phi": phi, "lr": lr, "steps": steps, "P": P, "P_test": P_test, "D": D, "n_seeds": n_seeds,
               "L_for_N": L_for_N, "N_for_L": N_for_L, "n_particles": n_particles, "replicas": replicas,
               "L_nfd": L_nfd, "seed": seed,
               "description": "finite depth-muP ResNet -> NFD: predictor error vs N and L (docs/theory/depth.md, NFD)"})
    return ds


__all__ = ["nfd_convergence_experiment", "train_record"]
