"""The linear RNN saddle point in its exact low-rank coordinates (docs/theory/unified.md §3).

For φ = identity the conjugate kernel of every saddle point has low rank. With the shift S
(shift(C) = S C Sᵀ, nilpotent: (Sᵀ)^T = 0) the Ĉ equation reads

    Ĉ = g² Sᵀ Ĉ (I + 2KĈ)⁻¹ S − ½ g_w² (E a)(E a)ᵀ,      a = (g_w² C_SS + κ)⁻¹ y_S,

so range(Ĉ) ⊂ Sᵀ range(Ĉ) + range(E a), and iterating T times

    range(Ĉ) ⊂ 𝒦 = span{ (Sᵀ)^j E a_o : j < T, o < k },       r = dim 𝒦 ≤ T·k,

with k the rank of the targets (only y yᵀ enters the action, so y is replaced by its thin factor).
Writing U = [(Sᵀ)^j E a/‖a‖]_{j,o} (n × r), Sᵀ U = U B with B the shift on j, and E a = U α, the
saddle-point equations close on the unknowns (a, M, Q) with Ĉ = U M Uᵀ and Y = K U:

    Q = Uᵀ Y,   N = (I + 2MQ)⁻¹ M                      (Ĉ(I + 2KĈ)⁻¹ = U N Uᵀ, push-through)
    Y_t = g_u² (G U)_t + g² Y_{t−1} (I − 2NQ) B        (C U = Y(I − 2NQ), K = g² S C Sᵀ + g_u² G:
                                                        Y is linear in itself at fixed N, Q, so it is
                                                        an exact forward recursion in time, not an unknown)
    M = g² B N Bᵀ − ½ g_w² α αᵀ
    a = (g_w² C_SS + κ)⁻¹ y,   C = Σ_{j<T} g^{2j} S^j (g_u² G − 2 Y N Yᵀ) (Sᵀ)^j

These are exact (every full saddle point is one of them and vice versa), so the unknowns are
n_sup·k + 2r² instead of 2n², and an evaluation costs O(n·n_sup·r + T·n_sup²·r) (or O(n²(T + r))
when that is smaller) instead of O(n³): at T = 10, P = 100 (n = 1000) the unknowns fall from 2·10⁶ to
300. Newton takes its steps with the dense Jacobian of this small system (``jacfwd`` + LU; GMRES on
jvps above ``DENSE_MAX`` unknowns) inside the same globalised loop (:func:`.newton_krylov.newton_krylov`);
the dense (C, Ĉ) are formed once at the end and the full residual of :mod:`.equations` is evaluated
there, so ``diagnostics.residual`` means what it means for every other solve.
"""
from __future__ import annotations

from functools import lru_cache, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .action import SaddleProblem
from .newton_krylov import newton_krylov, ramp


def thin_targets(y: np.ndarray, rtol: float = 1e-12) -> np.ndarray:
    """A thin factor ỹ of y yᵀ (ỹ ỹᵀ = y yᵀ, full column rank k ≤ O): the action depends on y only
    through y yᵀ, and a = (Σ + κ)⁻¹ỹ then has independent columns."""
    u, s, _ = np.linalg.svd(np.asarray(y, float), full_matrices=False)
    keep = s > rtol * (s[0] if s.size else 0.0)
    return u[:, keep] * s[keep]


def _sup_times(prob: SaddleProblem) -> np.ndarray:
    """The time steps that carry a supervised entry."""
    return np.unique(np.flatnonzero(prob.sup) // prob.P)


def krylov_rank(prob: SaddleProblem) -> int:
    """The dimension r of the reduced conjugate-kernel space (0 when the targets vanish): T·k for the
    RNN, m·k for the DNN (m supervised time steps; every layer's Ĉ_t lies in the span of their â_s)."""
    k = thin_targets(prob.y).shape[1]
    return (prob.T if prob.tied else len(_sup_times(prob))) * k


def applies(prob: SaddleProblem) -> bool:
    """The reduction pays (and is used) when r is below the block size (n = T·P for the RNN, P for
    each DNN layer)."""
    r = krylov_rank(prob)
    return 0 < r < (prob.n if prob.tied else prob.P)


#: reduced systems up to this many unknowns take Newton steps with the dense Jacobian (jacfwd + LU), larger
#: ones GMRES on jvps. One dense step costs ``size`` jvps; GMRES took 20–26 per step on the sequential
#: LDS task at T = 20, P = 20 (1000 unknowns), where the dense steps made the solve take > 300 s
#: (2026-12-07); the endpoint task at n = 1000 (300 unknowns) stays dense.
DENSE_MAX = 500


class _Static(NamedTuple):
    T: int
    P: int
    k: int
    sup: tuple


@lru_cache(maxsize=16)
def _compiled(st: _Static):
    T, P, k = st.T, st.P, st.k
    n, r = T * P, T * st.k
    sup = np.asarray(st.sup, int)
    ns = len(sup)
    B = np.zeros((r, r))
    for j in range(T - 1):
        B[(j + 1) * k:(j + 2) * k, j * k:(j + 1) * k] = np.eye(k)
    B = jnp.asarray(B)
    Ir = jnp.eye(r)
    sizes = (ns * k, r * r, r * r)
    # C_SS = Σ_j g^{2j} X[sup − j·P, sup − j·P] (X = −2YNYᵀ; entries with t − j < 0 drop out)
    lag_idx = np.stack([np.clip(sup - j * P, 0, None) for j in range(T)])          # [T, ns]
    lag_ok = jnp.asarray(np.stack([(sup - j * P >= 0) for j in range(T)]), dtype=jnp.float64)

    def unpack(v):
        a = v[:sizes[0]].reshape(ns, k)
        M = v[sizes[0]:sizes[0] + sizes[1]].reshape(r, r)
        Q = v[sizes[0] + sizes[1]:].reshape(r, r)
        return a, M, Q

    def pack(a, M, Q):
        return jnp.concatenate([a.ravel(), M.ravel(), Q.ravel()])

    lag_col = np.broadcast_to(np.arange(T)[:, None], lag_idx.shape)

    def basis(a):
        """U[:, j·k + o] = (Sᵀ)^j E â_o: â placed at the rows sup − jP (one scatter-add; the clipped
        rows of dropped entries receive 0)."""
        nrm = jnp.sqrt(jnp.sum(a * a))
        vals = (a / nrm)[None, :, :] * lag_ok[:, :, None]                               # [T, ns, k]
        U = jnp.zeros((n, T, k)).at[lag_idx, lag_col].add(vals).reshape(n, r)
        alpha = jnp.zeros((r, k)).at[:k].set(nrm * jnp.eye(k))
        return U, alpha

    def parts(d, a, M, Q):
        """U, α, N and Y = K U, the last by the exact forward recursion in time
        Y_t = g_u²(GU)_t + g² Y_{t−1}(I − 2NQ)B (the Y equation is linear in Y at fixed N, Q)."""
        Ms, Qs = 0.5 * (M + M.T), 0.5 * (Q + Q.T)
        U, alpha = basis(a)
        N = jnp.linalg.solve(Ir + 2.0 * Ms @ Qs, Ms)
        N = 0.5 * (N + N.T)
        # G U without forming it against U: column block j of U is â placed at sup − jP, so
        # (GU)_j = G[:, sup − jP] â (``Gl`` holds those columns): O(n·ns·r), not O(n²r)
        nrm = jnp.sqrt(jnp.sum(a * a))
        src = d["gu2"] * jnp.einsum("jim,mo->ijo", d["Gl"], a / nrm).reshape(T, P, r)
        RB = d["g2"] * ((Ir - 2.0 * N @ Qs) @ B)

        def step(prev, s_t):
            y = s_t + prev @ RB
            return y, y

        _, Y = jax.lax.scan(step, jnp.zeros((P, r)), src)
        return U, alpha, N, Y.reshape(n, r)

    def c_low(Y, N, g2):
        """Σ_j g^{2j} S^j (−2YNYᵀ) Sᵀʲ on all n × n entries (T − 1 shifted adds)."""
        X = -2.0 * Y @ N @ Y.T
        return jax.lax.fori_loop(0, T - 1, lambda _, C: X + g2 * jnp.zeros_like(C).at[P:, P:].set(C[:-P, :-P]), X)

    # C_SS by lags costs T·ns²·r, through the whole n × n recursion n²(T + r): take the cheaper
    by_lags = T * ns * ns * r <= n * n * (T + r)

    def c_sup(Y, N, g2):
        if not by_lags:
            return c_low(Y, N, g2)[sup][:, sup]
        Z = Y[lag_idx] * lag_ok[:, :, None]                                            # [T, ns, r]
        w = g2 ** jnp.arange(T, dtype=jnp.float64)
        ZN = (Z @ N) * w[:, None, None]
        # one matmul over (j, s): [ns, T·r] @ [T·r, ns]
        return -2.0 * jnp.swapaxes(ZN, 0, 1).reshape(ns, T * r) @ jnp.swapaxes(Z, 0, 1).reshape(ns, T * r).T

    def residual(d, v):
        a, M, Q = unpack(v)
        U, alpha, N, Y = parts(d, a, M, Q)
        # the raw M, Q here (not their symmetric parts) drive the antisymmetric parts to 0, so the
        # Jacobian is regular in those directions
        RQ = Q - U.T @ Y
        RM = M - d["g2"] * (B @ N @ B.T) + 0.5 * d["gw2"] * (alpha @ alpha.T)
        Css = d["Gss"] + c_sup(Y, N, d["g2"])
        # a − (Σ_SS + κ)⁻¹y rather than (Σ_SS + κ)a − y: the a-block of the Jacobian is then ≈ I
        # (the other form carries cond(Σ_SS + κ) ~ max C/κ into the linear solves)
        # (jnp.linalg.solve differentiates by re-using its LU: O(ns²) per tangent; a Cholesky's jvp is O(ns³))
        Ra = a - jnp.linalg.solve(d["gw2"] * 0.5 * (Css + Css.T) + d["kappa"] * jnp.eye(ns), d["y"])
        return pack(Ra, RM, RQ)

    def dense(d, v):
        """(C, Ĉ) on the training entries from the reduced unknowns:
        C = Σ_j g^{2j} S^j (g_u²G − 2YNYᵀ) Sᵀʲ, Ĉ = U M Uᵀ."""
        a, M, Q = unpack(v)
        U, _, N, Y = parts(d, a, M, Q)
        return d["Cg"] + c_low(Y, N, d["g2"]), U @ (0.5 * (M + M.T)) @ U.T

    def initial(d, C0, H0):
        """Reduced unknowns of a dense (C, Ĉ): a from C_SS, M = U⁺ Ĉ U⁺ᵀ, Q = Uᵀ K(C) U."""
        Css = C0[sup][:, sup]
        a = jnp.linalg.solve(d["gw2"] * Css + d["kappa"] * jnp.eye(ns), d["y"])
        U, _ = basis(a)
        K = d["g2"] * jnp.zeros_like(C0).at[P:, P:].set(C0[:-P, :-P]) + d["gu2"] * d["G"]
        Up = jnp.linalg.pinv(U)
        return pack(a, Up @ H0 @ Up.T, U.T @ K @ U)

    return dict(F=jax.jit(residual), jvp=jax.jit(lambda d, x, dx: jax.jvp(partial(residual, d), (x,), (dx,))[1]),
                jac=jax.jit(lambda d, x: jax.jacfwd(partial(residual, d))(x)),
                dense=jax.jit(dense), initial=jax.jit(initial), size=sum(sizes))


@lru_cache(maxsize=16)
def _compiled_dnn(st: _Static):
    """The DNN (independent layers, per-layer readouts): every block is P × P. With â_s the readout
    vector of supervised step s placed on its patterns, the layer-t conjugate kernel obeys
    Ĉ_t = g² Ĉ_{t+1}(I + 2K_{t+1}Ĉ_{t+1})⁻¹ − ½ g_w² â_t â_tᵀ, so range Ĉ_t ⊂ span{â_s : s ≥ t}: one basis
    U = [â_s] (P × r, r = m·k) serves every layer, Ĉ_t = U M_t Uᵀ, and with Y_t = K_t U, Q_t = Uᵀ Y_t,
    N_t = (I + 2M_tQ_t)⁻¹M_t the equations close as for the RNN, with the shift B = I between layers:

        Y_t = g_u² G_t U + g² Y_{t−1}(I − 2N_{t−1}Q_{t−1}),   M_t = g² N_{t+1} − ½ g_w² α_t α_tᵀ,
        C_t = g_u² G_t + g² C_{t−1} − 2 Y_t N_t Y_tᵀ,          a_s = (g_w² C_s[S_s, S_s] + κ)⁻¹ y_s."""
    T, P, k = st.T, st.P, st.k
    sup = np.asarray(st.sup, int)
    ns = len(sup)
    ti, pi = sup // P, sup % P                       # time and pattern of each supervised entry
    times = np.unique(ti)
    m = len(times)
    r = m * k
    col = np.searchsorted(times, ti)                 # which column block of U each entry feeds
    Ir = jnp.eye(r)
    sizes = (ns * k, T * r * r, T * r * r)
    same_t = jnp.asarray(ti[:, None] == ti[None, :], dtype=jnp.float64)
    # α_t: E_t a_t = U α_t, nonzero only on supervised layers (‖a‖ on the layer's own column block)
    sel = np.zeros((T, r, k))
    for j, t in enumerate(times):
        sel[t, j * k:(j + 1) * k] = np.eye(k)
    sel = jnp.asarray(sel)

    def unpack(v):
        a = v[:sizes[0]].reshape(ns, k)
        M = v[sizes[0]:sizes[0] + sizes[1]].reshape(T, r, r)
        Q = v[sizes[0] + sizes[1]:].reshape(T, r, r)
        return a, M, Q

    def pack(a, M, Q):
        return jnp.concatenate([a.ravel(), M.ravel(), Q.ravel()])

    def basis(a):
        nrm = jnp.sqrt(jnp.sum(a * a))
        U = jnp.zeros((P, m, k)).at[pi, col].add(a / nrm).reshape(P, r)
        return U, nrm * sel

    def parts(d, a, M, Q):
        sw = lambda A: jnp.swapaxes(A, -1, -2)
        Ms, Qs = 0.5 * (M + sw(M)), 0.5 * (Q + sw(Q))
        U, alpha = basis(a)
        N = jnp.linalg.solve(Ir + 2.0 * Ms @ Qs, Ms)
        N = 0.5 * (N + sw(N))
        src = d["gu2"] * (d["G"] @ U)                                                  # [T, P, r]
        RB = d["g2"] * (Ir - 2.0 * N @ Qs)                                             # [T, r, r]
        prev = jnp.concatenate([jnp.zeros((1, r, r)), RB[:-1]])

        def step(y, inp):
            s_t, R = inp
            y = s_t + y @ R
            return y, y

        _, Y = jax.lax.scan(step, jnp.zeros((P, r)), (src, prev))
        return U, alpha, N, Y

    def c_low(Y, N, g2):
        """X_t = −2 Y_t N_t Y_tᵀ + g² X_{t−1}: the tilt's part of C_t, every layer [T, P, P]."""
        X = -2.0 * jnp.einsum("tpa,tab,tqb->tpq", Y, N, Y)

        def step(c, x):
            c = x + g2 * c
            return c, c

        return jax.lax.scan(step, jnp.zeros((P, P)), X)[1]

    def residual(d, v):
        a, M, Q = unpack(v)
        U, alpha, N, Y = parts(d, a, M, Q)
        RQ = Q - jnp.einsum("pa,tpb->tab", U, Y)
        Nn = jnp.concatenate([N[1:], jnp.zeros((1, r, r))])
        RM = M - d["g2"] * Nn + 0.5 * d["gw2"] * alpha @ jnp.swapaxes(alpha, -1, -2)
        C = d["Cg"] + c_low(Y, N, d["g2"])
        Css = C[ti[:, None], pi[:, None], pi[None, :]] * same_t                       # per-layer readouts
        Ra = a - jnp.linalg.solve(d["gw2"] * 0.5 * (Css + Css.T) + d["kappa"] * jnp.eye(ns), d["y"])
        return pack(Ra, RM, RQ)

    def dense(d, v):
        a, M, Q = unpack(v)
        U, _, N, Y = parts(d, a, M, Q)
        Ms = 0.5 * (M + jnp.swapaxes(M, -1, -2))
        return d["Cg"] + c_low(Y, N, d["g2"]), jnp.einsum("pa,tab,qb->tpq", U, Ms, U)

    def initial(d, C0, H0):
        """Reduced unknowns of block arrays (C, Ĉ) [T, P, P]."""
        Css = C0[ti[:, None], pi[:, None], pi[None, :]] * same_t
        a = jnp.linalg.solve(d["gw2"] * Css + d["kappa"] * jnp.eye(ns), d["y"])
        U, _ = basis(a)
        K = d["g2"] * jnp.concatenate([jnp.zeros_like(C0[:1]), C0[:-1]]) + d["gu2"] * d["G"]
        Up = jnp.linalg.pinv(U)
        return pack(a, jnp.einsum("ap,tpq,bq->tab", Up, H0, Up), jnp.einsum("pa,tpq,qb->tab", U, K, U))

    return dict(F=jax.jit(residual), jvp=jax.jit(lambda d, x, dx: jax.jvp(partial(residual, d), (x,), (dx,))[1]),
                jac=jax.jit(lambda d, x: jax.jacfwd(partial(residual, d))(x)),
                dense=jax.jit(dense), initial=jax.jit(initial), size=sum(sizes))


def _tilt_free_kernel(prob: SaddleProblem) -> np.ndarray:
    """C of the g_u² G source alone (the NNGP kernel of the linear network): RNN
    Σ_j g^{2j} S^j (g_u² G) (Sᵀ)^j on n × n; DNN C_t = g_u² G_t + g² C_{t−1} on [T, P, P]."""
    P = prob.P
    if not prob.tied:
        G = prob.gu2 * _blocks(np.asarray(prob.G, float), prob.T, P)
        out = G.copy()
        for t in range(1, prob.T):
            out[t] += prob.g2 * out[t - 1]
        return out
    X = prob.gu2 * np.asarray(prob.G, float)
    C = X.copy()
    for _ in range(prob.T - 1):
        nxt = X.copy()
        nxt[P:, P:] += prob.g2 * C[:-P, :-P]
        C = nxt
    return C


def _blocks(A: np.ndarray, T: int, P: int) -> np.ndarray:
    """The same-time blocks [T, P, P] of a time-major n × n array."""
    return np.stack([A[t * P:(t + 1) * P, t * P:(t + 1) * P] for t in range(T)])


class ReducedLinear:
    """F(a, M, Q) = 0 of one linear problem, RNN or DNN (module docstring, :func:`_compiled_dnn`);
    ``scale`` multiplies the targets. Dense arrays are n × n for the RNN and [T, P, P] for the DNN."""

    def __init__(self, prob: SaddleProblem, scale: float = 1.0):
        if not applies(prob):
            raise ValueError("ReducedLinear: needs 0 < r below the block size (module docstring)")
        ythin = thin_targets(prob.y)
        self.prob, self.k = prob, ythin.shape[1]
        sup = tuple(int(i) for i in np.flatnonzero(prob.sup))
        self._fns = (_compiled if prob.tied else _compiled_dnn)(_Static(prob.T, prob.P, self.k, sup))
        r = krylov_rank(prob)
        self.r = r
        na = len(sup) * self.k
        self._split = (na, na + (self._fns["size"] - na) // 2)         # a | M | Q
        Cg = _tilt_free_kernel(prob)
        idx = np.asarray(sup, int)
        T, P = prob.T, prob.P
        common = dict(y=jnp.asarray(ythin * scale), g2=jnp.float64(prob.g2), gu2=jnp.float64(prob.gu2),
                      gw2=jnp.float64(prob.gw2), kappa=jnp.float64(prob.kappa))
        if prob.tied:
            Gl = np.stack([prob.G[:, np.clip(idx - j * P, 0, None)] * (idx - j * P >= 0) for j in range(T)])
            self.data = dict(G=jnp.asarray(prob.G), Gl=jnp.asarray(Gl), Cg=jnp.asarray(Cg),
                             Gss=jnp.asarray(Cg[np.ix_(idx, idx)]), **common)
        else:
            self.data = dict(G=jnp.asarray(_blocks(prob.G, T, P)), Cg=jnp.asarray(Cg), **common)

    @property
    def size(self) -> int:
        return self._fns["size"]

    def F(self, v):
        return self._fns["F"](self.data, v)

    def jvp(self, v, dv):
        return self._fns["jvp"](self.data, v, dv)

    def newton_step(self, v, r):
        """(−J(v)⁻¹r, jvps) with the dense Jacobian (``jacfwd``: ``size`` batched jvps, one LU): the reduced
        system is small (ns·k + 2r² unknowns). None where J is singular (GMRES is used then)."""
        import scipy.linalg as sl

        if self.size > DENSE_MAX:
            return None
        J = np.asarray(self._fns["jac"](self.data, v))
        if not np.all(np.isfinite(J)):
            return None
        lu = sl.lu_factor(J, check_finite=False)
        if not np.all(np.isfinite(lu[0])) or np.min(np.abs(np.diag(lu[0]))) == 0.0:
            return None
        return jnp.asarray(sl.lu_solve(lu, -np.asarray(r, dtype=np.float64), check_finite=False)), self.size

    def measure(self, v, r) -> float:
        """max(|R_Q|/max|Q|, |R_M|/(1 + max|M|), |R_a|/max|a|) (numpy: nothing to compile)."""
        v, r = np.asarray(v), np.asarray(r)
        i, j = self._split
        m = max(np.abs(r[j:]).max() / max(np.abs(v[j:]).max(), 1e-300),
                np.abs(r[i:j]).max() / (1.0 + np.abs(v[i:j]).max()),
                np.abs(r[:i]).max() / max(np.abs(v[:i]).max(), 1e-300))
        return float(m) if np.isfinite(m) else float("inf")

    def initial(self, C0, H0):
        return self._fns["initial"](self.data, jnp.asarray(C0), jnp.asarray(H0))

    def dense(self, v):
        C, H = self._fns["dense"](self.data, v)
        return np.asarray(C), np.asarray(H)

    def lazy(self):
        """The reduced point of the lazy (NNGP) solution: C = the tilt-free kernel, Ĉ = 0."""
        C = self.data["Cg"]
        return self.initial(C, jnp.zeros_like(C))


def jacobian_sign(prob: SaddleProblem, C, Chat) -> float:
    """Sign of det J of the reduced equations at a (dense) solution (C, Ĉ): it flips where a real
    eigenvalue crosses 0, i.e. at a bifurcation of the branch (the RNN transition on the block-diagonal
    branch). The reduced system is an exact reparametrisation of the full one, so its Jacobian is
    singular exactly where the full one is."""
    e = ReducedLinear(prob)
    J = np.asarray(e._fns["jac"](e.data, e.initial(C, Chat)))
    sign, _ = np.linalg.slogdet(J)
    return float(sign)


def critical_mode_odd_fraction(prob: SaddleProblem, C, Chat, eps: float = 1e-6) -> float:
    """How much of the critical mode (the eigenvector of the reduced J with the smallest |eigenvalue|) at
    a solution (C, Ĉ) lies on the odd-lag blocks (t − s odd) of δC and δĈ, in [0, 1] (RNN).

    The W → −W pitchfork breaks the symmetry h_t → (−1)ᵗ h_t, so its mode is odd: δC_ts and δĈ_ts vanish
    unless t − s is odd (fraction ≈ 1). A fold of the block-diagonal branch, or any bifurcation within the
    symmetric subspace, has an even mode (fraction ≈ 0). The dense mode is the finite difference of the
    reduced → dense map along the eigenvector."""
    e = ReducedLinear(prob)
    v = e.initial(C, Chat)
    J = np.asarray(e._fns["jac"](e.data, v))
    w, V = np.linalg.eig(J)
    mode = np.real(V[:, np.argmin(np.abs(w))])
    h = eps * max(float(jnp.abs(v).max()), 1.0) / max(float(np.abs(mode).max()), 1e-300)
    Cp, Hp = e.dense(v + h * jnp.asarray(mode))
    Cm, Hm = e.dense(v - h * jnp.asarray(mode))
    dC, dH = (Cp - Cm) / (2 * h), (Hp - Hm) / (2 * h)
    t = np.arange(prob.n) // prob.P
    odd = ((t[:, None] - t[None, :]) % 2).astype(bool)

    def frac(D):
        tot = float(np.sum(D * D))
        return float(np.sum(D[odd] ** 2)) / tot if tot > 0 else 0.0

    # each of δC and δĈ is either odd or even for a symmetric-branch mode; weigh them equally
    return 0.5 * (frac(dC / max(np.abs(dC).max(), 1e-300)) + frac(dH / max(np.abs(dH).max(), 1e-300)))


def branch_seeds(prob: SaddleProblem, C, Chat, eps=(0.1, 0.3)) -> list:
    """Dense (C, Ĉ) seeds for branch switching at a solution near a bifurcation: the reduced unknowns
    moved by ±ε·max|v| along the eigenvector of J with the smallest |eigenvalue| (the critical mode).
    Seeds whose C is not finite are dropped."""
    e = ReducedLinear(prob)
    v = e.initial(C, Chat)
    J = np.asarray(e._fns["jac"](e.data, v))
    w, V = np.linalg.eig(J)
    mode = np.real(V[:, np.argmin(np.abs(w))])
    mode = jnp.asarray(mode / np.abs(mode).max() * float(jnp.abs(v).max()))
    out = []
    for ep in eps:
        for sgn in (1.0, -1.0):
            Cs, Hs = e.dense(v + sgn * ep * mode)
            if np.all(np.isfinite(Cs)) and np.all(np.isfinite(Hs)):
                out.append((Cs, Hs))
    return out


def memory_estimate(prob: SaddleProblem) -> float:
    """Peak bytes of a reduced solve: the dense reduced Jacobian and its LU, and ~12 arrays of the
    problem's blocks (G, the tilt-free kernel, the dense C, Ĉ, K and the full residual evaluated once
    at the end); the RNN adds the lagged input columns ``Gl`` [T, n, n_sup]."""
    k = thin_targets(prob.y).shape[1]
    r, ns, n = krylov_rank(prob), int(prob.sup.sum()), prob.n
    size = ns * k + 2 * (1 if prob.tied else prob.T) * r * r
    jac = 3 * size * size if size <= DENSE_MAX else 250 * size
    arrays = prob.T * n * ns + 12 * n * n if prob.tied else 12 * prob.T * prob.P ** 2
    return float(8 * (jac + arrays + 4 * prob.T * max(ns, prob.P) * r))


def solve_reduced(prob: SaddleProblem, C0, H0, tol: float, max_iter: int, homotopy: bool, log) -> dict:
    """Newton on the reduced equations from the start (C0, H0) in the block layout of
    :class:`.equations.Layout` ([1, n, n] RNN, [T, P, P] DNN); on failure ramp the targets from 0 (each
    step from the previous solution). Returns the block (C, Ĉ) and the record."""
    eq = ReducedLinear(prob)
    restart = int(min(200, max(30, 4 * prob.T + 2 * eq.r + 20)))
    if prob.tied:
        C0, H0 = C0[0], H0[0]

    def newton(e, v0):
        return newton_krylov(e.F, e.jvp, v0, e.measure, tol, max_iter, restart, direct=e.newton_step)

    v, rec = newton(eq, eq.initial(C0, H0))
    iters, mv, hist = rec.iterations, rec.matvecs, list(rec.history)
    ok = rec.converged
    method = "newton(reduced)" if eq.size <= DENSE_MAX else "newton-krylov(reduced)"
    log(f"reduced newton (r = {eq.r}, {eq.size} unknowns): {rec.iterations} steps, {rec.matvecs} jvps, "
        f"residual {hist[-1]:.3g} {rec.reason}")
    if not ok and homotopy:
        method += "+homotopy"
        # each λ starts from the previous solution; the first from the lazy point of λ itself
        # (λ = 0 has a = 0, where the Krylov basis is undefined)
        start = lambda lam, x: ReducedLinear(prob, scale=lam).lazy() if x is None else x
        x, ok, it2, mv2, h2 = ramp(lambda lam, x: newton(ReducedLinear(prob, scale=lam), start(lam, x)), None, log)
        iters, mv, hist = iters + it2, mv + mv2, hist + h2
        if x is not None:
            v = x
    C, H = eq.dense(v)
    if prob.tied:
        C, H = C[None], H[None]
    return dict(C=C, Chat=H, converged=ok, iterations=iters, matvecs=mv, history=hist, method=method)


__all__ = ["ReducedLinear", "applies", "branch_seeds", "critical_mode_odd_fraction", "jacobian_sign", "krylov_rank",
           "memory_estimate",
           "solve_reduced", "thin_targets"]
