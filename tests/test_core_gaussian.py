"""Closed-form Gaussian expectations against independent numerical quadrature."""
import jax
import numpy as np
import pytest
from scipy import integrate

import fltheory  # noqa: F401  (enables float64)
from fltheory.gaussian import kernel_map, mean_phi, phiphi

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
