"""Bad input to the low-rank RNN code raises FLTheoryInputError whose message starts with the parameter name."""
import jax
import numpy as np
import pytest

import fltheory  # noqa: F401  (float64)
from fltheory import FLTheoryInputError
from fltheory.lowrank import (Layout, Task, decision_making, effective_rollout, flip_flop, get_lowrank_activation,
                              impulse_response, init_vectors, make_overlap_loss, network_loss, network_rollout,
                              overlap_dynamics, random_teacher_gram, teacher_student, train_network)
from fltheory.lowrank.compare import compare
from fltheory.lowrank.memory import run_schedule

LIN = get_lowrank_activation("linear")
TASK = impulse_response(0.2, dt=0.1, T=2.0)
S0 = np.eye(4)


def _raises(param):
    return pytest.raises(FLTheoryInputError, match=rf"^{param}: ")


@pytest.mark.parametrize("rank", [0, 3, -1, True, 1.0, "1", None])
def test_rank_must_be_1_or_2(rank):
    with _raises("rank"):
        Layout(rank)
    with _raises("rank"):
        overlap_dynamics(S0, TASK, rank=rank, epochs=1)
    with _raises("rank"):
        compare(TASK, rank=rank, N=20, epochs=1)
    with _raises("rank"):
        teacher_student(rank=rank)
    with _raises("rank"):
        random_teacher_gram(rank)


def test_rank_accepts_numpy_integers():
    assert Layout(np.int64(2)).n == 6


@pytest.mark.parametrize("build", [
    lambda: impulse_response(dt=0.03, T=20.0),  # 20 / 0.03 = 666.67 steps
    lambda: flip_flop(dt=0.025, T=20.01),
    lambda: teacher_student(dt=0.1, T=10.05),
    lambda: run_schedule(S0, [(0.2, 1)], dt=0.3, T=1.0),
])
def test_total_time_off_the_dt_grid(build):
    with _raises("T"):
        build()


@pytest.mark.parametrize("window", ["fixation", "stimulus", "delay", "decision"])
def test_decision_windows_off_the_dt_grid(window):
    with _raises(window):
        decision_making(dt=0.05, **{window: 0.52})


def test_grid_tolerates_float_round_off():
    # 12 / 0.05 = 239.99999999999997 and 20 / 0.05 = 400.00000000000006 in floating point: on the grid.
    assert flip_flop(n_trials=2, dt=0.05, T=12.0).n_steps == 240
    assert impulse_response(dt=0.05, T=20.0).n_steps == 400
    assert decision_making(dt=0.05, fixation=0.1, stimulus=0.3, delay=0.0, decision=0.7).n_steps == 22


def test_epoch_batch_with_wrong_shapes():
    bad = Task("bad", TASK.inputs, TASK.targets, TASK.weights, TASK.dt,
               epoch_batch=lambda e: (np.zeros((2, 5)), np.zeros((2, 5)), np.ones((2, 5))))
    with _raises("epoch_batch"):
        bad.batch(1)
    with _raises("epoch_batch"):
        Task("bad", TASK.inputs, TASK.targets, TASK.weights, TASK.dt, epoch_batch=3)
    nan = Task("nan", TASK.inputs, TASK.targets, TASK.weights, TASK.dt,
               epoch_batch=lambda e: (np.full_like(TASK.inputs, np.nan), TASK.targets, TASK.weights))
    with _raises("epoch_batch"):
        nan.batch(0)


@pytest.mark.parametrize("optimizer", ["sgd", "Adam", "lbfgs", ""])
def test_unknown_optimizer(optimizer):
    v0 = init_vectors(jax.random.PRNGKey(0), 20, Layout(1))
    with _raises("optimizer"):
        train_network(v0, TASK, LIN, 1, optimizer, eta=1e-3, lr=1e-3)


def test_unknown_overlap_method():
    with _raises("method"):
        overlap_dynamics(S0, TASK, epochs=1, method="euler")


@pytest.mark.parametrize("readout", ["previous", "Next", "", None, 1])
def test_unknown_readout(readout):
    layout = Layout(1)
    v0 = init_vectors(jax.random.PRNGKey(0), 20, layout)
    calls = [
        lambda: network_rollout(v0, TASK.inputs, LIN, TASK.dt, readout=readout),
        lambda: effective_rollout(S0, TASK.inputs, layout, LIN, TASK.dt, readout=readout),
        lambda: network_loss(v0, TASK, LIN, readout=readout),
        lambda: make_overlap_loss(TASK, layout, LIN, readout=readout),
        lambda: train_network(v0, TASK, LIN, 1, "gd", eta=1e-3, readout=readout),
        lambda: overlap_dynamics(S0, TASK, epochs=1, readout=readout),
        lambda: compare(TASK, N=20, epochs=1, readout=readout),
        lambda: teacher_student(readout=readout),
    ]
    for call in calls:
        with _raises("readout"):
            call()


def test_new_task_parameters():
    with _raises("coherences"):
        decision_making(coherences=(0.1, 0.0))
    with _raises("noise"):
        decision_making(noise=-0.1)
    with _raises("noise"):
        teacher_student(noise=-1.0)
    with _raises("teacher_N"):
        teacher_student(teacher_N=3)
    with _raises("teacher"):
        teacher_student(teacher=-np.eye(4))
    with _raises("radius"):
        random_teacher_gram(1, radius=1.5)
    with _raises("seed"):
        flip_flop(seed=-1, fresh_batches=True)
    with _raises("targets"):
        flip_flop(n_trials=2, dt=0.1, T=12.0, fresh_batches=True).with_targets(np.zeros((2, 120)))
