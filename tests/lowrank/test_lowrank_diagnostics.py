"""The overlap ODE's result protocol (issue #18): an OverlapTrajectory with the common Diagnostics and
the one failure policy (raise ConvergenceError by default; throw=False → converged=False and a warning)."""
import jax
import numpy as np
import pytest

from fltheory import ConvergenceError, ConvergenceWarning, Diagnostics
from fltheory.lowrank import Layout, OverlapTrajectory, impulse_response, init_vectors, overlap_dynamics
from fltheory.lowrank.tasks import flip_flop

TASK = impulse_response(0.2, dt=0.1, T=5.0)
S0 = np.asarray(init_vectors(jax.random.PRNGKey(0), 200, Layout(1)).gram())


@pytest.mark.parametrize("method", ["flow", "gd"])
def test_result_carries_the_common_diagnostics(method):
    traj = overlap_dynamics(S0, TASK, 1, "linear", 5e-3, 20, method=method)
    assert isinstance(traj, OverlapTrajectory) and isinstance(traj.diagnostics, Diagnostics)
    d = traj.diagnostics
    assert d.converged and d.wall_time > 0 and np.isnan(d.residual)
    assert traj.gram.shape == (21, 4, 4) and traj.loss.shape == (21,)
    np.testing.assert_array_equal(traj.gram[0], S0)
    if method == "flow":
        assert "Tsit5" in d.method and d.iterations > 0  # accepted ODE steps
    else:
        assert d.method == "GD map" and d.iterations == 20  # one map step per epoch
    # the former dict return still reads the same arrays
    assert traj["gram"] is traj.gram and traj["loss"] is traj.loss
    with pytest.raises(KeyError):
        traj["vectors"]


def test_a_failed_ode_solve_raises_by_default_and_warns_with_throw_false():
    with pytest.raises(ConvergenceError, match=r"overlap_dynamics: the gradient flow ODE solve failed after 2 "
                                               r"accepted steps \(max_steps = 2 per solve\): The maximum number"):
        overlap_dynamics(S0, TASK, 1, "linear", 5e-3, 20, max_steps=2)
    with pytest.warns(ConvergenceWarning, match="larger max_steps"):
        traj = overlap_dynamics(S0, TASK, 1, "linear", 5e-3, 20, max_steps=2, throw=False)
    assert not traj.diagnostics.converged and traj.diagnostics.iterations == 2
    assert np.all(np.isfinite(traj.gram[0])) and not np.all(np.isfinite(traj.gram[-1]))


def test_a_diverging_gd_map_fails_the_same_way():
    with pytest.raises(ConvergenceError, match=r"the GD map diverged \(non-finite loss from epoch 2\); use a smaller"):
        overlap_dynamics(S0, TASK, 1, "linear", 10.0, 8, method="gd")
    with pytest.warns(ConvergenceWarning, match="smaller eta"):
        traj = overlap_dynamics(S0, TASK, 1, "linear", 10.0, 8, method="gd", throw=False)
    assert not traj.diagnostics.converged
    assert np.isfinite(traj.loss[:2]).all() and not np.isfinite(traj.loss[2:]).any()


def test_fresh_batches_report_failed_epochs():
    task = flip_flop(n_trials=2, dt=0.1, T=10.0, seed=0, fresh_batches=True)
    ok = overlap_dynamics(S0, task, 1, "linear", 5e-3, 3)
    assert ok.diagnostics.converged and ok.diagnostics.iterations >= 3 and ok.gram.shape == (4, 4, 4)
    with pytest.raises(ConvergenceError, match=r"failed on 3 of 3 epochs \(first: epoch 0\)"):
        overlap_dynamics(S0, task, 1, "linear", 5e-3, 3, max_steps=1)
    with pytest.warns(ConvergenceWarning):
        bad = overlap_dynamics(S0, task, 1, "linear", 5e-3, 3, max_steps=1, throw=False)
    assert not bad.diagnostics.converged


def test_batches_and_rollouts_are_named():
    from fltheory.lowrank import Batch, Rollout, effective_rollout, get_lowrank_activation

    b = TASK.batch(0)
    assert isinstance(b, Batch) and b.inputs is TASK.inputs and b.targets is TASK.targets
    assert b.weights is TASK.weights
    fresh = flip_flop(n_trials=2, dt=0.1, T=10.0, seed=0, fresh_batches=True)
    st = fresh.batches(1, 2)
    assert isinstance(st, Batch) and st.inputs.shape == (2, *fresh.inputs.shape)
    np.testing.assert_array_equal(st.targets[1], fresh.batch(2).targets)
    r = effective_rollout(S0, TASK.inputs, Layout(1), get_lowrank_activation("linear"), TASK.dt)
    assert isinstance(r, Rollout) and r.kappa.shape == (*TASK.inputs.shape, 2) and r.y.shape == TASK.inputs.shape
    kappa, y = r
    assert kappa is r.kappa and y is r.y
