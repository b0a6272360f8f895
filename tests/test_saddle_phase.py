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
    assert abs(pp["outlier_theory"] - dense["outlier_rnn"][-1]) < 1e-6
    assert abs(pp["action"] - dense["S_broken"][-1]) < 1e-8
