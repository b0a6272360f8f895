"""Issue #5 on a small parity instance: MF / MF-ARD theory against SGLD posterior sampling.

Instance (the ``small`` preset of ``fltheory learning-curve``): d = 12, k = 4 (y = x0 x1 x2 x3),
N = 64, γ = ½ (ntk), κ² = 0.1, sw2 = sa2 = 1, relu; SGLD with 4 chains, 8000 burn-in steps and
40 samples thinned by 100; test inputs exclude training inputs. Measured values (seed 0) are in
docs/theory/two_layer.md §6; the thresholds below leave room for the seed-to-seed spread of SGLD
(test-MSE standard error across chains ≲ 0.04, m_S noise floor ≈ 1/√P_test ≈ 0.03).
"""
import numpy as np
import pytest

import fltheory  # noqa: F401
from fltheory.experiments.learning_curve import onset_P

PS = (50, 100, 200, 400)


@pytest.fixture(scope="module")
def curves(small_point):
    # session-cached (tests/two_layer/conftest.py): the SGLD points are shared with test_two_layer_issue14.py
    return {method: {P: small_point(method, P, seed=0) for P in PS} for method in ("sgld", "mf", "mf_ard")}


def onset(points):
    """P where m_S first crosses 0.25 (``onset_P``: linear in log P, inf if never)."""
    return onset_P(PS, [points[P]["m_target"] for P in PS])


def onset_bound(points, z):
    """The onset of m_S + z·s.e. at every P: z > 0 gives the earliest onset the errors allow, z < 0 the
    latest."""
    return onset_P(PS, [points[P]["m_target"] + z * points[P]["m_target_se"] for P in PS])


def test_transition_in_mf_and_sgld(curves):
    # Both show a transition: m_S ≈ 0 at P = 50, large at P = 400.
    for method in ("sgld", "mf"):
        assert curves[method][50]["m_target"] < 0.15, method
        assert curves[method][400]["m_target"] > 0.25, method
    assert curves["mf"][50]["m_off"] < 0.01  # off-target coefficient stays zero in the theory
    # MF's onset is later than SGLD's (measured ≈ 4×: its single-neuron 𝒜(w) counts the whole Σ(w) as
    # unexplained, see docs §6). Tolerance from the reported errors: even the earliest MF onset that
    # m_S + 3 s.e. allows comes after the latest SGLD onset that m_S − 3 s.e. allows (SGLD: chain
    # spread of m_S; MF: Monte-Carlo error of the fixed point).
    p_sgld, p_mf = onset(curves["sgld"]), onset(curves["mf"])
    assert np.isfinite(p_sgld) and np.isfinite(p_mf)
    mf_early, sgld_late = onset_bound(curves["mf"], +3.0), onset_bound(curves["sgld"], -3.0)
    assert mf_early > sgld_late, (mf_early, sgld_late, p_mf, p_sgld)


def test_mf_ard_closer_to_sgld_after_transition(curves):
    # After the SGLD transition (P >= 200) MF-ARD's test MSE is closer to SGLD than plain MF's.
    for P in (200, 400):
        s = curves["sgld"][P]["test_mse"]
        gap_mf = abs(curves["mf"][P]["test_mse"] - s)
        gap_ard = abs(curves["mf_ard"][P]["test_mse"] - s)
        assert gap_ard < gap_mf, (P, s, curves["mf"][P]["test_mse"], curves["mf_ard"][P]["test_mse"])


def test_ard_precisions_separate_relevant_coordinates(curves):
    # ρ_irrelevant / ρ_relevant: theory (MF-ARD fixed point) > 10 after the transition; SGLD
    # posterior (ARD update at its ⟨w_j²⟩) > 1.5 after the transition and up by >= 0.4 from P = 50.
    for P in (200, 400):
        assert curves["mf_ard"][P]["rho_ratio"] > 10.0
        assert curves["sgld"][P]["rho_ratio"] > 1.5
        assert curves["sgld"][P]["rho_ratio"] > curves["sgld"][50]["rho_ratio"] + 0.4
        assert curves["sgld"][P]["w2_relevant"] > 1.5 * curves["sgld"][P]["w2_irrelevant"]
    assert curves["mf_ard"][50]["rho_ratio"] < 1.5  # no separation before the transition
