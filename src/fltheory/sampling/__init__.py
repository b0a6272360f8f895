"""Posterior sampling (Langevin, and Metropolis-adjusted Langevin as its unbiased referee) and plain
gradient descent (conventions §5–§6)."""
from .gd import gradient_descent
from .langevin import LangevinState, MALAState, gaussian_prior_energy, langevin, mala, run_chains
from .posterior import PosteriorSamples, network_energy, sample_posterior

__all__ = [
    "LangevinState",
    "MALAState",
    "PosteriorSamples",
    "gaussian_prior_energy",
    "gradient_descent",
    "langevin",
    "mala",
    "network_energy",
    "run_chains",
    "sample_posterior",
]
