"""The depth-muP ResNet in the shared vocabulary (issue #18): ``priors=`` on its entry points, and its data
through the shared Task adapter (``Task.from_static`` / ``Task.static``). Equalities are exact
(np.array_equal): the new spelling must give the numbers of the old one."""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fltheory  # noqa: F401  (float64)
from fltheory import FLTheoryInputError, Priors
from fltheory.depth import (RegressionTask, ResNetConfig, as_regression_task, depth_ode_kernel, forward, init_params,
                            input_kernel, recursion_kernel, solve_nfd, teacher_task, train)
from fltheory.tasks import Task, parity_task, sequential_task

X = np.random.default_rng(0).standard_normal((4, 3))


def test_resnet_config_takes_priors_with_the_same_network():
    """ResNetConfig(priors=pr) is the config of the names (equal, same hash: the same jit cache entry) and
    draws the same network; kappa is unused (gradient descent); replace() keeps the resolved priors."""
    pr = Priors(gu2=1.7, gw2=0.6, kappa=0.05)
    new = ResNetConfig(N=4, L=2, D=3, phi="erf", arch="dnn", a=0.8, priors=pr)
    old = ResNetConfig(N=4, L=2, D=3, phi="erf", arch="dnn", a=0.8, gu2=1.7, gw2=0.6)
    assert new == old and hash(new) == hash(old) and (new.gu2, new.gw2) == (1.7, 0.6)
    assert ResNetConfig(N=4, L=2, D=3) == ResNetConfig(N=4, L=2, D=3, gu2=1.0, gw2=1.0)  # defaults unchanged
    key = jax.random.PRNGKey(2)
    (pa, fa), (pb, fb) = init_params(key, new), init_params(key, old)
    assert all(np.array_equal(pa[k], pb[k]) for k in pa)
    Xj = jnp.asarray(X, jnp.float32)
    assert np.array_equal(forward(pa, fa, Xj, new), forward(pb, fb, Xj, old))
    assert dataclasses.replace(new, arch="mup_resnet").gu2 == 1.7


def test_kernels_take_priors_with_the_same_numbers():
    pr = Priors(gu2=1.3)
    assert np.array_equal(input_kernel(X, priors=pr), input_kernel(X, 1.3))
    assert np.array_equal(recursion_kernel(X, "erf", 0.8, 3, priors=pr), recursion_kernel(X, "erf", 0.8, 3, 1.3))
    a = depth_ode_kernel(X[:2], "linear", 0.7, ts=(1.0,), priors=pr).Sigma
    b = depth_ode_kernel(X[:2], "linear", 0.7, 1.3, ts=(1.0,)).Sigma
    assert np.array_equal(a, b)


@pytest.mark.parametrize("call, names", [
    (lambda pr: ResNetConfig(N=4, L=2, D=3, gu2=1.0, priors=pr), "gu2"),
    (lambda pr: ResNetConfig(N=4, L=2, D=3, gu2=1.0, gw2=2.0, priors=pr), "gu2, gw2"),
    (lambda pr: input_kernel(X, 1.0, priors=pr), "gu2"),
    (lambda pr: recursion_kernel(X, "erf", 1.0, 2, 1.0, priors=pr), "gu2"),
    (lambda pr: depth_ode_kernel(X, "erf", 1.0, 1.0, priors=pr), "gu2"),
    (lambda pr: solve_nfd(RegressionTask(X, X[:, 0], X, X[:, 0]), gw2=1.0, priors=pr), "gw2"),
])
def test_a_name_beside_priors_is_one_error_naming_priors(call, names, rejected):
    rejected(lambda: call(Priors()), "priors")
    with pytest.raises(FLTheoryInputError, match=f"^priors: pass either priors or {names}, not both"):
        call(Priors())


def test_a_hidden_variance_in_priors_is_rejected_not_ignored(rejected):
    """The hidden weights are N(0, 1) times the branch multiplier a: a g2 != 1 in priors is an error (never
    silently dropped); a non-Priors object is one error naming priors."""
    with pytest.raises(FLTheoryInputError, match=r"^priors: g2 = 2, .*branch multiplier a"):
        ResNetConfig(N=4, L=2, D=3, priors=Priors(g2=2.0))
    rejected(lambda: solve_nfd(RegressionTask(X, X[:, 0], X, X[:, 0]), priors=Priors(g2=0.5)), "priors")
    rejected(lambda: input_kernel(X, priors={"gu2": 1.0}), "priors")


def test_teacher_task_goes_through_the_task_adapter_unchanged():
    """teacher_task builds a one-step Task and reads it back: the arrays (values and dtype) are the
    teacher's draws exactly as built before the adapter, and .to_task() / from_task round-trip."""
    key = jax.random.PRNGKey(5)
    t = teacher_task(key, P=6, P_test=4, D=5, K=3)
    kt, kv, kx, kxt = jax.random.split(key, 4)  # the teacher of fltheory.depth.data, by hand
    u = jnp.sqrt(2.0) * jax.random.normal(kt, (3, 5), jnp.float32)
    v = jax.random.normal(kv, (3,), jnp.float32)
    Xh, Xth = jax.random.normal(kx, (6, 5), jnp.float32), jax.random.normal(kxt, (4, 5), jnp.float32)
    teach = lambda A: jnp.tanh(A @ u.T / jnp.sqrt(5)) @ v / jnp.sqrt(3)  # noqa: E731
    y, yt = teach(Xh), teach(Xth)
    s = jnp.sqrt(jnp.mean(y**2))
    for got, want in ((t.X, Xh), (t.y, y / s), (t.X_test, Xth), (t.y_test, yt / s)):
        assert got.dtype == jnp.float32 and np.array_equal(got, want)
    shared = t.to_task()
    assert isinstance(shared, Task) and (shared.P, shared.T, shared.D, shared.O) == (6, 1, 5, 1)
    back = RegressionTask.from_task(shared, jnp.float32)
    assert all(np.array_equal(getattr(back, f), getattr(t, f)) for f in ("X", "y", "X_test", "y_test"))


def test_depth_training_reads_a_shared_task_through_the_adapter(rejected):
    """train (and solve_nfd, train_record) take a one-step shared Task: the same losses as its RegressionTask
    view; a sequence task or one with several outputs is one error naming T or task."""
    task = parity_task(d=3, k=2, P=4, P_test=2, seed=1)
    cfg = ResNetConfig(N=4, L=1, D=3, phi="erf")
    key = jax.random.PRNGKey(0)
    a = train(key, cfg, task, steps=1, lr=0.1)
    b = train(key, cfg, RegressionTask.from_task(task), steps=1, lr=0.1)
    assert all(np.array_equal(a[k], b[k]) for k in ("train_loss", "test_loss"))
    assert as_regression_task(b) is b
    seq = sequential_task(teacher="lds", P=3, P_test=2, T=2, D=2, mask="every_other", n_state=2, rho=0.9, seed=0)
    rejected(lambda: RegressionTask.from_task(seq), "T")
    two = Task.from_static(X, np.ones((4, 2)), X, np.ones((4, 2)))
    rejected(lambda: solve_nfd(two), "task")
    rejected(lambda: RegressionTask.from_task("digits"), "task")
