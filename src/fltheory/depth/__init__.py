"""Depth-muP ResNets: infinite-depth kernel ODE and the reused-backward-weight question (issue #7).

Conventions: docs/conventions.md §11. Theory: docs/theory/depth.md.

- :mod:`.model` — the network (pure ``init_params`` / ``forward``), three architectures.
- :mod:`.backward` — ``jax.custom_vjp`` product whose backward pass uses W̃ = W̃(0) + ΔW.
- :mod:`.kernel_ode` — depth ODE for the kernel at initialisation (a :class:`DepthKernel` with
  ``diagnostics``), its Euler recursion, Monte Carlo.
- :mod:`.tangent` — infinite-width first-step kernels of the reused and decoupled modes.
- :mod:`.training` — full-batch GD with either backward mode; feature–gradient covariance.
- :mod:`.data` — the synthetic regression task; :class:`RegressionTask` is the feed-forward view of a
  one-step :class:`fltheory.tasks.Task` (``RegressionTask.from_task`` / ``.to_task()``).
- :mod:`.experiments`, :mod:`.plots` — the experiments of issues #7 and #15 (gap, gap scaling).
- :mod:`.fig2` — the seed paper's Fig. 2 analogue on scikit-learn's digits.
- :mod:`.nfd` — the NFD (N → ∞ then L → ∞ limit of GD training), :func:`solve_nfd` → :class:`NFDResult`;
  :mod:`.nfd_convergence` — finite network → NFD against N and L.
"""
from .backward import decoupled_matmul
from .data import RegressionTask, as_regression_task, teacher_task
from .experiments import covariance_experiment, gap_experiment, gap_scaling_experiment, kernel_experiment, train_pairs
from .fig2 import digits_task, fig2_experiment
from .kernel_ode import DepthKernel, depth_ode_kernel, empirical_kernels, input_kernel, recursion_kernel
from .model import ARCHS, MODES, ResNetConfig, forward, init_params
from .nfd import NFDResult, solve_nfd
from .nfd_convergence import (COUPLING_PARTS, coupling_count_experiment, coupling_count_network,
                              coupling_count_theory, nfd_convergence_experiment, train_record)
from .tangent import deriv_kernel_map, empirical_tangent_kernels, linearised_losses, tangent_kernels
from .training import feature_gradient_covariance, train

__all__ = [
    "ARCHS", "DepthKernel", "MODES", "RegressionTask", "ResNetConfig", "as_regression_task", "covariance_experiment",
    "decoupled_matmul",
    "depth_ode_kernel", "deriv_kernel_map", "empirical_kernels", "empirical_tangent_kernels",
    "feature_gradient_covariance", "forward", "gap_experiment", "init_params", "input_kernel",
    "kernel_experiment", "linearised_losses", "recursion_kernel", "tangent_kernels", "teacher_task", "train",
    "NFDResult", "nfd_convergence_experiment", "solve_nfd", "train_record",
    "COUPLING_PARTS", "coupling_count_experiment", "coupling_count_network", "coupling_count_theory",
    "digits_task", "fig2_experiment", "gap_scaling_experiment", "train_pairs",
]
