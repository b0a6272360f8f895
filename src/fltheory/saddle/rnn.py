"""The saddle point of the unified RNN/DNN action (conventions §7, docs/theory/unified.md).

:func:`solve` finds (C, Ĉ) with ∂S/∂C = ∂S/∂Ĉ = 0 by Newton's method on the gradient of the action,
with the Hessian from JAX autodiff (float64). C is parametrised by its Cholesky factor (positive
diagonal via exp), so every iterate is positive definite; a backtracking line search keeps the
tilted measure normalisable (I + 2KĈ with positive determinant, finite action). If Newton from the
initial point fails, the targets are ramped from 0 (homotopy from the lazy NNGP solution). A solve
that does not reach ``tol`` raises :class:`fltheory.ConvergenceError` (or returns a Solution with
``diagnostics.converged = False`` when ``raise_on_failure=False``).

The RNN (``arch='rnn'``) and the DNN (``arch='dnn'``) are the same code: the DNN masks the
pre-activation kernel and the output kernel to same-time blocks (δ_ts). The supervised set S is
``task.M``, so endpoint and sequential tasks need nothing else.
"""
from __future__ import annotations

from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np

from .._validate import ConvergenceError, FLTheoryInputError, choice, positive, positive_int
from ..activations import get_activation
from ..kernels.gp import predict_with_kernel
from ..kernels.layout import time_major
from ..kernels.nngp import nngp_kernels
from .action import (SaddleProblem, ln_z1_gaussian, pre_kernel, problem_from_arrays, readout_term,
                     tilted_cov_gaussian)
from .single_neuron import alternating_signs, importance_ln_z1, mcmc_moments, standard_draws
from .solution import Diagnostics, Solution

ARCHS = ("rnn", "dnn")


# ----------------------------------------------------------------------------------------------
# parametrisation θ = (ℓ, ĉ): C = L Lᵀ (L lower triangular, diag = exp), Ĉ symmetric
# ----------------------------------------------------------------------------------------------
def _tril(n):
    return np.tril_indices(n)


def theta_to_mats(theta, n):
    r, c = _tril(n)
    m = len(r)
    ell, chat = theta[:m], theta[m:]
    L = jnp.zeros((n, n), theta.dtype).at[r, c].set(ell)
    d = jnp.diag(L)
    L = L - jnp.diag(d) + jnp.diag(jnp.exp(d))
    C = L @ L.T
    H = jnp.zeros((n, n), theta.dtype).at[r, c].set(chat)
    Chat = H + H.T - jnp.diag(jnp.diag(H))
    return C, Chat


_theta_to_mats_jit = jax.jit(theta_to_mats, static_argnums=1)


def mats_to_theta(C, Chat):
    C = np.asarray(C, float)
    n = C.shape[0]
    L = np.linalg.cholesky(0.5 * (C + C.T) + 1e-14 * np.eye(n))
    L[np.diag_indices(n)] = np.log(np.diag(L))
    r, c = _tril(n)
    return np.concatenate([L[r, c], np.asarray(Chat, float)[r, c]])


# ----------------------------------------------------------------------------------------------
# the action
# ----------------------------------------------------------------------------------------------
@lru_cache(maxsize=64)
def _compiled(T: int, P: int, tied: bool, act, sup: tuple):
    """Jitted action, gradients and Hessian for one static shape (compiled once, reused by every solve)."""
    n = T * P
    sup_arr = np.zeros(n, bool)
    sup_arr[list(sup)] = True
    linear = act.closed_form == "linear"
    layer_blocks = None if tied else [np.arange(t * P, (t + 1) * P) for t in range(T)]
    mask = np.kron(np.eye(T), np.ones((P, P)))

    def S_mats(C, Chat, data):
        prob = SaddleProblem(G=data["G"], sup=sup_arr, y=data["y"], T=T, P=P, tied=tied, g2=data["g2"],
                             gu2=data["gu2"], gw2=data["gw2"], kappa=data["kappa"])
        K = pre_kernel(C, prob)
        # independent layers (DNN): the measure factorises, only same-time Ĉ enters ln Z₁; the
        # cross-time C, Ĉ are then fixed to 0 by the tr(ĈC) term alone.
        Chat_m = Chat if tied else Chat * mask
        if linear:
            lnz = ln_z1_gaussian(K, Chat_m)
        else:
            lnz = importance_ln_z1(K, Chat_m, act, data["z"], blocks=layer_blocks, Lq=data["Lq"])
        return jnp.sum(Chat * C) + lnz + readout_term(C, prob)

    S_theta = lambda th, data: S_mats(*theta_to_mats(th, n), data)
    return dict(S_mats=jax.jit(S_mats), grad_mats=jax.jit(jax.grad(S_mats, argnums=(0, 1))),
                S_theta=jax.jit(S_theta), g_theta=jax.jit(jax.grad(S_theta)),
                H_theta=jax.jit(jax.hessian(S_theta)))


class _Model:
    """Action and its derivatives for one problem (the compiled functions are shared by shape)."""

    def __init__(self, prob: SaddleProblem, act, z, Lq=None):
        self.prob, self.act, self.z, self.Lq = prob, act, z, Lq
        self.linear = act.closed_form == "linear"
        fns = _compiled(prob.T, prob.P, prob.tied, act, tuple(int(i) for i in np.flatnonzero(prob.sup)))
        data = dict(G=jnp.asarray(prob.G), y=jnp.asarray(prob.y), g2=jnp.float64(prob.g2),
                    gu2=jnp.float64(prob.gu2), gw2=jnp.float64(prob.gw2), kappa=jnp.float64(prob.kappa),
                    z=jnp.zeros((1, 1)) if z is None else jnp.asarray(z),
                    Lq=jnp.eye(prob.n) if Lq is None else jnp.asarray(Lq))
        self.S_mats = partial(fns["S_mats"], data=data)
        self.grad_mats = partial(fns["grad_mats"], data=data)
        self.S_theta = partial(fns["S_theta"], data=data)
        self.g_theta = partial(fns["g_theta"], data=data)
        self.H_theta = partial(fns["H_theta"], data=data)


def saddle_residual(model: _Model, C, Chat) -> float:
    """Relative size of the saddle-point equations: max|∂S/∂Ĉ|/max|C|, max|∂S/∂C|/(1+max|Ĉ|)."""
    gC, gH = model.grad_mats(jnp.asarray(C), jnp.asarray(Chat))
    gC, gH = np.asarray(gC), np.asarray(gH)
    return float(max(np.max(np.abs(gH)) / max(np.max(np.abs(C)), 1e-300),
                     np.max(np.abs(gC)) / (1.0 + np.max(np.abs(Chat)))))


def _picard(model: _Model, theta0, tol, max_iter, alpha: float = 0.3):
    """Damped fixed-point iteration C ← C − α∂S/∂Ĉ (= (1−α)C + α⟨φφᵀ⟩), Ĉ ← Ĉ − α∂S/∂C.

    Used for nonlinear φ to bring the importance-sampled equations close to a root, where Newton
    then converges quadratically (from far away Newton stalls on the sampled action)."""
    n = model.prob.n
    C, H = (np.asarray(a) for a in _theta_to_mats_jit(jnp.asarray(theta0), n))
    hist = []
    for it in range(max_iter):
        gC, gH = (np.asarray(a) for a in model.grad_mats(jnp.asarray(C), jnp.asarray(H)))
        res = float(max(np.max(np.abs(gH)) / max(np.max(np.abs(C)), 1e-300),
                        np.max(np.abs(gC)) / (1.0 + np.max(np.abs(H)))))
        hist.append(res)
        if not np.isfinite(res):
            break
        if res < tol:
            break
        C2, H2 = C - alpha * gH, H - alpha * gC
        if np.linalg.eigvalsh(0.5 * (C2 + C2.T)).min() <= 0:
            alpha *= 0.5
            continue
        C, H = 0.5 * (C2 + C2.T), 0.5 * (H2 + H2.T)
    return jnp.asarray(mats_to_theta(C, H)), hist


def _newton(model: _Model, theta0, tol, max_iter):
    n = model.prob.n
    if not model.linear:
        theta0, pre = _picard(model, theta0, tol=1e-5, max_iter=20 * max_iter)
    else:
        pre = []
    theta = jnp.asarray(theta0)
    hist = list(pre)
    for it in range(max_iter + 1):
        C, Chat = _theta_to_mats_jit(theta, n)
        res = saddle_residual(model, C, Chat)
        hist.append(res)
        if not np.isfinite(res):
            return theta, False, it, hist
        if res < tol:
            return theta, True, it, hist
        g = model.g_theta(theta)
        H = model.H_theta(theta)
        try:
            step = -np.linalg.solve(np.asarray(H), np.asarray(g))
        except np.linalg.LinAlgError:
            return theta, False, it, hist
        if not np.all(np.isfinite(step)):
            return theta, False, it, hist
        gnorm = float(np.linalg.norm(g))
        alpha, accepted = 1.0, False
        for _ in range(30):
            cand = theta + alpha * step
            Sc = float(model.S_theta(cand))
            gc = float(np.linalg.norm(np.asarray(model.g_theta(cand))))
            if np.isfinite(Sc) and np.isfinite(gc) and gc < (1 - 1e-4 * alpha) * gnorm:
                accepted = True
                break
            alpha *= 0.5
        if not accepted:
            return theta, False, it, hist
        theta = cand
    return theta, False, max_iter, hist


# ----------------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------------
def _all_layout(P, Pt, T):
    n = P + Pt
    tr = np.array([t * n + mu for t in range(T) for mu in range(P)])
    te = np.array([t * n + mu for t in range(T) for mu in range(P, n)])
    return tr, te


def _test_extension(prob_all: SaddleProblem, C_tr, act, tr, te, isb, seed):
    """C over train+test: test patterns carry no tilt, so h_te | h_tr is the prior conditional
    Gaussian. K_all depends on C_all (shifted), so iterate T+1 times (exact: shift is nilpotent).
    ``isb``: the importance samples of the training measure per block (None for linear φ)."""
    T = prob_all.T
    n_all = prob_all.n
    C_all = np.zeros((n_all, n_all))
    C_all[np.ix_(tr, tr)] = C_tr
    linear = isb is None
    blocks = [np.arange(n_all)] if prob_all.tied else [np.arange(t * prob_all.P, (t + 1) * prob_all.P)
                                                        for t in range(T)]
    rng = np.random.default_rng(seed + 7919)
    for _ in range(T + 1):
        K_all = np.asarray(pre_kernel(jnp.asarray(C_all), prob_all))
        new = np.zeros_like(C_all)
        new[np.ix_(tr, tr)] = C_tr
        for k, b in enumerate(blocks):
            btr = np.intersect1d(b, tr)
            bte = np.intersect1d(b, te)
            if len(bte) == 0:
                continue
            Ktt = K_all[np.ix_(btr, btr)]
            Kxt = K_all[np.ix_(bte, btr)]
            A = np.linalg.solve(Ktt, Kxt.T).T
            Kc = K_all[np.ix_(bte, bte)] - A @ Kxt.T
            Kc = 0.5 * (Kc + Kc.T)
            loc_tr = np.searchsorted(tr, btr)
            if linear:
                Ctr = C_tr[np.ix_(loc_tr, loc_tr)]
                new[np.ix_(bte, btr)] = A @ Ctr
                new[np.ix_(btr, bte)] = (A @ Ctr).T
                new[np.ix_(bte, bte)] = Kc + A @ Ctr @ A.T
            else:
                _, w, htr, atr = isb[k][:4]
                lam, V = np.linalg.eigh(Kc)
                Lc = V * np.sqrt(np.clip(lam, 0, None))
                extra = np.random.default_rng(seed + 7919 + k).standard_normal((htr.shape[0], len(bte)))
                hte = htr @ A.T + extra @ Lc.T
                ate = np.asarray(act(jnp.asarray(hte)))
                cross = np.einsum("k,ki,kj->ij", w, ate, atr)
                new[np.ix_(bte, btr)] = cross
                new[np.ix_(btr, bte)] = cross.T
                new[np.ix_(bte, bte)] = np.einsum("k,ki,kj->ij", w, ate, ate)
        C_all = new
    del rng
    return C_all


def solve(task, arch: str = "rnn", phi="linear", g2: float = 1.0, gu2: float = 1.0, gw2: float = 1.0,
          kappa: float = 1.0, *, init: Solution | tuple | None = None, tol: float = 1e-10,
          max_iter: int = 50, n_mc: int = 4096, mc_seed: int = 0, mcmc_check: bool = False,
          mcmc_kw: dict | None = None, homotopy: bool = True, raise_on_failure: bool = True,
          n_adapt: int = 2) -> Solution:
    """Solve the saddle-point equations of the unified theory on ``task``.

    Parameters
    ----------
    task : a :class:`fltheory.tasks.Task`; S = entries with ``task.M == 1``.
    arch : ``rnn`` (shared weights: all (t, s) blocks of K) or ``dnn`` (independent layers: δ_ts).
    phi : activation; ``linear`` is solved in closed-form matrices, anything else with the
        importance-sampled action (``n_mc`` base draws, closed under the sign symmetries: see
        :func:`~fltheory.saddle.single_neuron.standard_draws`; seed ``mc_seed``).
    g2, gu2, gw2, kappa : prior variances and temperature (conventions §3, §5).
    init : a previous :class:`Solution` or ``(C, Chat)`` on the training entries (continuation);
        default: the NNGP kernel and Ĉ = 0 (the lazy solution).
    tol : convergence threshold on :func:`saddle_residual`.
    mcmc_check : for nonlinear φ, re-measure ⟨φφᵀ⟩ at the solution with blackjax HMC and record the
        Monte-Carlo error and the residual in ``diagnostics`` (``mcmc_kw`` go to
        :func:`~fltheory.saddle.single_neuron.mcmc_moments`).
    homotopy : on failure, ramp the targets from 0 to 1 (continuation from the lazy solution).
    n_adapt : nonlinear φ: number of times the importance proposal N(0, Σq) is re-fitted to the tilted
        ⟨hhᵀ⟩ and the equations re-solved (the first solve uses the prior N(0, K) as proposal).
    """
    choice("arch", arch, ARCHS)
    act = get_activation(phi, "phi")
    g2, gu2, gw2, kappa = (positive(k, v) for k, v in (("g2", g2), ("gu2", gu2), ("gw2", gw2), ("kappa", kappa)))
    positive_int("max_iter", max_iter)
    tied = arch == "rnn"
    prob = problem_from_arrays(task.X, task.Y, task.M, tied, g2, gu2, gw2, kappa)
    if not prob.sup.any():
        raise FLTheoryInputError("task: no supervised entries (task.M is all zero)")
    n = prob.n
    linear = act.closed_form == "linear"
    # RNN: draws closed under h_t → (−1)^t h_t as well as h → −h, so the sampled action keeps the
    # odd-lag symmetry exactly (the block-diagonal branch stays block-diagonal; docs/theory/unified.md)
    flips = (alternating_signs(prob.T, prob.P),) if tied and prob.T > 1 else ()
    z = None if linear else standard_draws(n_mc, n if tied else prob.P, mc_seed, flips=flips)

    if init is None:
        C0 = nngp_kernels(task.X, phi=act, g2=g2, gu2=gu2, tied=tied).C
        if not tied:
            C0 = C0 * prob.time_mask
        H0 = np.zeros((n, n))
    elif isinstance(init, Solution):
        C0, H0 = init.C, init.Chat
    else:
        C0, H0 = (np.asarray(a, float) for a in init)
    Lq = None
    model = _Model(prob, act, z, Lq)
    theta, ok, iters, hist = _newton(model, mats_to_theta(C0, H0), tol, max_iter)
    method = "newton"
    if not ok and homotopy:
        theta, ok, iters, hist = _homotopy(task, prob, act, z, C0, H0, tol, max_iter, Lq)
        method = "newton+homotopy"
    if not linear and ok:
        # adapt the importance proposal to the tilted measure (⟨hhᵀ⟩ at the current solution), re-solve
        for _ in range(n_adapt):
            Cc, Hc = (np.asarray(a) for a in _theta_to_mats_jit(jnp.asarray(theta), n))
            Lq = _proposal(Cc, Hc, prob, act, z, model.Lq)
            model = _Model(prob, act, z, Lq)
            theta, ok, it2, h2 = _newton(model, theta, tol, max_iter)
            iters += it2
            hist += h2
            if not ok:
                break
        method += f"+adapted-proposal({n_adapt})"
    C, Chat = (np.asarray(a) for a in _theta_to_mats_jit(jnp.asarray(theta), n))
    if not tied:
        Chat = Chat * prob.time_mask
        C = C * prob.time_mask
    res = saddle_residual(model, C, Chat)
    ok = ok and res < tol
    if not ok and raise_on_failure:
        raise ConvergenceError(
            f"solve: Newton did not converge (arch={arch}, phi={act.name}, residual {res:.3g} > tol {tol:g} "
            f"after {iters} iterations); try continuation (saddle.follow_branch) or a smaller signal step")
    return _finish(task, prob, model, act, C, Chat, arch, ok, iters, res, method, hist, z, mc_seed,
                   n_mc, mcmc_check, mcmc_kw or {}, dict(g2=g2, gu2=gu2, gw2=gw2, kappa=kappa))


def _chol_np(A):
    A = 0.5 * (A + A.T)
    return np.linalg.cholesky(A + 1e-12 * np.trace(A) / A.shape[0] * np.eye(A.shape[0]))


def _blocks_of(prob):
    if prob.tied:
        return [np.arange(prob.n)]
    return [np.arange(t * prob.P, (t + 1) * prob.P) for t in range(prob.T)]


def _is_blocks(K, Chat, act, z, Lq, prob):
    """Per factorising block: (indices, weights, h, φ(h), ⟨hhᵀ⟩, ⟨φhᵀ⟩, ess) of the importance estimate."""
    from .single_neuron import importance_moments

    out = []
    zz = np.asarray(z)
    for b in _blocks_of(prob):
        ix = np.ix_(b, b)
        Lb = None if Lq is None else np.asarray(Lq)[ix]
        C_, hh, ph, ess, w, h, a = importance_moments(K[ix], Chat[ix], act, zz[:, : len(b)], Lb)
        out.append((b, w, h, a, hh, ph, ess))
    return out


def _proposal(C, Chat, prob, act, z, Lq):
    """Whitened proposal factor A: A Aᵀ = 1.2 · L_K⁻¹ ⟨hhᵀ⟩ L_K⁻ᵀ (block-diagonal for the DNN).

    The factor 1.2 widens the proposal so its tails cover the target's (bounded weights)."""
    K = np.asarray(pre_kernel(jnp.asarray(C), prob))
    A = np.zeros((prob.n, prob.n))
    for b, w, h, a, hh, ph, ess in _is_blocks(K, Chat * (1 if prob.tied else prob.time_mask), act, z, Lq, prob):
        Lk = _chol_np(K[np.ix_(b, b)])
        Wt = np.linalg.solve(Lk, np.linalg.solve(Lk, hh).T)
        A[np.ix_(b, b)] = _chol_np(1.2 * Wt)
    return A


def _homotopy(task, prob, act, z, C0, H0, tol, max_iter, Lq=None):
    """Ramp y → λ y, λ: 0 → 1, with adaptive steps, each solved by Newton from the previous one."""
    import dataclasses

    lam, dlam = 0.0, 0.25
    theta = mats_to_theta(C0, np.zeros_like(H0))
    total = 0
    hist = []
    while lam < 1.0:
        nxt = min(1.0, lam + dlam)
        model = _Model(dataclasses.replace(prob, y=prob.y * nxt), act, z, Lq)
        th, ok, it, h = _newton(model, theta, tol, max_iter)
        total += it
        if ok:
            theta, lam = th, nxt
            hist += h
            dlam = min(0.5, dlam * 1.5)
        else:
            dlam /= 4
            if dlam < 1e-4:
                return theta, False, total, hist
    return theta, True, total, hist


def _finish(task, prob, model, act, C, Chat, arch, ok, iters, res, method, hist, z, mc_seed, n_mc,
            mcmc_check, mcmc_kw, params):
    K = np.asarray(pre_kernel(jnp.asarray(C), prob))
    action = float(model.S_mats(jnp.asarray(C), jnp.asarray(Chat)))
    linear = act.closed_form == "linear"
    ess = float("nan")
    isb = None
    if linear:
        phih = C.copy()
    else:
        isb = _is_blocks(K, Chat, act, z, model.Lq, prob)
        phih = np.zeros_like(C)
        for b, w, h, a, hh, ph, e in isb:
            phih[np.ix_(b, b)] = ph
        ess = float(min(x[-1] for x in isb))
    diag_kw = {}
    if mcmc_check and not linear:
        mm = mcmc_moments(K, Chat, act, seed=mc_seed, **mcmc_kw)
        diff = np.abs(mm.phiphi - C)
        if not prob.tied:
            diff = diff * prob.time_mask
        diag_kw = dict(mc_error=mm.max_sem, mc_residual=float(diff.max()),
                       mc_zscore=float(np.max(diff / np.maximum(mm.phiphi_sem, 1e-300))),
                       mc_acceptance=mm.acceptance)
    # test rows
    P, Pt, T = task.P, task.P_test, task.T
    X_all = np.concatenate([task.X, task.X_test])
    Y_all = np.concatenate([task.Y, np.zeros_like(task.Y_test)])
    M_all = np.concatenate([task.M, np.zeros((Pt, T))])
    prob_all = problem_from_arrays(X_all, Y_all, M_all, prob.tied, prob.g2, prob.gu2, prob.gw2, prob.kappa)
    tr, te = _all_layout(P, Pt, T)
    C_all = _test_extension(prob_all, C, act, tr, te, isb, mc_seed)
    if not prob.tied:
        C_all = C_all * prob_all.time_mask
    pred = predict_with_kernel(C_all, task, tied=prob.tied, gw2=prob.gw2, kappa=prob.kappa)
    diag = Diagnostics(converged=bool(ok), iterations=int(iters), residual=float(res), method=method,
                       history=tuple(float(h) for h in hist), ess=ess, **diag_kw)
    return Solution(arch=arch, phi=act.name, C=C, Chat=Chat, K=K, C_all=C_all, phih=phih, action=action,
                    prediction=pred, diagnostics=diag, T=T, P=P, P_test=Pt, params=params)


__all__ = ["ARCHS", "saddle_residual", "solve", "theta_to_mats", "mats_to_theta"]
