"""Two-layer network, issue #5: NNGP-KRR, mean-field (MF) and MF-ARD theories vs SGLD.

See docs/theory/two_layer.md for the derivation and conventions §9 for the scalings.
"""
from .ard import ard_update, relevance_ratio, symmetrize_groups
from .empirical import EmpiricalMFResult, solve_empirical_mf, solve_empirical_mf_ard
from .features import ParityOverlaps, SingleIndexOverlaps, check_cube, cube_kernel_eigenvalue, walsh
from .mean_field import MFResult, kernel_limit_coefficients, solve_mean_field, solve_mf_ard
from .nngp import nngp_kernel, nngp_parity_population, nngp_regression
from .sgld import SGLDResult, run_sgld
from .single_index import single_index_task

__all__ = [
    "EmpiricalMFResult", "MFResult", "ParityOverlaps", "SGLDResult", "SingleIndexOverlaps",
    "ard_update", "check_cube", "cube_kernel_eigenvalue", "kernel_limit_coefficients",
    "nngp_kernel", "nngp_parity_population", "nngp_regression", "relevance_ratio", "run_sgld",
    "single_index_task", "solve_empirical_mf", "solve_empirical_mf_ard", "solve_mean_field",
    "solve_mf_ard", "symmetrize_groups", "walsh",
]
