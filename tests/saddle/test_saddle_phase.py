"""The phase-diagram theory does not depend on the continuation grid (regression: issue #3).

`phase_point` (one sweep point) continues the theory on a 4-point grid from 0; it used to miss the
broken branch where the dense `theory_sweep` finds it (P = 4 task: q_theory 0 instead of 0.33 at
signal 2.0, and 0 instead of 0.475 at 2.7, where a too-long continuation step landed Newton on the
block-diagonal saddle and was taken as "no broken branch").
"""
import numpy as np
import pytest

import fltheory  # noqa: F401
from fltheory.experiments.phase import phase_point, theory_sweep


@pytest.mark.parametrize("signal", [2.0, 2.7])
def test_phase_point_matches_dense_sweep(signal):
    pp = phase_point(signal=signal, arch="rnn")
    dense = theory_sweep(np.linspace(0.25, signal, 16))
    q = dense["q_rnn"][-1]
    assert q > 0.2  # above y_c ≈ 1.7: the broken branch dominates
    assert dense["S_broken"][-1] > dense["S_sym"][-1]
    assert abs(pp["q_theory"] - q) < 1e-6, (pp, q)
    # NaN (no outlier of W/√N yet, e.g. at 2.0 just above y_c) must match NaN
    np.testing.assert_allclose(pp["outlier_theory"], dense["outlier_rnn"][-1], rtol=0, atol=1e-6)
    assert abs(pp["action"] - dense["S_broken"][-1]) < 1e-8


def test_critical_signal_brackets_the_broken_branch():
    """y_c from the sign change of det J on the block-diagonal branch (reduced linear-RNN equations) is
    where the broken branch starts: absent 3 % below, present 3 % above, and q > 0 at 1.25·y_c."""
    from fltheory.experiments.phase import critical_signal

    out = critical_signal(y_max=4.0, n_grid=8)
    y_c = out["y_c"]
    assert 1.0 < y_c < 4.0 and out["q_above"] > 0.1 and out["dS_above"] > 0
    d = theory_sweep([0.97 * y_c, 1.03 * y_c])
    assert np.isnan(d["q_broken"][0]) and d["q_rnn"][0] < 1e-10  # block-diagonal up to round-off
    assert d["q_broken"][1] > 0.02 and d["S_broken"][1] > d["S_sym"][1]


def test_critical_signal_switches_branch_along_the_critical_mode():
    """Task seed 1 (another draw than the default task): branch switching along the critical eigenvector
    at y_c finds the broken branch, and it dominates."""
    from fltheory.experiments.phase import critical_signal

    out = critical_signal(dict(P_test=4, seed=1), y_max=4.0, n_grid=8)
    assert 1.5 < out["y_c"] < 2.5 and out["q_above"] > 0.1 and out["dS_above"] > 0


def test_coarse_grid_far_above_the_transition_finds_the_broken_branch():
    """Task seed 1 (y_c ≈ 0.87): on a grid that starts at 2.0 the lag-1 seeds alone miss the broken branch
    (measured: q_rnn = 0 on 1.8…2.8 before the fix); broken_branch then locates the bifurcation of the
    block-diagonal branch, switches there and continues. The saddle reached must be the one a fine grid
    through the transition follows, and it must dominate."""
    coarse = theory_sweep([2.0, 2.8], dict(seed=1))
    fine = theory_sweep([0.95, 1.3, 1.7, 2.0], dict(seed=1))
    assert coarse["q_broken"][0] > 0.3 and coarse["S_broken"][0] > coarse["S_sym"][0]
    assert abs(coarse["q_rnn"][0] - fine["q_rnn"][-1]) < 1e-6
    assert abs(coarse["S_broken"][0] - fine["S_broken"][-1]) < 1e-8


def test_only_a_flip_with_an_odd_critical_mode_is_the_pitchfork():
    """T = 6, P = 4 (D = 6): det J of the block-diagonal branch flips at y ≈ 0.582 and again at ≈ 0.807.
    The first critical mode lives on the odd-lag blocks (W → −W pitchfork), the second on the even ones
    (a bifurcation inside the symmetric subspace), measured 1.0 and 2e-30; a sign test alone cannot tell
    them apart (docs/theory/unified.md §4)."""
    from fltheory.experiments.phase import DEFAULT_THEORY, make_task_fn
    from fltheory.saddle import follow_branch, linear_rnn, problem_from_task
    from fltheory.saddle.continuation import bisect_flip

    make_task = make_task_fn(T=6, P=4, D=6)
    pkw = {k: DEFAULT_THEORY[k] for k in ("g2", "gu2", "gw2", "kappa")}
    ys = [0.005, 0.25, 0.5, 0.7, 0.9]
    branch = follow_branch(make_task, ys, arch="rnn", **DEFAULT_THEORY)
    fractions = []
    for i in (2, 3):   # brackets (0.5, 0.7) and (0.7, 0.9)
        lo, hi, s_lo = bisect_flip(make_task, ys[i], ys[i + 1], branch[i], rtol=1e-2, **DEFAULT_THEORY)
        fractions.append(linear_rnn.critical_mode_odd_fraction(problem_from_task(make_task(lo), "rnn", **pkw),
                                                               s_lo.C, s_lo.Chat))
        assert ys[i] < lo < hi < ys[i + 1]
    assert fractions[0] > 0.99 and fractions[1] < 0.01, fractions
