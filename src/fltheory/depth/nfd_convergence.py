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

from .._validate import FLTheoryInputError, finite_array, positive, positive_int
from ..activations import get_activation
from .data import as_regression_task, teacher_task
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
    step. ``task``: a :class:`~fltheory.depth.RegressionTask` or a one-step :class:`fltheory.tasks.Task`.
    A non-finite predictor raises one :class:`~fltheory.FLTheoryInputError` naming ``lr``.
    """
    steps = positive_int("steps", steps)
    lr = positive("lr", lr)
    task = as_regression_task(task)
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


def _rel(a, ref):
    """‖a − ref‖² / ‖ref‖² (any shape)."""
    a, ref = np.asarray(a, np.float64), np.asarray(ref, np.float64)
    return float(np.sum((a - ref) ** 2) / np.sum(ref**2))


def _net_loss(f, y):
    """Train-loss trajectory (1/2P) Σ_μ (f_μ(k) − y_μ)² of a :func:`train_record` predictor ``f[steps+1, P+P_test]``."""
    P = y.shape[0]
    return 0.5 * np.mean((f[:, :P] - y) ** 2, axis=1)


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

    The same for the two other observables of the issue, the **loss trajectory** (train loss at every
    step, the network's own loss including its f(0)) and the **final-layer feature kernel**
    Φ = ⟨φ(h_L)φ(h_L)ᵀ⟩ on the train inputs after the last step: ``err_N_loss``/``err_N_kernel`` (with
    ``_se`` over seeds) and ``err_L_loss``/``err_L_kernel`` (the depth-L schemes against the
    extrapolated NFD; ``err_L_loss_se`` from the paired replicas; the kernel has no replica s.e., its
    fit is unweighted with the error inflated by the reduced χ²).

    Attributes: ``slope_N`` ± ``slope_N_se`` and ``slope_L`` ± ``slope_L_se`` (weighted log–log fits;
    err_L is a squared error of an O(1/L) deviation, so its slope is −2 and ``slope_L`` reports half of
    it: the slope of the deviation itself); ``slope_N_loss``, ``slope_N_kernel``, ``slope_L_loss``,
    ``slope_L_kernel`` (each with ``_se``) likewise.
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
    yP = np.asarray(task.y, np.float64)
    errN, errN_se = [], []
    errNo = {"loss": ([], []), "kernel": ([], [])}
    for N in Ns:
        cfg = ResNetConfig(N=N, L=L_for_N, D=D, phi=phi)
        recs = [train_record(jax.random.fold_in(key, 1000 * N + s), cfg, task, steps, lr) for s in range(n_seeds)]
        e = [_rel_sq(f, fN) for f, _ in recs]
        errN.append(np.mean(e))
        errN_se.append(np.std(e, ddof=1) / np.sqrt(n_seeds))
        for name, ee in (("loss", [_rel(_net_loss(f, yP), ref_N.train_loss) for f, _ in recs]),
                         ("kernel", [_rel(Phi, ref_N.Phi[-1]) for _, Phi in recs])):
            errNo[name][0].append(np.mean(ee))
            errNo[name][1].append(np.std(ee, ddof=1) / np.sqrt(n_seeds))
        tick()
    # depth: the infinite-width schemes at L against the extrapolated NFD, and the network at N_for_L
    L_noise = int(np.lcm.reduce([*Ls, L_nfd]))  # one set of Brownian paths for every depth
    ref = solve_nfd(task, L=L_nfd, extrapolate=True, noise_depth=L_noise, **nfd_kw)
    fI = ff(ref)
    errL, errL_se, errNet, errNet_se = [], [], [], []
    errLl, errLl_se, errLk = [], [], []
    for L in Ls:
        res = solve_nfd(task, L=L, extrapolate=False, noise_depth=L_noise, **nfd_kw)
        d = ff(res) - fI
        errL.append(float(np.sum(d**2) / np.sum(fI**2)))
        dl = res.train_loss - ref.train_loss
        errLl.append(_rel(res.train_loss, ref.train_loss))
        var_l = (res.replicas - ref.replicas).var(0, ddof=1) / replicas
        errLl_se.append(float(2 * np.sqrt(np.sum(dl**2 * var_l) + np.sum(var_l**2) / 2) / np.sum(ref.train_loss**2)))
        errLk.append(_rel(res.Phi[-1], ref.Phi[-1]))
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
    more = {}
    for name in ("loss", "kernel"):
        more[f"slope_N_{name}"], more[f"slope_N_{name}_se"] = _slope_fit(Ns, *errNo[name])
    for name, e, se in (("loss", errLl, errLl_se), ("kernel", errLk, np.zeros(len(Ls)))):
        s2, s2_se = _slope_fit(Ls, e, se)
        more[f"slope_L_{name}"], more[f"slope_L_{name}_se"] = s2 / 2, s2_se / 2
    ds = xr.Dataset(
        {"err_N": ("N", np.array(errN)), "err_N_se": ("N", np.array(errN_se)),
         "err_L": ("L", np.array(errL)), "err_L_se": ("L", np.array(errL_se)),
         "err_net_L": ("L", np.array(errNet)), "err_net_L_se": ("L", np.array(errNet_se)),
         "err_N_loss": ("N", np.array(errNo["loss"][0])), "err_N_loss_se": ("N", np.array(errNo["loss"][1])),
         "err_N_kernel": ("N", np.array(errNo["kernel"][0])), "err_N_kernel_se": ("N", np.array(errNo["kernel"][1])),
         "err_L_loss": ("L", np.array(errLl)), "err_L_loss_se": ("L", np.array(errLl_se)),
         "err_L_kernel": ("L", np.array(errLk)),
         "loss_nfd": ("step", ref.train_loss)},
        coords={"N": list(Ns), "L": list(Ls), "step": np.arange(steps + 1)},
        attrs={"slope_N": sN, "slope_N_se": sN_se, "slope_L": sL2 / 2, "slope_L_se": sL2_se / 2, **more,
               "phi": phi, "lr": lr, "steps": steps, "P": P, "P_test": P_test, "D": D, "n_seeds": n_seeds,
               "L_for_N": L_for_N, "N_for_L": N_for_L, "n_particles": n_particles, "replicas": replicas,
               "L_nfd": L_nfd, "seed": seed,
               "description": "finite depth-muP ResNet -> NFD: predictor error vs N and L (docs/theory/depth.md, NFD)"})
    return ds


# --------------------------------------------------------------------------------------------------
# The coupling count (docs/theory/depth.md §8, "The coupling count"): how much of the first GD step
# comes from reusing W_ℓ in the backward pass, split by matrix and by the layer whose update it reaches.
# --------------------------------------------------------------------------------------------------

#: the one-step objects of the coupling count, each a difference of loss-decrease rates κ (below)
COUPLING_PARTS = ("total", "single", "adjacent", "skip")


def _coupling_m(L):
    """The single matrix of the count: W_m with m = ⌊L/2⌋ + 1 (mid-depth; for L = 2 the top one)."""
    return L // 2 + 1


def _coupling_variants(L, m):
    """Backward variants (which W_ℓ is replaced by an independent W̃_ℓ, ``masks[V, L]``) and update
    assignments (which variant's backward field drives the update of layer j = 0 (U) .. L, ``assign[4, L+1]``):
    reused, all decoupled, only W_m decoupled, and the hybrid that keeps W_m's reuse for the adjacent layer
    m − 1 only (layers j ≥ m − 1 take the reused field, j < m − 1 the W_m-decoupled one)."""
    masks = np.zeros((3, L), bool)
    masks[1] = True
    masks[2, m - 1] = True
    j = np.arange(L + 1)
    assign = np.stack([np.zeros(L + 1, int), np.ones(L + 1, int), np.full(L + 1, 2),
                       np.where(j >= m - 1, 0, 2)])
    return masks, assign


def _parts(kappa):
    """κ over (reused, decoupled, single, hybrid) → the four parts of :data:`COUPLING_PARTS`."""
    kr, kd, ks, kh = kappa[..., 0], kappa[..., 1], kappa[..., 2], kappa[..., 3]
    return np.stack([kr - kd, kr - ks, kh - ks, kr - kh], axis=-1)


def coupling_count_theory(X, y, cfg: ResNetConfig):
    """Infinite-width first-step loss-decrease rates κ and the coupling parts, deterministic.

    κ = yᵀ K y / P² = −dℓ/dη₀ at f = 0 (one GD step), K(x, x') = N ∇f(x)·∇̃f(x') with ∇̃f the backward pass
    of the variant. At infinite width (``fltheory.depth.tangent``) K = Φ_L + Σ_j c² C_j ⊙ Φ_{j−1} + C_0 ⊙ XXᵀ/D
    with the cross-covariance C_j = ⟨g_j g̃_j⟩ of the true and the reported backward fields:
    C_L = G_L, C_{ℓ−1} = C_ℓ (1 + c² Ė_{ℓ−1}) where W_ℓ is reused and C_{ℓ−1} = C_ℓ where it is replaced
    by an independent W̃_ℓ. Returns ``(kappa[4], parts[4])``: κ for reused, decoupled, single (W_m only
    decoupled), hybrid (module helper ``_coupling_variants``) and the parts total = κ_r − κ_d,
    single = κ_r − κ_s, adjacent = κ_h − κ_s (W_m's reuse through the update of layer m − 1 alone),
    skip = κ_r − κ_h (through the updates of layers j < m − 1 and U, reached along the skip path).
    """
    from ..gaussian import kernel_map
    from .kernel_ode import input_kernel
    from .tangent import deriv_kernel_map

    if cfg.arch != "depth_mup":
        raise FLTheoryInputError(f"cfg: the coupling count is for arch='depth_mup', got {cfg.arch!r}")
    X = np.asarray(X, np.float64)
    y = np.asarray(y, np.float64)
    L, P = cfg.L, X.shape[0]
    m = _coupling_m(L)
    masks, assign = _coupling_variants(L, m)
    c2 = cfg.branch**2
    # the Euler recursion of kernel_ode.recursion_kernel, eagerly (no compilation per L)
    S = np.asarray(input_kernel(X, cfg.gu2))
    Phi, Ed = [], []
    for _ in range(L + 1):
        Phi.append(np.asarray(kernel_map(cfg.phi, S)))
        Ed.append(np.asarray(deriv_kernel_map(cfg.phi, S)))
        S = S + c2 * Phi[-1]
    GL = cfg.gw2 * Ed[-1]
    C = np.empty((3, L + 1, P, P))
    for v in range(3):
        C[v, L] = GL
        for ell in range(L, 0, -1):
            C[v, ell - 1] = C[v, ell] if masks[v, ell - 1] else C[v, ell] * (1.0 + c2 * Ed[ell - 1])
    Kx = np.asarray(input_kernel(X, 1.0))
    kappa = np.empty(4)
    for i, a in enumerate(assign):
        K = Phi[-1] + c2 * sum(C[a[j], j] * Phi[j - 1] for j in range(1, L + 1)) + C[a[0], 0] * Kx
        kappa[i] = y @ K @ y / P**2
    return kappa, _parts(kappa)


@partial(jax.jit, static_argnames=("cfg",))
def _coupling_network(key, X, y, masks, assign, cfg):
    """First-order one-step change of a finite network for every update assignment (float64).

    The hidden matrices are drawn layer by layer from ``fold_in(key, ℓ)`` (forward W_ℓ) and
    ``fold_in(key', ℓ)`` (the independent W̃_ℓ), so no [L, N, N] array is held. Returns κ[4]."""
    act = get_activation(cfg.phi)
    dphi = jax.grad(lambda h: act(h))
    dphi = jax.vmap(jax.vmap(dphi))
    N, L, D = cfg.N, cfg.L, cfg.D
    P = X.shape[0]
    c = cfg.branch
    kU, kW, kw, kB = jax.random.split(key, 4)
    U = jnp.sqrt(cfg.gu2) * jax.random.normal(kU, (N, D), jnp.float64)
    w = jnp.sqrt(cfg.gw2) * jax.random.normal(kw, (N,), jnp.float64)
    sqN = jnp.sqrt(jnp.float64(N))

    def Wl(k, ell):
        # drawn in float32 (half the random bits) and used in float64: still exactly N(0, 1) entries up to
        # float32 rounding, which is far below the O(1/√N) fluctuations measured here
        return jax.random.normal(jax.random.fold_in(k, ell), (N, N), jnp.float32).astype(jnp.float64)

    h0 = X @ U.T / jnp.sqrt(D)

    def fwd(h, ell):
        hn = h + c * act(h) @ Wl(kW, ell).T / sqN
        return hn, h

    hL, hprev = jax.lax.scan(fwd, h0, jnp.arange(L))  # hprev[ℓ-1] = h_{ℓ-1}, ℓ = 1..L
    hs = jnp.concatenate([hprev, hL[None]])  # [L+1, P, N]
    V = masks.shape[0]
    gL = jnp.broadcast_to(w * dphi(hL), (V, P, N))

    def bwd(g, xs):  # layer ℓ (1-indexed) → g_{ℓ−1}
        ell, mask, h = xs
        z = jnp.where(mask[:, None, None], g @ Wl(kB, ell), g @ Wl(kW, ell))  # (W^T g)_i = (g W)_i
        gp = g + c * dphi(h)[None] * z / sqN
        return gp, g

    g0, gup = jax.lax.scan(bwd, gL, (jnp.arange(L), masks.T, hprev), reverse=True)  # gup[ℓ-1] = g_ℓ
    gs = jnp.concatenate([g0[None], gup])  # [L+1, V, P, N]
    A = assign.shape[0]
    Gsel = jnp.stack([gs[j, assign[:, j]] for j in range(L + 1)])  # [L+1, A, P, N]
    yP = y / P
    dh0 = jnp.einsum("m,amn,mx->axn", yP, Gsel[0], X @ X.T / D)

    def tan(dh, xs):
        ell, h, G = xs
        ph = act(h)
        Phat = ph @ ph.T / N  # [P(μ), P(x)]
        dhn = dh + c * (dphi(h)[None] * dh) @ Wl(kW, ell).T / sqN + c**2 * jnp.einsum("m,amn,mx->axn", yP, G, Phat)
        return dhn, None

    dhL, _ = jax.lax.scan(tan, dh0, (jnp.arange(L), hprev, Gsel[1:]))
    phL = act(hL)
    df = (dphi(hL)[None] * dhL) @ w / N + (yP @ (phL @ phL.T / N))[None]  # [A, P]: δf/η₀
    return df @ y / P


def coupling_count_network(cfg: ResNetConfig, X, y, n_seeds: int = 8, seed: int = 0):
    """The coupling parts measured on ``n_seeds`` finite networks of ``cfg`` (reused forward pass shared by
    all variants of a seed; first order in η₀). Returns ``(kappa[n_seeds, 4], parts[n_seeds, 4])``, same
    definitions as :func:`coupling_count_theory` (which is their N → ∞ limit)."""
    if cfg.arch != "depth_mup":
        raise FLTheoryInputError(f"cfg: the coupling count is for arch='depth_mup', got {cfg.arch!r}")
    n_seeds = positive_int("n_seeds", n_seeds)
    X = jnp.asarray(finite_array("X", X, ndim=2), jnp.float64)
    y = jnp.asarray(finite_array("y", y, shape=(X.shape[0],)), jnp.float64)
    masks, assign = _coupling_variants(cfg.L, _coupling_m(cfg.L))
    key = jax.random.PRNGKey(seed)
    kappa = np.stack([np.asarray(_coupling_network(jax.random.fold_in(key, s), X, y, jnp.asarray(masks),
                                                   jnp.asarray(assign), cfg)) for s in range(n_seeds)])
    return kappa, _parts(kappa)


def coupling_count_experiment(Ls: Sequence[int] = (2, 4, 8, 16, 32, 64), N: int = 1024, n_seeds: int = 8,
                              phi: str = "erf", a: float = 1.0, P: int = 8, D: int = 16, seed: int = 0,
                              progress: Callable[[], None] | None = None) -> xr.Dataset:
    """The coupling count against depth: theory (N = ∞) and finite networks at width ``N``.

    Variables ``theory[L, part]``, ``network[L, part]`` (seed mean), ``network_se[L, part]`` and
    ``kappa_reused[L]`` (theory), for the parts of :data:`COUPLING_PARTS`, all in units of the one-step
    loss-decrease rate κ (docs/theory/depth.md §8, "The coupling count"). Attributes: the log–log slopes
    of the theory between the two largest depths, ``slope_<part>``.
    """
    Ls = _ints("Ls", Ls)
    N = positive_int("N", N)
    n_seeds = positive_int("n_seeds", n_seeds, minimum=2)
    tick = progress or (lambda: None)
    task = teacher_task(jax.random.PRNGKey(seed), P=P, P_test=1, D=D)
    X, y = np.asarray(task.X, np.float64), np.asarray(task.y, np.float64)
    th, net, se, kr = [], [], [], []
    for L in Ls:
        cfg = ResNetConfig(N=N, L=L, D=D, phi=phi, a=a)
        k_th, p_th = coupling_count_theory(X, y, cfg)
        _, p_net = coupling_count_network(cfg, X, y, n_seeds, seed=seed + 1)
        th.append(p_th)
        net.append(p_net.mean(0))
        se.append(p_net.std(0, ddof=1) / np.sqrt(n_seeds))
        kr.append(k_th[0])
        tick()
    th = np.array(th)
    attrs = {"N": N, "n_seeds": n_seeds, "phi": phi, "a": a, "P": P, "D": D, "seed": seed,
             "description": "reuse coupling count: one-step loss-decrease rate parts vs depth (depth.md §8)"}
    if len(Ls) >= 2:
        for i, part in enumerate(COUPLING_PARTS):
            attrs[f"slope_{part}"] = float(np.log(abs(th[-1, i]) / abs(th[-2, i])) / np.log(Ls[-1] / Ls[-2]))
    return xr.Dataset({"theory": (("L", "part"), th), "network": (("L", "part"), np.array(net)),
                       "network_se": (("L", "part"), np.array(se)), "kappa_reused": ("L", np.array(kr))},
                      coords={"L": list(Ls), "part": list(COUPLING_PARTS)}, attrs=attrs)


__all__ = ["COUPLING_PARTS", "coupling_count_experiment", "coupling_count_network", "coupling_count_theory",
           "nfd_convergence_experiment", "train_record"]
