"""The two-layer module's task through the shared Task adapter (issue #18): single_index_task is built with
Task.from_static and gives exactly the arrays it built by hand before; task.static() gives the [P, d] arrays
the two-layer solvers take."""
import numpy as np

from fltheory.tasks import StaticArrays, make_task
from fltheory.two_layer import SingleIndexOverlaps, single_index_task


def test_single_index_task_is_unchanged_through_the_adapter():
    t = single_index_task(d=5, degree=2, P=6, P_test=3, relevant=[1, 3], seed=2)
    model = SingleIndexOverlaps(5, (1, 3), degree=2, n_max=2)  # the draws of single_index_task, by hand
    x = model.sample_inputs(9, np.random.default_rng(2))
    y = model.target(x)
    for got, want in ((t.X, x[:6, None, :]), (t.Y, y[:6, None, None]), (t.M, np.ones((6, 1))),
                      (t.X_test, x[6:, None, :]), (t.Y_test, y[6:, None, None]), (t.M_test, np.ones((3, 1)))):
        assert got.dtype == want.dtype and np.array_equal(got, want)
    v = t.static()
    assert isinstance(v, StaticArrays) and np.array_equal(v.X, x[:6]) and np.array_equal(v.y, y[:6])
    again = make_task(**t.to_config())
    assert np.array_equal(again.X, t.X) and np.array_equal(again.Y_test, t.Y_test)
