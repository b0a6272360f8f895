"""Tasks with named shapes: ``X[P, T, D]``, ``Y[P, T, O]``, mask ``M[P, T]`` (conventions §1).

Every task is built from a plain config dict (``make_task(**cfg)``) and serialises back to it
(``task.to_config()``); train and test splits come from ``seed``. Feed-forward data (``X[P, D]``, the
two-layer and depth modules' arrays) enters as a one-step task with :meth:`Task.from_static` and leaves
with :meth:`Task.static`.
"""
from .base import StaticArrays, Task, make_task, register_task
from .endpoint import endpoint_task
from .parity import parity_task
from .sequential import make_mask, sequential_task

__all__ = ["StaticArrays", "Task", "endpoint_task", "make_mask", "make_task", "parity_task", "register_task", "sequential_task"]
