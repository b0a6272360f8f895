"""Saddle point of the unified muP mean-field theory of DNNs and RNNs (issue #3, conventions §7).

- :func:`solve` — matrix-free Newton–Krylov on the saddle-point equations → :class:`Solution`.
- :func:`follow_branch` / :func:`broken_branch` — continuation in the learning signal.
- :mod:`.linear_chain` — closed forms for linear endpoint chains (tests of the solver).
- :meth:`Solution.finite_width` / :func:`finite_width_correction` — the 1/N correction (linear φ), and
  :func:`exact_chain_moments` — the exact width-N posterior of the linear chain (docs/theory/finite_width.md).
- :mod:`.single_neuron` — moments of the non-Gaussian single-neuron measure (importance sampling
  and blackjax HMC with Monte-Carlo errors).
"""
from .continuation import broken_branch, follow_branch
from .dnn import solve_dnn
from .exact_chain import ChainMoments, exact_chain_moments
from .finite_width import FiniteWidth, FiniteWidthWarning, finite_width_correction
from .rnn import memory_estimate, problem_from_task, saddle_residual, solve
from .solution import Diagnostics, Solution, order_parameter

__all__ = ["ChainMoments", "Diagnostics", "FiniteWidth", "FiniteWidthWarning", "Solution", "broken_branch",
           "exact_chain_moments", "finite_width_correction", "follow_branch", "order_parameter",
           "memory_estimate", "problem_from_task", "saddle_residual", "solve", "solve_dnn"]
