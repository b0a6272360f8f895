"""NNGP kernels against brute-force Monte Carlo of wide random networks (N = 2000, 16 seeds).

Per entry, the empirical pre-activation kernel h·h/N of one network fluctuates by O(1/√N); we
average over seeds and form z = (mean − theory)/SE, with SE the seed standard error. The finite-N bias
of the mean is O(1/N) ≈ 5e-4, far below SE ≈ 5e-3. With 16 seeds each z is Student-t with 15 degrees
of freedom: P(|z| > 5.5) ≈ 6e-5 per entry, and the ≈ 200 entries per case are strongly correlated
within blocks, so max |z| < 5.5 fails by chance with probability well below 1 %. (With 6 seeds the
t-tails made this test flaky; a check with 24 seeds showed no bias.) To show the test has power, the
same statistic against the kernel of a network with g² off by 10 % must exceed the bound.
"""
import jax
import numpy as np
import pytest

import fltheory  # noqa: F401
from fltheory.kernels import nngp_kernels
from fltheory.kernels.layout import blocks
from fltheory.models import RecurrentNet
from fltheory.tasks import endpoint_task, sequential_task

N, SEEDS = 2000, 16


def _mc_kernel(X, phi, tied):
    P, T, D = X.shape
    net = RecurrentNet(N=N, D=D, T=T, phi=phi, tied=tied, g2=1.2, gu2=0.9)
    hidden = jax.jit(net.hidden)
    Ks = []
    for s in range(SEEDS):
        p = net.init(jax.random.PRNGKey(100 + s), np.float32)
        h = np.asarray(hidden(p, X), np.float64)
        H = np.swapaxes(h, 0, 1).reshape(T * P, N)
        Ks.append(H @ H.T / N)
    Ks = np.array(Ks)
    return Ks.mean(0), Ks.std(0, ddof=1) / np.sqrt(SEEDS)


def _sequential_X():
    return sequential_task(teacher="lds", P=4, P_test=1, T=3, D=3, seed=1).X


def _endpoint_X():
    return endpoint_task(P=4, P_test=1, T=3, D=3, seed=1).X


@pytest.mark.parametrize(
    "phi,tied,inputs",
    [(phi, tied, "sequential") for phi in ("linear", "erf", "relu") for tied in (True, False)]
    + [("erf", True, "endpoint"), ("relu", False, "endpoint")],
)
def test_nngp_matches_wide_network_monte_carlo(phi, tied, inputs):
    X = _sequential_X() if inputs == "sequential" else _endpoint_X()
    theory = nngp_kernels(X, phi=phi, g2=1.2, gu2=0.9, tied=tied).K
    wrong = nngp_kernels(X, phi=phi, g2=1.32, gu2=0.9, tied=tied).K
    mean, se = _mc_kernel(X, phi, tied)
    zmax = lambda K: float(np.max(np.abs(mean - K) / se))
    assert zmax(theory) < 5.5, f"max |z| = {zmax(theory):.2f}"
    assert zmax(wrong) > 5.5, f"test has no power: max |z| against a wrong kernel = {zmax(wrong):.2f}"


@pytest.mark.parametrize("phi", ["linear", "erf", "relu"])
def test_tied_and_untied_agree_on_endpoint_tasks(phi):
    X = _endpoint_X()
    P, T = X.shape[:2]
    rnn = blocks(nngp_kernels(X, phi=phi, tied=True).K, T, P)
    dnn = blocks(nngp_kernels(X, phi=phi, tied=False).K, T, P)
    for t in range(T):  # same-time blocks (all an endpoint readout sees) are identical
        np.testing.assert_allclose(rnn[t, t], dnn[t, t], rtol=1e-13, atol=1e-15)
    off = ~np.eye(T, dtype=bool)
    assert np.all(dnn[off] == 0)
    if phi != "relu":  # odd φ: the RNN's cross-time blocks vanish too, so the kernels are equal
        np.testing.assert_allclose(rnn, dnn, atol=1e-15)
    else:  # relu has E[φ] > 0, which the shared W carries across time
        assert np.abs(rnn[off]).max() > 1e-2


@pytest.mark.parametrize("phi", ["linear", "erf", "relu"])
def test_tied_and_untied_differ_with_inputs_at_every_step(phi):
    X = _sequential_X()
    P, T = X.shape[:2]
    rnn = blocks(nngp_kernels(X, phi=phi, tied=True).K, T, P)
    dnn = blocks(nngp_kernels(X, phi=phi, tied=False).K, T, P)
    for t in range(T):
        np.testing.assert_allclose(rnn[t, t], dnn[t, t], rtol=1e-12)
    assert np.abs(rnn[1, 2]).max() > 0.05 and np.all(dnn[1, 2] == 0)
