"""Saddle point of the unified muP mean-field theory of DNNs and RNNs (issue #3, conventions §7).

- :func:`solve` — matrix-free Newton–Krylov on the saddle-point equations → :class:`Solution`.
- :func:`follow_branch` / :func:`broken_branch` — continuation in the learning signal.
- :mod:`.linear_chain` — closed forms for linear endpoint chains (tests of the solver).
- :mod:`.single_neuron` — moments of the non-Gaussian single-neuron measure (importance sampling
  and blackjax HMC with Monte-Carlo errors).
"""
from .continuation import broken_branch, follow_branch
from .dnn import solve_dnn
from .rnn import memory_estimate, problem_from_task, saddle_residual, solve
from .solution import Diagnostics, Solution, order_parameter

__all__ = ["Diagnostics", "Solution", "broken_branch", "follow_branch", "order_parameter",
           "memory_estimate", "problem_from_task", "saddle_residual", "solve", "solve_dnn"]
