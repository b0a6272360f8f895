"""Closed-form Gaussian expectations against independent numerical quadrature, and the shared
Gauss–Hermite rule of :mod:`fltheory.gaussian` (issue #18: one quadrature, one activation registry)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

import fltheory  # noqa: F401  (enables float64)
from fltheory import FLTheoryInputError
from fltheory.activations import get_activation
from fltheory.gaussian import (gaussian_mean, gaussian_pair_mean, hermite_projections, hermite_rule, kernel_map,
                               mean_dphi, mean_phi, phiphi)

COVS = [(1.0, 0.3, 0.7), (2.5, -1.1, 0.9), (0.4, 0.39, 0.4), (1.3, 0.0, 0.2), (3.0, 2.9, 3.0)]


def _whitened(k11, k12, k22):
    s1 = np.sqrt(k11)
    rho = k12 / np.sqrt(k11 * k22)
    s2 = np.sqrt(k22)
    return s1, rho, s2


@pytest.mark.parametrize("cov", COVS)
def test_arcsine_kernel_matches_quadrature(cov):
    # erf is entire, so high-order Gauss–Hermite converges exponentially; 160 nodes per axis is far
    # past convergence (checked: 120 vs 160 agree to 1e-14).
    quad = phiphi(lambda x: jax.scipy.special.erf(x), *cov, quad_order=160)  # callable -> quadrature path
    assert abs(float(phiphi("erf", *cov)) - float(quad)) < 1e-10


@pytest.mark.parametrize("cov", COVS)
def test_arccosine_kernel_matches_adaptive_quadrature(cov):
    # relu has a kink, so use adaptive quadrature on the region where both factors are positive:
    # a = s1 z1 > 0, b = s2 (rho z1 + sqrt(1-rho^2) z2) > 0.
    s1, rho, s2 = _whitened(*cov)
    r = np.sqrt(max(1.0 - rho**2, 0.0))
    g = lambda z: np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    if r < 1e-12:
        val, _ = integrate.quad(lambda z1: s1 * s2 * rho * z1 * z1 * g(z1), 0, np.inf, epsabs=1e-14)
    else:
        val, _ = integrate.dblquad(
            lambda z2, z1: s1 * z1 * s2 * (rho * z1 + r * z2) * g(z1) * g(z2),
            0, 40, lambda z1: -rho * z1 / r, lambda z1: 40.0, epsabs=1e-14, epsrel=1e-13,
        )
    assert abs(float(phiphi("relu", *cov)) - val) < 1e-10


def test_relu_mean_and_linear():
    k = 1.7
    val, _ = integrate.quad(lambda z: np.sqrt(k) * z * np.exp(-z * z / 2) / np.sqrt(2 * np.pi), 0, np.inf,
                            epsabs=1e-14)
    assert abs(float(mean_phi("relu", k)) - val) < 1e-12
    assert float(phiphi("linear", 2.0, 0.7, 1.0)) == pytest.approx(0.7, abs=1e-15)


def test_tanh_quadrature_against_monte_carlo():
    # Gauss–Hermite (generic path) against 4e6-sample Monte Carlo; MC standard error ≈ 3e-4.
    rng = np.random.default_rng(0)
    K = np.array([[1.2, 0.5], [0.5, 0.8]])
    z = rng.multivariate_normal(np.zeros(2), K, size=4_000_000)
    mc = np.mean(np.tanh(z[:, 0]) * np.tanh(z[:, 1]))
    se = np.std(np.tanh(z[:, 0]) * np.tanh(z[:, 1])) / np.sqrt(len(z))
    assert abs(float(phiphi("tanh", 1.2, 0.5, 0.8)) - mc) < 5 * se


def test_kernel_map_clips_correlations_at_one():
    K = np.array([[1.0, 1.0 + 1e-12], [1.0 + 1e-12, 1.0]])
    C = np.asarray(kernel_map("relu", K))
    assert np.all(np.isfinite(C)) and abs(C[0, 1] - 0.5) < 1e-9


# ---- the one quadrature module and the unit-slope erf (issue #18) ----


def test_hermite_rule_is_the_probabilists_normalised_rule():
    # Probabilists' convention: E[z^2m] = (2m−1)!!, exact up to degree 2·order − 1; weights sum to 1.
    z, w = hermite_rule(10)
    assert abs(w.sum() - 1.0) < 1e-14
    for m, moment in [(1, 1.0), (2, 3.0), (3, 15.0), (9, 34459425.0)]:
        assert abs(np.sum(w * z ** (2 * m)) / moment - 1.0) < 1e-12
    assert abs(np.sum(w * z**7)) < 1e-10
    assert not w.flags.writeable  # cached and shared
    with pytest.raises(FLTheoryInputError, match="quad_order"):
        hermite_rule(400)  # the smallest weights underflow float64
    with pytest.raises(FLTheoryInputError, match="quad_order"):
        hermite_rule(0)


def test_gaussian_mean_pair_mean_and_projections_are_exact_on_polynomials():
    mu, sd = np.array([0.3, -1.2]), np.array([0.7, 1.9])
    m1, m4 = gaussian_mean(lambda x: (x, x**4), mu, sd, order=8)  # tuple-valued f
    np.testing.assert_allclose(m1, mu, rtol=1e-13)
    np.testing.assert_allclose(m4, mu**4 + 6 * mu**2 * sd**2 + 3 * sd**4, rtol=1e-13)
    k11, k12, k22 = 1.3, -0.4, 0.8  # E[a²b²] = k11 k22 + 2 k12², E[a b³] = 3 k12 k22
    assert abs(float(gaussian_pair_mean(lambda a: a**2, None, k11, k12, k22, 8)) - (k11 * k22 + 2 * k12**2)) < 1e-13
    assert abs(float(gaussian_pair_mean(lambda a: a, lambda b: b**3, k11, k12, k22, 8)) - 3 * k12 * k22) < 1e-13
    # E[He_3(σz) He_n(z)]: He_3(σz) = σ³ He_3(z) + 3σ(σ² − 1) He_1(z), and E[He_n He_m] = n! δ_nm
    s = 1.4
    proj = np.asarray(hermite_projections(lambda x: x**3 - 3 * x, s, 5, order=8))
    np.testing.assert_allclose(proj, [0, 3 * s * (s**2 - 1), 0, 6 * s**3, 0, 0], atol=1e-12)
    assert np.asarray(hermite_projections(jnp.tanh, np.array([0.5, 2.0]), 3)).shape == (2, 4)


@pytest.mark.parametrize("cov", COVS)
def test_shared_quadrature_reproduces_the_closed_forms(cov):
    erf = jax.scipy.special.erf
    quad = gaussian_pair_mean(erf, None, *cov, order=160)
    assert abs(float(quad) - float(phiphi("erf", *cov))) < 1e-10
    # relu has a kink, so Gauss–Hermite converges only algebraically (measured: 8e-4 at 64 nodes,
    # 3e-4 at 160 for cov0); its closed form is checked to 1e-10 against adaptive quadrature above.
    relu = lambda x: jnp.maximum(x, 0.0)  # noqa: E731
    err = [abs(float(gaussian_pair_mean(relu, None, *cov, order=o) - phiphi("relu", *cov))) for o in (40, 160)]
    assert err[1] < 2e-3 and err[1] < err[0]


def test_unit_slope_erf():
    act = get_activation("erf_unit")
    erf = jax.scipy.special.erf
    assert act.closed_form == "erf_unit" and act.odd
    assert abs(float(act.deriv(jnp.array([0.0]))[0]) - 1.0) < 1e-15  # φ′(0) = 1
    x = jnp.linspace(-3, 3, 7)
    np.testing.assert_allclose(act.deriv(x), np.exp(-np.pi * np.asarray(x) ** 2 / 4), rtol=1e-14)
    unit = lambda x: erf(np.sqrt(np.pi) / 2 * x)  # noqa: E731  (the callable: quadrature path)
    for cov in COVS:
        k11, k12, k22 = cov
        closed = float(phiphi("erf_unit", *cov))
        # the closed form is c → erf(c x) in Williams' arcsine kernel with 2c² = π/2 ...
        assert abs(closed - float(phiphi(unit, *cov, quad_order=160))) < 1e-10
        # ... i.e. (2/π) arcsin(π k12 / √((2 + π k11)(2 + π k22)))
        ref = 2 / np.pi * np.arcsin(np.pi * k12 / np.sqrt((2 + np.pi * k11) * (2 + np.pi * k22)))
        assert abs(closed - ref) < 1e-14
    assert float(mean_phi("erf_unit", 1.3)) == 0.0


@pytest.mark.parametrize("phi", ["erf_unit", "erf", "relu", "linear"])
def test_gain_closed_forms_match_quadrature(phi):
    act = get_activation(phi)
    k = jnp.array([0.0, 0.3, 1.0, 2.5])
    closed = np.asarray(mean_dphi(phi, k))
    quad = np.asarray(mean_dphi(lambda x: act(x), k, quad_order=160))  # callable -> autodiff + quadrature
    # erf′ is Gaussian (quadrature converged); relu′ is a step (E = 1/2 by symmetry of the nodes)
    np.testing.assert_allclose(closed, quad, rtol=1e-10, atol=1e-12)
    if phi == "erf_unit":
        np.testing.assert_allclose(closed, 1 / np.sqrt(1 + np.pi * np.asarray(k) / 2), rtol=1e-15)
