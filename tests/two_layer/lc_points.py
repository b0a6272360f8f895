"""Learning-curve points of the training-set (empirical) MF / MF-ARD of issue #14 on the data SGLD sees.

Lives with the tests because ``fltheory.two_layer`` (a theory package) may not import
``fltheory.experiments`` (docs/architecture.md, tests/test_layering.py); the natural home is a
``mf_emp`` / ``mf_ard_emp`` method of :func:`fltheory.experiments.learning_curve.learning_curve_point`
(proposed in the issue #14 note). Used by tests/two_layer/conftest.py and the measurement scripts of
the issue note (``sys.path.insert(0, "tests/two_layer")``).
"""
from __future__ import annotations

import numpy as np

from fltheory import FLTheoryInputError
from fltheory._validate import positive_int
from fltheory.two_layer.ard import ard_update
from fltheory.two_layer.empirical import solve_empirical_mf

EMPIRICAL_METHODS = ("mf_emp", "mf_ard_emp")


def empirical_point(*, P: int, method: str, seed: int = 0, init: str = "prior", **kw) -> dict[str, float]:
    """One learning-curve point of the training-set theory, on the very data SGLD sees.

    Same data (:func:`fltheory.experiments.learning_curve.make_data`, same ``seed``), same config
    fields and the same returned observables as
    :func:`~fltheory.experiments.learning_curve.learning_curve_point`; ``method`` is ``mf_emp``
    or ``mf_ard_emp``. ``m_target``/``test_mse`` are measured on the held-out test inputs with
    the estimator used for SGLD. ``init="aligned"`` starts the iteration from ⟨f⟩ = y on the training set
    instead of ⟨f⟩ = 0 (the weights start from the prior either way); ``readout`` (``independent`` |
    ``joint``), ``n_avg``, ``min_iter``, ``tol``, ``damping``, ``stats_every`` go to the solver. Extra outputs: ``train_mse``,
    ``m_target_se`` (Monte Carlo, from the spread of the fixed-point iterates), ``n_iter``.
    """
    from fltheory._validate import choice
    from fltheory.experiments.learning_curve import (SIZES, LearningCurveConfig, _coefficients, _w2_summary,
                                                     make_data)

    P = positive_int("P", P)
    method = choice("method", method, EMPIRICAL_METHODS)
    init = choice("init", init, ("prior", "aligned"))
    size = choice("size", kw.pop("size", "default"), tuple(SIZES))
    solver_kw = {k: kw.pop(k) for k in ("n_avg", "min_iter", "tol", "damping", "stats_every", "symmetrize", "readout")
                 if k in kw}
    unknown = set(kw) - set(LearningCurveConfig.__dataclass_fields__)
    if unknown:
        raise FLTheoryInputError(f"{sorted(unknown)[0]}: unknown parameter of empirical_point")
    cfg = LearningCurveConfig(**{**SIZES[size], **kw})
    X, Y, Xt, Yt = make_data(cfg, P, seed)
    res = solve_empirical_mf(X, Y, N=cfg.N, kappa2=cfg.kappa2, gamma=cfg.gamma, sa2=cfg.sa2, sw2=cfg.sw2,
                             phi=cfg.phi, ard=(method == "mf_ard_emp"), a0=cfg.a0, b0=cfg.b0, X_test=Xt,
                             relevant=cfg.relevant, n_chains=cfg.mf_chains, steps_per_iter=cfg.steps_per_iter,
                             max_iter=cfg.max_iter, seed=seed, init_f=Y if init == "aligned" else None,
                             throw=False, **solver_kw)
    m_t, off = _coefficients(cfg, res.f_test, Xt)
    rho = res.rho if method == "mf_ard_emp" else ard_update(res.w2, cfg.N, cfg.a0, cfg.b0)
    # Monte-Carlo error of m_S: the test predictor is linear in the training residual, so its
    # spread is that of the training-set overlap q = ⟨f⟩·y/‖y‖² over the last iterates
    q = np.array(res.diagnostics.history[-20:])
    return dict(test_mse=float(np.mean((res.f_test - Yt) ** 2)), m_target=m_t, m_off=off,
                m_target_se=float(q.std() / np.sqrt(len(q))), train_mse=float(np.mean((res.f_train - Y) ** 2)),
                converged=float(res.converged), n_iter=float(res.n_iter), **_w2_summary(cfg, res.w2, rho))
