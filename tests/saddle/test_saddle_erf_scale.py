"""The two-stage erf saddle point (issue #12) against an independent referee.

The solver's C is a self-normalised importance estimate of ⟨φφᵀ⟩ under the tilted single-neuron measure
N(h; 0, K)·exp(−φ(h)ᵀĈφ(h)), on fixed scrambled-Sobol' draws closed under sign flips, with a proposal fitted
to the tilted measure, solved in two stages (coarse draws, then all draws with the coarse Jacobian). The
referee re-measures ⟨φφᵀ⟩ at the solution's (K, Ĉ) by brute force, written here in numpy without the
solver's code: plain pseudo-random draws h = L z from the prior, weights exp(−φᵀĈφ), no proposal, no sign
group. At the solution C = ⟨φφᵀ⟩_IS exactly (residual ≤ 1e-10), so C − C_ref is the difference of two
independent Monte-Carlo errors; the tolerance is 5 standard errors of that difference, from the solver's
reported error (``diagnostics.mc_error`` · max|C|, the largest entry's s.e.) and the referee's own s.e.
(delta method). Both are estimates; 5 s.e. keeps a false alarm below 1e-4 per entry even with the
few-% error of an s.e. estimate. Measured (2026-12-07): max z = 0.47 (RNN) and 0.19 (DNN) — the reported
error is conservative for Sobol' draws — while the untilted measure (Ĉ = 0) misses C by 23 (RNN) and
12.6 (DNN) s.e. in the supervised block; the test asserts > 10 (the comparison has power).

The readout equation Ĉ_S = −½ g_w² a aᵀ, a = (g_w² C_SS + κ)⁻¹ y (DNN: the last layer, whose Ĉ has no
shift term), involves no Monte Carlo and is checked to the solver's tolerance.

Default suite: T = 3 RNN (n = 6) and T = 3 DNN (P = 3) at n_mc = 4096 (two stages: 1024 coarse base
draws). ``slow``, n_mc = 16384: the RNN at T = 6, P = 4 (n = 24) and the DNN at T = 10, P = 10; the issue's
target sizes (RNN T = 10, P = 10; DNN T = 10, P = 100) are listed but do not finish in minutes yet
(docs/theory/unified.md §9), so they are not run.
"""
import warnings

import numpy as np
import pytest
from scipy.special import erf

import fltheory  # noqa: F401  (float64)
from fltheory import MonteCarloWarning
from fltheory.saddle import solve
from fltheory.tasks import endpoint_task

KAPPA = 0.1
OPEN = "issue #12: does not finish in minutes yet (docs/theory/unified.md §9)"


def _brute_force(K, Chat, n, seed, chunk=32768):
    """Plain-MC self-normalised ⟨φφᵀ⟩ of N(h; 0, K)·exp(−φᵀĈφ), φ = erf, its entrywise s.e.
    (delta method: Var = Σ w̄² (φ_iφ_j − C_ij)², w̄ the normalised weights) and the ESS."""
    rng = np.random.default_rng(seed)
    m = K.shape[0]
    lam, V = np.linalg.eigh(0.5 * (K + K.T))
    L = V * np.sqrt(np.clip(lam, 0.0, None))
    chunks = []
    for _ in range(n // chunk):
        a = erf(rng.standard_normal((chunk, m)) @ L.T)
        chunks.append((a, -np.einsum("ki,ij,kj->k", a, Chat, a)))
    mx = max(e.max() for _, e in chunks)
    s = s2 = 0.0
    pp, q2, q4 = np.zeros((m, m)), np.zeros((m, m)), np.zeros((m, m))
    for a, e in chunks:
        w = np.exp(e - mx)
        aw = a * w[:, None]
        s, s2 = s + w.sum(), s2 + (w * w).sum()
        pp += aw.T @ a
        q2 += (aw * w[:, None]).T @ a          # Σ w² φ_iφ_j
        q4 += (aw * aw).T @ (a * a)            # Σ w² φ_i²φ_j²
    C = pp / s
    var = (q4 - 2.0 * C * q2 + C * C * s2) / (s * s)
    return C, np.sqrt(np.clip(var, 0.0, None)), s * s / s2


def _blocks(sol, arch):
    T, P = sol.T, sol.P
    if arch == "rnn":
        return [np.arange(T * P)]
    return [np.arange(t * P, (t + 1) * P) for t in range(T)]


def _check(task, arch, n_mc, n_ref, mc_max, seed=11):
    sol = solve(task, arch=arch, phi="erf", kappa=KAPPA, n_mc=n_mc)
    d = sol.diagnostics
    assert d.converged and d.residual < 1e-10
    assert "fine(" in d.method, d.method  # the two-stage path
    assert np.isfinite(d.mc_error) and d.mc_error < mc_max, d.mc_error
    assert d.ess > 0.05 * n_mc, d.ess
    se_solver = d.mc_error * np.abs(sol.C).max()
    worst = 0.0
    for k, b in enumerate(_blocks(sol, arch)):
        C_ref, se_ref, ess = _brute_force(sol.K[np.ix_(b, b)], sol.Chat[np.ix_(b, b)], n_ref, seed + k)
        assert ess > 0.05 * n_ref, ess  # the referee itself is not degenerate
        z = np.abs(sol.C[np.ix_(b, b)] - C_ref) / np.hypot(se_solver, se_ref)
        worst = max(worst, float(z.max()))
    assert worst < 5.0, worst
    # power: the same comparison against the untilted measure (Ĉ = 0, the lazy NNGP) fails by far
    b = _blocks(sol, arch)[-1]
    C0, se0, _ = _brute_force(sol.K[np.ix_(b, b)], 0.0 * sol.Chat[np.ix_(b, b)], n_ref, seed)
    assert (np.abs(sol.C[np.ix_(b, b)] - C0) / np.hypot(se_solver, se0)).max() > 10.0
    # readout equation (no Monte Carlo; DNN: the supervised last layer has no shift term): Ĉ_SS = −½ g_w² a aᵀ
    if arch == "dnn":
        prob = sol.problem
        S = np.flatnonzero(prob.sup)
        a = np.linalg.solve(sol.C[np.ix_(S, S)] * prob.time_mask[np.ix_(S, S)] + KAPPA * np.eye(len(S)), prob.y)
        want = -0.5 * (a @ a.T) * prob.time_mask[np.ix_(S, S)]
        np.testing.assert_allclose(sol.Chat[np.ix_(S, S)], want, atol=1e-9 * (1 + np.abs(want).max()))
    return sol, worst


@pytest.mark.parametrize("arch,P", [("rnn", 2), ("dnn", 3)])
def test_two_stage_erf_solution_against_brute_force_moments(arch, P):
    task = endpoint_task(P=P, P_test=2, T=3, D=max(P, 4), signal=1.0, seed=0)
    with warnings.catch_warnings():  # n_mc = 4096 is just above mc_tol = 1 % here (1.1 %): the referee is the test
        warnings.simplefilter("ignore", MonteCarloWarning)
        _check(task, arch, n_mc=4096, n_ref=2**18, mc_max=0.03)


@pytest.mark.slow
@pytest.mark.parametrize("T,P,arch", [
    (6, 4, "rnn"),
    (10, 10, "dnn"),
    pytest.param(10, 10, "rnn", marks=pytest.mark.xfail(run=False, reason=OPEN)),
    pytest.param(10, 100, "dnn", marks=pytest.mark.xfail(run=False, reason=OPEN)),
])
def test_two_stage_erf_at_scale_against_brute_force_moments(T, P, arch):
    task = endpoint_task(P=P, P_test=4, T=T, D=max(P, 16), signal=1.0, seed=0)
    _check(task, arch, n_mc=16384, n_ref=2**18, mc_max=0.01)  # the target: MC error of C ≤ 1 %
