"""The importance draws of a nonlinear solve (issue #12): what the sign group adds, and the two stages.

For odd φ every statistic the solver accumulates is even in the base draw z, so the z → −z copies
repeat each draw's contribution: dropping them must leave the moments unchanged to round-off and halve
the effective sample size that is reported (it used to count every draw twice, and the standard errors
were √2 too small).
"""
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import fltheory  # noqa: F401  (float64)
from fltheory import MonteCarloWarning
from fltheory._validate import summarise_mc_warnings
from fltheory.activations import get_activation
from fltheory.saddle import solve
from fltheory.saddle.equations import importance_block, importance_stats
from fltheory.saddle.rnn import coarse_draws, draw_plan, problem_from_task
from fltheory.tasks import endpoint_task


def _tilted(m, seed):
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((m, m + 2))
    K = G @ G.T / (m + 2)
    H = rng.standard_normal((m, m)) * 0.1
    return jnp.asarray(K), jnp.asarray(0.5 * (H + H.T))


@pytest.mark.parametrize("arch", ["rnn", "dnn"])
def test_odd_phi_drops_only_repeated_draws(arch):
    task = endpoint_task(P=2, P_test=1, T=3, D=4, signal=1.0, seed=0)
    prob = problem_from_task(task, arch)
    full, half = draw_plan(prob, 512, 3, odd=False), draw_plan(prob, 512, 3, odd=True)
    assert full.signs.shape[0] == 2 * half.signs.shape[0]
    assert half.signs.shape[0] == (2 if arch == "rnn" else 1)
    m = full.signs.shape[1]
    K, H = _tilted(m, 1)
    act = get_activation("erf")
    A = jnp.eye(m)
    for a, b in zip(importance_block(K, H, A, act, full), importance_block(K, H, A, act, half)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-14)
    sf, sh = importance_stats(K, H, A, act, full), importance_stats(K, H, A, act, half)
    np.testing.assert_allclose(float(sf["ess"]), 2 * float(sh["ess"]), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(sf["sem"]) * np.sqrt(2), np.asarray(sh["sem"]), rtol=1e-10, atol=1e-15)
    # an activation that is not odd keeps the z → −z copies (they are new draws for it)
    relu = get_activation("relu")
    assert draw_plan(prob, 512, 3, odd=relu.odd).signs.shape[0] == full.signs.shape[0]


def test_coarse_draws():
    assert coarse_draws(16384) == 1024 and coarse_draws(65536) == 4096
    assert coarse_draws(2048) == 1024 and coarse_draws(512) == 512


def test_two_stage_solve_reports_its_stages_and_matches_one_stage():
    """The fine stage (all draws, coarse Jacobian) converges to the root of the fine equations: started
    from the coarse solution with the same proposal, a one-stage solve on the same draws agrees."""
    task = endpoint_task(P=2, P_test=2, T=3, D=4, signal=1.0, seed=2)
    sol = solve(task, phi="erf", kappa=0.1, n_mc=4096)
    d = sol.diagnostics
    assert d.converged and d.residual < 1e-10
    assert "coarse 1024" in d.method and "fine(4096" in d.method
    # the same draws, one stage (n_mc = coarse size): a different estimator, within MC error
    one = solve(task, phi="erf", kappa=0.1, n_mc=1024)
    assert "fine" not in one.diagnostics.method
    se = np.hypot(d.mc_error, one.diagnostics.mc_error) * np.abs(sol.C).max()
    assert np.abs(sol.C - one.C).max() < 4 * se


def test_sweeps_summarise_monte_carlo_warnings():
    with pytest.warns(MonteCarloWarning) as rec:
        with summarise_mc_warnings("a sweep"):
            for pct in (1.5, 3.25, 2.0):
                warnings.warn(MonteCarloWarning(f"solve: Monte-Carlo error of C ≈ {pct:.2f}% > mc_tol = 1.00%",
                                                pct / 100))
            warnings.warn("something else", UserWarning)
    mc = [w for w in rec if issubclass(w.category, MonteCarloWarning)]
    assert len(mc) == 1
    assert "a sweep: 3 solve(s)" in str(mc[0].message) and "3.25%" in str(mc[0].message)
    assert any(issubclass(w.category, UserWarning) and "something else" in str(w.message) for w in rec)


def test_a_proposal_fit_that_does_not_resolve_is_dropped(monkeypatch):
    """The proposal only changes the variance of the estimate: when re-solving with a newly fitted one
    fails, the solve keeps the previous proposal and its solution instead of failing."""
    from fltheory.saddle import rnn
    from fltheory.saddle.newton_krylov import NewtonRecord

    real = rnn._run_newton
    calls = {"n": 0}

    def flaky(eq, x0, *a, **k):
        calls["n"] += 1
        if calls["n"] == 3:  # the second proposal fit (1: from the start, 2: first fit)
            return x0, NewtonRecord(False, 6, 10, [1.0], "stalled")
        return real(eq, x0, *a, **k)

    monkeypatch.setattr(rnn, "_run_newton", flaky)
    task = endpoint_task(P=2, P_test=1, T=3, D=4, signal=1.0, seed=2)
    sol = solve(task, phi="erf", kappa=0.1, n_mc=4096)
    assert calls["n"] == 3
    assert sol.diagnostics.converged and sol.diagnostics.residual < 1e-10
    assert "adapted-proposal(1)" in sol.diagnostics.method and "fine(4096" in sol.diagnostics.method
