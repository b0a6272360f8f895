"""The MCMC estimator of single-neuron moments reproduces Gaussian cases exactly (within MC error)."""
import numpy as np

import fltheory  # noqa: F401
from fltheory.gaussian import kernel_map
from fltheory.saddle.single_neuron import gaussian_moments, mcmc_moments


def _K(n, seed):
    A = np.random.default_rng(seed).standard_normal((n, n))
    return A @ A.T / n + 0.5 * np.eye(n)


def test_mcmc_linear_tilt_matches_closed_form():
    # φ = identity, Ĉ ≠ 0 (both signs): the tilted measure is N(0, (K⁻¹+2Ĉ)⁻¹).
    n = 5
    K = _K(n, 0)
    B = np.random.default_rng(1).standard_normal((n, n))
    Chat = 0.05 * (B + B.T)
    assert np.linalg.eigvalsh(np.linalg.inv(K) + 2 * Chat).min() > 0.2  # well inside the normalisable region
    exact = gaussian_moments(K, Chat)
    mm = mcmc_moments(K, Chat, phi="linear", n_chains=32, n_samples=300, burn_in=300, seed=3)
    # chains are independent: |error|/s.e. is ~N(0,1); 25 entries → max below 5 s.e. with prob > 0.9999
    z = np.abs(mm.phiphi - exact) / mm.phiphi_sem
    assert z.max() < 5.0, z.max()
    assert mm.acceptance > 0.6


def test_mcmc_untilted_erf_matches_arcsine_kernel():
    n = 4
    K = _K(n, 2)
    exact = np.asarray(kernel_map("erf", K))
    mm = mcmc_moments(K, np.zeros((n, n)), phi="erf", n_chains=32, n_samples=300, burn_in=100, seed=4)
    z = np.abs(mm.phiphi - exact) / mm.phiphi_sem
    assert z.max() < 5.0, z.max()
    np.testing.assert_allclose(mm.hh, K, atol=6 * mm.hh_sem.max())
