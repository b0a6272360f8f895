"""Issue #14: does the training-set MF / MF-ARD predict its own network (SGLD)? Small instance.

d = 12, k = 4 parity, N = 64, γ = ½, κ² = 0.1 (``size="small"``), seed 0, the SGLD of
tests/two_layer/test_two_layer_sgld_vs_theory.py (session-cached in conftest.py). Measured curves,
commands and the discussion: the issue #14 note. Noise scales used for the tolerances: the SGLD
m_S is a test-set average over P_test = 1024 inputs, noise floor ≈ 1/√1024 ≈ 0.03, and its chains
agree to ≈ 0.01 after burn-in (relaxation measured: m_S constant from step 6000 to 48000 at
P = 100 and 200); the theory's Monte-Carlo s.e. of m_S (``m_target_se``) is ≲ 0.01.

The onset and m_S targets fail at this N = 64 (strict xfails below) and hold at N = 512 for the
independent-readout MF-ARD (docs/theory/two_layer.md §6c: onsets 175 vs SGLD 168, |Δm_S| 0.135, 0.049,
0.079 at P = 150, 200, 300): the lag is a finite-N effect of the network. That comparison is not a
test here (SGLD at N = 512 costs ≈ 7 min per point on the 2 shared cores).
"""
import numpy as np
import pytest

import fltheory  # noqa: F401

from fltheory.experiments.learning_curve import ONSET_LEVEL as ONSET, onset_P as onset

NOISE = 0.03   # SGLD m_S noise floor 1/√P_test (see the module docstring)


def test_joint_readouts_not_the_data_average_explain_most_of_the_mf_lag(small_point):
    # P = 200, inside the SGLD transition (SGLD m_S ≈ 0.79). Measured (seed 0): population MF 0.08,
    # training-set MF (independent readouts) 0.09, training-set MF with joint readouts 0.51.
    # (1) population vs training set is not the cause: the two independent-readout theories agree
    #     within 3 noise floors; (2) integrating the readouts out jointly (§3c) closes more than half
    #     of the gap; (3) a gap remains that is ≫ the noise (0.28 measured; required > 3 noise floors).
    P = 200
    sgld = small_point("sgld", P)["m_target"]
    pop = small_point("mf", P)["m_target"]
    ind = small_point("mf_emp", P, readout="independent")
    joint = small_point("mf_emp", P, readout="joint")
    assert ind["converged"] == 1.0 and joint["converged"] == 1.0
    assert abs(ind["m_target"] - pop) < 3 * NOISE, (ind["m_target"], pop)
    assert sgld - joint["m_target"] < 0.5 * (sgld - ind["m_target"]), (sgld, joint["m_target"], ind["m_target"])
    assert sgld - joint["m_target"] > 3 * NOISE, (sgld, joint["m_target"])


PS = (50, 100, 150, 200, 300, 400)


@pytest.fixture(scope="module")
def curves(small_point):
    out = {"sgld": [small_point("sgld", P)["m_target"] for P in PS]}
    for readout in ("independent", "joint"):
        for method in ("mf_emp", "mf_ard_emp"):
            out[f"{method}:{readout}"] = [small_point(method, P, readout=readout)["m_target"] for P in PS]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("readout", [
    pytest.param("independent", marks=pytest.mark.xfail(strict=True, reason=(
        "measured (seed 0, P = 50..400): MF-ARD onset ≈ 140 vs SGLD ≈ 80 (ratio 1.75; seed 1: 141 vs "
        "109, 1.30): MF-ARD with independent readouts is late"))),
    pytest.param("joint", marks=pytest.mark.xfail(strict=True, reason=(
        "measured (seed 0): MF-ARD with joint readouts has m_S = 0.50 already at P = 50, onset < 50 vs "
        "SGLD ≈ 80 (ratio < 0.63; seed 1: 59 vs 109, 0.54): a₀ = b₀ = 1 prunes too hard (ρ ratio ≈ 90 vs "
        "SGLD 2.3; its relevant ρ_j run away to 0, see the note, m_S itself is stable)"))),
])
def test_issue14_mf_ard_onset_within_factor_1p5_of_sgld(curves, readout):
    p_sgld = onset(PS, curves["sgld"])
    p_ard = onset(PS, curves[f"mf_ard_emp:{readout}"])
    assert np.isfinite(p_sgld)
    assert 1 / 1.5 < p_ard / p_sgld < 1.5, (p_ard, p_sgld)


@pytest.mark.slow
@pytest.mark.parametrize("readout", [
    pytest.param("independent", marks=pytest.mark.xfail(strict=True, reason=(
        "measured (seed 0) m_S at P = 100, 150, 200: SGLD 0.35, 0.69, 0.79; MF-ARD -0.01, 0.30, 0.40"))),
    pytest.param("joint", marks=pytest.mark.xfail(strict=True, reason=(
        "measured (seed 0) m_S at P = 100, 150, 200: SGLD 0.35, 0.69, 0.79; MF-ARD 0.92, 0.95, 0.97"))),
])
def test_issue14_mf_ard_m_s_within_0p15_of_sgld_across_the_transition(curves, readout):
    # three P values across the SGLD transition (SGLD m_S from ≈ 0.35 to ≈ 0.8)
    for P in (100, 150, 200):
        i = PS.index(P)
        assert abs(curves[f"mf_ard_emp:{readout}"][i] - curves["sgld"][i]) < 0.15, (P, readout)


@pytest.mark.slow
def test_joint_mf_onset_tracks_sgld_and_independent_mf_does_not(curves):
    # Measured (seed 0): onsets SGLD ≈ 80, joint MF ≈ 121, independent MF ≈ 370 (m_S = 0.26 at 400).
    # Required: joint MF within a factor 2 of SGLD (the grid P = 50..400 is coarse, factor 1.5 per
    # step), independent MF at least 3× later than SGLD.
    p_sgld = onset(PS, curves["sgld"])
    assert onset(PS, curves["mf_emp:joint"]) / p_sgld < 2.0
    assert onset(PS, curves["mf_emp:independent"]) / p_sgld > 3.0


def onset_by_search(method, d, readout, small_point):
    """Onset P_c of ``method`` at input dimension d on the grid P = 25·1.5^i (first crossing of ONSET)."""
    prev = None
    for i in range(12):
        P = int(round(25 * 1.5**i))
        m = small_point(method, P, d=d, readout=readout)["m_target"]
        if m >= ONSET:
            return float(P) if prev is None else onset((prev[0], P), (prev[1], m))
        prev = (P, m)
    return float("inf")


@pytest.mark.slow
@pytest.mark.parametrize("readout", ["independent", "joint"])
def test_issue14_onset_vs_d_slope_lower_for_mf_ard_than_mf(small_point, readout):
    # d = 8, 12, 16 (k = 4, N = 64, κ² = 0.1, seed 0, P_test = 1024). Measured onsets,
    # independent readouts: MF 222, 342, 556, MF-ARD 126, 163, 236; joint readouts: MF 81, 126,
    # 200, MF-ARD 44, 46, 93 (SGLD: 72, 92, 139 on this grid). Fitted slope of log P_c vs log d:
    # MF 1.31 / 1.29, MF-ARD 0.89 / 1.01 (SGLD 0.93): ARD reduces the d-dependence but does not
    # remove it (the paper's Theorem 4.1: no O(d) penalty). The joint MF-ARD solves do not converge
    # in ρ (the relevant ρ_j run away to 0, see the issue note; m_S is stable) and return with
    # converged = 0.
    # Required: the ordering of the fitted slopes and MF-ARD earlier than MF at every d. The margin
    # (0.42 / 0.28 in slope) is below the worst-case error of onsets interpolated on a 1.5× grid
    # (±log(1.5)/2 in log P at each end → up to ±0.58 in slope), so this is the issue's claim
    # checked at one seed, not a resolved measurement of the slopes.
    ds = (8, 12, 16)
    pc = {m: [onset_by_search(m, d, readout, small_point) for d in ds] for m in ("mf_emp", "mf_ard_emp")}
    slope = {m: np.polyfit(np.log(ds), np.log(v), 1)[0] for m, v in pc.items()}
    assert all(np.isfinite(v).all() for v in map(np.asarray, pc.values())), pc
    assert slope["mf_ard_emp"] < slope["mf_emp"], (slope, pc)
    assert all(a < b for a, b in zip(pc["mf_ard_emp"], pc["mf_emp"])), pc
