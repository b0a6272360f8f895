"""The paper's memory protocol (issue #16): A-B-A-B-A vs A only, a final noisy A phase, the conserved
matrix K tracked, logistic decoding with exact binomial confidence intervals, balanced initialisation.

Tolerances: exact identities to round-off; the decoding claims through the Clopper–Pearson interval of the
accuracy itself (the claim is that its 95 % bound clears chance), never a window fitted to one seed.
"""
from functools import lru_cache

import jax
import numpy as np
import pytest
from scipy.stats import binom, norm

import fltheory  # noqa: F401  (float64)
from fltheory import FLTheoryInputError
from fltheory.lowrank import Layout, impulse_response, init_vectors, overlap_dynamics, run_schedule
from fltheory.lowrank.memory import (MEMORY_FEATURES, binomial_interval, chance_p_value, decode_features,
                                     memory_map, memory_protocol, memory_protocol_dataset, memory_schedule,
                                     network_memory_check, schedule_boundaries)

L1 = Layout(1)
J = np.diag(L1.conserved_signs)


# ---- the schedule's bookkeeping ----------------------------------------------------------------
def test_ababa_schedule_phases_and_boundaries():
    s = memory_schedule("ABABA", phase_epochs=30, final_epochs=50, noise=0.2, decay_a=0.2, decay_b=0.7)
    assert s == [(0.2, 30, 0.0), (0.7, 30, 0.0), (0.2, 30, 0.0), (0.7, 30, 0.0), (0.2, 30, 0.0), (0.2, 50, 0.2)]
    np.testing.assert_array_equal(schedule_boundaries(s), [0, 30, 60, 90, 120, 150, 200])


def test_a_only_merges_into_one_phase_of_the_same_length():
    a = memory_schedule("AAAAA", phase_epochs=30, final_epochs=50, noise=0.2)
    assert a == [(0.2, 150, 0.0), (0.2, 50, 0.2)]
    assert schedule_boundaries(a)[-1] == schedule_boundaries(memory_schedule("ABABA", 30, 50, 0.2))[-1] == 200
    # the noisy final phase never merges with a noise-free A phase before it
    assert len(memory_schedule("BA", 10, 10, 0.0)) == 3


@pytest.mark.parametrize("kw,param", [
    ({"history": "ABC"}, "history"), ({"history": ""}, "history"), ({"history": 5}, "history"),
    ({"phase_epochs": 0}, "phase_epochs"), ({"final_epochs": 2.5}, "final_epochs"),
    ({"noise": -0.1}, "noise"), ({"decay_b": float("nan")}, "decay_b"),
])
def test_memory_schedule_names_the_bad_parameter(kw, param):
    with pytest.raises(FLTheoryInputError, match=f"^{param}"):
        memory_schedule(**kw)


def test_replay_tracks_K_consistently_with_the_conserved_trace():
    """K in initial-vector coordinates is M J Mᵀ with Σ = Mᵀ Σ0 M, so C = tr(JΣ) = tr(K Σ0) at every epoch
    (C itself drifts under GD by the closed form tested in test_lowrank_optimizers.py)."""
    S0 = np.asarray(init_vectors(jax.random.PRNGKey(1), 50, L1).gram())
    sched = memory_schedule("AB", phase_epochs=30, final_epochs=10, noise=0.3, decay_b=1.0)
    rep = run_schedule(S0, sched, eta=0.02, dt=0.1, T=3.0)
    assert rep["K"].shape == rep["gram"].shape == (71, 4, 4)
    np.testing.assert_array_equal(rep["K"][0], J)
    np.testing.assert_allclose(np.einsum("eij,ji->e", rep["K"], S0), rep["conserved"], atol=1e-12)
    drift = np.abs(rep["K"] - J).max(axis=(1, 2))
    assert 0 < drift[-1] < 0.05 and drift[0] == 0  # O(η²) per step, not conserved by discrete GD


# ---- confidence interval and p-value against closed forms ----------------------------------------
@pytest.mark.parametrize("n", [1, 7, 80])
def test_clopper_pearson_edges_are_closed_forms(n):
    a = 0.05
    lo, hi = binomial_interval(n, n, 0.95)
    assert hi == 1.0 and lo == pytest.approx((a / 2) ** (1 / n), rel=1e-10)
    lo, hi = binomial_interval(0, n, 0.95)
    assert lo == 0.0 and hi == pytest.approx(1 - (a / 2) ** (1 / n), rel=1e-10)
    assert chance_p_value(n, n) == pytest.approx(0.5 ** n, rel=1e-12) and chance_p_value(0, n) == 1.0


@pytest.mark.parametrize("k,n,level", [(59, 80, 0.95), (3, 10, 0.9), (40, 80, 0.99)])
def test_clopper_pearson_bounds_solve_their_defining_equations(k, n, level):
    """lower: P(Bin(n, lo) ≥ k) = α/2; upper: P(Bin(n, hi) ≤ k) = α/2; and the mirror symmetry."""
    a = 1 - level
    lo, hi = binomial_interval(k, n, level)
    assert binom.sf(k - 1, n, lo) == pytest.approx(a / 2, rel=1e-8)
    assert binom.cdf(k, n, hi) == pytest.approx(a / 2, rel=1e-8)
    lo2, hi2 = binomial_interval(n - k, n, level)
    assert (lo2, hi2) == pytest.approx((1 - hi, 1 - lo), rel=1e-10)
    assert chance_p_value(k, n) == pytest.approx(sum(binom.pmf(j, n, 0.5) for j in range(k, n + 1)), rel=1e-10)


@pytest.mark.parametrize("args,param", [((5, 4), "k"), ((-1, 4), "k"), ((2, 0), "n"), ((2, 4, 1.0), "level"),
                                        ((2, 4, 0.0), "level")])
def test_binomial_interval_names_the_bad_parameter(args, param):
    with pytest.raises(FLTheoryInputError, match=f"^{param}"):
        binomial_interval(*args)


def test_decoder_accuracy_brackets_the_bayes_accuracy():
    """Two Gaussian classes a distance 2d apart along one of three features: Bayes accuracy Φ(d). The
    decoder's accuracy must be covered by its own 95 % interval around Φ(d) (or exceed it by less)."""
    rng = np.random.default_rng(0)
    n, d = 300, 0.6
    y = np.repeat([0, 1], n)
    X = rng.standard_normal((2 * n, 3))
    X[:, 0] += np.where(y == 1, d, -d)
    res = decode_features(X, y, folds=5)
    assert res["n"] == 2 * n and res["correct"] == round(res["accuracy"] * 2 * n)
    lo, hi = res["ci"]
    assert lo <= norm.cdf(d) <= hi
    assert res["p_value"] < 1e-6
    # no signal: the interval covers chance
    lo, hi = decode_features(rng.standard_normal((2 * n, 3)), y, folds=5)["ci"]
    assert lo <= 0.5 <= hi


def test_decoder_names_bad_inputs():
    X = np.zeros((10, 2))
    with pytest.raises(FLTheoryInputError, match="^y"):
        decode_features(X, np.zeros(10, int))
    with pytest.raises(FLTheoryInputError, match="^folds"):
        decode_features(X, np.repeat([0, 1], 5), folds=6)
    with pytest.raises(FLTheoryInputError, match="^X"):
        decode_features(np.full((10, 2), np.nan), np.repeat([0, 1], 5))


# ---- protocol inputs ------------------------------------------------------------------------------
@pytest.mark.parametrize("kw,param", [
    ({"histories": ("ABABA", "ABABA")}, "histories"), ({"histories": ("ABABA",)}, "histories"),
    ({"histories": ("AAAA", "ABABA")}, "histories"), ({"histories": ("AAAAA", "AXABA")}, "histories"),
    ({"n_networks": 3}, "n_networks"), ({"eta": 0}, "eta"), ({"readout": "later"}, "readout"),
    ({"keep_every": 0}, "keep_every"), ({"N": 2}, "N"),
])
def test_memory_protocol_names_the_bad_parameter(kw, param):
    with pytest.raises(FLTheoryInputError, match=f"^{param}"):
        memory_protocol(**kw)


@pytest.mark.parametrize("kw,param", [({"etas": (1e-2, -1.0)}, "etas"), ({"noises": (-0.1,)}, "noises"),
                                      ({"phase_epochs": (10, 0)}, "phase_epochs"), ({"final_factor": 0}, "final_factor"),
                                      ({"readout": "x"}, "readout")])
def test_memory_map_names_the_bad_parameter(kw, param):
    with pytest.raises(FLTheoryInputError, match=f"^{param}"):
        memory_map(**kw)


# ---- balanced initialisation ----------------------------------------------------------------------
def test_balanced_init_has_K_zero_and_flow_keeps_invisible_a_function_of_visible():
    """A = B R (R orthogonal) makes K = AAᵀ − BBᵀ = 0 (in overlaps ΣJΣ = 0); gradient flow conserves K, so
    Σ_BB = (Σ_ABᵀΣ_AB)^{1/2} and Σ_AA = (Σ_AB Σ_ABᵀ)^{1/2} along the trajectory (ODE tolerance)."""
    from scipy.linalg import sqrtm

    v = init_vectors(jax.random.PRNGKey(4), 80, L1, balanced=True)
    S0 = np.asarray(v.gram())
    np.testing.assert_allclose(S0 @ J @ S0, 0, atol=1e-12)
    Vs = np.asarray(v.stacked())
    np.testing.assert_allclose(Vs @ J @ Vs.T, 0, atol=1e-11)
    traj = overlap_dynamics(S0, impulse_response(0.2, 0.1, 3.0), eta=0.02, epochs=40, method="flow").gram
    B, A = L1.input_side, L1.output_side
    moved = 0.0
    for S in traj[::10]:
        P = S[np.ix_(A, B)]
        np.testing.assert_allclose(S[np.ix_(B, B)], np.real(sqrtm(P.T @ P)), atol=1e-6)
        np.testing.assert_allclose(S[np.ix_(A, A)], np.real(sqrtm(P @ P.T)), atol=1e-6)
        moved = max(moved, np.abs(S - S0).max())
    assert moved > 0.05  # it did learn


def test_balanced_must_be_a_bool():
    with pytest.raises(FLTheoryInputError, match="^balanced"):
        init_vectors(jax.random.PRNGKey(0), 10, L1, balanced="yes")


# ---- the memory itself -----------------------------------------------------------------------------
# A short version of the documented protocol (docs/theory/lowrank.md §5): dt = 0.1, T = 10 (half the grid
# and length), 40 networks per history, η = 1e-2, phases of 150 epochs, final noisy phase 300 epochs.
SMALL = dict(n_networks=40, N=500, eta=1e-2, phase_epochs=150, final_epochs=300, noise=0.1, dt=0.1, T=10.0,
             decay_b=1.0, keep_every=50)


@lru_cache(maxsize=None)
def _small_protocol():
    return memory_protocol(**SMALL)


# ~16 s on a shared 2-core machine: 80 networks × 1050 epochs, replayed (one compilation for both histories)
def test_invisible_overlaps_decode_the_history_above_chance():
    res = _small_protocol()
    assert res["n"] == 80
    # the claim, with the tolerance of its own 95 % Clopper–Pearson interval: chance lies below it
    assert res["ci_invisible|visible"][0] > 0.5, res["ci_invisible|visible"]
    assert res["ci_invisible"][0] > 0.5, res["ci_invisible"]
    # ... while the loss-visible overlaps alone do not decode it above chance (the noisy final phase equalised
    # convergence). Cross-validated accuracy without signal is biased *below* 1/2 (a held-out network's class is
    # under-represented in its training folds), so only the lower bound is asserted.
    assert res["ci_visible"][0] <= 0.5, res["ci_visible"]
    ds = memory_protocol_dataset(res)
    assert list(ds["features"].values) == list(MEMORY_FEATURES)
    assert ds["mean_sigma"].shape == (2, 22, 10) and ds.attrs["histories"] == "AAAAA vs ABABA"


@pytest.mark.slow  # ~15 s: a full-network run per phase (compilation dominated)
def test_full_network_follows_the_replay_and_its_K_entries_drift_as_predicted():
    r = network_memory_check(n_networks=1, N=40, eta=0.01, phase_epochs=20, final_epochs=20, noise=0.2, dt=0.1,
                             T=10.0)
    assert r["overlap_error"] < 1e-9  # the replay is the network's GD (round-off, measured 4e-15)
    assert r["K_drift_error"] < 1e-12  # the tracked K is the network's N × N K
    assert r["invisible_motion"] > 100 * r["K_drift_net"] / r["K_scale"]  # invisible overlaps move, K hardly
    assert r["K_entries"].shape == (1, 7, 3)
