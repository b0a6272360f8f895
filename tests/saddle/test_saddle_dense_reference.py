"""The Newton–Krylov solver agrees with the previous dense-Hessian solver where that one still runs (issue #12).

Linear φ: both solve the same closed-form equations, so they agree to round-off (1e-8). erf: both use
importance sampling of the same tilted measure, with different draw sets (the dense solver expands
its Sobol' draws by z → −z and the odd-lag flips before chunking, the new one per chunk), so they
agree within the Monte-Carlo error reported by the new solver (``diagnostics.mc_error``).
"""
import numpy as np
import pytest

import fltheory  # noqa: F401  (float64)
from fltheory.saddle import solve
from fltheory.saddle._dense_reference import dense_newton_solve
from fltheory.tasks import endpoint_task

KAPPA = 0.1


@pytest.mark.parametrize("arch", ["rnn", "dnn"])
def test_linear_agrees_with_dense_newton(arch):
    task = endpoint_task(P=3, P_test=4, T=3, D=6, signal=1.0, seed=1)
    C_ref, H_ref, ok = dense_newton_solve(task, arch=arch, kappa=KAPPA)
    assert ok
    sol = solve(task, arch=arch, kappa=KAPPA)
    np.testing.assert_allclose(sol.C, C_ref, atol=1e-8 * np.abs(C_ref).max())
    np.testing.assert_allclose(sol.Chat, H_ref, atol=1e-8 * max(np.abs(H_ref).max(), 1.0))


def test_erf_agrees_with_dense_newton_within_mc_error():
    task = endpoint_task(P=2, P_test=2, T=3, D=4, signal=1.0, seed=2)
    C_ref, _, ok = dense_newton_solve(task, arch="rnn", phi="erf", kappa=KAPPA, n_mc=4096)
    assert ok
    sol = solve(task, arch="rnn", phi="erf", kappa=KAPPA, n_mc=16384)
    # two independent MC estimates: the new one has relative s.e. ≤ mc_error (entry s.e. / max|C|), the
    # dense one, on 4× fewer draws, twice that (s.e. ∝ 1/√n_mc); the difference has s.e. ≤ √5·mc_error;
    # 4 of those
    bound = 4 * np.sqrt(5) * sol.diagnostics.mc_error * np.abs(sol.C).max()
    assert np.isfinite(bound) and bound < 0.1 * np.abs(sol.C).max()
    assert np.abs(sol.C - C_ref).max() < bound, (np.abs(sol.C - C_ref).max(), bound)
