"""Mean-field (MF) and MF-ARD theory of the two-layer network (docs/theory/two_layer.md §3–§4).

Posterior of f(x) = Σ_i a_i φ(w_i·x/√d)/N^γ under the likelihood exp(−(1/2κ²) Σ_μ (f_μ − y_μ)²)
and priors w_ij ~ N(0, 1/ρ_j) (ρ_j = 1/sw2 without ARD), a_i ~ N(0, sa2) (conventions §9).

Mean field: every neuron sees the residual r = y − ⟨f⟩ = Σ_A (c_A − m_A) χ_A, and data sums are
replaced by population averages (Σ_μ → P E_x). Integrating out its readout a (Gaussian) gives

    𝒜(w) = 1/(2 sa2) + P N^{−2γ} Σ(w)/(2κ²),     B(w) = P N^{−γ} Σ_A J_A(w)(c_A − m_A)/κ²,
    ⟨a|w⟩ = B/(2𝒜),                               Var(a|w) = 1/(2𝒜),
    log p(w) = −½ Σ_j ρ_j w_j² − ½ log 𝒜(w) + B(w)²/(4𝒜(w))          (the tilted density),

and the self-consistency m_A = N^{1−γ} E_{p(w)}[⟨a|w⟩ J_A(w)], solved by damped iteration with w
sampled by blackjax MALA (vmapped chains, warm-started between iterations).

``tilt=False`` is the infinite-width limit at γ = ½ (tilt ∝ P²/(Nκ⁴) → 0 and the Σ term of 𝒜 ∝
P/(Nκ²) → 0): w stays at its prior and the fixed point is the spectral kernel-ridge shrinkage
m_A = c_A g_A/(1 + g_A), g_A = P N^{1−2γ} sa2 λ_A/κ² (:func:`kernel_limit_coefficients`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import blackjax
import jax
import jax.numpy as jnp
import numpy as np

from .._validate import ConvergenceError, FLTheoryInputError, positive, positive_int, report_nonconvergence
from ..diagnostics import Diagnostics
from ..priors import Priors, two_layer_priors
from .ard import ard_update, relevance_ratio, symmetrize_groups


@dataclass(frozen=True)
class MFResult:
    """Fixed point of the (ARD) mean-field equations.

    ``m``: coefficients of the mean predictor on the basis (target first); ``m_tracked``: on the
    tracked off-target sets; ``m_se``: Monte-Carlo standard error of ``m`` (spread of the last
    iterations); ``w2``: ⟨w_j²⟩ per coordinate; ``rho``: prior precisions ρ_j; ``test_mse``:
    population test error of the posterior-mean predictor; ``history``: m per iteration.
    """

    m: np.ndarray
    m_se: np.ndarray
    m_tracked: np.ndarray
    w2: np.ndarray
    rho: np.ndarray
    test_mse: float
    converged: bool
    n_iter: int
    acceptance: float
    history: np.ndarray = field(repr=False)
    final_w: np.ndarray = field(repr=False)
    diagnostics: Diagnostics | None = field(default=None, repr=False)  # the common record (fltheory.diagnostics)

    @property
    def m_target(self) -> float:
        return float(self.m[0])

    def summary(self, relevant) -> dict[str, float]:
        mask = np.zeros(len(self.w2), bool)
        mask[list(relevant)] = True
        off = float(np.max(np.abs(self.m_tracked))) if len(self.m_tracked) else 0.0
        return dict(
            m_target=float(self.m[0]), m_target_se=float(self.m_se[0]), m_off=off,
            w2_relevant=float(self.w2[mask].mean()),
            w2_irrelevant=float(self.w2[~mask].mean()) if (~mask).any() else float("nan"),
            rho_relevant=float(self.rho[mask].mean()),
            rho_irrelevant=float(self.rho[~mask].mean()) if (~mask).any() else float("nan"),
            rho_ratio=relevance_ratio(self.rho, relevant) if (~mask).any() else float("nan"),
            test_mse=float(self.test_mse), converged=float(self.converged),
        )


def kernel_limit_coefficients(c, lam, P: float, kappa2: float, N: int = 1, gamma: float = 0.5,
                              sa2: float = 1.0) -> np.ndarray:
    """Spectral kernel-ridge shrinkage m_A = c_A g_A/(1 + g_A), g_A = P N^{1−2γ} sa2 λ_A/κ²."""
    g = float(P) * float(N) ** (1.0 - 2.0 * gamma) * sa2 * np.asarray(lam, float) / kappa2
    return np.asarray(c, float) * g / (1.0 + g)


_BLOCK_CACHE_SIZE = 32


def _get_block(model, tilt: bool, steps: int):
    """Jitted block of ``steps`` MALA steps on all chains (scalars are traced).

    Cached, at most ``_BLOCK_CACHE_SIZE`` blocks (least recently used dropped), per (model, tilt,
    steps): the overlap models are frozen dataclasses, equal and equally hashed when their
    parameters are, so a sweep over P, κ², N, … reuses one compiled block per model.
    """
    try:
        hash(model)
    except TypeError:
        raise FLTheoryInputError(f"model: must be hashable (a frozen dataclass of its parameters), got "
                                 f"{type(model).__name__}") from None
    return _build_block(model, bool(tilt), int(steps))


@lru_cache(maxsize=_BLOCK_CACHE_SIZE)
def _build_block(model, tilt: bool, steps: int):
    c = jnp.asarray(model.target_coefficients)
    nb = len(c)
    kernel = blackjax.mala.build_kernel()

    def parts(w, m, sc):
        J, Sig = model.overlaps(w)
        A = 1.0 / (2.0 * sc["sa2"]) + (sc["pre_A"] * Sig if tilt else 0.0)
        B = sc["pre_B"] * jnp.dot(J[:nb], c - m)
        return J, A, B

    def logdensity(w, m, rho, sc):
        prior = -0.5 * jnp.sum(rho * w**2)
        if not tilt:
            return prior
        _, A, B = parts(w, m, sc)
        return prior - 0.5 * jnp.log(A) + B**2 / (4.0 * A)

    def stats(w, m, sc):
        # linear response: N^{1-γ}⟨a|w⟩ J = G(w) (c − m) with G = N^{1-γ} pre_B J Jᵀ/(2𝒜)
        J, A, _ = parts(w, m, sc)
        G = sc["scale"] * sc["pre_B"] * jnp.outer(J, J[:nb]) / (2.0 * A)
        return G, w**2

    @jax.jit
    def block(ws, key, m, rho, eps, sc):
        ld = lambda w: logdensity(w, m, rho, sc)  # noqa: E731
        states = jax.vmap(lambda w: blackjax.mala.init(w, ld))(ws)

        def one_step(st, k):
            keys = jax.random.split(k, ws.shape[0])
            st, info = jax.vmap(lambda kk, s: kernel(kk, s, ld, eps))(keys, st)
            G, w2 = jax.vmap(lambda w: stats(w, m, sc))(st.position)
            return st, (G.mean(0), w2.mean(0), info.acceptance_rate.mean())

        st, (G, w2, acc) = jax.lax.scan(one_step, states, jax.random.split(key, steps))
        return st.position, G.mean(0), w2.mean(0), acc.mean()

    return block


def solve_mean_field(model, *, P: float, kappa2: float | None = None, N: int, gamma: float = 0.5,
                     sa2: float | None = None, sw2: float | None = None, priors: Priors | None = None, ard: bool = False, a0: float = 1.0, b0: float = 1.0,
                     symmetrize: bool = True, tilt: bool = True, n_chains: int = 512,
                     steps_per_iter: int = 50, max_iter: int = 200, min_iter: int = 20,
                     n_avg: int = 20, damping: float = 0.3, tol: float = 2e-3, step_size: float = 0.05,
                     init_m=None, init_w=None, init_rho=None, seed: int = 0, throw: bool = True) -> MFResult:
    """Solve the MF (``ard=False``) or MF-ARD (``ard=True``) fixed point for ``model``.

    ``model`` is a :class:`~fltheory.two_layer.features.ParityOverlaps` or
    :class:`~fltheory.two_layer.features.SingleIndexOverlaps`. Each iteration runs
    ``steps_per_iter`` MALA steps on ``n_chains`` neurons (warm-started) and estimates the linear
    response G_AB = N^{1−γ} E[J_A (P N^{−γ}/κ²) J_B/(2𝒜)] (so that N^{1−γ}⟨⟨a|w⟩J⟩ = G(c − m))
    and ⟨w_j²⟩ at the current density; m* = (1 + G)⁻¹ G c, then m ← (1−α)m + α m*
    (α = ``damping``; ARD: log ρ likewise towards :func:`~fltheory.two_layer.ard.ard_update`).
    The MALA step size is adapted towards 60 % acceptance. The iteration stops when the means of
    m* over the two halves of the last ``n_avg`` iterations differ by less than ``tol`` plus
    2 Monte-Carlo standard errors (after ``min_iter``; ARD also needs log ρ stable to 0.05);
    the result averages m* over the last ``n_avg`` iterations. Not converging after ``max_iter``
    raises :class:`~fltheory.ConvergenceError`; with ``throw=False`` (an explicit opt-in) it warns
    (:class:`~fltheory.ConvergenceWarning`) and returns the result with ``converged=False``.
    Priors: ``priors=fltheory.Priors(gu2, gw2, kappa)`` (the shared names) or ``sw2``/``sa2``/``kappa2``
    (conventions §9), not both.
    """
    P = positive("P", P)
    N = positive_int("N", N)
    gamma = positive("gamma", gamma)
    sw2, sa2, kappa2 = two_layer_priors(priors, sw2=sw2, sa2=sa2, kappa2=kappa2, N=N, gamma=gamma)
    if ard:
        a0, b0 = positive("a0", a0), positive("b0", b0)   # proper Gamma hyper-prior
    n_chains = positive_int("n_chains", n_chains, minimum=2)
    steps_per_iter = positive_int("steps_per_iter", steps_per_iter)
    max_iter = positive_int("max_iter", max_iter)
    n_avg = min(positive_int("n_avg", n_avg), max_iter)
    min_iter = max(positive_int("min_iter", min_iter), n_avg)
    if not 0.0 < damping <= 1.0:
        raise FLTheoryInputError(f"damping: must be in (0, 1], got {damping}")
    d = model.d
    c = np.asarray(model.target_coefficients, float)
    nb = len(c)
    block = _get_block(model, tilt, steps_per_iter)
    sc = dict(sa2=jnp.asarray(sa2), pre_A=jnp.asarray(P * N ** (-2.0 * gamma) / (2.0 * kappa2)),
              pre_B=jnp.asarray(P * N ** (-gamma) / kappa2), scale=jnp.asarray(N ** (1.0 - gamma)))
    key = jax.random.PRNGKey(seed)
    key, kinit = jax.random.split(key)
    rho = np.full(d, 1.0 / sw2) if init_rho is None else np.asarray(init_rho, float).copy()
    if init_w is None:
        ws = jax.random.normal(kinit, (n_chains, d)) / jnp.sqrt(jnp.asarray(rho))
    else:
        ws = jnp.asarray(init_w, dtype=jnp.float64)
        if ws.shape != (n_chains, d):
            raise FLTheoryInputError(f"init_w: expected shape {(n_chains, d)}, got {tuple(ws.shape)}")
    m = np.zeros(nb + len(model.tracked)) if init_m is None else np.asarray(init_m, float).copy()
    eps = float(step_size) * np.sqrt(sw2)
    hist, hist_new, hist_w2, hist_rho, accs = [], [], [], [], []
    converged = False
    stop_measure = float("nan")  # not measured before min_iter iterations
    for it in range(max_iter):
        key, kb = jax.random.split(key)
        ws, G, w2, acc = block(ws, kb, jnp.asarray(m[:nb]), jnp.asarray(rho), eps, sc)
        G, w2, acc = np.asarray(G), np.asarray(w2), float(acc)
        if not np.all(np.isfinite(G)):
            raise ConvergenceError("solve_mean_field: non-finite order parameter (reduce step_size)")
        # m solves m = G (c − m) at the current tilted density (exact in one step when tilt=False)
        m_b = np.linalg.solve(np.eye(nb) + G[:nb], G[:nb] @ c)
        m_new = np.concatenate([m_b, G[nb:] @ (c - m_b)])
        m = (1.0 - damping) * m + damping * m_new
        if ard:
            w2s = symmetrize_groups(w2, model.relevant) if symmetrize else w2
            target = ard_update(w2s, N, a0, b0)
            rho = np.exp((1.0 - damping) * np.log(rho) + damping * np.log(target))
        eps *= float(np.exp(np.clip(acc - 0.6, -0.5, 0.5)))
        hist.append(m.copy()); hist_new.append(m_new); hist_w2.append(w2); hist_rho.append(rho.copy())
        accs.append(acc)
        if it + 1 >= min_iter:
            recent = np.array(hist_new[-n_avg:])
            first, second = recent[: n_avg // 2, 0].mean(), recent[n_avg // 2:, 0].mean()
            mc = recent[:, 0].std() / np.sqrt(max(n_avg // 2, 1))
            rho_ok = True
            if ard:
                r = np.log(np.array(hist_rho[-n_avg:]))
                rho_ok = np.max(np.abs(r[: n_avg // 2].mean(0) - r[n_avg // 2:].mean(0))) < 0.05
            stop_measure = abs(first - second)  # drift of m_target between the two halves of the window
            if stop_measure < tol + 2.0 * mc and rho_ok:
                converged = True
                break
    if not converged:
        report_nonconvergence(f"solve_mean_field: no fixed point after max_iter = {max_iter} iterations; "
                              "remedies: a larger max_iter or steps_per_iter, or more n_chains", throw)
    recent = np.array(hist_new[-n_avg:])
    m_avg = recent.mean(0)
    m_se = recent.std(0) / np.sqrt(n_avg)
    w2_avg = np.array(hist_w2[-n_avg:]).mean(0)
    if symmetrize:
        w2_avg = symmetrize_groups(w2_avg, model.relevant)
    mb = m_avg[:nb]
    test_mse = float(np.sum((c - mb) ** 2) + model.target_norm2 - np.sum(c**2))
    history = np.array(hist)
    scale = max(float(np.max(np.abs(mb))), 1e-12)
    diagnostics = Diagnostics(
        converged=bool(converged), iterations=len(hist), residual=float(stop_measure),
        method="mala-fixed-point" + ("(ard)" if ard else ""), history=tuple(history[:, 0].tolist()),
        mc_error=float(np.max(m_se[:nb])) / scale)
    return MFResult(m=mb, m_se=m_se[:nb], m_tracked=m_avg[nb:], w2=w2_avg, rho=rho, test_mse=test_mse,
                    converged=converged, n_iter=len(hist), acceptance=float(np.mean(accs[-n_avg:])),
                    history=history, final_w=np.asarray(ws), diagnostics=diagnostics)


def solve_mf_ard(model, **kw) -> MFResult:
    """MF-ARD: :func:`solve_mean_field` with the ARD update of the precisions ρ_j (see :mod:`.ard`)."""
    return solve_mean_field(model, ard=True, **kw)

