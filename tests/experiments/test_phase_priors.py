"""The phase experiment's prior handling (issue #18): one resolver (_theory_kw) for every entry point,
priors= on the sweep point functions with the numbers of the four names, and a name beside priors is one
error naming priors."""
import numpy as np
import pytest

from fltheory import FLTheoryInputError, Priors
from fltheory.experiments.phase import (DEFAULT_THEORY, _theory_kw, check_transition, phase_point,
                                        transition_point)


def test_one_resolver_is_idempotent_and_keeps_the_defaults():
    pr = Priors(g2=0.8, kappa=0.2)
    kw = _theory_kw(pr, {"phi": "linear", "tol": 1e-9})
    assert kw == {**DEFAULT_THEORY, "tol": 1e-9, **pr.as_dict()}
    assert _theory_kw(None, kw) == kw  # passing the resolved dict on resolves to itself
    assert _theory_kw(None, {}) == DEFAULT_THEORY
    assert _theory_kw(None, {"kappa": 0.3}) == {**DEFAULT_THEORY, "kappa": 0.3}
    with pytest.raises(FLTheoryInputError, match="^priors: pass either priors or g2, kappa, not both"):
        _theory_kw(pr, {"g2": 1.0, "kappa": 0.1})
    with pytest.raises(FLTheoryInputError, match="^gw2: must be > 0"):
        _theory_kw(None, {"gw2": -1.0})


def test_phase_point_takes_priors_with_the_same_numbers():
    a = phase_point(signal=1.5, arch="dnn", P=2, P_test=2, T=2, D=2, priors=Priors(gu2=1.2, kappa=0.3))
    b = phase_point(signal=1.5, arch="dnn", P=2, P_test=2, T=2, D=2, gu2=1.2, kappa=0.3)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)
    with pytest.raises(FLTheoryInputError, match="^priors: pass either priors or kappa, not both"):
        phase_point(signal=1.5, arch="dnn", priors=Priors(), kappa=0.1)


def test_transition_point_takes_priors_or_kappa_not_both():
    check_transition(T=3, P=4, D=6, y_max=6.0, n_grid=12)  # kappa defaults (0.1, DEFAULT_THEORY)
    with pytest.raises(FLTheoryInputError, match="^kappa: must be > 0"):
        check_transition(T=3, P=4, D=6, kappa=0.0, y_max=6.0, n_grid=12)
    with pytest.raises(FLTheoryInputError, match="^priors: pass either priors or kappa, not both"):
        transition_point(kappa=0.2, priors=Priors(kappa=0.2))
