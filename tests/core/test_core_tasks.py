"""Tasks: shapes, masks, teachers, seeds and config round trips."""
import numpy as np
import pytest

import fltheory  # noqa: F401
from fltheory.tasks import endpoint_task, make_mask, make_task, parity_task, sequential_task

BUILDERS = [
    lambda: endpoint_task(P=5, P_test=7, T=3, D=4, teacher="erf_net", seed=3),
    lambda: endpoint_task(P=4, P_test=4, T=2, D=8, inputs="orthogonal", seed=1),
    lambda: sequential_task(teacher="lds", mask="random", seed=2),
    lambda: sequential_task(teacher="flipflop", D=1, T=8, mask="first_last", seed=2),
    lambda: parity_task(d=10, k=3, P=20, P_test=30, seed=4),
]


@pytest.mark.parametrize("build", BUILDERS)
def test_config_round_trip_and_seed(build):
    task = build()
    again = make_task(**task.to_config())
    for name in ("X", "Y", "M", "X_test", "Y_test", "M_test"):
        np.testing.assert_array_equal(getattr(task, name), getattr(again, name))
    cfg = dict(task.to_config(), seed=task.config["seed"] + 1)
    assert not np.array_equal(make_task(**cfg).X, task.X)


def test_endpoint_structure():
    t = endpoint_task(P=6, P_test=3, T=4, D=5, seed=0)
    assert t.X.shape == (6, 4, 5) and t.Y.shape == (6, 4, 1) and t.M.shape == (6, 4)
    assert np.all(t.X[:, 1:] == 0) and np.all(t.M[:, :-1] == 0) and np.all(t.M[:, -1] == 1)
    assert np.all(t.Y[:, :-1] == 0)


def test_orthogonal_inputs_are_orthogonal():
    t = endpoint_task(P=3, P_test=3, T=2, D=8, inputs="orthogonal")
    x = np.concatenate([t.X, t.X_test])[:, 0]
    np.testing.assert_allclose(x @ x.T / 8, np.eye(6), atol=1e-12)


def test_sequential_teachers():
    rs = sequential_task(teacher="running_sum", D=1, T=5, P=3, P_test=1, mask="all")
    s = rs.X[:, :, 0]
    np.testing.assert_allclose(rs.Y[:, :, 0], np.cumsum(s, 1) / np.sqrt(np.arange(1, 6)))
    dc = sequential_task(teacher="delayed_copy", D=1, T=5, delay=2, P=3, P_test=1)
    np.testing.assert_allclose(dc.Y[:, 2:, 0], dc.X[:, :3, 0])
    # D > 1: the stream is one fixed projection of the inputs, s_t = u·x_t/√D
    proj = sequential_task(teacher="running_sum", D=4, T=3, P=12, P_test=1, mask="all", seed=3)
    s1 = proj.Y[:, 0, 0]  # = s_1
    u, *_ = np.linalg.lstsq(proj.X[:, 0], s1, rcond=None)
    np.testing.assert_allclose(proj.Y[:, :, 0], np.cumsum(proj.X @ u, 1) / np.sqrt(np.arange(1, 4)), atol=1e-10)
    ff = sequential_task(teacher="flipflop", D=1, T=12, P=4, P_test=1, pulse_prob=0.4, seed=5)
    for mu in range(4):
        last = 0.0
        for t in range(12):
            last = np.sign(ff.X[mu, t, 0]) if ff.X[mu, t, 0] != 0 else last
            assert ff.Y[mu, t, 0] == last


def test_lds_time_invariant_teacher_is_a_linear_recursion():
    t = sequential_task(teacher="lds", P=40, P_test=1, T=5, D=2, n_state=3, mask="all", seed=0)
    # y_t is linear in the inputs x_1..x_t with coefficients depending only on the lag t - s
    X = t.X.reshape(40, -1)
    coef, *_ = np.linalg.lstsq(X, t.Y[:, -1, 0], rcond=None)
    coef2, *_ = np.linalg.lstsq(X, t.Y[:, -2, 0], rcond=None)
    np.testing.assert_allclose(coef.reshape(5, 2)[1:], coef2.reshape(5, 2)[:-1], atol=1e-10)


def test_masks():
    assert make_mask("every_other", 6, 1)[0].tolist() == [0, 1, 0, 1, 0, 1]
    assert make_mask("every_other", 5, 1)[0].tolist() == [1, 0, 1, 0, 1]
    assert make_mask("first_last", 4, 2)[1].tolist() == [1, 0, 0, 1]
    assert make_mask([0, 2], 4, 1)[0].tolist() == [1, 0, 1, 0]
    assert make_mask("random", 10, 1, fraction=0.3, rng=np.random.default_rng(0)).sum() == 3


def test_parity_labels():
    t = parity_task(d=8, k=3, P=50, P_test=10, relevant=[1, 4, 6])
    np.testing.assert_array_equal(t.Y[:, 0, 0], np.prod(t.X[:, 0, [1, 4, 6]], axis=1))
    assert set(np.unique(t.X)) == {-1.0, 1.0}


def test_static_adapter_round_trips_and_parity_is_unchanged():
    """Task.from_static / Task.static: the explicit adapter between the [P, D] arrays of two_layer and
    depth and the shared X[P, T, D] layout. parity_task (built through it) gives the arrays it built by
    hand before (the same generator draws), and depth's RegressionTask is built from the view."""
    from fltheory import FLTheoryInputError
    from fltheory.depth import RegressionTask
    from fltheory.tasks import StaticArrays, Task

    t = parity_task(d=10, k=3, P=20, P_test=30, seed=4)
    rng = np.random.default_rng(4)  # the draws of parity_task, shaped by hand as before the adapter
    x = rng.choice([-1.0, 1.0], size=(50, 10))
    y = np.prod(x[:, :3], axis=1)
    for got, want in ((t.X, x[:20, None, :]), (t.Y, y[:20, None, None]), (t.X_test, x[20:, None, :]),
                      (t.Y_test, y[20:, None, None]), (t.M, np.ones((20, 1))), (t.M_test, np.ones((30, 1)))):
        np.testing.assert_array_equal(got, want)
    v = t.static()
    assert isinstance(v, StaticArrays) and v.X.shape == (20, 10) and v.y.shape == (20,)
    np.testing.assert_array_equal(v.y, y[:20])
    back = Task.from_static(*v)
    for name in ("X", "Y", "M", "X_test", "Y_test", "M_test"):
        np.testing.assert_array_equal(getattr(back, name), getattr(t, name))
    reg = RegressionTask(*v)  # depth's container, from the same arrays
    np.testing.assert_array_equal(np.asarray(reg.X_test), x[20:])
    two = Task.from_static(x[:4], np.stack([y[:4], -y[:4]], 1), x[4:6], np.stack([y[4:6], y[4:6]], 1))
    assert two.O == 2 and two.static().y.shape == (4, 2)
    with pytest.raises(FLTheoryInputError, match="^T: a feed-forward view needs a one-step task"):
        endpoint_task(P=3, P_test=3, T=2, D=4).static()
    with pytest.raises(FLTheoryInputError, match=r"^y: expected shape \[4\] or \[4, O\]"):
        Task.from_static(x[:4], y[:5], x[4:6], y[4:6])
    with pytest.raises(FLTheoryInputError, match="^X: expected 2 dimensions"):
        Task.from_static(x[:4, None], y[:4], x[4:6], y[4:6])
