"""The previous saddle-point solver, kept only as a referee for the Newton–Krylov rewrite (issue #12).

Newton on the Cholesky parameters θ of (C, Ĉ) with a dense ``jax.hessian`` of the action: dim θ = n(n+1),
O(n⁴) memory, O(n⁶) time — usable only for n = T·P ≲ 50. Tests check that :func:`fltheory.saddle.solve`
agrees with it where it runs, and ``benchmarks/saddle_scaling.py`` prints the speed ratio.
Not public API.
"""
from __future__ import annotations

from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np

from ..activations import get_activation
from ..kernels.nngp import nngp_kernels
from .action import SaddleProblem, ln_z1_gaussian, pre_kernel, problem_from_arrays, readout_term
from .single_neuron import alternating_signs, importance_ln_z1, standard_draws


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


def _chol_np(A):
    A = 0.5 * (A + A.T)
    return np.linalg.cholesky(A + 1e-12 * np.trace(A) / A.shape[0] * np.eye(A.shape[0]))


def _blocks_of(prob):
    if prob.tied:
        return [np.arange(prob.n)]
    return [np.arange(t * prob.P, (t + 1) * prob.P) for t in range(prob.T)]


def _is_blocks(K, Chat, act, z, Lq, prob):
    """Per factorising block: (indices, its :class:`~.single_neuron.ImportanceMoments`)."""
    from .single_neuron import importance_moments

    out = []
    zz = np.asarray(z)
    for b in _blocks_of(prob):
        ix = np.ix_(b, b)
        Lb = None if Lq is None else np.asarray(Lq)[ix]
        out.append((b, importance_moments(K[ix], Chat[ix], act, zz[:, : len(b)], Lb)))
    return out


def _proposal(C, Chat, prob, act, z, Lq):
    """Whitened proposal factor A: A Aᵀ = 1.2 · L_K⁻¹ ⟨hhᵀ⟩ L_K⁻ᵀ (block-diagonal for the DNN).

    The factor 1.2 widens the proposal so its tails cover the target's (bounded weights)."""
    K = np.asarray(pre_kernel(jnp.asarray(C), prob))
    A = np.zeros((prob.n, prob.n))
    for b, m in _is_blocks(K, Chat * (1 if prob.tied else prob.time_mask), act, z, Lq, prob):
        Lk = _chol_np(K[np.ix_(b, b)])
        Wt = np.linalg.solve(Lk, np.linalg.solve(Lk, m.hh).T)
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




def dense_newton_solve(task, arch="rnn", phi="linear", g2=1.0, gu2=1.0, gw2=1.0, kappa=1.0, *, tol=1e-10,
                       max_iter=50, n_mc=4096, mc_seed=0, n_adapt=2):
    """(C, Ĉ, converged) on the training entries by the previous dense-Hessian Newton solver."""
    act = get_activation(phi, "phi")
    tied = arch == "rnn"
    prob = problem_from_arrays(task.X, task.Y, task.M, tied, g2, gu2, gw2, kappa)
    n = prob.n
    linear = act.closed_form == "linear"
    flips = (alternating_signs(prob.T, prob.P),) if tied and prob.T > 1 else ()
    z = None if linear else standard_draws(n_mc, n if tied else prob.P, mc_seed, flips=flips)
    C0 = nngp_kernels(task.X, phi=act, g2=g2, gu2=gu2, tied=tied).C
    if not tied:
        C0 = C0 * prob.time_mask
    H0 = np.zeros((n, n))
    model = _Model(prob, act, z, None)
    theta, ok, iters, hist = _newton(model, mats_to_theta(C0, H0), tol, max_iter)
    if not ok:
        theta, ok, iters, hist = _homotopy(task, prob, act, z, C0, H0, tol, max_iter, None)
    if not linear and ok:
        for _ in range(n_adapt):
            Cc, Hc = (np.asarray(a) for a in _theta_to_mats_jit(jnp.asarray(theta), n))
            Lq = _proposal(Cc, Hc, prob, act, z, model.Lq)
            model = _Model(prob, act, z, Lq)
            theta, ok, _, _ = _newton(model, theta, tol, max_iter)
    C, Chat = (np.asarray(a) for a in _theta_to_mats_jit(jnp.asarray(theta), n))
    if not tied:
        C, Chat = C * prob.time_mask, Chat * prob.time_mask
    return C, Chat, bool(ok)
