"""Posterior sampling (Langevin) and plain gradient descent (conventions §5–§6)."""
from .gd import gradient_descent
from .langevin import LangevinState, gaussian_prior_energy, langevin, run_chains
from .posterior import PosteriorSamples, network_energy, sample_posterior

__all__ = [
    "LangevinState",
    "PosteriorSamples",
    "gaussian_prior_energy",
    "gradient_descent",
    "langevin",
    "network_energy",
    "run_chains",
    "sample_posterior",
]
