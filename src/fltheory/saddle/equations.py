"""The saddle-point equations as a residual F(C, Ĉ) = 0 in the problem's own block layout.

Conventions §7 and docs/theory/unified.md §2. With the tilt written exp(−φᵀĈφ),

    C = ⟨φφᵀ⟩                                              (∂S/∂Ĉ = 0)
    Ĉ = −g² shiftᵀ(Γ) − ½ g_w² E_S a aᵀ E_Sᵀ,  a = (Σ_SS(C) + κ)⁻¹ y_S     (∂S/∂C = 0)

where ⟨·⟩ is the single-neuron measure N(h; 0, K(C))·exp(−φ(h)ᵀĈφ(h)) and Γ = ∂ln Z₁/∂K. Γ is computed
without K⁻¹ (K may be singular) from the Gaussian integration-by-parts identity
∂/∂K E_K[f] = ½ E_K[∇∇ᵀ f] applied to f = exp(−V), V = φᵀĈφ:

    Γ = ½⟨∇V ∇Vᵀ − ∇∇ᵀV⟩ = 2⟨u uᵀ⟩ − diag⟨φ''⊙Ĉφ⟩ − Ĉ ⊙ ⟨φ'φ'ᵀ⟩,   u = φ'⊙(Ĉφ).

For φ = identity this is Γ = 2ĈCĈ − Ĉ = −Ĉ(I + 2KĈ)⁻¹ and C = K(I + 2ĈK)⁻¹: closed-form matrix
equations, no Monte Carlo. Otherwise the moments are self-normalised importance-sampling estimates
over fixed draws processed in chunks (``lax.scan`` with an online log-sum-exp), so memory does not
grow with the number of draws.

Layouts (``Layout``): the RNN keeps one dense block of size n = T·P (time-major); the DNN's measure
factorises over layers, so it keeps T blocks of size P (``[T, P, P]`` arrays) and every operation is
batched over layers — T problems of size P, never one of size T·P.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .action import SaddleProblem


# ----------------------------------------------------------------------------------------------
# layout: RNN = one dense block [1, n, n]; DNN = T layer blocks [T, P, P]
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """Where each training entry (t, μ) lives in the ``[B, m, m]`` block arrays of a problem."""

    T: int
    P: int
    tied: bool

    @property
    def B(self) -> int:
        return 1 if self.tied else self.T

    @property
    def m(self) -> int:
        return self.T * self.P if self.tied else self.P

    def shift(self, C):
        """shift(C)[(t,μ),(s,ν)] = C[(t−1,μ),(s−1,ν)] (zero on the first step)."""
        P = self.P
        if self.tied:
            n = self.m
            return jnp.zeros_like(C).at[:, P:, P:].set(C[:, : n - P, : n - P])
        return jnp.concatenate([jnp.zeros_like(C[:1]), C[:-1]], axis=0)

    def shift_adjoint(self, G):
        P = self.P
        if self.tied:
            n = self.m
            return jnp.zeros_like(G).at[:, : n - P, : n - P].set(G[:, P:, P:])
        return jnp.concatenate([G[1:], jnp.zeros_like(G[:1])], axis=0)

    def from_dense(self, A) -> np.ndarray:
        """``A[T·P, T·P]`` (time-major) → block array (the DNN keeps only the same-time blocks)."""
        A = np.asarray(A, float)
        if self.tied:
            return A[None]
        T, P = self.T, self.P
        return np.stack([A[t * P:(t + 1) * P, t * P:(t + 1) * P] for t in range(T)])

    def to_dense(self, A) -> np.ndarray:
        A = np.asarray(A)
        if self.tied:
            return A[0]
        T, P = self.T, self.P
        out = np.zeros((T * P, T * P), A.dtype)
        for t in range(T):
            out[t * P:(t + 1) * P, t * P:(t + 1) * P] = A[t]
        return out

    def entries(self, flat_index: np.ndarray):
        """(block, row) of time-major entries ``t·P + μ``."""
        flat_index = np.asarray(flat_index)
        if self.tied:
            return np.zeros_like(flat_index), flat_index
        return flat_index // self.P, flat_index % self.P


def _sym(A):
    return 0.5 * (A + jnp.swapaxes(A, -1, -2))


# ----------------------------------------------------------------------------------------------
# single-neuron moments of one block: (C = ⟨φφᵀ⟩, Γ = ∂ln Z₁/∂K, ln Z₁)
# ----------------------------------------------------------------------------------------------
def gaussian_block(K, H):
    """φ = identity, closed form: C = K(I + 2ĈK)⁻¹, Γ = 2ĈCĈ − Ĉ, ln Z₁ = −½ ln det(I + 2KĈ).

    ``C`` is returned NaN when K⁻¹ + 2Ĉ is not positive definite on the range of K (the measure is not
    normalisable). K may be singular (e.g. P > D patterns in the first layer, rank G_tt ≤ D): then C is
    singular too, so the test is C ⪰ 0 up to round-off, not a Cholesky factor of C."""
    m = K.shape[-1]
    A = jnp.eye(m) + 2.0 * K @ H
    C = _sym(jnp.linalg.solve(A, K).T)
    Gam = _sym(2.0 * H @ C @ H - H)
    sign, logdet = jnp.linalg.slogdet(A)
    ev = jnp.linalg.eigvalsh(C)
    ok = (sign > 0) & jnp.all(jnp.isfinite(ev)) & (ev[..., 0] >= -1e-10 * jnp.max(jnp.abs(ev), axis=-1))
    lnz = jnp.where(ok, -0.5 * logdet, jnp.nan)
    return jnp.where(ok, C, jnp.nan), Gam, lnz


def closure_block(K, H, act, n_inner: int = 24):
    """Gaussian (variational) closure of one block: a deterministic approximation, used only to start
    the solver and to seed its importance proposal.

    The tilted measure N(h; 0, K)·exp(−φᵀĈφ) is replaced by the Gaussian N(0, Σ) that maximises the
    Gibbs–Bogoliubov bound ln Z₁ ≥ −KL(N(0, Σ) ‖ N(0, K)) − ⟨Ĉ, κ(Σ)⟩, κ(Σ) = E_Σ[φφᵀ] in closed form
    (the arcsine kernel for erf, :func:`fltheory.gaussian.kernel_map`). Its stationarity condition
    Σ = (I + 2K G)⁻¹K, G = ∂⟨Ĉ, κ(Σ)⟩/∂Σ, is iterated ``n_inner`` times from Σ = K, damped by ½. Then C = κ(Σ) and,
    by the envelope theorem, Γ = ∂ln Z₁/∂K = 2GΣG − G (no K⁻¹). For linear φ, G = Ĉ and this is the
    exact measure; for bounded φ the bound exists for every Ĉ (saturation enters through G's diagonal).
    docs/theory/unified.md §3 ("Gaussian-closure start")."""
    from ..gaussian import kernel_map

    m = K.shape[-1]
    I = jnp.eye(m)
    grad = jax.grad(lambda S: jnp.sum(H * kernel_map(act, S)))

    def step(_, Sig):  # damped by ½: the undamped map oscillates (rate ≈ 0.83 at T = 3, P = 4, κ = 0.1; damped 0.57)
        return 0.5 * Sig + 0.5 * _sym(jnp.linalg.solve(I + 2.0 * K @ _sym(grad(Sig)), K))

    Sig = jax.lax.fori_loop(0, n_inner, step, K)
    G = _sym(grad(Sig))
    C = _sym(kernel_map(act, Sig))
    Gam = _sym(2.0 * G @ Sig @ G - G)
    sign, logdet = jnp.linalg.slogdet(I + 2.0 * K @ G)
    ok = (sign > 0) & jnp.all(jnp.diagonal(Sig) > 0)
    return jnp.where(ok, C, jnp.nan), Gam, jnp.where(ok, -0.5 * logdet, jnp.nan), Sig


class DrawPlan(NamedTuple):
    """Fixed draws of one solve: ``base`` standard-normal rows (Sobol', or None for counter-based MC)
    expanded in each chunk by the sign group ``signs`` (rows ±1; the first row is all ones)."""

    base: jax.Array | None       # [n_base, m] or None
    key: jax.Array               # PRNG key for counter-based draws
    n_base: int
    chunk: int                   # base rows per chunk
    signs: jax.Array             # [n_signs, m]

    @property
    def n_chunks(self) -> int:
        return self.n_base // self.chunk

    @property
    def n_draws(self) -> int:
        return self.n_base * self.signs.shape[0]


def chunk_draws(plan: DrawPlan, i, m: int):
    """The ``i``-th chunk of draws, closed under the sign group: ``[chunk·n_signs, m]``."""
    if plan.base is None:
        z = jax.random.normal(jax.random.fold_in(plan.key, i), (plan.chunk, m), dtype=jnp.float64)
    else:
        z = jax.lax.dynamic_slice_in_dim(plan.base, i * plan.chunk, plan.chunk, axis=0)[:, :m]
    return (z[None, :, :] * plan.signs[:, None, :m]).reshape(-1, m)


def _psd_factor(K):
    m = K.shape[-1]
    return jnp.linalg.cholesky(_sym(K) + 1e-12 * jnp.trace(K) / m * jnp.eye(m))


def _tilted_draws(K, H, A, act, plan: DrawPlan):
    """``draw(i) -> (h, φ(h), Ĉφ(h), log-weight)`` for chunk i of the proposal h = L_K A z (L_K L_Kᵀ = K).

    The log-weight is ln N(h; 0, K) − ln N(h; 0, L_K AAᵀ L_Kᵀ) − φᵀĈφ; the density ratio does not
    depend on K, so derivatives in K are pathwise."""
    m = K.shape[-1]
    L = _psd_factor(K)
    logdetA = jnp.sum(jnp.log(jnp.abs(jnp.diag(A))))

    def draw(i):
        z = chunk_draws(plan, i, m)
        v = z @ A.T
        h = v @ L.T
        a = act(h)
        Ha = a @ H
        return h, a, Ha, -0.5 * jnp.sum(v * v, 1) + 0.5 * jnp.sum(z * z, 1) + logdetA - jnp.sum(a * Ha, 1)

    return draw


class _Acc(NamedTuple):
    mx: jax.Array      # running max of the log-weights
    s: jax.Array       # Σ exp(e − mx)
    s2: jax.Array      # Σ exp(2(e − mx))
    pp: jax.Array      # Σ w φφᵀ
    uu: jax.Array      # Σ w u uᵀ
    dd: jax.Array      # Σ w φ'φ'ᵀ
    d2: jax.Array      # Σ w φ''⊙(Ĉφ)


def _rescale(acc: _Acc, new_mx):
    f = jnp.exp(acc.mx - new_mx)
    return _Acc(new_mx, acc.s * f, acc.s2 * f * f, acc.pp * f, acc.uu * f, acc.dd * f, acc.d2 * f)


def importance_block(K, H, A, act, plan: DrawPlan):
    """Importance estimates of (⟨φφᵀ⟩, Γ, ln Z₁) for one block, chunk by chunk.

    Proposal h = L_K A z (L_K L_Kᵀ = K, A the whitened proposal factor fitted by the solver, I at first);
    the density ratio N(h; 0, K)/N(h; 0, L_K AAᵀ L_Kᵀ) does not depend on K, so derivatives in K are
    pathwise. Memory O(chunk·m + m²) for any number of draws.
    """
    m = K.shape[-1]
    draw = _tilted_draws(K, H, A, act, plan)
    d1 = jax.vmap(jax.vmap(jax.grad(act.fn)))
    d2f = jax.vmap(jax.vmap(jax.grad(jax.grad(act.fn))))

    def body(acc: _Acc, i):
        h, a, Ha, e = draw(i)
        acc = _rescale(acc, jnp.maximum(acc.mx, jax.lax.stop_gradient(jnp.max(e))))
        w = jnp.exp(e - acc.mx)
        p1, p2 = d1(h), d2f(h)
        u = p1 * Ha
        acc = _Acc(acc.mx, acc.s + w.sum(), acc.s2 + (w * w).sum(), acc.pp + (a * w[:, None]).T @ a,
                   acc.uu + (u * w[:, None]).T @ u, acc.dd + (p1 * w[:, None]).T @ p1, acc.d2 + w @ (p2 * Ha))
        return acc, None

    z0 = jnp.zeros((m, m))
    acc0 = _Acc(jnp.array(-jnp.inf), 0.0, 0.0, z0, z0, z0, jnp.zeros(m))
    acc, _ = jax.lax.scan(body, acc0, jnp.arange(plan.n_chunks))
    C = _sym(acc.pp / acc.s)
    Gam = _sym(2.0 * acc.uu / acc.s - jnp.diag(acc.d2 / acc.s) - H * (acc.dd / acc.s))
    lnz = acc.mx + jnp.log(acc.s) - jnp.log(plan.n_draws)
    return C, Gam, lnz


def importance_stats(K, H, A, act, plan: DrawPlan):
    """Diagnostics of one block's importance estimate (one pass over the draws): the effective sample
    size, ⟨hhᵀ⟩ and ⟨φ hᵀ⟩, and the delta-method standard error of each entry of ⟨φφᵀ⟩."""
    m = K.shape[-1]
    draw = _tilted_draws(K, H, A, act, plan)
    mx = jax.lax.map(lambda i: jnp.max(draw(i)[3]), jnp.arange(plan.n_chunks)).max()

    def body(c, i):
        h, a, _, e = draw(i)
        w = jnp.exp(e - mx)
        aw = a * w[:, None]
        a2w2 = (a * w[:, None]) ** 2
        return (c[0] + w.sum(), c[1] + (w * w).sum(), c[2] + aw.T @ a, c[3] + (h * w[:, None]).T @ h,
                c[4] + aw.T @ h, c[5] + a2w2.T @ (a * a), c[6] + (aw * w[:, None]).T @ a), None

    z0 = jnp.zeros((m, m))
    (s, s2, pp, hh, ph, q4, q2), _ = jax.lax.scan(body, (0.0, 0.0, z0, z0, z0, z0, z0), jnp.arange(plan.n_chunks))
    C = pp / s
    # Var of the self-normalised estimate: Σ w̄_k² (φ_iφ_j − C_ij)², w̄ = w/Σw
    var = (q4 - 2.0 * C * q2 + C * C * s2) / (s * s)
    return dict(ess=s * s / s2, hh=_sym(hh / s), phih=ph / s, sem=jnp.sqrt(jnp.clip(var, 0.0, None)))


# ----------------------------------------------------------------------------------------------
# the residual
# ----------------------------------------------------------------------------------------------
class _Static(NamedTuple):
    """What a compiled residual depends on structurally (one compilation per distinct value)."""

    T: int
    P: int
    tied: bool
    act: object
    sup: tuple
    chunk: int
    n_chunks: int
    sobol: bool
    closure: bool = False


@lru_cache(maxsize=32)
def _compiled(st: _Static):
    lay = Layout(st.T, st.P, st.tied)
    linear = st.act.closed_form == "linear"
    sup = np.asarray(st.sup, int)
    sb, sr = lay.entries(sup)
    same = jnp.asarray((sb[:, None] == sb[None, :]) | st.tied, dtype=jnp.float64)
    sb, sr = jnp.asarray(sb), jnp.asarray(sr)

    def plan_of(d):
        return DrawPlan(d["base"] if st.sobol else None, d["key"], st.chunk * st.n_chunks, st.chunk, d["signs"])

    def moments(d, K, H):
        if linear:
            return jax.vmap(gaussian_block)(K, H)
        if st.closure:
            return jax.vmap(lambda k, h: closure_block(k, h, st.act)[:3])(K, H)
        plan = plan_of(d)
        return jax.vmap(lambda k, h, a: importance_block(k, h, a, st.act, plan))(K, H, d["A"])

    def readout(d, C):
        Sig = d["gw2"] * C[sb[:, None], sr[:, None], sr[None, :]] * same
        return jnp.linalg.solve(Sig + d["kappa"] * jnp.eye(len(sr)), d["y"])

    def pre(d, C):
        return d["g2"] * lay.shift(C) + d["gu2"] * d["G"]

    def source(d, C):
        """E_S a aᵀ E_Sᵀ in the block layout (the readout's source of Ĉ)."""
        a = readout(d, C)
        return jnp.zeros_like(C).at[sb[:, None], sr[:, None], sr[None, :]].add((a @ a.T) * same)

    def residual(d, x):
        C, H = x
        Cm, Gam, _ = moments(d, pre(d, C), H)
        Hm = -d["g2"] * lay.shift_adjoint(Gam) - 0.5 * d["gw2"] * source(d, C)
        return (C - Cm, H - _sym(Hm))

    def action(d, x):
        C, H = x
        _, _, lnz = moments(d, pre(d, C), H)
        return jnp.sum(H * C) + jnp.sum(lnz) - 0.5 * jnp.sum(d["y"] * readout(d, C))

    def stats(d, x):
        C, H = x
        if st.closure:
            Sig = jax.vmap(lambda k, h: closure_block(k, h, st.act)[3])(pre(d, C), H)
            return dict(hh=Sig)
        plan = plan_of(d)
        return jax.vmap(lambda k, h, a: importance_stats(k, h, a, st.act, plan))(pre(d, C), H, d["A"])

    shape = (lay.B, lay.m, lay.m)
    k = int(np.prod(shape))

    def unflat(v):
        return v[:k].reshape(shape), v[k:].reshape(shape)

    def flat(x):
        return jnp.concatenate([x[0].ravel(), x[1].ravel()])

    def residual_flat(d, v):
        return flat(residual(d, unflat(v)))

    return dict(F=jax.jit(residual), F_flat=jax.jit(residual_flat),
                jvp_flat=jax.jit(lambda d, x, v: jax.jvp(partial(residual_flat, d), (x,), (v,))[1]),
                S=jax.jit(action), K=jax.jit(pre), stats=jax.jit(stats))


class SteinSolver:
    """Solves X − A X Aᵀ = Q for many Q with one factorisation of A (real A, n × n).

    The Cayley transform B = (Aᵀ − I)(Aᵀ + I)⁻¹ turns the Stein equation into the Lyapunov equation
    Bᵀ X + X B = −2(A + I)⁻¹ Q (Aᵀ + I)⁻¹ (as ``scipy.linalg.solve_discrete_lyapunov`` does); Bᵀ is
    Schur-decomposed once, and each solve is four matrix products and one LAPACK ``trsyl``
    (Bartels–Stewart). Singular when A has an eigenvalue −1 or two eigenvalues with λᵢλⱼ = 1.
    """

    def __init__(self, A):
        import scipy.linalg as sl

        A = np.asarray(A, dtype=np.float64)
        n = A.shape[0]
        I = np.eye(n)
        self._left = np.linalg.inv(A + I)
        self._right = np.linalg.inv(A.T + I)
        Bt = ((A.T - I) @ self._right).T
        self._r, self._u = sl.schur(Bt, output="real")
        self._trsyl = sl.get_lapack_funcs("trsyl", (self._r,))

    def solve(self, Q):
        c = -2.0 * (self._left @ Q @ self._right)
        f = self._u.T @ c @ self._u
        y, scale, info = self._trsyl(self._r, self._r, f, tranb="T")
        if info < 0:  # pragma: no cover - argument error
            raise ValueError(f"trsyl: illegal argument {-info}")
        return self._u @ (y * (1.0 / scale)) @ self._u.T


class Equations:
    """F(C, Ĉ) of one problem in its block layout.

    ``x = (C, Ĉ)`` with ``C, Ĉ: [B, m, m]``. ``F(x) = (C − ⟨φφᵀ⟩, Ĉ − Ĉ_new)``; ``jvp_flat(v, dv)`` is its
    directional derivative (forward mode: the memory of one evaluation). ``action(x)`` is S
    (conventions §7). The compiled functions are shared by every problem of the same structure
    (shapes, activation, supervised set, draw chunking), so continuation does not recompile.
    ``scale`` multiplies the targets (homotopy from the lazy solution).
    """

    def __init__(self, prob: SaddleProblem, act, plan: DrawPlan | None = None, A=None, scale: float = 1.0,
                 closure: bool = False):
        self.prob, self.act, self.plan = prob, act, plan
        self.layout = lay = Layout(prob.T, prob.P, prob.tied)
        self.linear = act.closed_form == "linear"
        self.closure = closure = bool(closure and not self.linear)
        if closure:
            plan = None
        if not self.linear and plan is None and not closure:
            raise ValueError("Equations: nonlinear φ needs a DrawPlan")
        B, m = lay.B, lay.m
        self.A = jnp.broadcast_to(jnp.eye(m), (B, m, m)) if A is None else jnp.asarray(A)
        st = _Static(prob.T, prob.P, prob.tied, act, tuple(int(i) for i in np.flatnonzero(prob.sup)),
                     0 if plan is None else plan.chunk, 0 if plan is None else plan.n_chunks,
                     plan is not None and plan.base is not None, closure)
        self._fns = _compiled(st)
        self.data = dict(G=jnp.asarray(lay.from_dense(prob.G)), y=jnp.asarray(prob.y) * scale,
                         g2=jnp.float64(prob.g2), gu2=jnp.float64(prob.gu2), gw2=jnp.float64(prob.gw2),
                         kappa=jnp.float64(prob.kappa), A=self.A,
                         base=jnp.zeros((1, 1)) if plan is None or plan.base is None else plan.base,
                         key=jax.random.PRNGKey(0) if plan is None else plan.key,
                         signs=jnp.ones((1, 1)) if plan is None else plan.signs)
        self.scale = scale

    def F(self, x):
        return self._fns["F"](self.data, x)

    def F_flat(self, v):
        """F on the flat vector ``concat(C.ravel(), Ĉ.ravel())`` (what Newton–Krylov iterates on)."""
        return self._fns["F_flat"](self.data, v)

    def jvp_flat(self, v, dv):
        return self._fns["jvp_flat"](self.data, v, dv)

    def preconditioner(self, v):
        """u ↦ M⁻¹u for the flat iterate ``v``, or None where no preconditioner is built.

        Linear φ: with R = (I + 2KĈ)⁻¹, C̃ = RK (the Gaussian moment at the iterate) and the shift
        matrix S (shift(C) = S C Sᵀ), the exact linearisation of F is

            J_C(δC, δĈ) = δC − A δC Aᵀ + 2 C̃ δĈ C̃,                     A = g R S,
            J_Ĉ(δC, δĈ) = δĈ − Aᵀ δĈ A + 2g² Sᵀ Ĉ R(g² S δC Sᵀ)Rᵀ Ĉ S + ½g_w² δ(a aᵀ)(δC)

        (docs/theory/unified.md §3). M drops the two C → Ĉ couplings of the last line: it is
        block-triangular, and each diagonal block is a discrete Lyapunov (Stein) operator X − AXAᵀ.
        The dropped coupling has rank ≲ rank(Ĉ) + n_sup, so GMRES on J M⁻¹ needs few steps (T = 10,
        P = 2: 16 instead of 126).

        Nonlinear φ: the same M for the Gaussian surrogate φ ≈ B h of the tilted measure, B = ⟨φhᵀ⟩⟨hhᵀ⟩⁻¹:
        then R = ⟨hhᵀ⟩K⁻¹, and R, C̃ become A = g ⟨φhᵀ⟩K⁻¹ S and the iterate's C (Wick's rule for
        ∂⟨φφᵀ⟩/∂Ĉ). The moments come from one pass over the draws (:meth:`stats`).

        RNN: one dense Stein operator, solved directly (:class:`SteinSolver`: one Schur decomposition
        per Newton step). DNN: S shifts layers, so X − AXAᵀ is block-bidiagonal and is solved by a
        forward recursion over layers (X_t = r_t + g² M_t X_{t−1} M_tᵀ) and its transpose by a
        backward one — T products of P × P matrices.
        """
        parts = self._surrogate(v)
        if parts is None:
            return None
        k, B, m, Ct, solve_C, solve_H = parts

        def apply(u):
            u = np.asarray(u, dtype=np.float64)
            rC, rH = u[:k].reshape(B, m, m), u[k:].reshape(B, m, m)
            dH = solve_H(rH)                                # X − AᵀXA = r_Ĉ
            dC = solve_C(rC - 2.0 * Ct @ dH @ Ct)           # Y − AYAᵀ = r_C − 2C̃δĈC̃
            return jnp.asarray(np.concatenate([dC.ravel(), dH.ravel()]))

        return apply

    def _surrogate(self, v):
        """(k, B, m, C̃, Y ↦ solve of Y − AYAᵀ, Y ↦ solve of Y − AᵀYA) at the flat iterate ``v``, or None."""
        if self.closure:  # the closure's stats carry only Σ; its solves run without a preconditioner
            return None
        lay = self.layout
        B, m = lay.B, lay.m
        k = B * m * m
        v = np.asarray(v)
        C, H = v[:k].reshape(B, m, m), v[k:].reshape(B, m, m)
        K = np.asarray(self.pre_kernel(jnp.asarray(C)))
        try:
            if self.linear:
                R = np.linalg.inv(np.eye(m) + 2.0 * K @ H)     # [B, m, m]
                Ct = R @ K
            else:
                st = self.stats((jnp.asarray(C), jnp.asarray(H)))
                phih = np.asarray(st["phih"])
                R = np.swapaxes(np.linalg.solve(K, np.swapaxes(phih, -1, -2)), -1, -2)  # ⟨φhᵀ⟩K⁻¹ (K symmetric)
                Ct = C
        except np.linalg.LinAlgError:
            return None
        Ct = 0.5 * (Ct + np.swapaxes(Ct, -1, -2))
        if not (np.all(np.isfinite(R)) and np.all(np.isfinite(Ct))):
            return None
        g2 = float(self.prob.g2)
        if lay.tied:
            P = lay.P
            A = np.sqrt(g2) * np.concatenate([R[0][:, P:], np.zeros((m, P))], axis=1)  # g R S
            try:
                sC, sH = SteinSolver(A), SteinSolver(A.T)
            except (np.linalg.LinAlgError, ValueError):
                return None
            solve_C = lambda X: sC.solve(X[0])[None]
            solve_H = lambda X: sH.solve(X[0])[None]
        else:
            def solve_C(X):                   # Y_t − g² R_t Y_{t−1} R_tᵀ = X_t, forward over layers
                Y = np.empty_like(X)
                for t in range(B):
                    Y[t] = X[t] + (g2 * R[t] @ Y[t - 1] @ R[t].T if t else 0.0)
                return Y

            def solve_H(X):                   # Y_t − g² R_{t+1}ᵀ Y_{t+1} R_{t+1} = X_t, backward
                Y = np.empty_like(X)
                for t in reversed(range(B)):
                    Y[t] = X[t] + (g2 * R[t + 1].T @ Y[t + 1] @ R[t + 1] if t < B - 1 else 0.0)
                return Y

        return k, B, m, Ct, solve_C, solve_H

    def action(self, x) -> float:
        return float(self._fns["S"](self.data, x))

    def pre_kernel(self, C):
        return self._fns["K"](self.data, C)

    def residual_norm(self, x, r=None) -> float:
        """Relative size of F: max(max|F_C|/max|C|, max|F_Ĉ|/(1 + max|Ĉ|)); inf when not finite."""
        C, H = x
        rC, rH = self.F(x) if r is None else r
        v = max(float(jnp.max(jnp.abs(rC))) / max(float(jnp.max(jnp.abs(C))), 1e-300),
                float(jnp.max(jnp.abs(rH))) / (1.0 + float(jnp.max(jnp.abs(H)))))
        return v if np.isfinite(v) else float("inf")

    def stats(self, x):
        """Per-block importance diagnostics at x (nonlinear φ only): ess, hh, phih, sem."""
        return self._fns["stats"](self.data, x)


@lru_cache(maxsize=16)
def _test_moments_fn(act, chunk: int, n_chunks: int, sobol: bool):
    def run(K, H, A, Acond, Lc, base, key, signs, key_te):
        """⟨φ(h_te) φ(h_tr)ᵀ⟩ and ⟨φ(h_te) φ(h_te)ᵀ⟩ when h_tr follows the tilted measure (the solver's
        draws and weights) and h_te | h_tr is the untilted conditional Gaussian h_tr Acondᵀ + Lc ξ."""
        plan = DrawPlan(base if sobol else None, key, chunk * n_chunks, chunk, signs)
        m = K.shape[-1]
        n_te = Lc.shape[0]
        draw = _tilted_draws(K, H, A, act, plan)
        mx = jax.lax.map(lambda i: jnp.max(draw(i)[3]), jnp.arange(n_chunks)).max()

        def body(c, i):
            h, a, _, e = draw(i)
            w = jnp.exp(e - mx)
            xi = jax.random.normal(jax.random.fold_in(key_te, i), (h.shape[0], n_te), dtype=jnp.float64)
            ate = act(h @ Acond.T + xi @ Lc.T)
            aw = ate * w[:, None]
            return (c[0] + w.sum(), c[1] + aw.T @ a, c[2] + aw.T @ ate), None

        (s, x, tt), _ = jax.lax.scan(body, (0.0, jnp.zeros((n_te, m)), jnp.zeros((n_te, n_te))),
                                     jnp.arange(n_chunks))
        return x / s, _sym(tt / s)

    return jax.jit(run)


def tilted_test_moments(eq: "Equations", b: int, K_tr, H, Acond, Lc, seed: int):
    """Block ``b`` of :func:`_test_moments_fn` with the draws and proposal of ``eq``."""
    plan = eq.plan
    f = _test_moments_fn(eq.act, plan.chunk, plan.n_chunks, plan.base is not None)
    d = eq.data
    return f(jnp.asarray(K_tr), jnp.asarray(H), eq.A[b], jnp.asarray(Acond), jnp.asarray(Lc), d["base"], d["key"],
             d["signs"], jax.random.PRNGKey(seed + 7919 + b))
