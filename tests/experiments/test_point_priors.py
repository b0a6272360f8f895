"""priors= on the nngp-depth and learning-curve sweep point functions (issue #18): the numbers of the
module's own names, and a name beside priors is one error naming priors."""
import numpy as np
import pytest

from fltheory import FLTheoryInputError, Priors
from fltheory.experiments.learning_curve import learning_curve_point
from fltheory.experiments.nngp_depth import nngp_depth_point

NKW = dict(depth=2, P=8, P_test=8, D=4, width=0, seed=1)


def test_nngp_depth_point_takes_priors_with_ridge_as_kappa():
    pr = Priors(g2=2.0, gu2=1.2, gw2=0.8, kappa=1e-2)
    a = nngp_depth_point(priors=pr, **NKW)
    b = nngp_depth_point(g2=2.0, gu2=1.2, gw2=0.8, ridge=1e-2, **NKW)
    assert a == b
    for extra, name in (({"ridge": 1e-3}, "ridge"), ({"g2": 1.0}, "g2")):
        with pytest.raises(FLTheoryInputError, match=f"^priors: pass either priors or {name}"):
            nngp_depth_point(priors=pr, **extra, **NKW)
    with pytest.raises(FLTheoryInputError, match="^g2: required"):
        nngp_depth_point(**NKW)


def test_learning_curve_point_takes_priors_in_the_two_layer_names():
    pr = Priors(gu2=1.5, gw2=0.7, kappa=0.2)
    kw = dict(P=20, method="nngp", size="small", d=6, k=2, P_test=16, seed=0)
    a = learning_curve_point(priors=pr, **kw)
    b = learning_curve_point(**pr.two_layer(N=64, gamma=0.5), **kw)  # the small preset: N = 64, NTK (γ = ½)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    with pytest.raises(FLTheoryInputError, match="^priors: pass either priors or kappa2, not both"):
        learning_curve_point(priors=pr, kappa2=0.1, **kw)


def test_sequential_point_takes_priors_with_its_defaults():
    from fltheory.experiments.sequential import DEFAULT_PRIORS, sequential_point

    kw = dict(arch="dnn", P=2, T=2, D=2, P_test=4)
    a = sequential_point(priors=Priors(g2=0.7, kappa=0.1), **kw)
    b = sequential_point(g2=0.7, gu2=1.0, gw2=1.0, kappa=0.1, **kw)
    assert np.array_equal(a["per_step"], b["per_step"]) and a["err_sup"] == b["err_sup"]
    c = sequential_point(**kw)
    d = sequential_point(priors=DEFAULT_PRIORS, **kw)
    assert np.array_equal(c["per_step"], d["per_step"])
    with pytest.raises(FLTheoryInputError, match="^priors: pass either priors or g2, not both"):
        sequential_point(priors=DEFAULT_PRIORS, g2=0.5, **kw)
