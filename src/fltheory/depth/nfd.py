"""Neural feature dynamics (NFD): the N → ∞ then L → ∞ limit of full-batch GD of the depth-muP ResNet.

Derivation and the equations implemented: docs/theory/depth.md, section "NFD"; conventions §11.

The infinite-width limit of the network (``fltheory.depth.model``, trained by ``fltheory.depth.train``)
is a single-site (mean-field) system over depth nodes ℓ = 0..L, inputs x (train and test) and GD
steps k: forward fields h_ℓ(x, k), backward fields g_ℓ(x, k) = N ∂f/∂h_ℓ. At each hidden layer the
Gaussian matrix W_ℓ(0) contributes

    W_ℓ(0) φ(h_{ℓ−1})/√N  →  û_ℓ + Σ_{s<k} A_ℓ(k, s) g_ℓ(s)          (forward)
    W_ℓ(0)ᵀ g_ℓ/√N        →  ẑ_ℓ + Σ_{s≤k} B_ℓ(k, s) φ(h_{ℓ−1}(s))   (backward)

with û_ℓ ~ GP(0, Φ_{ℓ−1}) and ẑ_ℓ ~ GP(0, G_ℓ) **independent** (the decoupled backward field) and
the training-induced feature–gradient terms A = ⟨∂φ/∂ẑ⟩, B = ⟨∂g/∂û⟩ kept. They are evaluated by
Gaussian integration by parts (Stein): Σ_s A g = ⟨φ ẑᵀ⟩ G⁻¹ g, i.e. the regression of the feature
on the past backward noise — the feature–gradient covariance that training creates. The depth-muP
scaling c = a/√L makes every layer an Euler step of size 1/L of the depth SDE; the L → ∞ limit is
taken by Richardson extrapolation from L/2 and L (O(1/L²) left), the width limit by a population of
M single-site paths (Monte Carlo, antithetic in the readout sign, moment-matched draws). The whole system is causal in
(step, depth), so it needs no fixed-point iteration: each population statistic is formed from the
paths already computed (a McKean–Vlasov particle scheme).

Optional control variate (``control_variate=True``): the frozen-kernel GD trajectory of each replica's own
estimate of the first-step tangent kernel is swapped for that of the exact kernel, so the Monte-Carlo error
of the lazy (kernel) part of training cancels (≈ 6× less variance of the final train loss on the benchmark).

For linear φ every field is a linear function of the Gaussian sources, and a *basis population*
(one particle per source, ``population="basis"``) makes every average exact: the deterministic,
closed (kernel-level) solve used as the linear check.

Public entry: :func:`solve_nfd` → :class:`NFDResult` with the common ``diagnostics``.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular

from .._validate import (FLTheoryInputError, choice, finite_array, positive, positive_int,
                         report_nonconvergence)
from ..activations import get_activation
from ..diagnostics import Diagnostics
from ..priors import Priors, depth_priors
from .data import as_regression_task
from .model import ARCHS

POPULATIONS = ("random", "basis")


@dataclass(frozen=True)
class NFDResult:
    """The NFD solution of full-batch GD on a :class:`~fltheory.depth.RegressionTask`.

    Arrays (numpy, float64), entry k = after k GD steps (k = 0..steps):

    - ``train_loss[steps+1]``, ``test_loss[steps+1]``: (1/2P)Σ(f − y)², as :func:`fltheory.depth.train`;
    - ``f_train[steps+1, P]``, ``f_test[steps+1, P_test]``: the predictor;
    - ``Sigma[steps+1, P, P]``: the final-layer (t = 1) pre-activation kernel ⟨h_1 h_1ᵀ⟩ on the train
      inputs; ``Sigma[0]`` is the depth-ODE kernel at initialisation;
    - ``Phi[steps+1, P, P]``: the final-layer feature kernel ⟨φ(h_1)φ(h_1)ᵀ⟩ on the train inputs.

    ``L`` is the number of depth steps of the finest solve, ``extrapolated`` whether the values are
    the Richardson extrapolation to L = ∞ (else the infinite-width network of depth ``L``).
    ``replicas`` holds the per-replica train-loss trajectories ``[R, steps+1]`` and ``f_replicas`` the
    per-replica predictor ``[R, steps+1, P + P_test]`` (train then test inputs): their spread is the
    Monte-Carlo error; ``Sigma_replicas`` ``[R, steps+1, P, P]`` likewise for ``Sigma``.
    ``diagnostics``: ``iterations`` = depth × step updates of all solves, ``residual`` = the
    relative depth-discretisation correction max|f(L) − f(L/2)|/max|f(L)| (NaN without extrapolation),
    ``mc_error`` = the relative s.e. of the final train loss over the replicas.
    """

    train_loss: np.ndarray
    test_loss: np.ndarray
    f_train: np.ndarray
    f_test: np.ndarray
    Sigma: np.ndarray
    Phi: np.ndarray
    L: int
    extrapolated: bool
    replicas: np.ndarray
    f_replicas: np.ndarray
    Sigma_replicas: np.ndarray
    diagnostics: Diagnostics


# --------------------------------------------------------------------------------------------------
# The particle scheme (one population, one depth L). Shapes: M particles, Q = P + P_test inputs (train
# first), K = steps (backward passes), K1 = steps + 1 (forward passes). Flattened (step, input) index
# s*Q + x for forward objects, s*P + μ for backward ones.
# --------------------------------------------------------------------------------------------------

def _n_sources(L, K, P, Q, D):
    """Sources of one path: w(0), U(0) (D), û innovations (L·K1·Q), ẑ innovations (L·K·P)."""
    return 1 + D + L * (K + 1) * Q + L * K * P


@partial(jax.jit, static_argnames=("phi", "L", "K", "P", "M", "population", "coupling", "coarsen"))
def _run(key, X_all, y, lr, a, gu2, gw2, *, phi, L, K, P, M, population, coupling, coarsen=1):
    act = get_activation(phi)
    if act.closed_form == "linear":
        dphi = jnp.ones_like
    elif act.closed_form == "erf":
        dphi = lambda h: 2.0 / math.sqrt(math.pi) * jnp.exp(-h * h)  # noqa: E731
    else:
        dphi = act.deriv
    Q, D = X_all.shape
    K1 = K + 1
    nU, nZ = K1 * Q, K * P
    c = a / jnp.sqrt(L)
    dt = jnp.float64
    XX = X_all[:P] @ X_all.T / D  # [P, Q]: x_μ·x/D (input-layer update)
    jit_rel = 1e-12
    half = M // 2
    sqM = jnp.sqrt(jnp.asarray(M, dt))
    off_u = 1 + D
    off_z = off_u + L * K1 * Q
    jidx = jnp.arange(M)

    def basis(offset, n):  # [M, n]: particle j carries √M on source offset + i
        return jnp.where(jidx[:, None] == (offset + jnp.arange(n))[None, :], sqM, 0.0)

    def matched(e):
        """Moment matching: centre the draws and whiten them so that their sample covariance is the
        identity exactly (a variance reduction; it leaves an O(1/M) bias, the order of the scheme's own)."""
        if e.shape[0] <= 2 * e.shape[1]:  # too few draws to whiten (static shapes): leave them as they are
            return e
        e = e - jnp.mean(e, axis=0)
        C = e.T @ e / e.shape[0]
        return solve_triangular(jnp.linalg.cholesky(C), e.T, lower=True).T

    def noise(kind, layer, k, n):
        if population == "basis":
            off = off_u + (layer * K1 + k) * Q if kind == "u" else off_z + (layer * K + k) * P
            return basis(off, n)
        # coarsen > 1: the innovation of a coarse layer is the normalised sum of those of the fine layers
        # it replaces (Brownian coupling of the L/2 and L solves of the Richardson extrapolation)
        e = 0.0
        for j in range(coarsen):
            sub = jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(key, 1 if kind == "u" else 2),
                                                        layer * coarsen + j), k)
            e = e + jax.random.normal(sub, (half, n), dt) / math.sqrt(coarsen)
        e = matched(e)
        # antithetic pairs: the two halves share U(0) and û, and have opposite w(0) and ẑ
        return jnp.concatenate([e, e if kind == "u" else -e])

    if population == "basis":
        w0 = jnp.sqrt(gw2) * basis(0, 1)[:, 0]
        U0 = jnp.sqrt(gu2) * basis(1, D)
    else:
        kw, kU = jax.random.split(jax.random.fold_in(key, 0))
        wh = jax.random.normal(kw, (half,), dt)
        wh = jnp.sqrt(gw2) * wh / jnp.sqrt(jnp.mean(wh**2))
        Uh = jnp.sqrt(gu2) * matched(jax.random.normal(kU, (half, D), dt))
        w0, U0 = jnp.concatenate([wh, -wh]), jnp.concatenate([Uh, Uh])
    h0init = U0 @ X_all.T / jnp.sqrt(D)  # [M, Q]

    def cond_block(Lmat, row, k, n_in):
        """Incremental Cholesky: Lmat holds the factor of the covariance over slots < k (identity on
        the unfilled blocks); ``row`` [n_in, n] is the covariance of the new block with every slot
        (zero on slots > k). Returns the factor's block rows for slot k and their diagonal block."""
        n = Lmat.shape[0]
        slot = jnp.arange(n) // n_in
        b = jnp.where((slot < k)[None, :], row, 0.0).T  # [n, n_in]
        Xc = solve_triangular(Lmat, b, lower=True)  # zero on slots ≥ k
        Ckk = jax.lax.dynamic_slice(row, (0, k * n_in), (n_in, n_in))
        S = Ckk - Xc.T @ Xc
        S = 0.5 * (S + S.T)
        scale = jnp.maximum(jnp.trace(Ckk) / n_in, 1e-300)
        Lkk = jnp.linalg.cholesky(S + jit_rel * scale * jnp.eye(n_in))
        return jax.lax.dynamic_update_slice(Xc.T, Lkk, (0, k * n_in)), Lkk

    # State: PHs[L+1, M, K1, Q] = φ(h_ℓ(x, s)) (slots > k zero), Hk[L+1, M, Q] = h_ℓ(x, k) of the current
    # step, Gs[L+1, M, K, P] = g_ℓ(μ, s), ZETA[L, M, nU] / XI[L, M, nZ] the innovations of û / ẑ,
    # LU[L, nU, nU] / LG[L, nZ, nZ] their incremental Cholesky factors, w[M], r[K, P] residuals.
    def forward(state, k):
        PHs, Hk, Gs, ZETA, XI, LU, LG, w, r = state
        rmask = r * (jnp.arange(K) < k).astype(dt)[:, None]  # residuals of the steps s < k
        rg0 = (Gs[0] * rmask[None]).reshape(M, nZ)
        h0 = h0init - lr / P * rg0 @ jnp.tile(XX, (K, 1))

        def layer(hprev, xs):
            PHprev, zeta, xi, Lu, Lg, Gl, ell = xs
            phik = act(hprev)
            row = phik.T @ PHprev.reshape(M, nU) / M  # [Q, nU]: Φ(x,k; ·, s < k)
            row = jax.lax.dynamic_update_slice(row, phik.T @ phik / M, (0, k * Q))  # and s = k
            # weight-update (ΔW_ℓ) term: −(η c²/P) Σ_{s<k,μ} r_μ(s) g_ℓ(μ,s) Φ(μ,s; x,k)
            dW = -lr * c**2 / P * jnp.einsum("msp,xsp->mx", Gl * rmask[None], row.reshape(Q, K1, Q)[:, :K, :P])
            # forward Gaussian field û(k), conditioned on its own past (slot k of zeta is still zero)
            newrows, Lkk = cond_block(Lu, row, k, Q)
            e = noise("u", ell, k, Q)
            u = zeta @ newrows.T + e @ Lkk.T
            hk = hprev + c * u + dW
            if coupling:  # A-term: ⟨φ ẑᵀ⟩ G⁻¹ g = (L_G⁻ᵀ ⟨ξ φᵀ⟩)ᵀ g over s < k (later slots are zero)
                MA = solve_triangular(Lg, xi.T @ phik / M, lower=True, trans="T")
                hk = hk + c * (Gl * (jnp.arange(K) < k).astype(dt)[None, :, None]).reshape(M, nZ) @ MA
            return hk, (hk, e, newrows)

        hL, (hks, es, newrows) = jax.lax.scan(layer, h0, (PHs[:-1], ZETA, XI, LU, LG, Gs[1:], jnp.arange(L)))
        Hk = jnp.concatenate([h0[None], hks])
        PHs = PHs.at[:, :, k].set(act(Hk))
        ZETA = jax.lax.dynamic_update_slice(ZETA, es, (0, 0, k * Q))
        LU = jax.lax.dynamic_update_slice(LU, newrows, (0, k * Q, 0))
        phL = PHs[-1, :, k]
        f = jnp.mean(w[:, None] * phL, axis=0)  # [Q]
        Sig = hL[:, :P].T @ hL[:, :P] / M
        Ph = phL[:, :P].T @ phL[:, :P] / M
        return (PHs, Hk, Gs, ZETA, XI, LU, LG, w, r), (f, Sig, Ph)

    def backward(state, k, f):
        PHs, Hk, Gs, ZETA, XI, LU, LG, w, r = state
        rk = f[:P] - y
        rmask = r * (jnp.arange(K) < k).astype(dt)[:, None]
        r = r.at[k].set(rk)
        gL = w[:, None] * dphi(Hk[-1, :, :P])

        def layer(g, xs):
            PHprev, hprev, zeta, xi, Lu, Lg, Gl, ell = xs
            rowG = g.T @ Gl.reshape(M, nZ) / M  # [P, nZ]: G(μ,k; ·, s < k)
            rowG = jax.lax.dynamic_update_slice(rowG, g.T @ g / M, (0, k * P))
            newrows, Lkk = cond_block(Lg, rowG, k, P)
            e = noise("z", ell, k, P)
            z = xi @ newrows.T + e @ Lkk.T
            # ΔW_ℓᵀ term: −(η c/P) Σ_{s<k,μ} r_μ(s) φ(h_{ℓ−1}(μ,s)) G(μ,s; x,k)
            z = z - lr * c / P * jnp.einsum("msp,xsp->mx", PHprev[:, :K, :P] * rmask[None], rowG.reshape(P, K, P))
            if coupling:  # B-term: ⟨g ûᵀ⟩ Φ⁻¹ φ = (L_Φ⁻ᵀ ⟨ζ gᵀ⟩)ᵀ φ over s ≤ k (later slots are zero)
                MB = solve_triangular(Lu, zeta.T @ g / M, lower=True, trans="T")
                z = z + PHprev.reshape(M, nU) @ MB
            gprev = g + c * dphi(hprev[:, :P]) * z
            return gprev, (g, e, newrows)

        g0, (gs, es, newrows) = jax.lax.scan(layer, gL, (PHs[:-1], Hk[:-1], ZETA, XI, LU, LG, Gs[1:], jnp.arange(L)),
                                             reverse=True)
        Gs = Gs.at[:, :, k].set(jnp.concatenate([g0[None], gs]))
        XI = jax.lax.dynamic_update_slice(XI, es, (0, 0, k * P))
        LG = jax.lax.dynamic_update_slice(LG, newrows, (0, k * P, 0))
        w = w - lr / P * PHs[-1, :, k, :P] @ rk
        return (PHs, Hk, Gs, ZETA, XI, LU, LG, w, r)

    state = (jnp.zeros((L + 1, M, K1, Q), dt), jnp.zeros((L + 1, M, Q), dt), jnp.zeros((L + 1, M, K, P), dt),
             jnp.zeros((L, M, nU), dt), jnp.zeros((L, M, nZ), dt),
             jnp.broadcast_to(jnp.eye(nU, dtype=dt), (L, nU, nU)),
             jnp.broadcast_to(jnp.eye(nZ, dtype=dt), (L, nZ, nZ)), w0, jnp.zeros((K, P), dt))

    def step(state, k):  # forward pass of step k, then (k < K) its backward pass and the readout update
        state, out = forward(state, k)
        state = jax.lax.cond(k < K, lambda st: backward(st, k, out[0]), lambda st: st, state)
        return state, out

    final, out = jax.lax.scan(step, state, jnp.arange(K1))
    # step-0 population kernels on the train inputs, Φ̂_ℓ = ⟨φ(h_ℓ)φ(h_ℓ)ᵀ⟩ and Ĝ_ℓ = ⟨g_ℓ g_ℓᵀ⟩ (ℓ = 0..L):
    # the ingredients of the control variate (the particle estimate of the first-step tangent kernel)
    ph0, g0 = final[0][:, :, 0, :P], final[2][:, :, 0]
    Phi0 = jnp.einsum("lmp,lmq->lpq", ph0, ph0) / M
    G0 = jnp.einsum("lmp,lmq->lpq", g0, g0) / M
    return out + (Phi0, G0)


def _kernel_gd(K, y, lr, steps):
    """Frozen-kernel GD from f = 0 on the train inputs: f(k+1) = f(k) − (lr/P) K (f(k) − y); ``[steps+1, P]``."""
    P = y.shape[0]
    f = np.zeros((steps + 1, P))
    for k in range(steps):
        f[k + 1] = f[k] - lr / P * K @ (f[k] - y)
    return f


def _tangent_from_population(Phi0, G0, XX, c2, coupling):
    """First-step tangent kernel on the train inputs from the step-0 population kernels (tangent.py's formula
    K = Φ_L + Σ_ℓ c² 𝒢_ℓ ⊙ Φ_{ℓ−1} + 𝒢_0 ⊙ XXᵀ/D, with 𝒢 = Ĝ (reuse terms kept) or Ĝ_L (``coupling=False``))."""
    G = G0 if coupling else np.broadcast_to(G0[-1], G0.shape)
    return Phi0[-1] + c2 * np.sum(G[1:] * Phi0[:-1], axis=0) + G[0] * XX


def _tangent_exact(X, phi, a, gu2, gw2, L, coupling):
    """The infinite-width first-step tangent kernel at depth L on the train inputs (reused, or decoupled without
    ``coupling``): :func:`fltheory.depth.tangent_kernels`, evaluated eagerly (no compilation per L; equal to
    round-off, tests/depth/test_nfd.py)."""
    from ..gaussian import kernel_map
    from .tangent import deriv_kernel_map

    c2 = a**2 / L
    S = gu2 * X @ X.T / X.shape[1]
    Phi, Ed = [], []
    for _ in range(L + 1):
        Phi.append(np.asarray(kernel_map(phi, S)))
        Ed.append(np.asarray(deriv_kernel_map(phi, S)))
        S = S + c2 * Phi[-1]
    G = [gw2 * Ed[-1]]
    for ell in range(L, 0, -1):  # G_{ℓ−1} = G_ℓ (1 + c² Ė_{ℓ−1}) (reused); G̃_ℓ = G_L (decoupled)
        G.append(G[-1] * (1.0 + c2 * Ed[ell - 1]) if coupling else G[-1])
    G = np.stack(G[::-1])
    return _tangent_from_population(np.stack(Phi), G, X @ X.T / X.shape[1], c2, True)


def _losses(f, y, P):
    return 0.5 * np.mean((f[:, :P] - y[:P]) ** 2, axis=1), 0.5 * np.mean((f[:, P:] - y[P:]) ** 2, axis=1)


def solve_nfd(task, *, steps: int = 20, lr: float = 0.05, phi: str = "erf", a: float = 1.0,
              gu2: float | None = None, gw2: float | None = None, priors: Priors | None = None, L: int = 8,
              n_particles: int = 1024, replicas: int = 4, extrapolate: bool = True,
              coupling: bool = True, population: str = "random", arch: str = "depth_mup", seed: int = 0,
              noise_depth: int | None = None, depth_tol: float = 0.25, control_variate: bool = False,
              throw: bool = True) -> NFDResult:
    """Solve the NFD of full-batch GD (η₀ = ``lr``, muP convention of :func:`fltheory.depth.train`).

    ``task``: a :class:`~fltheory.depth.RegressionTask` or a one-step :class:`fltheory.tasks.Task` (read
    through :meth:`~fltheory.tasks.Task.static`; P ≤ 16 train inputs; keep ``P_test`` small, every
    test input is carried along the whole path). Priors: ``gu2``, ``gw2`` (default 1) or ``priors`` (not
    both; :func:`fltheory.priors.depth_priors`). ``L``: depth steps of the finest solve (the
    infinite-width network of depth L is its Euler scheme); with ``extrapolate`` the result is the
    Richardson extrapolation 2X(L) − X(L/2) to L = ∞ (``L`` even). ``n_particles`` (M, even): single-site
    paths per replica; ``replicas`` independent populations give the Monte-Carlo error (their mean is
    returned). ``coupling=False`` drops the training-induced feature–gradient terms (A, B): the limit of
    the network whose backward pass uses an independent W̃_ℓ(0) (``mode="decoupled"`` of ``train``).
    ``population="basis"``: one particle per Gaussian source, exact (deterministic) for ``phi="linear"``
    only. ``arch``: only ``depth_mup`` has an infinite-depth limit. ``noise_depth`` (a multiple of ``L``,
    default ``L``): the depth grid whose Brownian paths drive the solve — solves at different L with
    the same ``seed`` and ``noise_depth`` share their paths, so their difference is the depth error.
    ``control_variate``: subtract from each replica's train predictor the frozen-kernel GD trajectory of
    its own particle estimate of the first-step tangent kernel and add back the same trajectory with the
    exact infinite-width kernel (:func:`~fltheory.depth.tangent_kernels` at the solve's depth) — the
    Monte-Carlo error of the kernel (lazy) part of training cancels, only that of the feature-learning
    correction is left (depth.md §8, "Numerics"); train quantities only (``f_train``, ``train_loss``,
    ``replicas``), an O(1/M) bias like the scheme's own; ``population="random"`` only.

    Raises :class:`~fltheory.FLTheoryInputError` (naming the parameter) on bad input and, naming ``lr``,
    when the loss becomes non-finite; :class:`~fltheory.ConvergenceError` when the depth correction
    ``diagnostics.residual`` exceeds ``depth_tol`` (``throw=False``: a warning and ``converged=False``).
    """
    t_start = time.perf_counter()
    choice("arch", arch, ARCHS)
    if arch != "depth_mup":
        raise FLTheoryInputError(f"arch: the NFD (infinite-depth) limit exists for 'depth_mup' only, got {arch!r}")
    steps = positive_int("steps", steps)
    if steps > 50:
        raise FLTheoryInputError(f"steps: the NFD solver is meant for at most 50 GD steps, got {steps}")
    lr = positive("lr", lr)
    act = get_activation(phi)
    if not isinstance(phi, str):
        raise FLTheoryInputError("phi: solve_nfd needs an activation name (str)")
    gu2, gw2 = depth_priors(priors, gu2=gu2, gw2=gw2)
    a, gu2, gw2 = positive("a", a), positive("gu2", gu2), positive("gw2", gw2)
    L = positive_int("L", L, minimum=2 if extrapolate else 1)
    if extrapolate and L % 2:
        raise FLTheoryInputError(f"L: must be even for the Richardson extrapolation from L/2, got {L}")
    noise_depth = L if noise_depth is None else positive_int("noise_depth", noise_depth)
    if noise_depth % L:
        raise FLTheoryInputError(f"noise_depth: must be a multiple of L = {L}, got {noise_depth}")
    population = choice("population", population, POPULATIONS)
    if population == "basis" and act.closed_form != "linear":
        raise FLTheoryInputError("population: 'basis' is exact for phi='linear' only; use 'random'")
    replicas = positive_int("replicas", replicas)
    if population == "basis":
        replicas = 1
    depth_tol = positive("depth_tol", depth_tol)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise FLTheoryInputError(f"seed: expected an integer, got {seed!r}")
    task = as_regression_task(task)
    X = finite_array("task.X", task.X, ndim=2)
    Xt = finite_array("task.X_test", task.X_test, ndim=2)
    y = finite_array("task.y", task.y, ndim=1)
    yt = finite_array("task.y_test", task.y_test, ndim=1)
    P = X.shape[0]
    if P > 16:
        raise FLTheoryInputError(f"task: the NFD solver takes at most 16 train inputs, got P = {P}")
    if y.shape[0] != P or Xt.shape[1] != X.shape[1] or yt.shape[0] != Xt.shape[0]:
        raise FLTheoryInputError("task: X, y, X_test, y_test have inconsistent shapes")
    X_all = jnp.asarray(np.concatenate([X, Xt]))
    Q, D = X_all.shape
    yy = np.concatenate([y, yt])
    Ls = (L // 2, L) if extrapolate else (L,)
    if not isinstance(control_variate, (bool, np.bool_)):
        raise FLTheoryInputError(f"control_variate: expected a bool, got {control_variate!r}")
    control_variate = bool(control_variate) and population == "random"
    if control_variate:
        XXtr = X @ X.T / X.shape[1]
        f_exact = {Ld: _kernel_gd(_tangent_exact(X, phi, a, gu2, gw2, Ld, coupling), y, lr, steps) for Ld in Ls}
    if population == "random":
        M = positive_int("n_particles", n_particles, minimum=2)
        if M % 2:
            raise FLTheoryInputError(f"n_particles: must be even (antithetic pairs), got {M}")

    outs = {}
    for Ld in Ls:
        Mi = _n_sources(Ld, steps, P, Q, D) if population == "basis" else M
        if population == "basis" and Mi % 2:
            Mi += 1  # a spare particle with no source (all zeros) keeps M even; averages stay exact
        per = []
        for rep in range(replicas):
            key = jax.random.PRNGKey(int(seed) * 1009 + rep)
            f, Sig, Ph, Phi0, G0 = _run(key, X_all, jnp.asarray(y), jnp.float64(lr), jnp.float64(a),
                                        jnp.float64(gu2), jnp.float64(gw2), phi=phi, L=Ld, K=steps, P=P, M=Mi,
                                        population=population, coupling=coupling, coarsen=noise_depth // Ld)
            f = np.array(f)
            if control_variate:
                Khat = _tangent_from_population(np.asarray(Phi0), np.asarray(G0), XXtr, a**2 / Ld, coupling)
                f[:, :P] += f_exact[Ld] - _kernel_gd(Khat, y, lr, steps)
            per.append((f, np.asarray(Sig), np.asarray(Ph)))
        outs[Ld] = per

    def combine(i):
        fine = np.stack([p[i] for p in outs[L]])
        if not extrapolate:
            return fine
        coarse = np.stack([p[i] for p in outs[L // 2]])
        return 2.0 * fine - coarse

    f_rep, Sig_rep, Ph_rep = combine(0), combine(1), combine(2)
    tr_rep = np.stack([_losses(fr, yy, P)[0] for fr in f_rep])
    bad = ~np.all(np.isfinite(f_rep), axis=(0, 2))
    if bad.any():
        k = int(np.argmax(bad))
        raise FLTheoryInputError(
            f"lr: the NFD loss became non-finite after {k} of {steps} GD steps at lr = {lr:g} (phi = {phi}, "
            f"a = {a:g}, L = {L}); reduce lr")
    f = f_rep.mean(0)
    tr, te = _losses(f, yy, P)
    if replicas > 1:
        mc = float(tr_rep[:, -1].std(ddof=1) / np.sqrt(replicas) / max(abs(tr[-1]), 1e-300))
    else:
        mc = 0.0 if population == "basis" else float("nan")
    if extrapolate:
        ff = np.mean([p[0] for p in outs[L]], axis=0)
        fc = np.mean([p[0] for p in outs[L // 2]], axis=0)
        residual = float(np.max(np.abs(ff - fc)) / max(np.max(np.abs(ff)), 1e-300))
    else:
        residual = float("nan")
    ok = not (residual > depth_tol)
    if not ok:
        report_nonconvergence(f"solve_nfd: the depth correction |f(L) − f(L/2)|/|f| = {residual:.3g} exceeds "
                              f"depth_tol = {depth_tol:g} at L = {L}; remedies: a larger L, or a smaller lr", throw)
    diag = Diagnostics(converged=ok, iterations=int(sum(Ls) * steps * replicas), residual=residual,
                       method=f"nfd-particles({population}, M={n_particles if population == 'random' else 'basis'}, "
                              f"R={replicas}, coupling={coupling}, richardson={extrapolate})",
                       mc_error=mc, wall_time=time.perf_counter() - t_start)
    return NFDResult(train_loss=tr, test_loss=te, f_train=f[:, :P], f_test=f[:, P:], Sigma=Sig_rep.mean(0),
                     Phi=Ph_rep.mean(0), L=L, extrapolated=extrapolate, replicas=tr_rep,
                     f_replicas=f_rep, Sigma_replicas=Sig_rep, diagnostics=diag)


__all__ = ["NFDResult", "POPULATIONS", "solve_nfd"]
