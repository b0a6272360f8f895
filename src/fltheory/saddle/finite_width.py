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
derivatives of Φ, each O(n³). The size is checked before anything is allocated. ``method="hutchinson"``
is matrix-free (docs/theory/finite_width.md §2.4): Hessian-vector products, GMRES solves, the softest
modes by shift-invert Lanczos (treated exactly), and the remaining traces by Rademacher probes, with
their Monte-Carlo standard error reported per entry: O(n_probes·m) memory instead of O(m²). The dense
path stays the referee for small m. Per entry, the size of the neglected second-order term is estimated
from the soft modes (``FiniteWidth.C_error_estimate``, ``C_entry_reliable``; §2.5). φ = identity uses the
closed-form action; any other φ the importance-sampled ln Z₁ with fixed draws (:func:`sampled_ln_z1`),
with the Monte-Carlo error of the correction estimated from independent draw sets.

Compilation: every compiled piece is a module-level jitted function of (the action or the problem,
arrays); :class:`~fltheory.saddle.action.SaddleProblem` and the action (:class:`_Action`, with the
importance-sampling draws) are pytrees whose numbers are leaves and whose structure (T, P, architecture,
supervised mask, φ) is static. A second call on a problem of the same structure, other numbers, compiles
nothing (tests/saddle/test_finite_width_compile.py), and the 1 + ``mc_splits`` expansions of a nonlinear φ
compile once per draw-set size.
"""
from __future__ import annotations

import dataclasses
import functools
import time
import warnings
from dataclasses import dataclass, field
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np

from .._resources import require_memory
from .._validate import ConvergenceError, FLTheoryInputError, choice, positive_int
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
METHODS = ("auto", "dense", "hutchinson")
#: ``method="auto"`` uses the dense referee up to this many (C, Ĉ) coordinates, Hutchinson/Krylov above
DENSE_MAX_M = 1100
#: Krylov solves: relative residual asked of GMRES, and the largest accepted after it stops
SOLVE_TOL = 1e-11
SOLVE_ACCEPT = 1e-8
REFINE_STEPS = 3          # rounds of iterative refinement when GMRES's own residual estimate was optimistic
#: per entry: the estimated second-order term may be at most this fraction of the first-order one
MAX_SECOND_ORDER = 1.0


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

    Per entry (§2.5): ``C_second`` (and ``f_second``, ``q_second``) estimates the size of the neglected
    second-order coefficient from the soft modes (their Ginzburg coefficients times the parts of the
    first-order correction each one carries); ``C_error_estimate`` = C_second/N² is the expected error of
    the corrected ``C``; ``C_entry_reliable`` flags the entries where that exceeds the correction itself
    or the correction exceeds 25 % of the entry's scale. ``C_first_se``, ``f_first_se``, ``q_first_se``:
    standard errors of the first-order coefficients (importance-sampled ln Z₁ and/or Hutchinson probes;
    zero for the dense linear path). ``method``: ``"dense"`` or ``"hutchinson"`` (§2.4).
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
    C_first_se: np.ndarray | None = field(default=None, repr=False)   # s.e. of C_first (sampled ln Z₁, probes)
    ginzburg_first: float = 0.0
    C_second: np.ndarray | None = field(default=None, repr=False)     # estimated |C₂| per entry (≥ 0)
    f_second: np.ndarray | None = field(default=None, repr=False)
    q_second: float = 0.0
    f_first_se: np.ndarray | None = field(default=None, repr=False)
    q_first_se: float = 0.0
    method: str = "dense"

    @property
    def ginzburg(self) -> float:
        """The Ginzburg number g/N at this width (≤ ``MAX_GINZBURG``: soft modes perturbative)."""
        return self.ginzburg_first / self.N

    @property
    def reliable(self) -> bool:
        """Both criteria of the expansion hold at this N: relative correction ≤ 0.25 and Ginzburg ≤ 1."""
        return bool(self.relative_correction <= MAX_RELATIVE_CORRECTION and self.ginzburg <= MAX_GINZBURG)

    @property
    def C_error_estimate(self) -> np.ndarray:
        """Per entry, the estimated size of the neglected second-order term, ``C_second``/N²: what the
        corrected ``C`` is expected to be off by (docs/theory/finite_width.md §2.5)."""
        return np.asarray(self.C_second) / self.N**2

    @property
    def C_entry_relative(self) -> np.ndarray:
        """Per entry, |C₁ᵢⱼ|/(N √|C*ᵢᵢ C*ⱼⱼ|): the correction against the entry's Cauchy–Schwarz scale (an
        entry that vanishes at N = ∞, like the RNN's lag-2 kernel below y_c, is compared with the
        diagonal entries it couples, not with its own zero)."""
        d = np.sqrt(np.abs(np.diag(self.C_leading)))
        return np.abs(self.C_first) / (self.N * np.maximum(np.outer(d, d), 1e-300))

    @property
    def C_entry_reliable(self) -> np.ndarray:
        """Per entry: the expansion holds there at this N, i.e. the estimated second-order term is at most
        ``MAX_SECOND_ORDER`` × the first-order one, |C₂ᵢⱼ|/N² ≤ |C₁ᵢⱼ|/N, and the correction is at most
        ``MAX_RELATIVE_CORRECTION`` of the entry's scale (``C_entry_relative``). Entries with neither a
        first- nor a second-order term (zero by symmetry) count as reliable."""
        if self.C_second is None:
            raise AttributeError("C_entry_reliable: this expansion carries no second-order estimate")
        first = np.abs(self.C_first) / self.N
        tiny = 1e-12 * max(float(np.max(np.abs(self.C_leading))), 1e-300)
        return (self.C_error_estimate <= MAX_SECOND_ORDER * first + tiny) & \
            (self.C_entry_relative <= MAX_RELATIVE_CORRECTION)

    def at(self, N: int) -> "FiniteWidth":
        """The same expansion evaluated at another width."""
        N = _width(N)
        rel = _relative(self.C_leading, self.C_first, self.f_leading, self.f_first, self.q_leading,
                        0.0 if np.isnan(self.q_first) else self.q_first, N)
        return dataclasses.replace(self, N=N, C=self.C_leading + self.C_first / N,
                                   f=self.f_leading + self.f_first / N, q=self.q_leading + self.q_first / N,
                                   relative_correction=rel)


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


@functools.lru_cache(maxsize=64)
def _coords_of(T: int, P: int, tied: bool) -> _Coords:
    return _Coords(SimpleNamespace(n=T * P, P=P, tied=tied))


def _coords(prob: SaddleProblem) -> _Coords:
    """The coordinates of ``prob`` (they depend on its static structure only; cached)."""
    return _coords_of(int(prob.T), int(prob.P), bool(prob.tied))


def _blocks(prob: SaddleProblem):
    """Index blocks of the single-neuron measure: one of size n (RNN), T of size P (DNN, factorised)."""
    if prob.tied:
        return [np.arange(prob.n)]
    return [np.arange(t * prob.P, (t + 1) * prob.P) for t in range(prob.T)]


def _sampled_parts(prob: SaddleProblem, act, K0, Chat0, n_draws: int, seed: int) -> tuple:
    """The fixed draws of :func:`sampled_ln_z1`, per block: (z, A, ln det A) as arrays."""
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
        parts.append((jnp.asarray(z), jnp.asarray(A), jnp.asarray(float(np.sum(np.log(np.diag(A)))))))
    return tuple(parts)


def _sampled_ln_z1_value(prob: SaddleProblem, act, parts, K, Ch):
    """ln Z₁(K, Ĉ) = Σ_b log mean exp(log-weight) on the fixed draws ``parts`` (:func:`sampled_ln_z1`)."""
    total = 0.0
    for idx, (z, A, logdetA) in zip(_blocks(prob), parts):
        Kb, Hb = K[np.ix_(idx, idx)], Ch[np.ix_(idx, idx)]
        d = len(idx)
        L = jnp.linalg.cholesky(0.5 * (Kb + Kb.T) + 1e-12 * jnp.trace(Kb) / d * jnp.eye(d))
        v = z @ A.T
        a = act(v @ L.T)
        lw = -0.5 * jnp.sum(v * v, 1) + 0.5 * jnp.sum(z * z, 1) + logdetA - jnp.sum(a * (a @ Hb), 1)
        total = total + jax.scipy.special.logsumexp(lw) - jnp.log(lw.shape[0])
    return total


def sampled_ln_z1(prob: SaddleProblem, act, K0, Chat0, n_draws: int, seed: int):
    """ln Z₁(K, Ĉ) as a smooth function by importance sampling with *fixed* draws (conventions §7).

    Per block b: h = L_K A_b z, z the base draws closed under z → −z (and, for the RNN, the alternating
    signs of the W → −W symmetry), A_b the proposal fitted at (K0, Ĉ0): A Aᵀ = 1.2 L⁻¹⟨hhᵀ⟩L⁻ᵀ, so
    the estimate is accurate where the expansion evaluates it. ln Z₁ = Σ_b log mean exp(log-weight)."""
    return functools.partial(_sampled_ln_z1_value, prob, act, _sampled_parts(prob, act, K0, Chat0, n_draws, seed))


@jax.tree_util.register_pytree_node_class
class _Action:
    """Φ (called) and R (``readout_det``) of the module docstring for one problem, as a pytree: the problem's
    numbers and the importance-sampling draws are leaves, φ and the problem's structure static, so the
    module-level jitted functions below compile once per structure, not once per call (issue #13)."""

    def __init__(self, prob: SaddleProblem, act=None, parts=None):
        self.prob, self.act, self.parts = prob, act, parts

    def tree_flatten(self):
        return (self.prob, self.parts), self.act

    @classmethod
    def tree_unflatten(cls, act, children):
        return cls(children[0], act, children[1])

    def __call__(self, x):
        prob, co = self.prob, _coords(self.prob)
        C, Ch = co.dense(x[: co.k]), co.dense(x[co.k:])
        K = pre_kernel(C, prob)
        ln_z1 = ln_z1_gaussian(K, Ch) if self.parts is None else _sampled_ln_z1_value(prob, self.act, self.parts, K, Ch)
        return jnp.sum(Ch * C) + ln_z1 + readout_term(C, prob)

    def readout_det(self, x):
        prob, co = self.prob, _coords(self.prob)
        C = co.dense(x[: co.k])
        sup = np.flatnonzero(prob.sup)
        Sig = output_cov(C, prob)[np.ix_(sup, sup)]
        _, logdet = jnp.linalg.slogdet(jnp.eye(len(sup)) + Sig / prob.kappa)
        return -0.5 * prob.y.shape[1] * logdet


@jax.tree_util.register_pytree_node_class
class _Fn:
    """A plain callable Φ(x) (static) in the place of an :class:`_Action` (tests, generic actions)."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)

    def tree_flatten(self):
        return (), self.fn

    @classmethod
    def tree_unflatten(cls, fn, _):
        return cls(fn)


def _as_action(Phi):
    return Phi if isinstance(Phi, (_Action, _Fn)) else _Fn(Phi)


def _observable(prob: SaddleProblem, name: str, c):
    """The observables expanded, as functions of the free C-entries ``c``: ``"C"`` (the entries
    themselves), ``"f"`` (the predictor on S, f_S = Σ(Σ + κ)⁻¹ y) and ``"q"`` (the lag-1 order parameter as a
    smooth function of C: norms of blocks, sign-fixed at the saddle)."""
    if name == "C":
        return c
    co = _coords(prob)
    C = co.dense(c)
    if name == "f":
        sup = np.flatnonzero(prob.sup)
        Sig = output_cov(C, prob)[np.ix_(sup, sup)]
        return Sig @ jnp.linalg.solve(Sig + prob.kappa * jnp.eye(len(sup)), jnp.asarray(prob.y))
    T, P = prob.T, prob.P
    vals = []
    for t in range(T - 1):
        num = jnp.sqrt(jnp.sum(C[t * P:(t + 1) * P, (t + 1) * P:(t + 2) * P] ** 2))
        den = jnp.sqrt(jnp.sqrt(jnp.sum(C[t * P:(t + 1) * P, t * P:(t + 1) * P] ** 2))
                       * jnp.sqrt(jnp.sum(C[(t + 1) * P:(t + 2) * P, (t + 1) * P:(t + 2) * P] ** 2)))
        vals.append(num / den)
    return jnp.mean(jnp.stack(vals))


# --- the compiled pieces: module-level jitted functions of (action or problem, arrays), static arguments only
# for sizes and names, so that a second call on a problem of the same structure reuses them (issue #13) -----

@jax.jit
def _grad_hess_gR(F, x):
    return jax.grad(F)(x), jax.hessian(F)(x), jax.grad(F.readout_det)(x)


@jax.jit
def _grad_gR(F, x):
    return jax.grad(F)(x), jax.grad(F.readout_det)(x)


def _hvp_impl(F, x, v):
    return jax.jvp(jax.grad(F), (x,), (v,))[1]


_hvp = jax.jit(_hvp_impl)
_hvp_rows = jax.jit(jax.vmap(_hvp_impl, in_axes=(None, None, 0)))     # H(x) u for the rows u of U


@jax.jit
def _third_dirs(F, x, Vt):
    """Rows ∇_x (v Φ''(x) v) for the rows v of ``Vt``."""
    return jax.vmap(jax.grad(_d2(F)), in_axes=(None, 0))(x, Vt)


@functools.partial(jax.jit, static_argnames=("batch",))
def _contracted_third(F, x, Vt, lam, batch):
    d2 = _d2(F)
    third = jax.lax.map(lambda v: jax.grad(d2)(x, v), Vt, batch_size=batch)   # [m, m]
    return third.T @ lam


@functools.partial(jax.jit, static_argnames=("batch",))
def _probe_traces(F, x, Z, U, batch):
    """t_p = ∇_x (u_pᵀ H(x) z̃_p) per probe."""
    def mixed(xx, a, b):
        return jax.jvp(lambda z: jax.jvp(F, (z,), (a,))[1], (xx,), (b,))[1]
    return jax.lax.map(lambda zu: jax.grad(mixed)(x, zu[0], zu[1]), (Z, U), batch_size=batch)


@functools.partial(jax.jit, static_argnames=("restart", "maxiter", "tol"))
def _gmres_run(F, x, B, restart, maxiter, tol):
    import jax.scipy.sparse.linalg as jsl

    _, hvp = jax.linearize(jax.grad(F), x)
    U = jax.vmap(lambda b: jsl.gmres(hvp, b, tol=tol, atol=0.0, restart=restart, maxiter=maxiter,
                                     solve_method="batched")[0])(B)
    res = jax.vmap(hvp)(U) - B
    return U, jnp.linalg.norm(res, axis=1) / jnp.maximum(jnp.linalg.norm(B, axis=1), 1e-300)


@jax.jit
def _mode_derivs(F, x, v):
    """Φ'''(v) and Φ''''(v) along the direction v at x."""
    g = lambda t: F(x + t * v)   # noqa: E731
    d3 = jax.jacfwd(jax.jacfwd(jax.grad(g)))
    d4 = jax.jacfwd(d3)
    return d3(0.0), d4(0.0)


@functools.partial(jax.jit, static_argnames=("names", "hess"))
def _obs_derivs(prob, names, c0, Vt, Z, U, hess):
    """Per observable in ``names`` (:func:`_observable`), in one program: its value and Jacobian at ``c0``,
    the curvatures vᵀ∇²O v along the rows v of ``Vt``, and either the Hessian ∇²O (``hess``) or the probe
    products z̃ᵀ∇²O u along the rows of ``Z`` and ``U``."""
    out = []
    for name in names:
        obs = functools.partial(_observable, prob, name)

        def dd(A, B, obs=obs):
            return jax.vmap(lambda a, b: jax.jvp(lambda z: jax.jvp(obs, (z,), (a,))[1], (c0,), (b,))[1])(A, B)

        out.append((obs(c0), jax.jacfwd(obs)(c0), dd(Vt, Vt), jax.hessian(obs)(c0) if hess else dd(Z, U)))
    return tuple(out)


def memory_estimate(m: int, n: int, method: str = "dense", n_probes: int = 64, restart: int = 60) -> float:
    """Bytes of the expansion. Dense: the Hessian, its inverse and eigenvectors and one batch of
    third-order derivatives. Hutchinson: the probes, their solutions and the GMRES Krylov bases of all
    right-hand sides (``2 n_probes + 1 + SOFT_MODES``) at once, plus one batch of third-order gradients
    (O(n²) intermediates each): O(n_probes·m) instead of O(m²)."""
    if method == "dense":
        return 8.0 * (3 * m * m + 64 * m * n * n)
    rhs = 2 * n_probes + 1 + SOFT_MODES
    return 8.0 * (rhs * m * (restart + 8) + 64 * 64 * n * n + n_probes * m * 4)


def finite_width_correction(sol, N: int, *, batch: int = 64, n_draws: int = 2**17, mc_seed: int = 0,
                            mc_splits: int = 4, method: str = "auto", n_probes: int = 64,
                            probe_seed: int = 0, n_deflate: int = 8) -> FiniteWidth:
    """First-order 1/N correction to the observables of a saddle point (module docstring).

    ``sol`` is a :class:`~fltheory.saddle.Solution` of :func:`~fltheory.saddle.solve` (it carries its
    problem). φ = identity uses the closed-form action. Any other φ uses ln Z₁ by importance sampling with
    ``n_draws`` fixed draws (:func:`sampled_ln_z1`, proposal fitted at the saddle point); its Monte-Carlo
    error is estimated from ``mc_splits`` independent estimates on draw sets ``mc_splits`` times smaller
    (their spread / √mc_splits; per entry in ``C_first_se``, and ``diagnostics.mc_error`` = the largest
    s.e. of C₁/N relative to max|C|).

    ``method``: ``"dense"`` forms H = ∇²Φ and H⁻¹ (m² memory, m third-order directional derivatives: the
    exact referee); ``"hutchinson"`` is matrix-free (docs/theory/finite_width.md §2.4): Hessian-vector
    products by a jvp of ∇Φ, solves by GMRES (residual checked: :class:`ConvergenceError` when a solve
    stops above ``SOLVE_ACCEPT``), the trace terms ½ tr(H⁻¹ ∂H) and ½ tr(∇²O H⁻¹) by ``n_probes``
    Rademacher probes (seed ``probe_seed``) projected off the ``n_deflate`` softest Hessian modes (found by
    shift-invert Lanczos and treated exactly: they would dominate the probes' variance); the spread over
    probes gives the s.e. in ``C_first_se``, ``f_first_se``, ``q_first_se`` (added in quadrature to the
    importance-sampling s.e. for nonlinear φ). ``"auto"``: dense up to m = ``DENSE_MAX_M``.

    Raises :class:`FLTheoryInputError` for a bad ``N`` or a singular Hessian (a zero mode: the saddle
    point sits at a transition, where the corrections diverge); warns (:class:`FiniteWidthWarning`) when
    the correction exceeds ``MAX_RELATIVE_CORRECTION`` of the leading order at this ``N`` or the Ginzburg
    number exceeds ``MAX_GINZBURG``. The per-entry criterion is ``FiniteWidth.C_entry_reliable``.
    """
    from ..activations import get_activation

    t0 = time.perf_counter()
    N = _width(N)
    prob = getattr(sol, "problem", None)
    if prob is None:
        raise FLTheoryInputError("sol: carries no problem; pass a Solution returned by fltheory.saddle.solve")
    positive_int("batch", batch)
    choice("method", method, METHODS)
    act = get_activation(sol.phi, "phi")
    linear = act.closed_form == "linear"
    if not linear:
        positive_int("n_draws", n_draws, minimum=64)
        positive_int("mc_splits", mc_splits, minimum=2)
    co = _coords(prob)
    if method == "auto":
        method = "dense" if co.m <= DENSE_MAX_M else "hutchinson"
    if method == "hutchinson":
        positive_int("n_probes", n_probes, minimum=2)
        positive_int("probe_seed", probe_seed, minimum=0)
        positive_int("n_deflate", n_deflate, minimum=0)
    require_memory("sol", memory_estimate(co.m, co.n, method, n_probes),
                   f"the finite-width correction ({method}, m = {co.m} coordinates of (C, Ĉ))",
                   "use fewer patterns P or time steps T" + ("" if method == "dense" else " or fewer n_probes"))
    x = jnp.asarray(np.concatenate([co.vec(sol.C), co.vec(sol.Chat)]))
    C0 = np.asarray(sol.C)
    if not prob.tied:
        C0 = C0 * prob.time_mask
    opts = dict(method=method, n_probes=n_probes, probe_seed=probe_seed, n_deflate=n_deflate)
    if linear:
        r = _expand(_Action(prob), x, sol, batch, **opts)
        mc_error = float("nan")
    else:
        def run(nd, seed):
            parts = _sampled_parts(prob, act, sol.K, sol.Chat, nd, seed)
            return _expand(_Action(prob, act, parts), x, sol, batch, **opts)

        r = run(n_draws, mc_seed)
        subs = [run(max(n_draws // mc_splits, 64), mc_seed + 1 + i) for i in range(mc_splits)]
        mc_se = np.std([s["C1"] for s in subs], 0, ddof=1) / np.sqrt(mc_splits)
        r["C1_se"] = np.sqrt(r["C1_se"] ** 2 + mc_se ** 2)
        mc_error = float(np.max(mc_se) / N / max(np.max(np.abs(C0)), 1e-300))
    if method == "hutchinson":   # the probes' own error, relative like mc_error
        probe_err = float(np.max(r["C1_se"]) / N / max(np.max(np.abs(C0)), 1e-300))
        mc_error = probe_err if np.isnan(mc_error) else max(mc_error, probe_err)
    q1 = r["q1"]
    rel = _relative(C0, r["C1"], r["f0"], r["f1"], r["q0"], 0.0 if np.isnan(q1) else q1, N)
    diag = Diagnostics(converged=bool(sol.diagnostics.converged), iterations=r["iterations"], residual=r["resid"],
                       method=f"laplace-1/N({method}" + (f", {n_probes} probes" if method == "hutchinson" else "")
                       + (")" if linear else f", importance-sampled, {n_draws} draws)"),
                       mc_error=mc_error, wall_time=time.perf_counter() - t0)
    out = FiniteWidth(N=N, C=C0 + r["C1"] / N, C_leading=C0, C_first=r["C1"], f=r["f0"] + r["f1"] / N,
                      f_leading=r["f0"], f_first=r["f1"], q=r["q0"] + q1 / N, q_leading=r["q0"], q_first=q1,
                      softest=r["softest"], relative_correction=rel, diagnostics=diag, T=prob.T, P=prob.P,
                      C_first_se=r["C1_se"], ginzburg_first=r["g"], C_second=r["C2"], f_second=r["f2"],
                      q_second=r["q2"], f_first_se=r["f1_se"], q_first_se=r["q1_se"], method=method)
    if rel > MAX_RELATIVE_CORRECTION:
        warnings.warn(FiniteWidthWarning(
            f"finite_width: the 1/N correction is {rel:.0%} of the leading order at N = {N} (smallest/largest "
            f"Hessian eigenvalue {r['softest']:.1e}); the expansion is not reliable here: a larger N or a signal "
            f"farther from the transition is needed"), stacklevel=2)
    elif out.ginzburg > MAX_GINZBURG:
        warnings.warn(FiniteWidthWarning(
            f"finite_width: the soft modes of the action are not perturbative at N = {N} (Ginzburg number "
            f"{out.ginzburg:.2g} > {MAX_GINZBURG:g}; smallest/largest Hessian eigenvalue {r['softest']:.1e}): the "
            f"correction can be off by its own size; it needs N > {r['g'] / MAX_GINZBURG:.0f} or a signal farther "
            f"from the transition"), stacklevel=2)
    return out


def _singular(softest):
    if softest < SINGULAR_RCOND:
        raise FLTheoryInputError(
            f"sol: the Hessian of the action is singular at this saddle point (smallest/largest |eigenvalue| "
            f"= {softest:.2e}): it sits at a transition, where the 1/N expansion diverges; move the learning "
            f"signal away from the critical point")


def _d2(Phi):
    def d2(xx, v):
        return jax.jvp(lambda z: jax.jvp(Phi, (z,), (v,))[1], (xx,), (v,))[1]
    return d2


def _dense_core(F, x, batch):
    """H, H⁻¹ and the exact ½ Φ'''·H⁻¹ = ½ Σ_k λ_k ∇(v_kᵀ H(x) v_k) (H⁻¹ = Σ_k λ_k v_k v_kᵀ)."""
    grad, H, gR = _grad_hess_gR(F, x)
    H = np.asarray(H)
    H = 0.5 * (H + H.T)
    ev, EV = np.linalg.eigh(H)
    softest = float(np.min(np.abs(ev)) / np.max(np.abs(ev)))
    _singular(softest)
    Hinv = (EV / ev) @ EV.T
    Hinv = 0.5 * (Hinv + Hinv.T)
    half_logdet_grad = 0.5 * np.asarray(_contracted_third(F, x, jnp.asarray(EV.T), jnp.asarray(1.0 / ev),
                                                          batch=int(batch)))
    delta = -Hinv @ (np.asarray(gR) - half_logdet_grad)                                   # N(⟨x⟩ − x*)
    soft = np.argsort(np.abs(ev))
    return dict(delta=delta, delta_samples=None, Hinv=Hinv, solve=lambda B: np.atleast_2d(np.asarray(B)) @ Hinv,
                defl_ev=ev[soft], defl_V=EV[:, soft], softest=softest,
                resid=float(np.max(np.abs(np.asarray(grad)))), iterations=len(ev))


def _krylov_solver(Phi, x, m):
    """A batched GMRES solve of H u = b (H = ∇²Φ(x), Hessian-vector products by jvp of ∇Φ): the true
    relative residual is recomputed, refined by up to ``REFINE_STEPS`` GMRES solves on the residual, and
    checked against ``SOLVE_ACCEPT`` (:class:`ConvergenceError` above it). Returns solve(B [r, m]) → U.
    ``Phi``: an :class:`_Action` (compiled once per problem structure) or any callable."""
    F = _as_action(Phi)
    restart = int(min(m, 60))
    maxiter = int(max(20, 40 * m // restart))

    def run(B):
        return _gmres_run(F, x, B, restart=restart, maxiter=maxiter, tol=SOLVE_TOL)

    def solve(B):
        B = jnp.atleast_2d(jnp.asarray(B))
        U, rel = run(B)
        for _ in range(REFINE_STEPS):   # iterative refinement: GMRES again on the true residual
            worst = float(jnp.max(rel))
            if not np.isfinite(worst) or worst <= 100 * SOLVE_TOL:
                break
            res = B - _hvp_rows(F, x, U)
            dU, _ = run(res)
            U = U + dU
            rel = jnp.linalg.norm(_hvp_rows(F, x, U) - B, axis=1) / jnp.maximum(jnp.linalg.norm(B, axis=1), 1e-300)
        worst = float(jnp.max(rel))
        if not np.isfinite(worst) or worst > SOLVE_ACCEPT:
            raise ConvergenceError(
                f"finite_width: GMRES on the Hessian of the action stopped at relative residual {worst:.1e} "
                f"(> {SOLVE_ACCEPT:g}; m = {m}); the saddle point may sit close to a transition (a soft mode); "
                f"method='dense' is the referee for small m")
        return np.asarray(U)

    return solve


def _krylov_core(F, x, batch, n_probes, probe_seed, n_deflate):
    """Matrix-free: the ``n_deflate`` softest modes (V, Λ) by shift-invert Lanczos, treated exactly; the
    rest of ½ Φ'''·H⁻¹ by Rademacher probes projected off them (deflated Hutchinson):
    tr(H⁻¹∂H) = Σ_l λ_l⁻¹ ∂(v_lᵀHv_l) + E[z̃ᵀH⁻¹∂H z̃], z̃ = (I − VVᵀ)z."""
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    m = int(x.shape[0])
    grad, gR = _grad_gR(F, x)
    gmres = _krylov_solver(F, x, m)
    Hop = LinearOperator((m, m), matvec=lambda v: np.asarray(_hvp(F, x, jnp.asarray(np.ravel(v)))), dtype=np.float64)
    k = int(min(max(n_deflate, SOFT_MODES), m - 2))
    try:
        lam_max = float(np.max(np.abs(eigsh(Hop, k=1, which="LM", tol=1e-8, return_eigenvectors=False))))
        try:
            Hinv_op = LinearOperator((m, m), matvec=lambda v: gmres(np.ravel(v))[0], dtype=np.float64)
            ev, V = eigsh(Hop, k=k, sigma=0.0, OPinv=Hinv_op, which="LM", tol=1e-12)
        except ConvergenceError:
            ev = eigsh(Hop, k=1, which="SM", tol=1e-6, return_eigenvectors=False, maxiter=20 * m)
            _singular(float(np.min(np.abs(ev))) / lam_max)
            raise
    except ArpackNoConvergence as e:
        raise ConvergenceError(f"finite_width: Lanczos for the extreme Hessian eigenvalues did not converge "
                               f"(m = {m}): {e}") from None
    softest = float(np.min(np.abs(ev)) / lam_max)
    _singular(softest)
    order = np.argsort(np.abs(ev))
    ev, V = ev[order], V[:, order]

    def solve(B):                        # H⁻¹B: the deflated modes exactly, GMRES on the rest
        B = np.atleast_2d(np.asarray(B, float))
        Bv = B @ V
        return (Bv / ev) @ V.T + gmres(B - Bv @ V.T)

    soft_part = np.asarray(_third_dirs(F, x, jnp.asarray(V.T))).T @ (1.0 / ev)   # Σ_l λ_l⁻¹ ∇(v_lᵀHv_l)

    rng = np.random.default_rng(probe_seed)
    Z = rng.choice(np.array([-1.0, 1.0]), size=(n_probes, m))
    Z = Z - (Z @ V) @ V.T
    U = gmres(Z)                                                                # H⁻¹ z̃_p

    Tp = np.asarray(_probe_traces(F, x, jnp.asarray(Z), jnp.asarray(U), batch=int(batch))) + soft_part[None]
    W = solve(np.concatenate([np.asarray(gR)[None], Tp]))
    deltas = -W[0][None] + 0.5 * W[1:]                                           # δ₁ per probe
    return dict(delta=deltas.mean(0), delta_samples=deltas, Z=Z, U=U, solve=solve, defl_ev=ev, defl_V=V,
                softest=softest, resid=float(np.max(np.abs(np.asarray(grad)))), iterations=2 * n_probes + 1)


def _expand(F, x, sol, batch, method="dense", n_probes=64, probe_seed=0, n_deflate=8):
    """The expansion of the action ``F`` (an :class:`_Action`) around ``x``: a dict with C₁ (and its probe
    s.e.), f*, f₁, q*, q₁, the per-entry second-order size estimates C₂, f₂, q₂, softest, max|∇Φ|, and g
    (Ginzburg). Every compiled piece is a module-level jitted function of (F, arrays)."""
    prob = F.prob
    co = _coords(prob)
    if method == "dense":
        core = _dense_core(F, x, batch)
    else:
        core = _krylov_core(F, x, batch, n_probes, probe_seed, n_deflate)
    k = co.k
    delta = core["delta"]
    # the softest modes: Ginzburg number per mode and the parts of the correction each one carries
    sev, sV = core["defl_ev"][:SOFT_MODES], core["defl_V"][:, :SOFT_MODES]
    g_modes = _mode_gs(F, x, sV, sev)
    fluct = core["solve"](np.asarray(_third_dirs(F, x, jnp.asarray(sV.T)))) * (0.5 / sev)[:, None]  # δ^(l), rows
    fluct = fluct - np.sum(fluct * sV.T, 1)[:, None] * sV.T    # δ^(l) off v_l itself (that is in v_l·δ₁)
    shift = sV * (sV.T @ delta)[None]            # the mean shift along each soft mode, columns
    Vc = core["defl_V"][:k]

    names = ("C", "f") + (("q",) if prob.tied and prob.T > 1 else ())
    hess = method == "dense"
    ZU = (None, None) if hess else (jnp.asarray(core["Z"][:, :k]), jnp.asarray(core["U"][:, :k]))
    derivs = dict(zip(names, _obs_derivs(prob, names, x[:k], jnp.asarray(Vc.T), *ZU, hess=hess)))

    def first_order(name):
        """O₁ = ∇O·δ₁ − ½ tr(∇²O H⁻¹_CC) for the observable ``name`` (:func:`_observable`), its probe s.e.,
        and the second-order size
        Σ_l g_l (|∇O·v_l (v_l·δ₁)| + |∇O·(1 − v_l v_lᵀ)δ^(l)| + ½|v_lᵀ∇²O v_l|/|λ_l|)."""
        val, J, curv, last = (np.asarray(a) for a in derivs[name])
        J = J.reshape(val.size, k)
        curv = curv.reshape(Vc.shape[1], val.size)
        if hess:
            Hs = last.reshape(val.size, k, k)
            O1 = J @ delta[:k] - 0.5 * np.einsum("oij,ij->o", Hs, core["Hinv"][:k, :k])
            se = np.zeros_like(O1)
        else:   # tr(∇²O H⁻¹_CC) = Σ_l λ_l⁻¹ v_lᵀ∇²O v_l (deflated modes) + E[z̃ᵀ∇²O u] (probes)
            tr = last.reshape(len(core["Z"]), val.size)
            tr = tr + (curv / core["defl_ev"][:, None]).sum(0)[None]
            samples = core["delta_samples"][:, :k] @ J.T - 0.5 * tr
            O1 = samples.mean(0)
            se = samples.std(0, ddof=1) / np.sqrt(len(samples))
        O2 = np.zeros(val.size)
        for i, (g, lam) in enumerate(zip(g_modes, sev)):
            O2 += g * (np.abs(J @ shift[:k, i]) + np.abs(J @ fluct[i, :k]) + 0.5 * np.abs(curv[i]) / abs(lam))
        return val, O1.reshape(val.shape), se.reshape(val.shape), O2.reshape(val.shape)

    _, C1v, C1se, C2v = first_order("C")
    dense = lambda v: np.asarray(co.dense(jnp.asarray(v)))   # noqa: E731
    f0, f1, f1se, f2 = first_order("f")
    if prob.tied and prob.T > 1:
        q0, q1, q1se, q2 = (float(v) for v in first_order("q"))
        if q0 < 1e-6:  # on the block-diagonal branch |C_{t,t+1}| is not smooth at 0: not expandable
            q0, q1, q1se, q2 = order_parameter(sol.C, prob.T, prob.P), float("nan"), float("nan"), float("nan")
    else:
        q0, q1, q1se, q2 = 0.0, 0.0, 0.0, 0.0
    return dict(C1=dense(C1v), C1_se=dense(C1se), C2=dense(C2v), f0=f0, f1=f1, f1_se=f1se, f2=f2, q0=q0, q1=q1,
                q1_se=q1se, q2=q2, softest=core["softest"], resid=core["resid"], iterations=core["iterations"],
                g=float(np.max(g_modes)) if len(g_modes) else 0.0)


def _mode_gs(Phi, x, V, ev) -> np.ndarray:
    """Per column v of V (unit Hessian eigendirections, eigenvalues ev): Φ'''(v)²/|λ|³ + |Φ''''(v)|/λ².
    ``Phi``: an :class:`_Action` (compiled once per problem structure) or any callable."""
    F = _as_action(Phi)
    out = []
    for i in range(V.shape[1]):
        v = np.asarray(V[:, i], float)
        d3, d4 = (float(a) for a in _mode_derivs(F, x, jnp.asarray(v / np.linalg.norm(v))))
        lam = abs(float(ev[i]))
        out.append(d3 * d3 / lam**3 + abs(d4) / lam**2)
    return np.array(out)


def _ginzburg(Phi, x, ev, V) -> float:
    """g = max over the SOFT_MODES softest eigendirections v (eigenvalue λ) of the Hessian of
    Φ'''(v)²/|λ|³ + |Φ''''(v)|/λ² (directional derivatives along the unit vector v). Along v the Gaussian
    fluctuation of N·Φ has variance 1/(N|λ|); against it the cubic term counts (at second order) as
    Φ'''²/(N|λ|³) and the quartic as Φ''''/(Nλ²). Invariant under rescaling v, so the choice of
    coordinates of (C, Ĉ) does not matter along a mode."""
    soft = np.argsort(np.abs(ev))[:SOFT_MODES]
    return float(np.max(_mode_gs(Phi, x, np.asarray(V)[:, soft], np.asarray(ev)[soft])))
