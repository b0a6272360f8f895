"""Mean-field theory of issue #5: the infinite-width (tilt off) limit is spectral kernel ridge regression."""
import numpy as np
import pytest

import fltheory  # noqa: F401
from fltheory import FLTheoryInputError
from fltheory.two_layer.features import ParityOverlaps, all_patterns, cube_kernel_eigenvalue, walsh
from fltheory.two_layer.mean_field import kernel_limit_coefficients, solve_mean_field
from fltheory.two_layer.nngp import nngp_parity_population, nngp_regression


@pytest.mark.parametrize("k", [2, 4])
def test_population_krr_is_spectral_shrinkage(k):
    # Exact: KRR on the whole cube with every point weighted P/2^d (ridge κ²·2^d/P) has Walsh
    # coefficients Pλ_k/(Pλ_k + κ²) = g/(1+g) — the population NNGP. Float64 round-off only.
    d, kappa2 = 8, 0.05
    lam = cube_kernel_eigenvalue(k, d)
    P = kappa2 / lam  # g = 1
    X = all_patterns(d)
    y = walsh(X, range(k))
    f = nngp_regression(X, y, X, kappa2=kappa2 * len(X) / P)
    m = np.mean(f * y)
    assert m == pytest.approx(kernel_limit_coefficients([1.0], [lam], P, kappa2)[0], abs=1e-10)
    assert m == pytest.approx(0.5, abs=1e-10)
    assert nngp_parity_population(d=d, k=k, P=P, kappa2=kappa2)["m_target"] == pytest.approx(0.5, abs=1e-12)
    # no leakage into other Walsh functions
    assert abs(np.mean(f * walsh(X, (0, 5)))) < 1e-10


@pytest.mark.parametrize("k,g", [(2, 1.0), (4, 3.0)])
def test_mf_without_tilt_reproduces_kernel_shrinkage(k, g):
    # MF machinery (MALA chains + linear-response fixed point) with the tilt switched off: w stays
    # at the prior and m_S = g/(1+g) with g = P N^{1-2γ} sa2 λ_k/κ². Exact overlaps (d = 8).
    # The only error is Monte Carlo in E_w[J_S²]: 2048 chains × 20 iterations; we allow 5 standard
    # errors of the iteration spread (m_se) plus the 1/sqrt(2048·10) relative error of J² that
    # the spread of correlated warm-started iterations can underestimate.
    d, kappa2, N = 8, 0.1, 64
    lam = cube_kernel_eigenvalue(k, d)
    P = g * kappa2 / lam
    model = ParityOverlaps(d, tuple(range(k)), method="exact", tracked=((0, 1, 2, 4) if k == 4 else (0, 2),))
    res = solve_mean_field(model, P=P, kappa2=kappa2, N=N, tilt=False, n_chains=2048, steps_per_iter=10,
                           min_iter=20, n_avg=10, seed=1)
    exact = g / (1 + g)
    # relative MC error of E[J²] ≈ sqrt(Var(J²)/n) / λ; J² is ~chi² (kurtosis 3) → sqrt(2/n)
    rel = np.sqrt(2.0 / (2048 * 10))
    tol = 5 * float(res.m_se[0]) + 5 * rel * g / (1 + g) ** 2
    assert abs(res.m_target - exact) < tol, (res.m_target, exact, tol)
    assert abs(res.m_tracked[0]) < 0.05 * exact  # off-target: zero by symmetry
    # w stayed at the prior: ⟨w_j²⟩ = sw2 within MC error
    np.testing.assert_allclose(res.w2, 1.0, atol=0.05)
    assert res.converged
    # the common result protocol (fltheory.Diagnostics, shared with saddle.solve)
    from fltheory import Diagnostics

    d = res.diagnostics
    assert isinstance(d, Diagnostics) and d.converged and d.iterations == res.n_iter == len(d.history)
    assert np.isfinite(d.residual) and d.mc_error > 0 and d.method == "mala-fixed-point"


def test_mf_input_validation():
    model = ParityOverlaps(6, (0, 1))
    with pytest.raises(FLTheoryInputError, match="kappa2"):
        solve_mean_field(model, P=10, kappa2=-1.0, N=8)
    with pytest.raises(FLTheoryInputError, match="damping"):
        solve_mean_field(model, P=10, kappa2=1.0, N=8, damping=0.0)
    with pytest.raises(FLTheoryInputError, match="init_w"):
        solve_mean_field(model, P=10, kappa2=1.0, N=8, n_chains=4, init_w=np.zeros((3, 6)))


def test_unconverged_mf_raises_by_default_and_warns_only_on_request():
    """One failure policy (issue #18): an unconverged solve raises; ``throw=False`` returns it with
    ``converged=False`` and a ConvergenceWarning (it used to return it silently)."""
    from fltheory import ConvergenceError, ConvergenceWarning

    model = ParityOverlaps(6, (0, 1))
    kw = dict(P=50, kappa2=0.1, N=16, n_chains=8, steps_per_iter=2, max_iter=3, min_iter=4, n_avg=4)  # never checked
    with pytest.raises(ConvergenceError, match="solve_mean_field: no fixed point after max_iter = 3"):
        solve_mean_field(model, **kw)
    with pytest.warns(ConvergenceWarning, match="no fixed point"):
        res = solve_mean_field(model, throw=False, **kw)
    assert res.converged is False and res.diagnostics.converged is False
