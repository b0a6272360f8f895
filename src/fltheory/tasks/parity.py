"""Boolean k-sparse parity: x ∈ {±1}^d, y = Π_{j∈S} x_j."""
from __future__ import annotations

import numpy as np

from .._validate import FLTheoryInputError, positive_int
from .base import Task, register_task


@register_task("parity")
def parity_task(d: int = 20, k: int = 3, P: int = 256, P_test: int = 1024, relevant=None,
                seed: int = 0) -> Task:
    """k-sparse parity on the Boolean cube, shaped ``X[P, 1, d]``, ``Y[P, 1, 1]``.

    ``relevant`` is the support S (default: the first k coordinates), stored in the config.
    """
    d, k, P, P_test = (positive_int(n, v) for n, v in (("d", d), ("k", k), ("P", P), ("P_test", P_test)))
    if k > d:
        raise FLTheoryInputError(f"k: must be <= d = {d}, got {k}")
    S = list(range(k)) if relevant is None else [int(j) for j in relevant]
    if len(S) != k or len(set(S)) != k or min(S) < 0 or max(S) >= d:
        raise FLTheoryInputError(f"relevant: expected {k} distinct coordinates in [0, {d}), got {relevant}")
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], size=(P + P_test, d))
    y = np.prod(x[:, S], axis=1)
    config = dict(kind="parity", d=d, k=k, P=P, P_test=P_test, relevant=S, seed=seed)
    return Task.from_static(x[:P], y[:P], x[P:], y[P:], config=config)
