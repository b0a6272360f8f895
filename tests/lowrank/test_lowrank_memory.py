"""The A→B→A memory replay (``lowrank.memory``) under both readout conventions (conventions §10).

For linear φ the overlap map replayed by :func:`run_schedule` is the exact image of the full
network's GD, whichever state the output is read from: checked against the network trained phase by
phase on the same targets, for ``readout="next"`` and ``"current"``.
"""
from functools import lru_cache

import jax
import numpy as np
import pytest

import fltheory  # noqa: F401  (float64)
from fltheory import FLTheoryInputError
from fltheory.lowrank import (READOUTS, Layout, get_lowrank_activation, impulse_response, init_vectors,
                              memory_dataset, run_schedule, train_network)
from fltheory.lowrank.memory import decode_history

LIN = get_lowrank_activation("linear")
L1 = Layout(1)
DT, T, ETA = 0.1, 10.0, 0.01
SCHEDULE = [(0.2, 40), (0.6, 40), (0.2, 40)]  # A → B → A, noise-free (the network has no target noise)


def _network_schedule(v0, readout):
    grams, losses, v = [], [], v0
    for c, e in SCHEDULE:
        run = train_network(v, impulse_response(c, DT, T), LIN, e, "gd", eta=ETA, readout=readout)
        grams.append(run["gram"][:-1])
        losses.append(run["loss"][:-1])
        v = run["vectors"]
    grams.append(run["gram"][-1:])
    losses.append(run["loss"][-1:])
    return np.concatenate(grams), np.concatenate(losses)


@lru_cache(maxsize=None)
def _replay(readout):
    """The replayed schedule from the initial overlaps of width-60 vectors (computed once per readout)."""
    v0 = init_vectors(jax.random.PRNGKey(3), 60, L1)
    return v0, run_schedule(np.asarray(v0.gram()), SCHEDULE, eta=ETA, dt=DT, T=T, readout=readout)


@pytest.mark.parametrize("readout", READOUTS)
def test_replay_is_the_networks_gd_under_both_readouts(readout):
    v0, rep = _replay(readout)
    net_gram, net_loss = _network_schedule(v0, readout)
    assert rep["gram"].shape == net_gram.shape == (121, 4, 4)
    # exact map, round-off only (measured ≤ 1e-14)
    np.testing.assert_allclose(rep["gram"], net_gram, atol=1e-9)
    np.testing.assert_allclose(rep["loss"], net_loss, rtol=1e-7, atol=1e-12)
    # the phase switch is seen: after learning B the loss jumps up when the target returns to A at epoch 80
    # (measured: next 1.6e-3 → 0.76; current 0.1009 → 0.864 above its floor W_0 y*(0)² = dt, see below)
    floor = DT if readout == "current" else 0.0
    assert rep["loss"][80] - floor > 10 * (rep["loss"][79] - floor)


def test_replay_readouts_differ_and_current_has_its_floor():
    nxt, cur = _replay("next")[1], _replay("current")[1]
    # y_0 = 0 under "current": the loss never goes below W_0 y*(0)² = dt (target e^{-ct} = 1 at t = 0)
    assert cur["loss"].min() >= DT * (1 - 1e-12)
    assert np.abs(nxt["gram"] - cur["gram"]).max() > 1e-3  # the option reaches the replay


def test_memory_functions_reject_a_bad_readout():
    with pytest.raises(FLTheoryInputError, match="^readout"):
        decode_history(n_networks=5, readout="previous")
    with pytest.raises(FLTheoryInputError, match="^readout"):
        run_schedule(np.eye(4), SCHEDULE, readout="later")


@pytest.mark.slow  # 6–12 s: two vmapped schedules compiled
def test_decode_history_records_readout_and_standard_errors():
    res = decode_history(n_networks=5, N=40, epochs=(10, 10, 10, 5), dt=DT, T=T, eta=ETA, readout="current")
    ds = memory_dataset(res)
    assert ds.attrs["readout"] == "current" and ds.attrs["n_networks"] == 5 and ds.attrs["eta"] == ETA
    assert ds["final_overlaps"].shape == (10, 10)
    # binomial standard errors over the 10 held-out predictions
    assert ds.attrs["chance_se"] == pytest.approx(np.sqrt(0.25 / 10), rel=1e-12)
    p = ds.attrs["accuracy_invisible"]
    assert ds.attrs["accuracy_invisible_se"] == pytest.approx(np.sqrt(p * (1 - p) / 10), rel=1e-12)


def test_memory_regime_map_rejects_bad_grids():
    from fltheory.lowrank.memory import memory_regime_map

    with pytest.raises(FLTheoryInputError, match="^noises"):
        memory_regime_map(noises=(0.1, -0.2))
    with pytest.raises(FLTheoryInputError, match="^b_epochs"):
        memory_regime_map(b_epochs=(10, 2.5))
    with pytest.raises(FLTheoryInputError, match="^readout"):
        memory_regime_map(readout="later")


@pytest.mark.slow  # 10–20 s: three decode_history runs
def test_memory_regime_map_is_decode_history_on_a_grid():
    from fltheory.lowrank.memory import memory_regime_map

    kw = dict(n_networks=5, N=40, eta=ETA, dt=DT, T=T, seed=2, readout="current")
    ds = memory_regime_map(noises=(0.0, 0.2), b_epochs=(10,), a_epochs=10, final_epochs=5, **kw)
    assert ds["accuracy"].dims == ("features", "noise", "b_epochs") and ds["accuracy"].shape == (3, 2, 1)
    one = decode_history(epochs=(10, 10, 10, 5), noise=0.2, **kw)
    for f in ("visible", "invisible", "all"):
        assert float(ds["accuracy"].sel(features=f, noise=0.2, b_epochs=10)) == one[f"accuracy_{f}"]
        assert float(ds["accuracy_se"].sel(features=f, noise=0.2, b_epochs=10)) == one[f"accuracy_{f}_se"]
    assert ds.attrs["chance_se"] == one["chance_se"] and ds.attrs["readout"] == "current"
