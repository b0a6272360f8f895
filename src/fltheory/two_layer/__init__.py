"""Two-layer network, issue #5: NNGP-KRR, mean-field (MF) and MF-ARD theories vs SGLD.

See docs/theory/two_layer.md for the derivation and conventions §9 for the scalings.
"""
from .ard import ard_update, relevance_ratio, symmetrize_groups
from .empirical import EmpiricalMFResult, solve_empirical_mf, solve_empirical_mf_ard
from .features import ParityOverlaps, SingleIndexOverlaps, check_cube, cube_kernel_eigenvalue, walsh
from .mean_field import MFResult, kernel_limit_coefficients, solve_mean_field, solve_mf_ard
from .nngp import nngp_kernel, nngp_parity_population, nngp_regression
from .sgld import READOUT_UPDATES, SGLDResult, gibbs_sampler, relaxation_diagnostics, run_sgld, sample_readout
from .single_index import single_index_task

__all__ = [
    "EmpiricalMFResult", "MFResult", "ParityOverlaps", "READOUT_UPDATES", "SGLDResult", "SingleIndexOverlaps",
    "ard_update", "check_cube", "cube_kernel_eigenvalue", "gibbs_sampler", "kernel_limit_coefficients",
    "nngp_kernel", "nngp_parity_population", "nngp_regression", "relaxation_diagnostics", "relevance_ratio",
    "run_sgld", "sample_readout", "single_index_task", "solve_empirical_mf", "solve_empirical_mf_ard",
    "solve_mean_field", "solve_mf_ard", "symmetrize_groups", "walsh",
]
