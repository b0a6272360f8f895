"""Bad input gives one clear error naming the parameter."""
import numpy as np
import pytest

import fltheory
from fltheory import FLTheoryInputError
from fltheory.kernels import nngp_kernels, nngp_predict
from fltheory.models import RecurrentNet
from fltheory.sampling import sample_posterior
from fltheory.tasks import Task, endpoint_task, make_task, sequential_task


def test_unknown_activation_named():
    with pytest.raises(FLTheoryInputError, match=r"^phi: unknown activation 'softsign'"):
        RecurrentNet(N=8, D=2, T=2, phi="softsign")
    with pytest.raises(FLTheoryInputError, match=r"^phi:"):
        fltheory.get_activation(42)


@pytest.mark.parametrize("name", ["g2", "gu2", "gw2"])
def test_negative_variance_named(name):
    with pytest.raises(FLTheoryInputError, match=rf"^{name}: must be > 0"):
        RecurrentNet(N=8, D=2, T=2, **{name: -1.0})


def test_negative_temperature_named():
    task = endpoint_task(P=2, P_test=2, T=2, D=2)
    with pytest.raises(FLTheoryInputError, match=r"^kappa: must be > 0"):
        nngp_predict(task, kappa=-0.1)
    with pytest.raises(FLTheoryInputError, match=r"^kappa:"):
        sample_posterior(RecurrentNet(N=8, D=2, T=2), task, kappa=0.0, progress=False)


def test_wrong_shapes_named():
    X, Y, M = np.zeros((3, 2, 4)), np.zeros((3, 2, 1)), np.ones((3, 2))
    with pytest.raises(FLTheoryInputError, match=r"^X: expected 3 dimensions"):
        Task(np.zeros((3, 4)), Y, M, X, Y, M)
    with pytest.raises(FLTheoryInputError, match=r"^Y: expected shape \[3, 2, O\]"):
        Task(X, np.zeros((3, 5, 1)), M, X, Y, M)
    with pytest.raises(FLTheoryInputError, match=r"^M: expected shape"):
        Task(X, Y, np.ones((3, 3)), X, Y, M)
    with pytest.raises(FLTheoryInputError, match=r"^X: expected shape \[P, 2, 5\]"):
        RecurrentNet(N=8, D=5, T=2).apply(RecurrentNet(N=8, D=5, T=2).init(__import__("jax").random.PRNGKey(0)), X)
    with pytest.raises(FLTheoryInputError, match=r"^X: expected 3 dimensions"):
        nngp_kernels(np.zeros((3, 4)))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_inf_named(bad):
    X, Y, M = np.zeros((3, 2, 4)), np.zeros((3, 2, 1)), np.ones((3, 2))
    Xb = X.copy(); Xb[0, 0, 0] = bad
    Yb = Y.copy(); Yb[1, 1, 0] = bad
    with pytest.raises(FLTheoryInputError, match=r"^X: contains NaN or inf"):
        Task(Xb, Y, M, X, Y, M)
    with pytest.raises(FLTheoryInputError, match=r"^Y: contains NaN or inf"):
        Task(X, Yb, M, X, Y, M)
    with pytest.raises(FLTheoryInputError, match=r"^X: contains NaN or inf"):
        nngp_kernels(Xb)


def test_task_parameters_named():
    with pytest.raises(FLTheoryInputError, match=r"^teacher:"):
        endpoint_task(teacher="cubic")
    with pytest.raises(FLTheoryInputError, match=r"^mask:"):
        sequential_task(mask="sometimes")
    with pytest.raises(FLTheoryInputError, match=r"^D:"):
        sequential_task(teacher="flipflop", D=3)
    with pytest.raises(FLTheoryInputError, match=r"^kind:"):
        make_task(kind="imagenet")
    with pytest.raises(FLTheoryInputError, match=r"^M: must contain only 0 and 1"):
        X, Y = np.zeros((2, 2, 1)), np.zeros((2, 2, 1))
        Task(X, Y, np.full((2, 2), 0.5), X, Y, np.ones((2, 2)))
