"""Langevin sampler against an exactly known posterior: Bayesian linear regression.

Energy E(θ) = β/2 ‖y − Xθ‖² + ‖θ‖²/(2σ²): posterior N(μ, Σ), Σ = (βXᵀX + I/σ²)⁻¹, μ = βΣXᵀy.
Euler–Maruyama with step η has an exactly Gaussian stationary law with mean μ and covariance
Σ_η = Σ (I − ηΣ⁻¹/2)⁻¹; with η = 0.02/λ_max(Σ⁻¹) the relative bias is ≤ 1 %.
"""
import jax
import jax.numpy as jnp
import numpy as np

import fltheory  # noqa: F401
from fltheory.sampling import gaussian_prior_energy, langevin, run_chains


def _problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 3))
    y = X @ np.array([0.5, -1.0, 2.0]) + 0.3 * rng.standard_normal(12)
    beta, s2 = 2.0, 1.5
    A = beta * X.T @ X + np.eye(3) / s2
    Sigma = np.linalg.inv(A)
    mu = beta * Sigma @ X.T @ y
    return X, y, beta, s2, A, Sigma, mu


def test_langevin_reproduces_exact_posterior():
    X, y, beta, s2, A, Sigma, mu = _problem()
    energy = lambda th: 0.5 * beta * jnp.sum((y - X @ th) ** 2) + gaussian_prior_energy(th, s2)
    lam_max, lam_min = np.linalg.eigvalsh(A)[[-1, 0]]
    eta = 0.02 / lam_max
    tau = int(1.0 / (eta * lam_min))  # slowest relaxation time in steps
    init, step = langevin(energy, eta)
    chains = 512
    keys = jax.random.split(jax.random.PRNGKey(0), chains)
    states = jax.vmap(init)(jnp.zeros((chains, 3)), keys)
    _, obs = run_chains(step, states, lambda th: th, n_samples=8, thin=2 * tau, burn_in=6 * tau,
                        progress=False)
    samples = obs.reshape(-1, 3)  # 4096 draws, nearly independent (spacing 2τ)
    n = len(samples)
    emp_mu = samples.mean(0)
    emp_cov = np.cov(samples.T)
    # mean: the Euler chain is unbiased for a linear drift; compare within 4 standard errors
    se_mu = np.sqrt(np.diag(Sigma) / n) * np.sqrt(1 + 2 * np.exp(-2))  # spacing-2τ autocorrelation
    assert np.all(np.abs(emp_mu - mu) < 4 * se_mu), (emp_mu, mu)
    # covariance: SE of a sample covariance entry is sqrt((Σ_ii Σ_jj + Σ_ij²)/n)
    se_cov = np.sqrt((np.outer(np.diag(Sigma), np.diag(Sigma)) + Sigma**2) / n) * 1.2
    bias = np.abs(Sigma @ np.linalg.inv(np.eye(3) - eta * A / 2) - Sigma)
    assert np.all(np.abs(emp_cov - Sigma) < 4 * se_cov + bias), (emp_cov, Sigma)
    assert bias.max() < 0.011 * np.abs(Sigma).max()
