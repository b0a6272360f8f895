"""The saddle point of the unified RNN/DNN action (conventions §7, docs/theory/unified.md).

:func:`solve` finds (C, Ĉ) with F(C, Ĉ) = 0 (:mod:`.equations`) by matrix-free Newton–Krylov
(:mod:`.newton_krylov`): each Newton step is a GMRES solve whose matrix-vector products are
forward-mode Jacobian-vector products of F. Nothing of size n² × n² is formed: per iteration the cost is
O(n³) for linear φ and O(n_mc·n²) for importance-sampled φ, the memory O(restart·n² + chunk·n).
The DNN (``arch='dnn'``) is the same code on T layer blocks of size P (its measure factorises), the
RNN (``arch='rnn'``) on one block of size n = T·P.

If Newton from the initial point fails, the targets are ramped from 0 (continuation from the lazy
NNGP solution). A solve that does not reach ``tol`` raises :class:`fltheory.ConvergenceError` with the
residual and a remedy (or returns a Solution with ``diagnostics.converged = False`` and a warning when
``throw=False``).
"""
from __future__ import annotations

import math
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from .._resources import require_memory, single_blas_thread
from .._validate import (ConvergenceError, FLTheoryInputError, MonteCarloWarning, choice, positive, positive_int,
                         report_nonconvergence)
from ..activations import get_activation
from ..kernels.gp import predict_with_kernel
from ..kernels.nngp import nngp_kernels
from ..priors import Priors, resolve_priors
from .action import SaddleProblem, pre_kernel, problem_from_arrays
from . import linear_rnn
from .equations import DrawPlan, Equations, Layout, tilted_test_moments
from .newton_krylov import anderson_newton, newton_krylov, ramp
from .single_neuron import alternating_signs, mcmc_moments
from .solution import Diagnostics, Solution

ARCHS = ("rnn", "dnn")
DRAWS = ("auto", "sobol", "mc")
METHODS = ("auto", "reduced", "full")
STARTS = ("lazy", "closure")
#: with method='auto', the linear RNN uses its low-rank coordinates from this n = T·P on (below it the full
#: Newton–Krylov compiles and runs faster; measured in benchmarks/saddle_scaling.py)
REDUCED_MIN_N = 128
#: nonlinear φ: base draws of the coarse stage (see :func:`coarse_draws`)
COARSE_MIN, COARSE_FRACTION = 1024, 16
#: bytes of fixed Sobol' base draws kept in memory with ``draws='auto'`` (beyond: counter-based MC)
SOBOL_BUDGET = 64 * 2**20
#: bytes of one chunk's working arrays in the importance pass
CHUNK_BUDGET = 32 * 2**20
#: bytes of the GMRES Krylov basis
KRYLOV_BUDGET = 1536 * 2**20


# ----------------------------------------------------------------------------------------------
# problem set-up
# ----------------------------------------------------------------------------------------------
def problem_from_task(task, arch: str = "rnn", g2: float = 1.0, gu2: float = 1.0, gw2: float = 1.0,
                      kappa: float = 1.0) -> SaddleProblem:
    """The :class:`~fltheory.saddle.action.SaddleProblem` of ``task`` (supervised set S = ``task.M``)."""
    choice("arch", arch, ARCHS)
    g2, gu2, gw2, kappa = (positive(k, v) for k, v in (("g2", g2), ("gu2", gu2), ("gw2", gw2), ("kappa", kappa)))
    prob = problem_from_arrays(task.X, task.Y, task.M, arch == "rnn", g2, gu2, gw2, kappa)
    if not prob.sup.any():
        raise FLTheoryInputError("task: no supervised entries (task.M is all zero)")
    return prob


def _sign_group(prob: SaddleProblem, m: int, odd: bool = False) -> np.ndarray:
    """Rows of ±1 closing the base draws z under z → −z and, for the RNN, z_t → (−1)^t z_t (odd-lag symmetry).

    For odd φ every statistic the solver accumulates (φφᵀ, u uᵀ, φ'φ'ᵀ, φ''⊙Ĉφ, the weight) is even in z,
    so the z → −z copy would add each draw's contribution a second time: it is left out (half the
    cost, and an ESS and standard errors that count each distinct draw once)."""
    rows = [np.ones(m)] if odd else [np.ones(m), -np.ones(m)]
    if prob.tied and prob.T > 1:
        s = alternating_signs(prob.T, prob.P)
        rows += [s] if odd else [s, -s]
    return np.stack(rows)


def draw_plan(prob: SaddleProblem, n_mc: int, seed: int, draws: str = "auto", odd: bool = False) -> DrawPlan:
    """Fixed draws for the importance-sampled action: ``n_mc`` base rows (rounded up to whole chunks,
    and for Sobol' to a power of 2), each expanded by the sign group (1–4 draws per base row; ``odd``:
    φ is odd, see :func:`_sign_group`).

    ``draws='sobol'``: scrambled Sobol' points (``scipy.stats.qmc``) through the normal quantile, kept in
    memory (n_mc·m floats); ``'mc'``: counter-based normals generated chunk by chunk (memory independent of
    n_mc); ``'auto'``: Sobol' while the base array fits in 64 MiB, else MC.
    """
    n_mc = positive_int("n_mc", n_mc)
    choice("draws", draws, DRAWS)
    lay = Layout(prob.T, prob.P, prob.tied)
    m = lay.m
    signs = _sign_group(prob, m, odd)
    if draws == "auto":
        draws = "sobol" if 2 ** math.ceil(math.log2(n_mc)) * m * 8 <= SOBOL_BUDGET else "mc"
    # rows per chunk: a chunk holds ~8 arrays of (chunk·n_signs, m) floats for each of the B blocks
    chunk = int(max(64, CHUNK_BUDGET // (8 * 8 * m * len(signs) * lay.B)))
    chunk = 2 ** int(math.floor(math.log2(chunk)))
    if draws == "sobol":
        from scipy.stats import norm, qmc

        n_base = 2 ** math.ceil(math.log2(n_mc))
        chunk = min(chunk, n_base)
        u = qmc.Sobol(d=m, scramble=True, seed=int(seed)).random_base2(int(math.log2(n_base)))
        base = jnp.asarray(norm.ppf(np.clip(u, 1e-15, 1 - 1e-15)), dtype=jnp.float64)
    else:
        chunk = min(chunk, n_mc)
        n_base = int(math.ceil(n_mc / chunk) * chunk)
        base = None
    return DrawPlan(base, jax.random.PRNGKey(int(seed)), n_base, chunk, jnp.asarray(signs))


def coarse_draws(n_mc: int) -> int:
    """Base draws of the coarse stage of a nonlinear solve: n_mc/16, at least 1024 (and at most n_mc).

    Newton from the initial point, the homotopy and the proposal fits run on these; the fine stage
    then solves the equations of all n_mc draws with the coarse Jacobian (:func:`_fine_newton`)."""
    return int(min(n_mc, max(COARSE_MIN, n_mc // COARSE_FRACTION)))


def _krylov_restart(prob: SaddleProblem, restart: int | None) -> int:
    """GMRES restart length. The Jacobian is I + (nilpotent in time) + (a coupling of rank ≈ n_sup·O
    through the readout), so GMRES needs about n_sup·O + 2T steps; capped by the basis memory."""
    lay = Layout(prob.T, prob.P, prob.tied)
    if restart is not None:
        return positive_int("krylov_restart", restart, minimum=2)
    want = int(prob.y.size + 2 * prob.T + 20)
    cap = int(KRYLOV_BUDGET // (2 * lay.B * lay.m**2 * 8))
    return int(max(20, min(want, cap)))


def memory_estimate(prob: SaddleProblem, linear: bool, restart: int, plan: DrawPlan | None) -> float:
    """Peak bytes of one solve: the Krylov basis, ~30 work arrays of the unknowns' size, the draws."""
    lay = Layout(prob.T, prob.P, prob.tied)
    block = 2 * lay.B * lay.m**2 * 8
    need = (restart + 30) * block
    if plan is not None:
        need += 8 * 8 * plan.chunk * plan.signs.shape[0] * lay.m * lay.B
        if plan.base is not None:
            need += plan.base.size * 8
    return float(need)


# ----------------------------------------------------------------------------------------------
# Newton–Krylov with continuation
# ----------------------------------------------------------------------------------------------
def _flat(x):
    return jnp.concatenate([x[0].ravel(), x[1].ravel()])


def _unflat(v, shape):
    k = int(np.prod(shape))
    return v[:k].reshape(shape), v[k:].reshape(shape)


def _preconditioner(eq: Equations):
    """The Stein-operator preconditioner of :meth:`Equations.preconditioner` where it is used: linear φ
    (both layouts) and the DNN layout for nonlinear φ (its Gaussian surrogate; T = 10, P = 10 erf: 3×
    fewer jvps). The nonlinear RNN keeps plain GMRES: with the surrogate its block-diagonal branch
    ended with lag-1 blocks of 2e-9 instead of < 1e-10 (tests/saddle/test_saddle_erf.py)."""
    return eq.preconditioner if (eq.linear or not eq.layout.tied) else None


def _run_newton(eq: Equations, x0, tol, max_iter, restart, eta_min: float = 1e-10):
    shape = x0[0].shape
    F, J = eq.F_flat, eq.jvp_flat
    measure = lambda v, r: eq.residual_norm(_unflat(v, shape), _unflat(r, shape))
    v, rec = newton_krylov(F, J, _flat(x0), measure, tol, max_iter, restart,
                           preconditioner=_preconditioner(eq),
                           eta_min=eta_min)
    return _unflat(v, shape), rec


def _homotopy(prob, act, plan, A, x_lazy, tol, max_iter, restart, log, refit: bool = False):
    """Ramp the targets y → λy, λ: 0 → 1, each step solved from the previous one (adaptive step).

    ``refit`` (importance-sampled φ): after each converged step the proposal is re-fitted to the tilted
    measure there, so it follows the tilt as it grows (from the prior proposal at λ = 0, the ESS of a
    strongly tilted measure in T·P dimensions collapses). Returns ramp's tuple and the last proposal."""
    state = {"A": A}

    def solve_at(lam, x):
        eq = Equations(prob, act, plan, state["A"], scale=lam)
        xn, rec = _run_newton(eq, x, tol, max_iter, restart)
        if rec.converged and refit:
            state["A"] = _proposal(eq, xn)
        return xn, rec

    return ramp(solve_at, x_lazy, log), state["A"]


#: GMRES forcing floor of the fine stage: the coarse Jacobian is only a few % accurate anyway
FINE_ETA = 0.05
#: the fine stage converges only linearly, so it runs to tol·FINE_MARGIN: the error left in the unknowns
#: (e.g. the lag-1 blocks of a block-diagonal solution, exactly 0 at the root) is then well below tol too
FINE_MARGIN = 1e-2
#: relative residual to which the coarse stage is solved (it only seeds the fine stage and fits the proposal)
COARSE_TOL = 1e-6


def _fine_newton(prob, act, fine: DrawPlan, coarse: DrawPlan, A, x, tol, max_iter, restart, log):
    """Newton on the equations of the fine draws with the Jacobian of the coarse ones.

    The root is set by F alone (fine draws); the Jacobian only steers the steps, and the coarse one
    differs from the fine one by the Monte-Carlo error of its draws (a few %), so Newton converges
    linearly at about that rate, each step costing one fine F and GMRES on coarse jvps
    (n_coarse/n_fine of the cost). The steps are Anderson-mixed (:func:`.newton_krylov.anderson_newton`),
    which matters where that rate is slow: erf DNN, T = 10, P = 30: 27 instead of 38 steps (1083 instead
    of 1564 coarse jvps); T = 10, P = 10: 10 steps either way. Falls back to the fine Jacobian if that
    fails."""
    shape = x[0].shape
    eqf, eqc = Equations(prob, act, fine, A), Equations(prob, act, coarse, A)
    measure = lambda v, r: eqf.residual_norm(_unflat(v, shape), _unflat(r, shape))
    v, rec = anderson_newton(eqf.F_flat, eqc.jvp_flat, _flat(x), measure, tol * FINE_MARGIN, max_iter, restart,
                             eta=FINE_ETA, preconditioner=_preconditioner(eqc))
    log(f"fine draws ({fine.n_draws}), coarse Jacobian ({coarse.n_draws}): {rec.iterations} steps, "
        f"{rec.matvecs} jvps, residual {rec.history[-1]:.3g} {rec.reason}")
    if not rec.converged and not rec.history[-1] < tol:  # short of tol·FINE_MARGIN but within tol: accepted
        x2, rec2 = _run_newton(eqf, _unflat(v, shape), tol, max_iter, restart)
        rec2.iterations += rec.iterations
        rec2.matvecs += rec.matvecs
        rec2.history = rec.history + rec2.history
        return eqf, x2, rec2
    rec.converged = True
    return eqf, _unflat(v, shape), rec


#: smallest homotopy step of the Gaussian-closure start: its branch can end in a fold before λ = 1 (erf,
#: T = 10, P = 10, κ = 0.1: at λ ≈ 0.45–0.48, presumably where the tilted measure turns bimodal, which a
#: Gaussian cannot follow), and the start only needs to be near
CLOSURE_MIN_STEP = 1.0 / 64


def _closure_start(prob, act, x0, restart, log):
    """The root of the Gaussian-closure equations (:func:`.equations.closure_block`; deterministic, no
    Monte Carlo), ramped in the targets when the direct Newton fails. Returns (x, proposal factors from
    the closure's Σ, λ reached, iterations, jvps): the start of the importance-sampled solve at λ = 1
    (the last point of the closure's branch when it ends before λ = 1)."""
    shape = x0[0].shape
    reached = {"lam": 0.0}

    def solve_at(lam, x):
        eq = Equations(prob, act, None, scale=lam, closure=True)
        measure = lambda v, r: eq.residual_norm(_unflat(v, shape), _unflat(r, shape))
        v, rec = newton_krylov(eq.F_flat, eq.jvp_flat, _flat(x), measure, COARSE_TOL, 30, restart)
        if rec.converged:
            reached["lam"] = lam
        return _unflat(v, shape), rec

    x, rec = solve_at(1.0, x0)
    iters, mv = rec.iterations, rec.matvecs
    if not rec.converged:
        x, _, it2, mv2, _ = ramp(solve_at, x0, first=0.25, min_step=CLOSURE_MIN_STEP)
        iters, mv = iters + it2, mv + mv2
    log(f"Gaussian-closure start: λ = {reached['lam']:.3g}, {iters} steps, {mv} jvps")
    eq = Equations(prob, act, None, scale=reached["lam"], closure=True)
    return x, _whitened(eq, x, eq.stats(x)["hh"]), reached["lam"], iters, mv


def _proposal(eq: Equations, x) -> jax.Array:
    """Whitened proposal factors A_b: A Aᵀ = 1.2 · L_K⁻¹⟨hhᵀ⟩L_K⁻ᵀ per block (1.2 widens its tails)."""
    return _whitened(eq, x, eq.stats(x)["hh"])


def _whitened(eq: Equations, x, hh) -> jax.Array:
    """A_b with A Aᵀ = 1.2 · L_K⁻¹ hh_b L_K⁻ᵀ (hh: the tilted ⟨hhᵀ⟩ or the closure's Σ, per block)."""
    K = np.asarray(eq.pre_kernel(x[0]))
    out = []
    for Kb, hh in zip(K, np.asarray(hh)):
        Lk = _chol(Kb)
        W = np.linalg.solve(Lk, np.linalg.solve(Lk, hh).T)
        out.append(_chol(1.2 * W))
    return jnp.asarray(np.stack(out))


def _chol(A):
    A = 0.5 * (A + A.T)
    return np.linalg.cholesky(A + 1e-12 * np.trace(A) / A.shape[0] * np.eye(A.shape[0]))


def _init_blocks(task, prob, act, init, lay: Layout):
    n = prob.n
    if init is None:
        C0 = nngp_kernels(task.X, phi=act, g2=prob.g2, gu2=prob.gu2, tied=prob.tied).C
        H0 = np.zeros((n, n))
    elif isinstance(init, Solution):
        C0, H0 = init.C, init.Chat
    else:
        if not isinstance(init, (tuple, list)) or len(init) != 2:
            raise FLTheoryInputError("init: expected a Solution or a pair (C, Chat)")
        C0, H0 = (np.asarray(a, float) for a in init)
    for name, A in (("init", C0), ("init", H0)):
        if A.shape != (n, n):
            raise FLTheoryInputError(f"{name}: expected ({n}, {n}) matrices on the training entries, got {A.shape}")
        if not np.all(np.isfinite(A)):
            raise FLTheoryInputError(f"{name}: contains NaN or inf")
    Cb = lay.from_dense(C0)
    try:
        np.linalg.cholesky(0.5 * (Cb + np.swapaxes(Cb, -1, -2)) + 1e-12 * np.eye(lay.m))
    except np.linalg.LinAlgError:
        raise FLTheoryInputError("init: C is not positive semi-definite") from None
    return jnp.asarray(Cb), jnp.asarray(lay.from_dense(H0))


# ----------------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------------
def solve(task, arch: str = "rnn", phi="linear", g2: float | None = None, gu2: float | None = None,
          gw2: float | None = None, kappa: float | None = None, *, priors: Priors | None = None, init: Solution | tuple | None = None, tol: float = 1e-10,
          max_iter: int = 50, n_mc: int = 4096, mc_seed: int = 0, draws: str = "auto", mc_tol: float = 0.01,
          mcmc_check: bool = False, mcmc_kw: dict | None = None, homotopy: bool = True,
          throw: bool = True, n_adapt: int = 2, krylov_restart: int | None = None,
          method: str = "auto", start: str = "lazy", verbose: bool = False) -> Solution:
    """Solve the saddle-point equations of the unified theory on ``task``.

    Parameters
    ----------
    task : a :class:`fltheory.tasks.Task`; S = entries with ``task.M == 1``.
    arch : ``rnn`` (shared weights: all (t, s) blocks of K) or ``dnn`` (independent layers: δ_ts).
    phi : activation; ``linear`` is solved with closed-form matrix equations, anything else with the
        importance-sampled single-neuron measure (``n_mc`` base draws, closed under the sign symmetries,
        seed ``mc_seed``, kind ``draws``: see :func:`draw_plan`).
    g2, gu2, gw2, kappa : prior variances and temperature (conventions §3, §5), default 1 each.
    priors : a :class:`fltheory.Priors` instead of the four names (passing both is an error).
    init : a previous :class:`Solution` or ``(C, Chat)`` on the training entries (continuation);
        default: the NNGP kernel and Ĉ = 0 (the lazy solution).
    tol : convergence threshold on the relative residual (``diagnostics.residual``).
    mc_tol : nonlinear φ: a warning is issued when the estimated Monte-Carlo error of C (max s.e. of an
        entry over max |C|, ``diagnostics.mc_error``) exceeds it; it names the ESS and the remedy.
    mcmc_check : nonlinear φ: re-measure ⟨φφᵀ⟩ at the solution with blackjax HMC (an independent
        estimator) and record its error and z-score in ``diagnostics`` (``mcmc_kw`` go to
        :func:`~fltheory.saddle.single_neuron.mcmc_moments`).
    homotopy : on failure, ramp the targets from 0 to 1 (continuation from the lazy solution).
    n_adapt : nonlinear φ: number of times the importance proposal is re-fitted to the tilted ⟨hhᵀ⟩ and
        the equations re-solved (the first solve uses the prior N(0, K) as proposal; the homotopy, when it
        runs, re-fits it at every step). Nonlinear solves run in two stages: everything up to here on
        :func:`coarse_draws` ``(n_mc)`` base draws, then the equations of all ``n_mc`` draws by Newton with
        the coarse Jacobian (docs/theory/unified.md §3, "Two stages").
    krylov_restart : GMRES restart length (default: n_sup·O + 2T + 20, capped by memory).
    method : linear φ only. ``reduced``: Newton on the exact low-rank coordinates (docs/theory/unified.md
        §3; needs r < T·P for the RNN, r < P for the DNN, r = T·k resp. m·k, k = rank of the targets,
        m = number of supervised steps); ``full``: Newton–Krylov on all of (C, Ĉ); ``auto`` (default): reduced from
        n = T·P ≥ 128 (where it is faster), else full with the reduced solver as a fallback when the full
        one fails with ``homotopy`` on (the reduced one needs no positive-definite C).
    start : where Newton starts when ``init`` is None. ``lazy`` (default): the NNGP kernel and Ĉ = 0;
        ``closure`` (nonlinear φ; for linear φ it is the lazy start): the root of the Gaussian-closure
        equations (:func:`.equations.closure_block`), ramped in the targets up to where the closure's
        branch ends; the importance proposal is the closure's Σ there. It is not the default: measured in
        docs/theory/unified.md §9, it starts closer (erf RNN T = 10, P = 10, κ = 0.1: the coarse Newton
        then stalls at 0.058 instead of 0.12–0.24) but costs more where the lazy start already converges.
    verbose : print one line per stage.
    """
    act = get_activation(phi, "phi")
    g2, gu2, gw2, kappa = resolve_priors(priors, g2=g2, gu2=gu2, gw2=gw2, kappa=kappa)
    prob = problem_from_task(task, arch, g2, gu2, gw2, kappa)
    positive_int("max_iter", max_iter)
    positive("tol", tol)
    positive("mc_tol", mc_tol)
    positive_int("n_adapt", n_adapt, minimum=0)
    choice("draws", draws, DRAWS)
    positive_int("n_mc", n_mc)
    lay = Layout(prob.T, prob.P, prob.tied)
    linear = act.closed_form == "linear"
    restart = _krylov_restart(prob, krylov_restart)
    # size check before anything is allocated (the draws are counted without being made)
    probe = None
    if not linear:
        n_base = 2 ** math.ceil(math.log2(n_mc))
        sob = draws == "sobol" or (draws == "auto" and n_base * lay.m * 8 <= SOBOL_BUDGET)
        probe = DrawPlan(jnp.zeros((1, 1)) if sob else None, None, n_base, min(n_base, 4096),
                         jnp.zeros(((1 if act.odd else 2) * (2 if prob.tied and prob.T > 1 else 1), 1)))
    choice("method", method, METHODS)
    choice("start", start, STARTS)
    can_reduce = linear and linear_rnn.applies(prob)
    if method == "reduced" and not can_reduce:
        raise FLTheoryInputError("method: 'reduced' needs linear phi and a low-rank conjugate kernel "
                                 "(RNN: T·k < T·P; DNN: m·k < P; k = rank of the targets, m = supervised steps)")
    reduced = can_reduce and (method == "reduced" or (method == "auto" and prob.n >= REDUCED_MIN_N))
    # the fallback serves robust solves (homotopy on); continuation probes (homotopy off) expect failures
    fallback = can_reduce and method == "auto" and not reduced and homotopy
    need = memory_estimate(prob, linear, restart, probe)
    if reduced or fallback:
        need = max(need, linear_rnn.memory_estimate(prob)) if fallback else linear_rnn.memory_estimate(prob)
    if probe is not None and probe.base is not None:
        need += n_base * lay.m * 8
    require_memory("task", need, f"the saddle point at T·P = {prob.n} ({arch}, {act.name})",
                   "reduce P or T (or krylov_restart; for nonlinear φ, n_mc or draws='mc')")
    C0, H0 = _init_blocks(task, prob, act, init, lay)
    log = (lambda s: print(f"[saddle] {s}", flush=True)) if verbose else (lambda s: None)
    plan = None if linear else draw_plan(prob, n_mc, mc_seed, draws, act.odd)
    n_coarse = coarse_draws(n_mc)
    coarse = None if linear or n_coarse >= plan.n_base else draw_plan(prob, n_coarse, mc_seed, draws, act.odd)
    t0 = time.perf_counter()
    with single_blas_thread():
        # nonlinear φ: Newton, homotopy and proposal fits on the coarse draws, then the fine draws
        stage = plan if coarse is None else coarse
        ctol = tol if coarse is None else max(tol, COARSE_TOL)
        A = None
        iters0 = mv0 = 0
        used0 = ""
        if not linear and init is None and start == "closure":
            # the proposal is the closure's Σ: a moment fit from the prior proposal's draws is noisy in
            # m = 100 dimensions (erf RNN T = 10, P = 10: a re-fit left an ESS of 3.9 of 4096)
            (C0, H0), A, lam, iters0, mv0 = _closure_start(prob, act, (C0, H0), restart, log)
            used0 = f"closure-start(λ={lam:.3g})+"
        elif not linear and init is not None:  # continuation: fit the proposal to the given point at once
            A = _proposal(Equations(prob, act, stage), (C0, H0))
        eq = Equations(prob, act, stage, A)
        def run_reduced():
            out = linear_rnn.solve_reduced(prob, np.asarray(C0), np.asarray(H0), tol, max_iter, homotopy, log)
            return ((jnp.asarray(out["C"]), jnp.asarray(out["Chat"])), out["converged"],
                    out["iterations"], out["matvecs"], list(out["history"]), out["method"])

        def add(rec):
            nonlocal iters, mv, hist
            iters, mv, hist = iters + rec.iterations, mv + rec.matvecs, hist + list(rec.history)

        if reduced:  # linear φ: the exact low-rank coordinates of docs/theory/unified.md §3
            x, ok, iters, mv, hist, used = run_reduced()
        else:
            x, rec = _run_newton(eq, (C0, H0), ctol, max_iter, restart)
            ok, iters, mv, hist = rec.converged, rec.iterations + iters0, rec.matvecs + mv0, list(rec.history)
            used = used0 + ("newton-krylov" if coarse is None else f"newton-krylov(coarse {coarse.n_base})")
            log(f"newton: {rec.iterations} steps, {rec.matvecs} jvps, residual {hist[-1]:.3g} {rec.reason} "
                f"({time.perf_counter() - t0:.1f} s)")
        if not ok and homotopy and not reduced:
            Cl = jnp.asarray(lay.from_dense(nngp_kernels(task.X, phi=act, g2=prob.g2, gu2=prob.gu2,
                                                         tied=prob.tied).C))
            (x, ok, it2, mv2, h2), A = _homotopy(prob, act, stage, None, (Cl, jnp.zeros_like(Cl)), ctol,
                                                 max_iter, restart, log, refit=not linear)
            iters, mv, hist = iters + it2, mv + mv2, hist + h2
            used += "+homotopy"
            if not linear:
                eq = Equations(prob, act, stage, A)
        if not ok and fallback:
            log("full solver failed: reduced coordinates")
            x, ok, it2, mv2, h2, used2 = run_reduced()
            iters, mv, hist, used = iters + it2, mv + mv2, hist + h2, f"{used}, then {used2}"
        if not linear and ok and n_adapt:
            done = 0
            for _ in range(n_adapt):
                A_new = _proposal(eq, x)
                eq_new = Equations(prob, act, stage, A_new)
                x_new, rec = _run_newton(eq_new, x, ctol, max_iter, restart)
                add(rec)
                if not rec.converged:
                    # the proposal changes only the variance of the estimate: keep the last one that solved
                    log(f"proposal fit {done + 1} did not re-solve ({rec.reason}): keeping the previous one")
                    break
                x, A, eq, done = x_new, A_new, eq_new, done + 1
                log(f"proposal fit {done}: {rec.iterations} steps, {rec.matvecs} jvps, residual "
                    f"{rec.history[-1]:.3g} ({time.perf_counter() - t0:.1f} s)")
            used += f"+adapted-proposal({done})"
        if not linear and ok and coarse is not None:
            eq, x, rec = _fine_newton(prob, act, plan, coarse, A, x, tol, max_iter, restart, log)
            add(rec)
            ok = rec.converged
            used += f"+fine({plan.n_base}, coarse Jacobian)"
        res = eq.residual_norm(x)
        ok = bool(ok and res < tol)
        wall = time.perf_counter() - t0
    if not ok:
        msg = (f"solve: Newton–Krylov did not converge (arch={arch}, phi={act.name}, residual {res:.3g} > "
               f"tol {tol:g} after {iters} iterations); remedies: continue from a nearby solution "
               f"(saddle.follow_branch), a smaller signal step, or a larger max_iter")
        report_nonconvergence(msg, throw)
    return _finish(task, prob, eq, act, x, dict(arch=arch, converged=ok, iterations=iters, matvecs=mv,
                                                residual=res, method=used, history=hist, wall=wall),
                   mc_seed, mc_tol, mcmc_check, mcmc_kw or {})


def saddle_residual(task, C, Chat, arch: str = "rnn", phi="linear", g2: float = 1.0, gu2: float = 1.0,
                    gw2: float = 1.0, kappa: float = 1.0, n_mc: int = 4096, mc_seed: int = 0) -> float:
    """Relative residual of the saddle-point equations at (C, Ĉ) on the training entries of ``task``:
    max(max|C − ⟨φφᵀ⟩|/max|C|, max|Ĉ − Ĉ_new|/(1 + max|Ĉ|)) (``diagnostics.residual`` of a solve)."""
    act = get_activation(phi, "phi")
    prob = problem_from_task(task, arch, g2, gu2, gw2, kappa)
    lay = Layout(prob.T, prob.P, prob.tied)
    plan = None if act.closed_form == "linear" else draw_plan(prob, n_mc, mc_seed, odd=act.odd)
    eq = Equations(prob, act, plan)
    x = (jnp.asarray(lay.from_dense(C)), jnp.asarray(lay.from_dense(Chat)))
    return eq.residual_norm(x)


# ----------------------------------------------------------------------------------------------
# observables at the solution
# ----------------------------------------------------------------------------------------------
def _all_layout(P, Pt, T):
    n = P + Pt
    tr = np.array([t * n + mu for t in range(T) for mu in range(P)])
    te = np.array([t * n + mu for t in range(T) for mu in range(P, n)])
    return tr, te


def _psd_pinv(K, rcond: float):
    """Pseudo-inverse of a symmetric PSD matrix (eigenvalues below rcond·max dropped, as lstsq's rcond)."""
    lam, V = np.linalg.eigh(0.5 * (K + K.T))
    keep = lam > rcond * max(lam.max(initial=0.0), 1e-300)
    return (V[:, keep] / lam[keep]) @ V[:, keep].T


def _test_extension(prob_all: SaddleProblem, C_tr, H_tr, eq: Equations, tr, te, seed):
    """C over train+test. Test patterns carry no tilt, so h_te | h_tr is the prior conditional Gaussian.
    K_all depends on C_all (shifted), so iterate T+1 times (exact: the shift is nilpotent). Nonlinear φ
    uses the solver's draws and weights for h_tr (chunked, :func:`~.equations.tilted_test_moments`)."""
    T = prob_all.T
    C_all = np.zeros((prob_all.n, prob_all.n))
    C_all[np.ix_(tr, tr)] = C_tr
    blocks = [np.arange(prob_all.n)] if prob_all.tied else [np.arange(t * prob_all.P, (t + 1) * prob_all.P)
                                                             for t in range(T)]
    pinv = {}
    for _ in range(T + 1):
        K_all = np.asarray(pre_kernel(jnp.asarray(C_all), prob_all))
        new = np.zeros_like(C_all)
        new[np.ix_(tr, tr)] = C_tr
        for k, b in enumerate(blocks):
            btr, bte = np.intersect1d(b, tr), np.intersect1d(b, te)
            if len(bte) == 0:
                continue
            Ktt = K_all[np.ix_(btr, btr)]
            if k not in pinv:  # K_tt involves the training C only: the same in every pass
                pinv[k] = _psd_pinv(Ktt, rcond=1e-13)
            Kxt = K_all[np.ix_(bte, btr)]
            A = Kxt @ pinv[k]
            Kc = K_all[np.ix_(bte, bte)] - A @ Kxt.T
            Kc = 0.5 * (Kc + Kc.T)
            loc = np.searchsorted(tr, btr)
            if eq.linear:
                Ctr = C_tr[np.ix_(loc, loc)]
                new[np.ix_(bte, btr)] = A @ Ctr
                new[np.ix_(btr, bte)] = (A @ Ctr).T
                new[np.ix_(bte, bte)] = Kc + A @ Ctr @ A.T
            else:
                lam, V = np.linalg.eigh(Kc)
                Lc = V * np.sqrt(np.clip(lam, 0, None))
                cross, tete = tilted_test_moments(eq, k, Ktt, H_tr[np.ix_(loc, loc)], A, Lc, seed)
                new[np.ix_(bte, btr)] = np.asarray(cross)
                new[np.ix_(btr, bte)] = np.asarray(cross).T
                new[np.ix_(bte, bte)] = np.asarray(tete)
        C_all = new
    return C_all


def _finish(task, prob, eq: Equations, act, x, info, mc_seed, mc_tol, mcmc_check, mcmc_kw):
    lay = eq.layout
    C, Chat = lay.to_dense(np.asarray(x[0])), lay.to_dense(np.asarray(x[1]))
    K = lay.to_dense(np.asarray(eq.pre_kernel(x[0])))
    action = eq.action(x)
    ess = mc_error = float("nan")
    if eq.linear:
        phih = C.copy()
    else:
        st = eq.stats(x)
        phih = lay.to_dense(np.asarray(st["phih"]))
        ess = float(np.min(np.asarray(st["ess"])))
        mc_error = float(np.max(np.asarray(st["sem"])) / max(np.max(np.abs(C)), 1e-300))
        if mc_error > mc_tol:
            warnings.warn(MonteCarloWarning(
                f"solve: Monte-Carlo error of C ≈ {mc_error:.2%} > mc_tol = {mc_tol:.2%} (importance-sampling "
                f"ESS {ess:.0f} of {eq.plan.n_draws} draws); increase n_mc (the error falls like 1/√n_mc) or "
                f"n_adapt", mc_error), stacklevel=3)
    diag_kw = {}
    if mcmc_check and not eq.linear:
        mm = mcmc_moments(K, Chat, act, seed=mc_seed, **mcmc_kw)
        diff = np.abs(mm.phiphi - C)
        if not prob.tied:
            diff = diff * prob.time_mask
        diag_kw = dict(mcmc_error=mm.max_sem, mcmc_residual=float(diff.max()),
                       mcmc_zscore=float(np.max(diff / np.maximum(mm.phiphi_sem, 1e-300))),
                       mcmc_acceptance=mm.acceptance)
    P, Pt, T = task.P, task.P_test, task.T
    X_all = np.concatenate([task.X, task.X_test])
    Y_all = np.concatenate([task.Y, np.zeros_like(task.Y_test)])
    M_all = np.concatenate([task.M, np.zeros((Pt, T))])
    prob_all = problem_from_arrays(X_all, Y_all, M_all, prob.tied, prob.g2, prob.gu2, prob.gw2, prob.kappa)
    tr, te = _all_layout(P, Pt, T)
    C_all = _test_extension(prob_all, C, Chat, eq, tr, te, mc_seed)
    if not prob.tied:
        C_all = C_all * prob_all.time_mask
    pred = predict_with_kernel(C_all, task, tied=prob.tied, gw2=prob.gw2, kappa=prob.kappa)
    diag = Diagnostics(converged=info["converged"], iterations=int(info["iterations"]),
                       residual=float(info["residual"]), method=info["method"],
                       history=tuple(float(h) for h in info["history"]), ess=ess, mc_error=mc_error,
                       matvecs=int(info["matvecs"]), wall_time=float(info["wall"]), **diag_kw)
    params = dict(g2=prob.g2, gu2=prob.gu2, gw2=prob.gw2, kappa=prob.kappa)
    return Solution(arch=info["arch"], phi=act.name, C=C, Chat=Chat, K=K, C_all=C_all, phih=phih, action=action,
                    prediction=pred, diagnostics=diag, T=T, P=P, P_test=Pt, params=params,
                    problem=prob)


__all__ = ["ARCHS", "draw_plan", "memory_estimate", "problem_from_task", "saddle_residual", "solve"]
