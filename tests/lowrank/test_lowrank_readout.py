"""The ``readout=`` option (issue: readout conventions) on the overlap model and the full network.

"next" (default): y_k is read from x_{k+1} (κ_{k+1}); "current" (Ger & Barak's convention): y_k is
read from x_k (κ_k), so y_0 = 0. Each convention must be followed by the network *and* the overlap
dynamics (they agree under their own convention) and the two must differ (the option is no no-op).
"""
from functools import lru_cache

import jax
import numpy as np
import pytest

import fltheory  # noqa: F401  (float64)
from fltheory.lowrank import (READOUTS, Layout, effective_rollout, get_lowrank_activation, impulse_response,
                              init_vectors, network_rollout, overlap_dynamics, train_network)

LIN = get_lowrank_activation("linear")
L1 = Layout(1)
# CI size: dt = 0.1 (half the paper's grid); 500 epochs at η = 5e-3 cross the escape from the initial saddle.
TASK = impulse_response(0.2, dt=0.1, T=20.0)
ETA, EPOCHS, N = 5e-3, 500, 300


@pytest.mark.parametrize("rank,phi", [(1, "linear"), (2, "erf")])
def test_current_readout_is_next_readout_shifted_by_one_step(rank, phi):
    # y_k(current) = zᵀφ(x_k)/N = y_{k−1}(next) for k ≥ 1, and y_0(current) = zᵀφ(0)/N = 0: the same
    # floating-point operations on the same states, so equal to round-off (measured: exactly 0).
    layout = Layout(rank)
    act = get_lowrank_activation(phi)
    inputs, dt = np.random.default_rng(0).standard_normal((3, 60)), 0.1
    vecs = init_vectors(jax.random.PRNGKey(rank), 80, layout)
    vecs = vecs._replace(U=vecs.U * 2.0, V=vecs.V * 1.5, z=vecs.z + vecs.m)  # O(1) recurrence and σ_zm
    yn, yc = (np.asarray(network_rollout(vecs, inputs, act, dt, readout=r)) for r in ("next", "current"))
    np.testing.assert_allclose(yc[:, 1:], yn[:, :-1], rtol=0, atol=1e-14)
    assert np.all(yc[:, 0] == 0.0) and np.abs(yn[:, 0]).max() > 1e-2  # y_0(next) = σ_zm dt s_0 + …
    (kn, yn), (kc, yc) = (effective_rollout(vecs.gram(), inputs, layout, act, dt, readout=r)
                          for r in ("next", "current"))
    np.testing.assert_allclose(np.asarray(yc)[:, 1:], np.asarray(yn)[:, :-1], rtol=0, atol=1e-14)
    np.testing.assert_allclose(np.asarray(kc)[:, 1:], np.asarray(kn)[:, :-1], rtol=0, atol=1e-14)
    assert np.all(np.asarray(kc)[:, 0] == 0.0) and np.all(np.asarray(yc)[:, 0] == 0.0)


@lru_cache(maxsize=None)
def trained(readout):
    """Linear impulse response, N = 300, the same initial vectors trained under ``readout``."""
    v0 = init_vectors(jax.random.PRNGKey(0), N, L1)
    net = train_network(v0, TASK, LIN, EPOCHS, "gd", eta=ETA, readout=readout)
    gd = overlap_dynamics(net["gram"][0], TASK, 1, "linear", ETA, EPOCHS, method="gd", readout=readout)
    flow = overlap_dynamics(net["gram"][0], TASK, 1, "linear", ETA, EPOCHS, method="flow", readout=readout)
    return {"net": net, "gd": gd, "flow": flow}


@pytest.mark.parametrize("readout", READOUTS)
def test_overlap_model_matches_network_under_its_own_readout(readout):
    run = trained(readout)
    net, gd, flow = run["net"], run["gd"], run["flow"]
    # Learning happened, above the floor W_0 y*(0)² = dt that "current" cannot beat (test below). Measured:
    # next 2.417 → 1.06e-3, current 2.419 → 0.1012 (floor 0.1).
    floor = TASK.dt if readout == "current" else 0.0
    assert net["loss"][-1] - floor < 0.01 * net["loss"][0]
    # Linear φ: the overlap map is the network's GD trajectory at any N (round-off; measured ≤ 1e-14).
    np.testing.assert_allclose(gd["gram"], net["gram"], atol=1e-9)
    np.testing.assert_allclose(gd["loss"], net["loss"], rtol=1e-7, atol=1e-12)
    # The flow differs from GD by O(η) only (N-independent for linear φ): measured max |Δσ| = 0.052 / 0.050
    # (next / current) at N = 300 (0.042 at N = 100; 0.052 / 0.051 at N = 500 on the dt = 0.05 grid); the
    # tolerance 0.1 is that of test_lowrank_dynamics (≈ 2× the measured value).
    assert np.abs(flow["gram"] - net["gram"]).max() < 0.1


def test_readout_conventions_differ():
    nxt, cur = trained("next"), trained("current")
    # Same initial vectors, different function: the losses differ from epoch 0 on …
    assert abs(nxt["net"]["loss"][0] - cur["net"]["loss"][0]) > 1e-4  # measured 2.4165 vs 2.4192
    # … and under "current" y_0 = 0, so the loss can never go below W_0 y*(0)² = dt · 1 = 0.1 (the target
    # e^{−0.2t} is 1 at t = 0), whereas "next" fits the target (final loss measured 1.06e-3 vs 0.1012).
    assert cur["net"]["loss"].min() >= TASK.dt * (1 - 1e-12)
    assert cur["gd"]["loss"].min() >= TASK.dt * (1 - 1e-12)
    assert nxt["net"]["loss"][-1] < 5e-3
    # The trajectories split (measured max |Δσ| = 0.19), and the option reaches the overlap model: the
    # "next" overlap map does not describe the network trained under "current".
    assert np.abs(nxt["net"]["gram"] - cur["net"]["gram"]).max() > 0.05
    assert np.abs(nxt["gd"]["gram"] - cur["net"]["gram"]).max() > 0.05
