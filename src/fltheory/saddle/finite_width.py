"""The O(1/N) correction to the saddle point (issue #13; derivation: docs/theory/finite_width.md).

At width N the posterior of the order parameters x = (C, Ĉ) on the training entries is exactly
(conventions §7, the readout integrated out, the Ĉ contour imaginary)

    p(x) ∝ exp(N Φ(x) + R(C)),   Φ = tr(ĈC) + ln Z₁[K(C), Ĉ] − ½ yᵀ(Σ_SS(C) + κ)⁻¹ y,
                                 R = −(O/2) ln det(I + Σ_SS(C)/κ),

where R is the readout determinant the leading order drops. Expanding around the saddle x* (∇Φ = 0)
with H = ∇²Φ(x*) gives, for any smooth observable O(C),

    ⟨O⟩_N = O(x*) + O₁/N + O(1/N²),
    O₁    = ∇O·δ₁ − ½ tr(∇²O H⁻¹),     δ₁ = −H⁻¹ ∇[R − ½ ln det(−H)](x*)

(δ₁ = N(⟨x⟩ − x*): the readout determinant plus the cubic term of the action contracted with the
Gaussian fluctuations −H⁻¹/N). The observables are the kernel C, the mean predictor on the training
entries f_S = Σ(Σ + κ)⁻¹ y (exact given C), and the sign-invariant lag order parameters of
:func:`~fltheory.saddle.solution.order_parameter`.

Cost: the expansion works in the m = 2·(number of free kernel entries) coordinates of (C, Ĉ) —
n(n+1) for the RNN, T·P(P+1) for the DNN (its measure factorises over layers, so the cross-layer
entries are absent from the action) — with a dense Hessian (m² memory) and m third-order directional
derivatives of Φ, each O(n³). The size is checked before anything is allocated. φ = identity uses the
closed-form action; any other φ the importance-sampled ln Z₁ with fixed draws (:func:`sampled_ln_z1`),
with the Monte-Carlo error of the correction estimated from independent draw sets.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from .._resources import require_memory
from .._validate import FLTheoryInputError, positive, positive_int
from ..diagnostics import Diagnostics
from .action import SaddleProblem, ln_z1_gaussian, output_cov, pre_kernel, readout_term
from .solution import order_parameter

__all__ = ["FiniteWidth", "FiniteWidthWarning", "finite_width_correction"]

#: relative size of the first-order correction, |O₁|/(N |O|), above which the expansion is not trusted
MAX_RELATIVE_CORRECTION = 0.25
MAX_GINZBURG = 1.0       # soft-mode fluctuations perturbative: Gi = g/N ≤ 1 (docs/theory/finite_width.md §2.3)
SOFT_MODES = 3           # the Ginzburg number is the largest over this many softest Hessian modes
#: reciprocal condition number of H below which the saddle point is treated as singular
SINGULAR_RCOND = 1e-10


class FiniteWidthWarning(RuntimeWarning):
    """The 1/N expansion is used where it is not accurate (close to a transition, or N too small)."""


@dataclass(frozen=True)
class FiniteWidth:
    """Observables at width ``N`` to first order in 1/N: ``value = leading + first/N``.

    ``C``/``C_first`` are over the training entries (time-major, like :class:`Solution.C`), ``f``/``f_first``
    the posterior-mean predictor on the supervised entries ``[n_sup, O]``, ``q``/``q_first`` the lag-1
    order parameter (sign-invariant, :func:`order_parameter`). ``softest`` is the smallest |eigenvalue| of
    the Hessian of Φ over its largest: it goes to 0 at a transition (a zero mode), where the expansion
    breaks down. ``relative_correction`` = max over observables of |first|/(N |leading|).
    ``ginzburg`` = g/N, the size of the anharmonic terms of the action along its softest modes against
    their Gaussian fluctuations (g = max over the ``SOFT_MODES`` softest Hessian eigendirections v of
    Φ'''(v)²/|λ|³ + |Φ''''(v)|/λ², ``ginzburg_first``): the expansion is reliable where it is ≤
    ``MAX_GINZBURG`` = 1 (docs/theory/finite_width.md §2.3); ``reliable`` says whether both criteria hold.
    """

    N: int
    C: np.ndarray
    C_leading: np.ndarray
    C_first: np.ndarray
    f: np.ndarray
    f_leading: np.ndarray
    f_first: np.ndarray
    q: float
    q_leading: float
    q_first: float
    softest: float
    relative_correction: float
    diagnostics: Diagnostics = field(repr=False)
    T: int = 0
    P: int = 0
    C_first_se: np.ndarray | None = field(default=None, repr=False)   # Monte-Carlo s.e. of C_first (nonlinear φ)
    ginzburg_first: float = 0.0

    @property
    def ginzburg(self) -> float:
        """The Ginzburg number g/N at this width (≤ ``MAX_GINZBURG``: soft modes perturbative)."""
        return self.ginzburg_first / self.N

    @property
    def reliable(self) -> bool:
        """Both criteria of the expansion hold at this N: relative correction ≤ 0.25 and Ginzburg ≤ 1."""
        return bool(self.relative_correction <= MAX_RELATIVE_CORRECTION and self.ginzburg <= MAX_GINZBURG)

    def at(self, N: int) -> "FiniteWidth":
        """The same expansion evaluated at another width."""
        N = _width(N)
        rel = _relative(self.C_leading, self.C_first, self.f_leading, self.f_first, self.q_leading, self.q_first, N)
        return FiniteWidth(N=N, C=self.C_leading + self.C_first / N, C_leading=self.C_leading,
                           C_first=self.C_first, f=self.f_leading + self.f_first / N, f_leading=self.f_leading,
                           f_first=self.f_first, q=self.q_leading + self.q_first / N, q_leading=self.q_leading,
                           q_first=self.q_first, softest=self.softest, relative_correction=rel,
                           diagnostics=self.diagnostics, T=self.T, P=self.P, C_first_se=self.C_first_se,
                           ginzburg_first=self.ginzburg_first)


def _width(N) -> int:
    return positive_int("N", N)


def _relative(C0, C1, f0, f1, q0, q1, N) -> float:
    def rel(a0, a1):
        a0, a1 = np.abs(np.asarray(a0)), np.abs(np.asarray(a1))
        scale = max(float(np.max(a0)) if a0.size else 0.0, 1e-300)
        return float(np.max(a1)) / (N * scale) if a1.size else 0.0
    out = max(rel(C0, C1), rel(f0, f1))
    if q0 > 1e-8:
        out = max(out, abs(q1) / (N * q0))
    return out


class _Coords:
    """x = (free entries of C, the same entries of Ĉ) ↔ dense symmetric matrices."""

    def __init__(self, prob: SaddleProblem):
        n = prob.n
        iu, ju = np.triu_indices(n)
        if not prob.tied:  # DNN: only the diagonal blocks are order parameters of the action
            keep = (iu // prob.P) == (ju // prob.P)
            iu, ju = iu[keep], ju[keep]
        self.n, self.iu, self.ju = n, iu, ju
        self.k = len(iu)

    @property
    def m(self) -> int:
        return 2 * self.k

    def dense(self, v):
        A = jnp.zeros((self.n, self.n), dtype=v.dtype).at[self.iu, self.ju].set(v)
        return A + jnp.triu(A, 1).T

    def vec(self, A) -> np.ndarray:
        return np.asarray(A)[self.iu, self.ju]


def _blocks(prob: SaddleProblem):
    """Index blocks of the single-neuron measure: one of size n (RNN), T of size P (DNN, factorised)."""
    if prob.tied:
        return [np.arange(prob.n)]
    return [np.arange(t * prob.P, (t + 1) * prob.P) for t in range(prob.T)]


def sampled_ln_z1(prob: SaddleProblem, act, K0, Chat0, n_draws: int, seed: int):
    """ln Z₁(K, Ĉ) as a smooth function by importance sampling with *fixed* draws (conventions §7).

    Per block b: h = L_K A_b z, z the base draws closed under z → −z (and, for the RNN, the alternating
    signs of the W → −W symmetry), A_b the proposal fitted at (K0, Ĉ0): A Aᵀ = 1.2 L⁻¹⟨hhᵀ⟩L⁻ᵀ, so
    the estimate is accurate where the expansion evaluates it. ln Z₁ = Σ_b log mean exp(log-weight)."""
    from scipy.stats import norm, qmc

    rng_seed = int(seed)
    parts = []
    for ib, idx in enumerate(_blocks(prob)):
        d = len(idx)
        n_base = 2 ** int(np.ceil(np.log2(max(n_draws // 4, 16))))
        u = qmc.Sobol(d=d, scramble=True, seed=rng_seed + 7919 * ib).random(n_base)
        z = norm.ppf(np.clip(u, 1e-15, 1 - 1e-15))
        signs = [np.ones(d), -np.ones(d)]
        if prob.tied and prob.T > 1:
            alt = np.repeat((-1.0) ** np.arange(prob.T), prob.P)
            signs += [alt, -alt]
        z = np.concatenate([z * sg for sg in signs])
        Kb, Hb = np.asarray(K0)[np.ix_(idx, idx)], np.asarray(Chat0)[np.ix_(idx, idx)]
        L = np.linalg.cholesky(0.5 * (Kb + Kb.T) + 1e-12 * np.trace(Kb) / d * np.eye(d))
        h = z @ L.T
        a = np.asarray(act(jnp.asarray(h)))
        lw = -np.einsum("ki,ij,kj->k", a, Hb, a)
        w = np.exp(lw - lw.max())
        w /= w.sum()
        hh = (h * w[:, None]).T @ h
        Li = np.linalg.inv(L)
        W = Li @ hh @ Li.T
        A = np.linalg.cholesky(1.2 * 0.5 * (W + W.T) + 1e-12 * np.eye(d))
        parts.append((idx, jnp.asarray(z), jnp.asarray(A), float(np.sum(np.log(np.diag(A))))))

    def ln_z1(K, Ch):
        total = 0.0
        for idx, z, A, logdetA in parts:
            Kb, Hb = K[np.ix_(idx, idx)], Ch[np.ix_(idx, idx)]
            d = len(idx)
            L = jnp.linalg.cholesky(0.5 * (Kb + Kb.T) + 1e-12 * jnp.trace(Kb) / d * jnp.eye(d))
            v = z @ A.T
            a = act(v @ L.T)
            lw = -0.5 * jnp.sum(v * v, 1) + 0.5 * jnp.sum(z * z, 1) + logdetA - jnp.sum(a * (a @ Hb), 1)
            total = total + jax.scipy.special.logsumexp(lw) - jnp.log(lw.shape[0])
        return total

    return ln_z1


def _phi_action(prob: SaddleProblem, co: _Coords, ln_z1=None):
    ln_z1 = ln_z1_gaussian if ln_z1 is None else ln_z1

    def Phi(x):
        C, Ch = co.dense(x[: co.k]), co.dense(x[co.k:])
        K = pre_kernel(C, prob)
        return jnp.sum(Ch * C) + ln_z1(K, Ch) + readout_term(C, prob)

    def R(x):
        C = co.dense(x[: co.k])
        sup = np.flatnonzero(prob.sup)
        Sig = output_cov(C, prob)[np.ix_(sup, sup)]
        _, logdet = jnp.linalg.slogdet(jnp.eye(len(sup)) + Sig / prob.kappa)
        return -0.5 * prob.y.shape[1] * logdet

    return Phi, R


def _predictor(prob: SaddleProblem, co: _Coords):
    sup = np.flatnonzero(prob.sup)

    def f(c):
        Sig = output_cov(co.dense(c), prob)[np.ix_(sup, sup)]
        return Sig @ jnp.linalg.solve(Sig + prob.kappa * jnp.eye(len(sup)), jnp.asarray(prob.y))

    return f


def _q(prob: SaddleProblem, co: _Coords, sign):
    """Lag-1 order parameter as a smooth function of C (norms of blocks; sign-fixed at the saddle)."""
    T, P = prob.T, prob.P

    def q(c):
        C = co.dense(c)
        vals = []
        for t in range(T - 1):
            num = jnp.sqrt(jnp.sum(C[t * P:(t + 1) * P, (t + 1) * P:(t + 2) * P] ** 2))
            den = jnp.sqrt(jnp.sqrt(jnp.sum(C[t * P:(t + 1) * P, t * P:(t + 1) * P] ** 2))
                           * jnp.sqrt(jnp.sum(C[(t + 1) * P:(t + 2) * P, (t + 1) * P:(t + 2) * P] ** 2)))
            vals.append(num / den)
        return jnp.mean(jnp.stack(vals))

    return q


def memory_estimate(m: int, n: int) -> float:
    """Bytes of the dense Hessian, its factorisation and one batch of third-order derivatives."""
    return 8.0 * (3 * m * m + 64 * m * n * n)


def finite_width_correction(sol, N: int, *, batch: int = 64, n_draws: int = 2**17, mc_seed: int = 0,
                            mc_splits: int = 4) -> FiniteWidth:
    """First-order 1/N correction to the observables of a saddle point (module docstring).

    ``sol`` is a :class:`~fltheory.saddle.Solution` of :func:`~fltheory.saddle.solve` (it carries its
    problem). φ = identity uses the closed-form action. Any other φ uses ln Z₁ by importance sampling with
    ``n_draws`` fixed draws (:func:`sampled_ln_z1`, proposal fitted at the saddle point); its Monte-Carlo
    error is estimated from ``mc_splits`` independent estimates on draw sets ``mc_splits`` times smaller
    (their spread / √mc_splits; per entry in ``C_first_se``, and ``diagnostics.mc_error`` = the largest
    s.e. of C₁/N relative to max|C|). Raises :class:`FLTheoryInputError` for a bad ``N`` or a singular
    Hessian (a zero mode: the saddle point sits at a transition, where the corrections diverge); warns
    (:class:`FiniteWidthWarning`) when the correction exceeds ``MAX_RELATIVE_CORRECTION`` of the leading
    order at this ``N``.
    """
    from ..activations import get_activation

    t0 = time.perf_counter()
    N = _width(N)
    prob = getattr(sol, "problem", None)
    if prob is None:
        raise FLTheoryInputError("sol: carries no problem; pass a Solution returned by fltheory.saddle.solve")
    positive_int("batch", batch)
    act = get_activation(sol.phi, "phi")
    linear = act.closed_form == "linear"
    if not linear:
        positive_int("n_draws", n_draws, minimum=64)
        positive_int("mc_splits", mc_splits, minimum=2)
    co = _Coords(prob)
    require_memory("sol", memory_estimate(co.m, co.n), "the finite-width correction (a dense Hessian over "
                   f"m = {co.m} coordinates of (C, Ĉ))", "use fewer patterns P or time steps T")
    x = jnp.asarray(np.concatenate([co.vec(sol.C), co.vec(sol.Chat)]))
    C0 = np.asarray(sol.C)
    if not prob.tied:
        C0 = C0 * prob.time_mask
    if linear:
        C1, f0, f1, q0, q1, softest, resid, gin = _expand(prob, co, _phi_action(prob, co), x, sol, batch)
        C1_se = np.zeros_like(C1)
        mc_error = float("nan")
    else:
        def run(nd, seed):
            lz = sampled_ln_z1(prob, act, sol.K, sol.Chat, nd, seed)
            return _expand(prob, co, _phi_action(prob, co, lz), x, sol, batch)

        C1, f0, f1, q0, q1, softest, resid, gin = run(n_draws, mc_seed)
        subs = [run(max(n_draws // mc_splits, 64), mc_seed + 1 + i) for i in range(mc_splits)]
        C1_se = np.std([r[0] for r in subs], 0, ddof=1) / np.sqrt(mc_splits)
        mc_error = float(np.max(C1_se) / N / max(np.max(np.abs(C0)), 1e-300))
    rel = _relative(C0, C1, f0, f1, q0, 0.0 if np.isnan(q1) else q1, N)
    diag = Diagnostics(converged=bool(sol.diagnostics.converged), iterations=co.m, residual=resid,
                       method="laplace-1/N" + ("" if linear else f"(importance-sampled, {n_draws} draws)"),
                       mc_error=mc_error, wall_time=time.perf_counter() - t0)
    out = FiniteWidth(N=N, C=C0 + C1 / N, C_leading=C0, C_first=C1, f=f0 + f1 / N, f_leading=f0, f_first=f1,
                      q=q0 + q1 / N, q_leading=q0, q_first=q1, softest=softest, relative_correction=rel,
                      diagnostics=diag, T=prob.T, P=prob.P, C_first_se=C1_se, ginzburg_first=gin)
    if rel > MAX_RELATIVE_CORRECTION:
        warnings.warn(FiniteWidthWarning(
            f"finite_width: the 1/N correction is {rel:.0%} of the leading order at N = {N} (smallest/largest "
            f"Hessian eigenvalue {softest:.1e}); the expansion is not reliable here: a larger N or a signal "
            f"farther from the transition is needed"), stacklevel=2)
    elif out.ginzburg > MAX_GINZBURG:
        warnings.warn(FiniteWidthWarning(
            f"finite_width: the soft modes of the action are not perturbative at N = {N} (Ginzburg number "
            f"{out.ginzburg:.2g} > {MAX_GINZBURG:g}; smallest/largest Hessian eigenvalue {softest:.1e}): the "
            f"correction can be off by its own size; it needs N > {gin / MAX_GINZBURG:.0f} or a signal farther "
            f"from the transition"), stacklevel=2)
    return out


def _expand(prob, co, actions, x, sol, batch):
    """(C₁, f*, f₁, q*, q₁, softest, max|∇Φ|, g) of the expansion of ``actions = (Φ, R)`` around ``x``."""
    Phi, R = actions
    grad, H, gR = jax.jit(lambda z: (jax.grad(Phi)(z), jax.hessian(Phi)(z), jax.grad(R)(z)))(x)
    H = np.asarray(H)
    H = 0.5 * (H + H.T)
    ev, EV = np.linalg.eigh(H)
    softest = float(np.min(np.abs(ev)) / np.max(np.abs(ev)))
    if softest < SINGULAR_RCOND:
        raise FLTheoryInputError(
            f"sol: the Hessian of the action is singular at this saddle point (smallest/largest |eigenvalue| "
            f"= {softest:.2e}): it sits at a transition, where the 1/N expansion diverges; move the learning "
            f"signal away from the critical point")
    Hinv = np.linalg.inv(H)
    Hinv = 0.5 * (Hinv + Hinv.T)
    # ∇ ½ ln det(−H) = ½ Φ'''·H⁻¹ = ½ Σ_k λ_k ∇(v_kᵀ H(x) v_k) with H⁻¹ = Σ_k λ_k v_k v_kᵀ
    lam, V = np.linalg.eigh(Hinv)

    def d2(xx, v):
        return jax.jvp(lambda z: jax.jvp(Phi, (z,), (v,))[1], (xx,), (v,))[1]

    @jax.jit
    def contracted_third(xx, Vt, lam):
        third = jax.lax.map(lambda v: jax.grad(d2)(xx, v), Vt, batch_size=int(batch))   # [m, m]
        return third.T @ lam

    half_logdet_grad = 0.5 * np.asarray(contracted_third(x, jnp.asarray(V.T), jnp.asarray(lam)))
    delta = -Hinv @ (np.asarray(gR) - half_logdet_grad)                                   # N(⟨x⟩ − x*)

    k = co.k
    dC = delta[:k]
    Hcc = Hinv[:k, :k]

    def first_order(obs):
        """O₁ = ∇O·δ₁ − ½ tr(∇²O H⁻¹_CC) for O a function of the C-entries."""
        val, J, Hs = jax.jit(lambda z: (obs(z), jax.jacfwd(obs)(z), jax.hessian(obs)(z)))(x[:k])
        val = np.asarray(val)
        J = np.asarray(J).reshape(val.size, k)
        Hs = np.asarray(Hs).reshape(val.size, k, k)
        return val, (J @ dC - 0.5 * np.einsum("oij,ij->o", Hs, Hcc)).reshape(val.shape)

    C1 = np.asarray(co.dense(jnp.asarray(first_order(lambda c: c)[1])))
    f0, f1 = first_order(_predictor(prob, co))
    if prob.tied and prob.T > 1:
        q0, q1 = first_order(_q(prob, co, 1.0))
        q0, q1 = float(q0), float(q1)
        if q0 < 1e-6:  # on the block-diagonal branch |C_{t,t+1}| is not smooth at 0: not expandable
            q0, q1 = order_parameter(sol.C, prob.T, prob.P), float("nan")
    else:
        q0, q1 = 0.0, 0.0
    gin = _ginzburg(Phi, x, ev, EV)
    return C1, f0, f1, q0, q1, softest, float(np.max(np.abs(np.asarray(grad)))), gin


def _ginzburg(Phi, x, ev, V) -> float:
    """g = max over the SOFT_MODES softest eigendirections v (eigenvalue λ) of the Hessian of
    Φ'''(v)²/|λ|³ + |Φ''''(v)|/λ² (directional derivatives along the unit vector v). Along v the Gaussian
    fluctuation of N·Φ has variance 1/(N|λ|); against it the cubic term counts (at second order) as
    Φ'''²/(N|λ|³) and the quartic as Φ''''/(Nλ²). Invariant under rescaling v, so the choice of
    coordinates of (C, Ĉ) does not matter along a mode."""
    @jax.jit
    def derivs(v):
        g = lambda t: Phi(x + t * v)   # noqa: E731
        d3 = jax.jacfwd(jax.jacfwd(jax.grad(g)))
        d4 = jax.jacfwd(d3)
        return d3(0.0), d4(0.0)

    out = 0.0
    for k in np.argsort(np.abs(ev))[:SOFT_MODES]:
        d3, d4 = (float(a) for a in derivs(jnp.asarray(V[:, k])))
        lam = abs(float(ev[k]))
        out = max(out, d3 * d3 / lam**3 + abs(d4) / lam**2)
    return float(out)
