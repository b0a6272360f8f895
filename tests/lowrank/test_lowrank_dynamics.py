"""Overlap ODE vs the full N-dimensional low-rank RNN trained by GD / Adam (issue #6).

CI sizes: linear impulse response (target e^{−0.2t}, dt=0.05, T=20) for 500 epochs at η=5e-3 —
the run escapes the initial saddle (loss 2.5 → 3e-4) at epoch ≈ 300, so all statements are made
across the learning transition. Paper-size runs: tests/lowrank/test_lowrank_paper.py (slow).
"""
import jax
import numpy as np
import pytest

import fltheory  # noqa: F401
from fltheory.lowrank import (Layout, conserved_quantity, get_lowrank_activation, impulse_response, init_vectors,
                              overlap_dynamics, train_network, vectors_with_gram)
from fltheory.lowrank.compare import compare, degenerate_partner, overlap_errors
from fltheory.lowrank.dynamics import symmetric_gradient
from fltheory.lowrank.effective import make_overlap_loss
from fltheory.lowrank.tasks import flip_flop

LIN = get_lowrank_activation("linear")
L1 = Layout(1)
TASK = impulse_response(0.2, dt=0.05, T=20.0)
ETA, EPOCHS = 5e-3, 500
# Tolerance of the gradient-flow ODE against discrete GD with overlap step η = 5e-3. In the linear model
# the only difference is the Euler discretisation of the flow (first order in η); measured max |Δσ|
# = 0.053 over all 10 overlaps and epochs (it peaks at the sharp escape from the saddle, where an
# O(η) shift in the transition epoch shows up as an O(0.05) overlap difference). TOL = 0.1 ≈ 2×.
TOL = 0.1


@pytest.fixture(scope="module")
def linear_run():
    return compare(TASK, rank=1, phi="linear", N=500, eta=ETA, epochs=EPOCHS, seed=0, adam_lr=1e-3)


def test_flow_tracks_network_and_naive_descent_does_not(linear_run):
    ds = linear_run
    assert ds["loss_net"][-1] < 1e-2 * ds["loss_net"][0]  # learning actually happened
    e = overlap_errors(ds, "theory")
    assert e["max"] < TOL, e
    n = overlap_errors(ds, "naive")
    assert n["max_visible"] > TOL, n  # measured 0.91
    # invisible overlaps are not just constant: they move by O(1) and the ODE follows them
    sig = ds["sigma_net"].values[:, ~ds["visible"].values]
    assert np.abs(sig[-1] - sig[0]).max() > 0.4


@pytest.mark.parametrize("N", [100, 500])
def test_exact_gd_map_reproduces_network_at_any_N(N):
    # In the linear model L depends on V only through Σ at every N, so vector GD maps Σ to
    # (I − 2ηG)Σ(I − 2ηG) exactly: the "disagreement" is float round-off at N = 100 and N = 500
    # alike (it does not shrink with N because there is nothing to shrink; see docs §4).
    v0 = init_vectors(jax.random.PRNGKey(N), N, L1)
    net = train_network(v0, TASK, LIN, EPOCHS, "gd", eta=ETA)
    th = overlap_dynamics(net["gram"][0], TASK, 1, "linear", ETA, EPOCHS, method="gd")
    np.testing.assert_allclose(th["gram"], net["gram"], atol=1e-9)
    np.testing.assert_allclose(th["loss"], net["loss"], rtol=1e-7, atol=1e-12)


def test_flow_error_is_first_order_in_eta():
    # GD vs gradient flow over the same flow time: halving η (and doubling the epochs) must halve the
    # max overlap error (Euler is first order). Ratio expected 2; band [1.5, 2.7] allows for the
    # O(η²) terms.
    # (coarser time grid dt = 0.1 to keep CI cheap; the statement is about the epoch step only)
    task = impulse_response(0.2, dt=0.1, T=20.0)
    S0 = np.asarray(init_vectors(jax.random.PRNGKey(0), 500, L1).gram())
    errs = []
    for eta, ep in [(1e-2, 250), (5e-3, 500)]:
        gd = overlap_dynamics(S0, task, 1, "linear", eta, ep, method="gd")
        fl = overlap_dynamics(S0, task, 1, "linear", eta, ep, method="flow")
        errs.append(np.abs(gd["gram"] - fl["gram"]).max())
    assert 1.5 < errs[0] / errs[1] < 2.7, errs


def test_conserved_quantity_gd_flow_adam(linear_run):
    ds = linear_run
    # Gradient flow: C = tr(JΣ) is exactly conserved; the adaptive solver (rtol 1e-9) keeps it to ~1e-9.
    c_th = ds["conserved_theory"].values
    assert np.abs(c_th - c_th[0]).max() < 1e-7
    # Discrete GD: the first-order change vanishes, the second-order one is exactly
    # ΔC_k = 4η² tr(J G_k Σ_k G_k); check the network's drift against that prediction.
    loss = make_overlap_loss(TASK, L1, LIN)
    grams = ds["sigma_net"].values
    S = L1.unflatten(grams)
    G = np.asarray(jax.jit(jax.vmap(lambda X: symmetric_gradient(loss, X)))(S[:-1]))
    J = L1.conserved_signs
    pred = np.cumsum(4 * ETA**2 * np.einsum("i,kij,kjl,kli->k", J, G, np.asarray(S[:-1]), G))
    c_net = ds["conserved_net"].values
    np.testing.assert_allclose(c_net[1:] - c_net[0], pred, atol=1e-10)
    assert np.abs(c_net - c_net[0]).max() < 1e-3  # measured 7e-5
    # Adam rescales each coordinate separately: C is not conserved (measured drift 0.065).
    c_adam = ds["conserved_adam"].values
    assert np.abs(c_adam - c_adam[0]).max() > 1e-2


def test_equal_visible_overlaps_different_learning():
    # Two networks with identical visible overlaps (σ_zm, σ_zu, σ_vm, σ_vu) but ‖u‖²/N: 1 → 2 and
    # mᵀu/N → 0.8: the same function (same initial loss, to round-off) but different learning.
    S0 = np.asarray(init_vectors(jax.random.PRNGKey(1), 500, L1).gram())
    S1 = degenerate_partner(S0, L1, linear=True)
    runs = []
    for k, S in enumerate((S0, S1)):
        net = train_network(vectors_with_gram(jax.random.PRNGKey(10 + k), 500, S, L1), TASK, LIN, 300, "gd", eta=ETA)
        th = overlap_dynamics(S, TASK, 1, "linear", ETA, 300, method="flow")
        runs.append((net, th))
    (n0, t0), (n1, t1) = runs
    assert n0["loss"][0] == pytest.approx(n1["loss"][0], rel=1e-10)
    rel = np.abs(n0["loss"] - n1["loss"]) / n0["loss"]
    assert rel.max() > 0.5, rel.max()  # trajectories split (measured: see report)
    # and the overlap ODE predicts each of them (the theory knows the invisible overlaps matter)
    for net, th in runs:
        assert np.abs(th["gram"] - net["gram"]).max() < TOL


def test_erf_flipflop_ode_tracks_network_N600():
    # Nonlinear flip-flop (reduced CI size: 8 trials, dt=0.05, T=12; η=0.1, 300 epochs) from an
    # O(1) initial structure (σ_uv = 0.9, σ_uz = σ_mv = 0.3) so the run learns within 300 epochs.
    # The closure is exact only for Gaussian vectors; GD on φ = erf makes the entries slightly
    # non-Gaussian, which leaves a systematic gap that does *not* shrink with N (measured rms
    # 0.041/0.034/0.037 at N = 150/600/2400; seeds 0–2 at N = 600: rms 0.034–0.062, max 0.12–0.27).
    # Tolerance: rms < 0.08 and max < 0.35; the naive visible-only descent has rms 0.47.
    act = get_lowrank_activation("erf")
    task = flip_flop(n_trials=8, dt=0.05, T=12.0, seed=0)
    S0 = np.eye(4)
    for (a, b, x) in [(2, 1, 0.9), (3, 1, 0.3), (2, 0, 0.3)]:
        S0[a, b] = S0[b, a] = x
    ds = compare(task, rank=1, phi=act, N=600, eta=0.1, epochs=300, seed=0, adam_lr=None, S0=S0)
    assert ds["loss_net"][-1] < 0.05 * ds["loss_net"][0]
    e, n = overlap_errors(ds, "theory"), overlap_errors(ds, "naive")
    assert e["rms"] < 0.08 and e["max"] < 0.35, e
    assert n["rms"] > 0.3, n
    assert abs(float(ds["loss_theory"][-1]) - float(ds["loss_net"][-1])) < 0.3 * float(ds["loss_net"][-1])
