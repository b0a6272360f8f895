"""Single-index Gaussian teacher: x ~ N(0, I_d), y = He_q(v·x)/√q! (normalised Hermite link).

The teacher direction v is uniform on the ``relevant`` coordinates (‖v‖ = 1), so that the ARD
precisions of relevant and irrelevant coordinates can be compared. E[y²] = 1.
"""
from __future__ import annotations

import numpy as np

from .._validate import FLTheoryInputError, positive_int
from ..tasks.base import Task, register_task
from .features import SingleIndexOverlaps


@register_task("single_index")
def single_index_task(d: int = 20, degree: int = 2, P: int = 256, P_test: int = 1024, relevant=None,
                      seed: int = 0) -> Task:
    """Single-index task shaped ``X[P, 1, d]``, ``Y[P, 1, 1]`` (default support: coordinate 0), built from
    the feed-forward arrays with :meth:`~fltheory.tasks.Task.from_static` (``task.static()`` gives them back)."""
    d, degree, P, P_test = (positive_int(n, v) for n, v in
                            (("d", d), ("degree", degree), ("P", P), ("P_test", P_test)))
    S = [0] if relevant is None else [int(j) for j in relevant]
    if not S or len(set(S)) != len(S) or min(S) < 0 or max(S) >= d:
        raise FLTheoryInputError(f"relevant: expected distinct coordinates in [0, {d}), got {relevant}")
    model = SingleIndexOverlaps(d, tuple(S), degree=degree, n_max=max(degree, 1))
    rng = np.random.default_rng(seed)
    x = model.sample_inputs(P + P_test, rng)
    y = model.target(x)
    config = dict(kind="single_index", d=d, degree=degree, P=P, P_test=P_test, relevant=S, seed=seed)
    return Task.from_static(x[:P], y[:P], x[P:], y[P:], config=config)
