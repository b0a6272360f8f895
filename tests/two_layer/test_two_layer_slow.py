"""Larger issue #5 reproductions (run with ``pytest -m slow tests/two_layer/test_two_layer_slow.py``)."""
import numpy as np
import pytest

import fltheory  # noqa: F401
from fltheory.experiments.learning_curve import learning_curve_point

pytestmark = pytest.mark.slow


def test_small_parity_claims_hold_for_another_seed():
    # Same instance as tests/two_layer/test_two_layer_sgld_vs_theory.py, data/chain seed 1.
    pts = {m: {P: learning_curve_point(P=P, method=m, seed=1, size="small") for P in (50, 200, 400)}
           for m in ("sgld", "mf", "mf_ard")}
    assert pts["sgld"][50]["m_target"] < 0.15 < 0.5 < pts["sgld"][400]["m_target"]
    for P in (200, 400):
        s = pts["sgld"][P]["test_mse"]
        assert abs(pts["mf_ard"][P]["test_mse"] - s) < abs(pts["mf"][P]["test_mse"] - s)
        assert pts["sgld"][P]["rho_ratio"] > 1.5 and pts["mf_ard"][P]["rho_ratio"] > 10


def test_single_index_teacher_is_learned():
    # Single-index He_2 teacher on 2 of d = 12 coordinates, N = 64: every method improves with P,
    # the theories learn the target coefficient, and MF-ARD separates the relevant coordinates.
    kw = dict(task="single_index", d=12, k=2, degree=2, N=64, kappa2=0.1, P_test=2048, size="small")
    lo = {m: learning_curve_point(P=50, method=m, **kw) for m in ("sgld", "mf", "mf_ard")}
    hi = {m: learning_curve_point(P=800, method=m, **kw) for m in ("sgld", "mf", "mf_ard")}
    for m in lo:
        assert hi[m]["test_mse"] < lo[m]["test_mse"] - 0.1, m
        assert hi[m]["m_target"] > 0.5, m
    assert hi["mf_ard"]["rho_ratio"] > 2.0
    assert np.isfinite(hi["sgld"]["m_off"])
