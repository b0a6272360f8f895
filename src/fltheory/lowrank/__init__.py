"""Low-rank RNN learning dynamics in overlap space (issue #6; theory: docs/theory/lowrank.md).

Modules: :mod:`.overlaps` (Σ bookkeeping, visible/invisible split, conserved quantity),
:mod:`.gain` (φ and G(Δ)), :mod:`.tasks`, :mod:`.effective` (reduced RNN, L(Σ)),
:mod:`.network` (full N-dimensional network, GD / Adam), :mod:`.dynamics` (overlap ODE and map,
returning an :class:`OverlapTrajectory` with the common ``diagnostics``),
:mod:`.compare` (theory vs simulation runner), :mod:`.memory` (A-B-A-B-A memory protocol, decoding with
confidence intervals, regime map),
:mod:`.twins` (equal visible, different invisible overlaps), :mod:`.optimizers` (the conservation law
under flow, GD and Adam), :mod:`.figures`.
"""
from .compare import compare, degenerate_partner
from .dynamics import OverlapTrajectory, overlap_dynamics, overlap_velocity, symmetric_gradient
from .effective import Rollout, effective_rollout, make_overlap_loss
from .gain import get_lowrank_activation
from .memory import (decode_history, memory_dataset, memory_map, memory_protocol, memory_regime_map, memory_schedule,
                     network_memory_check, run_schedule)
from .network import Vectors, init_vectors, network_loss, network_rollout, train_network, vectors_with_gram
from .optimizers import optimizer_comparison
from .overlaps import Layout, conserved_quantity, gram
from .tasks import (READOUTS, Batch, Task, damped_oscillation, decision_making, flip_flop, impulse_response,
                    random_teacher_gram, teacher_student)
from .twins import twins

__all__ = [
    "READOUTS", "Batch", "Layout", "OverlapTrajectory", "Rollout", "Task", "Vectors", "compare",
    "conserved_quantity", "damped_oscillation", "decision_making", "decode_history", "degenerate_partner",
    "effective_rollout", "flip_flop", "get_lowrank_activation", "gram", "impulse_response", "init_vectors",
    "make_overlap_loss", "memory_dataset", "memory_map", "memory_protocol", "memory_regime_map", "memory_schedule",
    "network_loss", "network_memory_check", "network_rollout",
    "optimizer_comparison", "overlap_dynamics", "overlap_velocity", "random_teacher_gram", "run_schedule",
    "symmetric_gradient", "teacher_student", "train_network", "twins", "vectors_with_gram",
]
