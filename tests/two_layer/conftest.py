"""Shared, session-cached learning-curve points of the small two-layer instance (d = 12, k = 4, N = 64,
κ² = 0.1; ``size="small"``), so that the SGLD runs are paid once per test session."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def small_point():
    """``small_point(method, P, seed=0, **kw)``: a cached :func:`learning_curve_point` (sgld, nngp, mf,
    mf_ard, and the training-set ``mf_emp`` / ``mf_ard_emp`` with ``readout=``) of the ``small`` preset."""
    from fltheory.experiments.learning_curve import learning_curve_point

    cache = {}

    def get(method, P, seed=0, **kw):
        key = (method, P, seed, tuple(sorted(kw.items())))
        if key not in cache:
            cache[key] = learning_curve_point(P=P, method=method, seed=seed, size="small", **kw)
        return cache[key]

    return get
