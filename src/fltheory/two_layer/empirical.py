"""Training-set (empirical) mean-field theory MF and MF-ARD (docs/theory/two_layer.md §3b, issue #14).

The population MF of :mod:`.mean_field` replaces data sums by population averages. Here the
single-neuron measure lives on the P training inputs themselves (conventions §9 for the scalings):
neuron i sees the mean output of the other N − 1 neurons on the training set,
⟨f_{−i}⟩_μ = (1 − 1/N)⟨f⟩_μ, so its readout residual is r_μ = y_μ − (1 − 1/N)⟨f⟩_μ, and with
φ_μ(w) = φ(w·x_μ/√d),

    𝒜(w) = 1/(2 sa2) + Σ_μ φ_μ(w)² / (2κ² N^{2γ}),      B(w) = Σ_μ r_μ φ_μ(w) / (κ² N^γ),
    log p(w) = −½ Σ_j ρ_j w_j² − ½ log 𝒜(w) + B(w)²/(4𝒜(w)),
    ⟨f⟩_μ = N^{1−γ} E_{p(w)}[⟨a|w⟩ φ_μ(w)],   ⟨a|w⟩ = B(w)/(2𝒜(w))            (self-consistency).

⟨a|w⟩ is linear in r, so at a given density ⟨f⟩ = G r with the P × P linear response
G_μν = N^{1−2γ} E[φ_μ φ_ν /(2𝒜)]/κ², and the fixed point at that density is
⟨f⟩* = (I + (1 − 1/N) G)⁻¹ G y. Without the tilt (``tilt=False``, the N → ∞ limit at γ = ½) w stays
at its prior, G = (N^{1−2γ} sa2/κ²) K_SS with the NNGP kernel K, and ⟨f⟩* is kernel ridge
regression on the training set (up to the 1 − 1/N of the self-exclusion). Predictions on other
inputs x: ⟨f⟩(x) = N^{1−γ} E[⟨a|w⟩ φ(w·x/√d)] at the fixed point.

``readout="joint"`` (§3c) integrates the N readouts out jointly instead (exact: they are Gaussian
given W) and keeps mean field for the first-layer weights only; see :func:`solve_empirical_mf`.

ARD (``ard=True``): ρ_j ← (a₀ + N/2)/(b₀ + N⟨w_j²⟩/2), the mean of the Gamma posterior of ρ_j given
the N i.i.d. neurons (:func:`~fltheory.two_layer.ard.ard_update`), iterated jointly (log ρ damped).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import blackjax
import jax
import jax.numpy as jnp
import numpy as np

from .._validate import ConvergenceError, FLTheoryInputError, choice, positive, positive_int, report_nonconvergence
from ..activations import get_activation
from ..diagnostics import Diagnostics
from ..priors import Priors, two_layer_priors
from .ard import ard_update, symmetrize_groups


@dataclass(frozen=True)
class EmpiricalMFResult:
    """Fixed point of the training-set (ARD) mean-field equations.

    ``f_train``: ⟨f⟩ on the training inputs (mean of the last ``n_avg`` fixed-point iterates);
    ``f_train_se``: its Monte-Carlo standard error per point (spread of the iterates);
    ``f_test``: ⟨f⟩ on ``X_test`` (None without it); ``w2``: ⟨w_j²⟩; ``rho``: prior precisions;
    ``history``: training-set overlap q = ⟨f⟩·y/‖y‖² per iteration; ``final_w``: the chains.
    """

    f_train: np.ndarray
    f_train_se: np.ndarray
    f_test: np.ndarray | None
    w2: np.ndarray
    rho: np.ndarray
    converged: bool
    n_iter: int
    acceptance: float
    history: np.ndarray = field(repr=False)
    final_w: np.ndarray = field(repr=False)
    diagnostics: Diagnostics | None = field(default=None, repr=False)


_BLOCK_CACHE_SIZE = 16


def _independent_parts(act, tilt, w, X, r, sc):
    ph = act(X @ w / jnp.sqrt(X.shape[1]))
    A = 1.0 / (2.0 * sc["sa2"]) + (sc["pre_A"] * jnp.sum(ph**2) if tilt else 0.0)
    B = sc["pre_B"] * jnp.dot(ph, r)
    return ph, A, B


def single_neuron_logdensity(act, w, X, r, rho, sc, *, tilt: bool = True, readout: str = "independent"):
    """log p(w) of one neuron up to a constant (§3b / §3c of docs/theory/two_layer.md).

    ``independent``: −½ρ·w² − ½ log 𝒜 + B²/(4𝒜) with ``r`` the residual y − (1−1/N)⟨f⟩;
    ``joint``: −½ρ·w² − ½ log(1 + s φᵀMφ) + s(φᵀr)²/(2(1 + s φᵀMφ)) with ``r`` = M y,
    ``sc["M"]`` = M, ``sc["s"]`` = s. ``sc`` holds the scalars of :func:`solve_empirical_mf`.
    """
    prior = -0.5 * jnp.sum(rho * w**2)
    if not tilt:
        return prior
    if readout == "joint":
        ph = act(X @ w / jnp.sqrt(X.shape[1]))
        q = 1.0 + sc["s"] * jnp.dot(ph, sc["M"] @ ph)
        return prior - 0.5 * jnp.log(q) + sc["s"] * jnp.dot(ph, r) ** 2 / (2.0 * q)
    _, A, B = _independent_parts(act, tilt, w, X, r, sc)
    return prior - 0.5 * jnp.log(A) + B**2 / (4.0 * A)


@lru_cache(maxsize=_BLOCK_CACHE_SIZE)
def _build_block(phi: str, tilt: bool, steps: int, every: int, readout: str = "independent"):
    """Jitted block: ``steps`` MALA steps on all chains, statistics every ``every`` steps.

    Returns (positions, S[P, P], ⟨w²⟩[d], acceptance), S the statistic of the fixed point:
    ``readout="independent"``: the linear response G; ``"joint"``: E[φ φᵀ]. Data and scalars are
    traced arguments, so one compilation serves every P of one shape, κ², N, ….
    """
    act = get_activation(phi)
    kernel = blackjax.mala.build_kernel()
    n_outer = steps // every

    def features(w, X):
        return act(X @ w / jnp.sqrt(X.shape[1]))

    def parts(w, X, r, sc):
        return _independent_parts(act, tilt, w, X, r, sc)

    def logdensity(w, X, r, rho, sc):
        return single_neuron_logdensity(act, w, X, r, rho, sc, tilt=tilt, readout=readout)

    @jax.jit
    def block(ws, key, X, r, rho, eps, sc):
        ld = lambda w: logdensity(w, X, r, rho, sc)  # noqa: E731
        states = jax.vmap(lambda w: blackjax.mala.init(w, ld))(ws)

        def one_step(st, k):
            keys = jax.random.split(k, ws.shape[0])
            st, info = jax.vmap(lambda kk, s: kernel(kk, s, ld, eps))(keys, st)
            return st, info.acceptance_rate.mean()

        def outer(st, k):
            st, acc = jax.lax.scan(one_step, st, jax.random.split(k, every))
            if readout == "joint":
                ph = jax.vmap(lambda w: features(w, X))(st.position)
                G = ph.T @ ph / ph.shape[0]
            else:
                ph, A, _ = jax.vmap(lambda w: parts(w, X, r, sc))(st.position)   # [n, P], [n]
                G = sc["scale"] * sc["pre_B"] * (ph / (2.0 * A)[:, None]).T @ ph / ph.shape[0]
            return st, (G, jnp.mean(st.position**2, 0), acc.mean())

        st, (G, w2, acc) = jax.lax.scan(outer, states, jax.random.split(key, n_outer))
        return st.position, G.mean(0), w2.mean(0), acc.mean()

    return block


@lru_cache(maxsize=_BLOCK_CACHE_SIZE)
def _build_predict(phi: str, tilt: bool, readout: str = "independent"):
    act = get_activation(phi)

    @jax.jit
    def predict(ws, X, r, Xq, sc):
        """independent: N^{1−γ} mean_w ⟨a|w⟩ φ(w·x/√d); joint: N s mean_w φ(x)(φ_S·r) (r = M y)."""
        def one(w):
            ph = act(X @ w / jnp.sqrt(X.shape[1]))
            if readout == "joint":
                return sc["s_full"] * jnp.dot(ph, r) * act(Xq @ w / jnp.sqrt(X.shape[1]))
            A = 1.0 / (2.0 * sc["sa2"]) + (sc["pre_A"] * jnp.sum(ph**2) if tilt else 0.0)
            a = sc["pre_B"] * jnp.dot(ph, r) / (2.0 * A)
            return sc["scale"] * a * act(Xq @ w / jnp.sqrt(X.shape[1]))
        return jnp.mean(jax.lax.map(one, ws, batch_size=256), 0)

    return predict


def check_hyperprior(a0, b0) -> tuple[float, float]:
    """The Gamma(a₀, b₀) hyper-prior of the ARD precisions: both must be > 0 (proper prior)."""
    return positive("a0", a0), positive("b0", b0)


def solve_empirical_mf(X, Y, *, N: int, kappa2: float | None = None, gamma: float = 0.5, sa2: float | None = None,
                       sw2: float | None = None, priors: Priors | None = None,
                       phi: str = "relu", ard: bool = False, a0: float = 1.0, b0: float = 1.0, X_test=None,
                       relevant=None, symmetrize: bool = False, tilt: bool = True, self_exclusion: bool = True,
                       n_chains: int = 512, steps_per_iter: int = 25, stats_every: int = 5, max_iter: int = 200,
                       min_iter: int = 20, n_avg: int = 20, damping: float = 0.3, tol: float = 2e-3,
                       step_size: float = 0.05, init_f=None, init_w=None, init_rho=None, seed: int = 0,
                       readout: str = "independent", throw: bool = True) -> EmpiricalMFResult:
    """Solve the training-set MF (``ard=False``) or MF-ARD (``ard=True``) fixed point.

    ``X[P, d]``, ``Y[P]``: the training set (the network's own, the one SGLD sees). Each iteration
    runs ``steps_per_iter`` MALA steps on ``n_chains`` neurons (warm-started), estimates the linear
    response G (every ``stats_every`` steps) and ⟨w_j²⟩, and moves ⟨f⟩ towards
    ⟨f⟩* = (I + cG)⁻¹ G y (c = 1 − 1/N with ``self_exclusion``, else 1) by the damped update
    ⟨f⟩ ← (1−α)⟨f⟩ + α⟨f⟩* (ARD: log ρ likewise). Stop when the RMS difference of ⟨f⟩* between
    the two halves of the last ``n_avg`` iterations is below ``tol`` + 2 Monte-Carlo standard
    errors (ARD: and log ρ stable to 0.05), after ``min_iter``. ``relevant`` + ``symmetrize``
    average ⟨w_j²⟩ over j ∈ S and j ∉ S before the ARD update (the data break that symmetry; off
    by default). Not converging raises :class:`~fltheory.ConvergenceError`; ``throw=False`` (an
    explicit opt-in) warns and returns ``converged=False``. ``init_f`` starts from a given ⟨f⟩
    on the training set (e.g. ``Y`` for the aligned branch).

    ``readout="joint"`` (docs/theory/two_layer.md §3c) integrates the N readouts out *jointly*
    (they are Gaussian given W) and keeps mean field only for the first-layer weights: each neuron
    feels the kernel C = s E[φφᵀ] (s = sa2 N^{−2γ}) of the others through M = ((N−1)C + κ²)⁻¹,
    log p(w) = −½ρ·w² − ½ log(1 + s φᵀMφ) + s (φᵀMy)²/(2(1 + s φᵀMφ)); the fixed point is
    iterated on C (damped), ⟨f⟩ = N C (N C + κ²)⁻¹ y. ``"independent"`` (default) is the
    per-neuron factorisation p(w_i, a_i) of the paper (§3b).
    Priors: ``priors=fltheory.Priors(gu2, gw2, kappa)`` or ``sw2``/``sa2``/``kappa2`` (§9), not both.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise FLTheoryInputError(f"X: expected a [P, d] array with P >= 1, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise FLTheoryInputError("X: contains NaN or inf")
    Y = np.asarray(Y, dtype=float).reshape(-1)
    if len(Y) != len(X) or not np.all(np.isfinite(Y)):
        raise FLTheoryInputError(f"Y: expected {len(X)} finite targets, got {len(Y)}")
    P, d = X.shape
    N = positive_int("N", N)
    gamma = positive("gamma", gamma)
    sw2, sa2, kappa2 = two_layer_priors(priors, sw2=sw2, sa2=sa2, kappa2=kappa2, N=N, gamma=gamma)
    a0, b0 = check_hyperprior(a0, b0)
    get_activation(phi)
    if not isinstance(phi, str):
        raise FLTheoryInputError("phi: the empirical MF solver takes an activation name (compiled blocks are cached by name)")
    n_chains = positive_int("n_chains", n_chains, minimum=2)
    stats_every = positive_int("stats_every", stats_every)
    steps_per_iter = positive_int("steps_per_iter", steps_per_iter)
    if steps_per_iter % stats_every:
        raise FLTheoryInputError(f"steps_per_iter: must be a multiple of stats_every = {stats_every}, got {steps_per_iter}")
    max_iter = positive_int("max_iter", max_iter)
    n_avg = min(positive_int("n_avg", n_avg, minimum=2), max_iter)
    min_iter = max(positive_int("min_iter", min_iter), n_avg)
    if not 0.0 < damping <= 1.0:
        raise FLTheoryInputError(f"damping: must be in (0, 1], got {damping}")
    if X_test is not None:
        X_test = np.asarray(X_test, dtype=float)
        if X_test.ndim != 2 or X_test.shape[1] != d:
            raise FLTheoryInputError(f"X_test: expected shape [P_test, {d}], got {X_test.shape}")
    if symmetrize:
        if relevant is None:
            raise FLTheoryInputError("relevant: needed with symmetrize=True")
        relevant = tuple(int(j) for j in relevant)
        if not relevant or min(relevant) < 0 or max(relevant) >= d:
            raise FLTheoryInputError(f"relevant: expected coordinates in [0, {d}), got {relevant}")
    readout = choice("readout", readout, ("independent", "joint"))
    joint = readout == "joint"
    c_self = 1.0 - 1.0 / N if self_exclusion else 1.0
    block = _build_block(phi, bool(tilt), steps_per_iter, stats_every, readout)
    s_one = sa2 * N ** (-2.0 * gamma)        # output-kernel weight of one neuron
    sc = dict(sa2=jnp.asarray(sa2), pre_A=jnp.asarray(N ** (-2.0 * gamma) / (2.0 * kappa2)),
              pre_B=jnp.asarray(N ** (-gamma) / kappa2), scale=jnp.asarray(N ** (1.0 - gamma)),
              s=jnp.asarray(s_one), s_full=jnp.asarray(N * s_one))
    Xj = jnp.asarray(X)
    key = jax.random.PRNGKey(seed)
    key, kinit = jax.random.split(key)
    rho = np.full(d, 1.0 / sw2) if init_rho is None else np.asarray(init_rho, float).copy()
    if rho.shape != (d,) or np.any(rho <= 0):
        raise FLTheoryInputError(f"init_rho: expected {d} positive precisions")
    if init_w is None:
        ws = jax.random.normal(kinit, (n_chains, d)) / jnp.sqrt(jnp.asarray(rho))
    else:
        ws = jnp.asarray(init_w, dtype=jnp.float64)
        if ws.shape != (n_chains, d):
            raise FLTheoryInputError(f"init_w: expected shape {(n_chains, d)}, got {tuple(ws.shape)}")
    f = np.zeros(P) if init_f is None else np.asarray(init_f, float).reshape(-1).copy()
    if f.shape != (P,):
        raise FLTheoryInputError(f"init_f: expected {P} values, got {f.shape}")
    eye = np.eye(P)
    n_others = (N - 1) if self_exclusion else N
    if joint:
        act = get_activation(phi)
        ph0 = np.asarray(act(Xj @ ws.T / np.sqrt(d)))            # [P, n_chains]
        Cw = ph0 @ ph0.T / n_chains                               # E[φφᵀ] at the initial weights
    ynorm = max(float(Y @ Y), 1e-300)
    eps = float(step_size) * np.sqrt(sw2)
    hist_q, hist_new, hist_w2, hist_rho, hist_C, accs, recent_ws = [], [], [], [], [], [], []
    converged = False
    stop_measure = float("nan")
    for it in range(max_iter):
        key, kb = jax.random.split(key)
        if joint:
            M = np.linalg.inv(n_others * s_one * Cw + kappa2 * eye)
            sc["M"] = jnp.asarray(M)
            r = M @ Y
        else:
            r = Y - c_self * f
        ws, G, w2, acc = block(ws, kb, Xj, jnp.asarray(r), jnp.asarray(rho), eps, sc)
        G, w2, acc = np.asarray(G), np.asarray(w2), float(acc)
        if not (np.all(np.isfinite(G)) and np.all(np.isfinite(w2))):
            raise ConvergenceError("solve_empirical_mf: non-finite order parameter (reduce step_size)")
        if joint:
            Cw = (1.0 - damping) * Cw + damping * G
            hist_C.append(G)
            Kf = N * s_one * G
            f_new = Kf @ np.linalg.solve(Kf + kappa2 * eye, Y)
            f = (1.0 - damping) * f + damping * f_new
        else:
            f_new = np.linalg.solve(eye + c_self * G, G @ Y)
            f = (1.0 - damping) * f + damping * f_new
        if ard:
            w2s = symmetrize_groups(w2, relevant) if symmetrize else w2
            rho = np.exp((1.0 - damping) * np.log(rho) + damping * np.log(ard_update(w2s, N, a0, b0)))
        eps *= float(np.exp(np.clip(acc - 0.6, -0.5, 0.5)))
        hist_q.append(float(f_new @ Y) / ynorm); hist_new.append(f_new); hist_w2.append(w2)
        hist_rho.append(rho.copy()); accs.append(acc)
        recent_ws.append(np.asarray(ws)); recent_ws = recent_ws[-n_avg:]; hist_C = hist_C[-n_avg:]
        if it + 1 >= min_iter:
            recent = np.array(hist_new[-n_avg:])
            h = n_avg // 2
            diff = float(np.sqrt(np.mean((recent[:h].mean(0) - recent[h:].mean(0)) ** 2)))
            mc = float(np.sqrt(np.mean(recent.var(0)))) / np.sqrt(max(h, 1))
            rho_ok = True
            if ard:
                lr = np.log(np.array(hist_rho[-n_avg:]))
                rho_ok = float(np.max(np.abs(lr[:h].mean(0) - lr[h:].mean(0)))) < 0.05
            stop_measure = diff
            if diff < tol + 2.0 * mc and rho_ok:
                converged = True
                break
    if not converged:
        report_nonconvergence(f"solve_empirical_mf: no fixed point after max_iter = {max_iter} iterations; "
                              "remedies: a larger max_iter or steps_per_iter, or more n_chains", throw)
    recent = np.array(hist_new[-n_avg:])
    f_se = recent.std(0) / np.sqrt(len(recent))
    if joint:   # the predictor of the averaged kernel
        Kf = N * s_one * np.mean(hist_C, 0)
        u = np.linalg.solve(Kf + kappa2 * eye, Y)
        f_avg = Kf @ u
    else:
        f_avg = recent.mean(0)
        u = Y - c_self * f_avg
    w2_avg = np.array(hist_w2[-n_avg:]).mean(0)
    f_test = None
    if X_test is not None:
        predict = _build_predict(phi, bool(tilt), readout)
        samples = jnp.asarray(np.concatenate(recent_ws))
        f_test = np.asarray(predict(samples, Xj, jnp.asarray(u), jnp.asarray(X_test), sc))
    history = np.array(hist_q)
    diagnostics = Diagnostics(
        converged=bool(converged), iterations=len(history), residual=float(stop_measure),
        method=f"mala-fixed-point-empirical-{readout}" + ("(ard)" if ard else ""), history=tuple(history.tolist()),
        mc_error=float(np.sqrt(np.mean(f_se**2))) / max(float(np.sqrt(np.mean(f_avg**2))), 1e-12))
    return EmpiricalMFResult(f_train=f_avg, f_train_se=f_se, f_test=f_test, w2=w2_avg, rho=rho,
                             converged=converged, n_iter=len(history), acceptance=float(np.mean(accs[-n_avg:])),
                             history=history, final_w=np.asarray(ws), diagnostics=diagnostics)


def solve_empirical_mf_ard(X, Y, **kw) -> EmpiricalMFResult:
    """Training-set MF-ARD: :func:`solve_empirical_mf` with ``ard=True``."""
    return solve_empirical_mf(X, Y, ard=True, **kw)


__all__ = ["EmpiricalMFResult", "check_hyperprior", "single_neuron_logdensity", "solve_empirical_mf",
           "solve_empirical_mf_ard"]
