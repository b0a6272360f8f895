"""Exact finite-width posterior of the one-pattern linear endpoint chain (issue #13; docs/theory/finite_width.md §3).

The network of :func:`~fltheory.saddle.linear_chain.chain_task`: φ = identity, P = 1, input only at
t = 1 (k₁ = g_u²|x|²/D), target y at t = T, width N. Its hidden states h_1, …, h_T ∈ ℝᴺ have a density
that depends on them only through their Gram matrix G_ts = h_t·h_s/N (= the kernel C), because every
weight matrix is Gaussian and rotation invariant:

- h_1 ~ N(0, k₁ I);
- DNN: h_{t+1} | h_{≤t} ~ N(0, g² G_tt I) (fresh W_t);
- RNN: the shared J = W/√N is already pinned on span(h_1 … h_{t−1}) by J h_s = h_{s+1}, so
  h_{t+1} | h_{≤t} ~ N(Σ_s a_s h_{s+1}, g² G_{tt|<t} I) with a = G_{<t,<t}⁻¹ G_{<t,t} and the Schur
  complement G_{tt|<t} = G_tt − G_{t,<t} a;
- the readout integrated out multiplies by L(G_TT) = (1 + g_w² G_TT/κ)^{−O/2} exp(−(N/2) y²/(g_w² G_TT + κ)),
  and the map H ↦ G = HᵀH/N contributes det(G)^{(N−T−1)/2}.

So the posterior of the kernel is an explicit density on the T(T+1)/2 entries of G, at any N. Its
moments are computed by Gauss–Hermite quadrature in log-Cholesky coordinates whitened by the Laplace
approximation at the mode (and at its mirror image under the sign symmetry W → −W, which flips the odd
lags) — deterministic and spectrally accurate. This is an *exact* referee for the saddle point and its 1/N
correction — no step-size bias, no mode-hopping problem, no relaxation times — for this one family.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import minimize

from .._validate import FLTheoryInputError, choice, positive, positive_int

__all__ = ["ChainMoments", "chain_log_density", "exact_chain_moments"]

#: Mahalanobis distance (in Laplace standard deviations) between a mode and its W → −W mirror image
#: beyond which the mirror modes are treated as disjoint (the Gaussian mass past the midplane < 1e-15)
SEPARATED = 16.0


@dataclass(frozen=True)
class ChainMoments:
    """Posterior means (and their importance-sampling standard errors) at width ``N``.

    ``C``: ⟨G⟩ (T×T); ``C_folded``: the sign-invariant kernel, ⟨G⟩ with each sample's odd lags
    multiplied by sign(G_12) (once the two mirror modes of the broken RNN are disjoint, one mode is
    integrated with a fixed sign: the same up to exponentially small mass, and smooth): what a chain that
    stays in one mode shows, and what a broken-phase saddle point predicts; ``f``: the posterior-mean output at the supervised step; ``q``: the instantaneous
    sign-invariant lag-1 order parameter mean_t |G_{t,t+1}|/√(G_tt G_{t+1,t+1}) averaged over the
    posterior; ``*_se``: the quadrature error estimate (difference to a rule two orders lower); ``mode_C``:
    the most probable kernel at this N.
    """

    N: int
    C: np.ndarray
    C_se: np.ndarray
    C_folded: np.ndarray
    C_folded_se: np.ndarray
    f: float
    f_se: float
    q: float
    q_se: float
    order: int
    mode_C: np.ndarray


def _tril(T):
    return np.tril_indices(T)


def chain_log_density(G, N: int, y: float, arch: str = "rnn", k1: float = 1.0, g2: float = 1.0,
                      gw2: float = 1.0, kappa: float = 1.0, O: int = 1):
    """log p(G) of the module docstring (up to a constant), for a symmetric positive-definite ``G`` (T×T)."""
    T = G.shape[0]
    lp = 0.5 * (N - T - 1) * jnp.linalg.slogdet(G)[1]
    lp += -0.5 * N * (jnp.log(k1) + G[0, 0] / k1)
    for t in range(1, T):          # the law of h_{t+1} (0-based: h[t]) given h[:t]
        if arch == "dnn" or t == 1:
            s2 = g2 * G[t - 1, t - 1]
            resid = G[t, t]
        else:
            Gp = G[: t - 1, : t - 1]
            a = jnp.linalg.solve(Gp, G[: t - 1, t - 1])
            s2 = g2 * (G[t - 1, t - 1] - G[t - 1, : t - 1] @ a)
            B = G[1:t, 1:t]                   # Gram of h_2 … h_t (the images)
            resid = G[t, t] - 2.0 * a @ G[1:t, t] + a @ B @ a
        lp += -0.5 * N * (jnp.log(s2) + resid / s2)
    cT = gw2 * G[T - 1, T - 1]
    lp += -0.5 * O * jnp.log1p(cT / kappa) - 0.5 * N * y**2 / (cT + kappa)
    return lp


def _from_params(p, T):
    """log-Cholesky parameters → (G, log|Jacobian| of p ↦ G)."""
    i, j = _tril(T)
    L = jnp.zeros((T, T), dtype=p.dtype).at[i, j].set(p)
    d = jnp.diag(L)
    L = L.at[jnp.arange(T), jnp.arange(T)].set(jnp.exp(d))
    # dG/dL for lower Cholesky: 2^T Π L_ii^{T−i+1} (i = 1…T); the exp adds Σ d_i
    logjac = jnp.sum((T - jnp.arange(T) + 1) * d)
    return L @ L.T, logjac


def _to_params(G):
    T = G.shape[0]
    L = np.linalg.cholesky(G)
    L[np.arange(T), np.arange(T)] = np.log(np.diag(L))
    return L[_tril(T)]


class _Fns(NamedTuple):
    logp: object
    grad: object
    hess: object
    logp_b: object
    gram_b: object


@lru_cache(maxsize=16)
def _compiled(T: int, arch: str) -> _Fns:
    """Jitted log-density (in log-Cholesky coordinates, with its Jacobian) for one (T, arch); the
    parameters θ = (N, y, k₁, g², g_w², κ) are traced, so new widths and signals do not recompile."""
    def logp(p, th):
        G, lj = _from_params(p, T)
        return chain_log_density(G, th[0], th[1], arch, th[2], th[3], th[4], th[5]) + lj

    return _Fns(jax.jit(logp), jax.jit(jax.grad(logp)), jax.jit(jax.hessian(logp)),
                jax.jit(jax.vmap(logp, in_axes=(0, None))),
                jax.jit(jax.vmap(lambda p: _from_params(p, T)[0])))


def _sign_flip(T):
    """h_t → (−1)^t h_t on the Cholesky rows (RNN symmetry W → −W): L → D L with D = diag((−1)^t)
    leaves diagonals positive after re-signing columns, i.e. L_ij → (−1)^{i+j} L_ij."""
    i, j = _tril(T)
    return ((-1.0) ** (i + j)).astype(float)


def exact_chain_moments(y: float, N: int, T: int = 3, arch: str = "rnn", *, init_C=None, k1: float = 1.0,
                        g2: float = 1.0, gw2: float = 1.0, kappa: float = 1.0, order: int | None = None,
                        chunk: int = 2**16) -> ChainMoments:
    """Posterior moments of the kernel of the linear one-pattern chain at width ``N`` (module docstring).

    ``init_C`` (T×T): where to start the mode search (e.g. a saddle-point ``Solution.C`` of the branch of
    interest); default: the prior kernel. The integrals are tensor Gauss–Hermite rules of ``order`` nodes
    per axis in the coordinates that whiten the Laplace approximation at the mode (and, for the RNN, at its
    W → −W mirror image, joined by a smooth partition of unity, when the two overlap; once they are
    more than ``SEPARATED`` Laplace standard deviations apart one mode is integrated and folded); the reported error (``*_se``) is the
    difference to the rule of order − 2. Default order: about 10⁶ nodes per mode.
    """
    T = positive_int("T", T, minimum=1)
    N = positive_int("N", N, minimum=T + 1)            # the T states must span T dimensions
    choice("arch", arch, ("rnn", "dnn"))
    kappa, k1, g2, gw2 = positive("kappa", kappa), positive("k1", k1), positive("g2", g2), positive("gw2", gw2)
    dim = T * (T + 1) // 2
    if order is None:
        order = max(6, min(40, int(round(10 ** (6.0 / dim)))))   # ≈ 10⁶ nodes per mode, at most 40 per axis
    order = positive_int("order", order, minimum=4)
    if 2 * float(order) ** dim > 5e7:
        raise FLTheoryInputError(f"order: {order}^{dim} quadrature nodes are too many; lower the order or T")
    chunk = positive_int("chunk", chunk)
    y = float(y)
    if init_C is None:
        init_C = np.diag([k1 * g2**t for t in range(T)])
    init_C = np.asarray(init_C, float)
    if init_C.shape != (T, T):
        raise FLTheoryInputError(f"init_C: expected shape ({T}, {T}), got {init_C.shape}")

    fns = _compiled(T, arch)
    th = jnp.asarray([N, y, k1, g2, gw2, kappa], dtype=jnp.float64)
    p = _to_params(0.5 * (init_C + init_C.T) + 1e-9 * np.eye(T))
    for attempt in range(4):
        res = minimize(lambda q: -float(fns.logp(jnp.asarray(q), th)), p,
                       jac=lambda q: -np.asarray(fns.grad(jnp.asarray(q), th)),
                       method="BFGS", options=dict(gtol=1e-10, maxiter=2000))
        mode = res.x
        Hs = -np.asarray(fns.hess(jnp.asarray(mode), th))
        ev, V = np.linalg.eigh(0.5 * (Hs + Hs.T))
        if np.min(ev) > 0:
            break
        # a saddle of the density (e.g. the symmetric point above the RNN transition, where the search
        # cannot leave the symmetric subspace by itself): step off along the negative curvature
        p = mode + V[:, 0] / np.sqrt(-ev[0])
    if np.min(ev) <= 0:
        raise FLTheoryInputError(f"init_C: the posterior mode search did not reach a maximum (Hessian eigenvalue "
                                 f"{np.min(ev):.2e}); start it elsewhere with init_C")
    A = V / np.sqrt(ev)                                  # Laplace scale: cov = A Aᵀ = H⁻¹
    dim = len(mode)
    Ainv = np.linalg.inv(A)
    modes = [mode]
    mirrored = False
    if arch == "rnn" and T > 1:
        mirror = mode * _sign_flip(T)                   # the W → −W image of the mode
        separation = float(np.linalg.norm(Ainv @ (mirror - mode)))
        if separation > SEPARATED:
            mirrored = True                             # disjoint mirror modes: integrate one, fold exactly
        elif separation > 1e-6:
            modes.append(mirror)                        # overlapping modes: both, with a partition of unity
        else:
            mode = 0.5 * (mode + mirror)                # a symmetric mode: exactly on the symmetric subspace
            modes = [mode]
    logp_b = lambda x: fns.logp_b(x, th)                    # noqa: E731
    gram_b = fns.gram_b
    mode_C = np.asarray(gram_b(jnp.asarray(mode[None])))[0]

    def integrate(order):
        z1, w1 = np.polynomial.hermite_e.hermegauss(order)
        lw1 = np.log(w1)
        grids = np.meshgrid(*([np.arange(order)] * dim), indexing="ij")
        idx = np.stack([g.ravel() for g in grids], -1)                    # [order^dim, dim]
        acc, lse = {}, -np.inf
        parts = []
        for km, m in enumerate(modes):
            fold = np.sign(mode_C[0, 1]) if mirrored else None
            for lo in range(0, len(idx), chunk):
                ii = idx[lo:lo + chunk]
                z = z1[ii]
                x = m + z @ A.T
                lnode = lw1[ii].sum(-1) + 0.5 * np.sum(z * z, -1)          # GH weight / φ(z)
                lq = np.stack([-0.5 * np.sum(((x - mm) @ Ainv.T) ** 2, -1) for mm in modes])
                lpart = -0.5 * np.sum(z * z, -1) - np.logaddexp.reduce(lq, axis=0)  # partition of unity
                lw = np.asarray(logp_b(jnp.asarray(x))) + lnode + lpart
                lw = np.where(np.isfinite(lw), lw, -np.inf)
                parts.append((lw, _observables(np.asarray(gram_b(jnp.asarray(x))), y, gw2, kappa, fold)))
        top = max(float(np.max(lw)) for lw, _ in parts)
        tot = sum(float(np.sum(np.exp(lw - top))) for lw, _ in parts)
        out = {}
        for lw, ob in parts:
            w = np.exp(lw - top) / tot
            for k, v in ob.items():
                out[k] = out.get(k, 0.0) + np.tensordot(w, v, axes=(0, 0))
        return out

    hi = integrate(order)
    lo = integrate(order - 2)
    if mirrored:   # the posterior mean is the average of the mode and its mirror image: odd lags cancel
        lag = np.abs(np.arange(T)[:, None] - np.arange(T)[None, :])
        for r in (hi, lo):
            r["C"] = np.where(lag % 2 == 1, 0.0, r["C"])
    err = {k: np.abs(hi[k] - lo[k]) for k in hi}
    return ChainMoments(N=N, C=hi["C"], C_se=err["C"], C_folded=hi["C_folded"], C_folded_se=err["C_folded"],
                        f=float(hi["f"]), f_se=float(err["f"]),
                        q=float(hi["q"]), q_se=float(err["q"]), order=order, mode_C=mode_C)


def _observables(G, y, gw2, kappa, fold=None):
    """Per-node observables. ``fold``: None — sign-invariant per node (odd lags times sign(G_12), q with
    |G_{t,t+1}|: exact but not smooth at G_12 = 0, so the rule converges slowly where the posterior has
    mass there); ±1 — the fixed sign that maps the (disjoint) mode integrated onto the mode with G_12 > 0
    (smooth, used once the mirror modes are disjoint)."""
    T = G.shape[-1]
    cT = gw2 * G[:, T - 1, T - 1]
    d = np.sqrt(np.einsum("bii->bi", G))
    out = {"C": G, "f": cT / (cT + kappa) * y}
    if T == 1:
        out["C_folded"] = G
        out["q"] = np.zeros(len(G))
        return out
    lag = np.abs(np.arange(T)[:, None] - np.arange(T)[None, :])
    s = (np.where(G[:, 0, 1] < 0, -1.0, 1.0) if fold is None else np.full(len(G), float(fold)))[:, None, None]
    Gf = np.where(lag % 2 == 1, s * G, G)
    out["C_folded"] = Gf
    q = [Gf[:, t, t + 1] / (d[:, t] * d[:, t + 1]) for t in range(T - 1)]
    out["q"] = np.mean(np.abs(q) if fold is None else q, 0)
    return out
