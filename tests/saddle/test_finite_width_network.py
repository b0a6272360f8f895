"""The exact width-N referee (fltheory.saddle.exact_chain) against the network itself (issue #13).

The referee's density of the kernel is derived, not sampled (docs/theory/finite_width.md §3); here it
meets the Metropolis-adjusted Langevin sampler of the same RNN (float64, no step bias; its burn-in runs
unadjusted). Observables are sign-invariant (diagonal and lag-2 kernels, the predictor), so chains in
either W → −W mode count alike. Tolerance: 4 combined errors, √(s.e.² of the chain means + the
referee's quadrature error²) (chains are independent; over 5 observables a false alarm has probability
≈ 3e-4). The quadrature converges slowly at small N (at N = 16 the rules of order 10–14 still differ by
0.04 in C₂₂), so the default test runs at N = 32 with an order-12 rule (error ≲ 0.006).
"""
import jax.numpy as jnp
import numpy as np
import pytest

import fltheory  # noqa: F401
from fltheory.models import RecurrentNet
from fltheory.sampling import sample_posterior
from fltheory.saddle.exact_chain import exact_chain_moments
from fltheory.saddle.linear_chain import chain_task, critical_signal_T3

KAPPA = 0.1
Y_C = critical_signal_T3(kappa=KAPPA)
TRAIN = [0, 2, 4]   # the training pattern's rows at t = 1, 2, 3 (train and test patterns interleave per step)


def _compare(y_ratio, N, eta, n_samples, thin, burn_in, n_chains, seed, order=None):
    y = y_ratio * Y_C
    task = chain_task(y)
    net = RecurrentNet(N=N, D=task.D, T=3, phi="linear", tied=True)
    sim = sample_posterior(net, task, kappa=KAPPA, n_samples=n_samples, thin=thin, burn_in=burn_in,
                           n_chains=n_chains, step_size=eta, seed=seed, progress=False, sampler="mala",
                           dtype=jnp.float64)
    C = sim.C_chains[:, TRAIN][:, :, TRAIN]
    f = sim.f_chains[:, 0, -1, 0]
    ref = exact_chain_moments(y, N, T=3, kappa=KAPPA, order=order)
    Cr, Ce = ref.C_folded, ref.C_folded_se
    obs = {"C11": (C[:, 0, 0], Cr[0, 0], Ce[0, 0]), "C22": (C[:, 1, 1], Cr[1, 1], Ce[1, 1]),
           "C33": (C[:, 2, 2], Cr[2, 2], Ce[2, 2]), "C13": (C[:, 0, 2], Cr[0, 2], Ce[0, 2]), "f": (f, ref.f, ref.f_se)}
    out = {}
    for k, (chains, exact, quad) in obs.items():
        m = chains.mean()
        err = np.hypot(chains.std(ddof=1) / np.sqrt(len(chains)), quad)
        out[k] = (m, err, exact, (m - exact) / err)
    return sim, out


def test_network_matches_the_exact_width_n_posterior_below_the_transition():
    """RNN, N = 32, y = 0.6 y_c. The lag-2 kernel C₁₃ is a pure finite-width effect of the shared weights
    (the saddle point has C₁₃ = 0; the exact width-32 value is 0.18): the sampler must find it.
    Measured (41 250 steps): C₁₃ 0.171 ± 0.013 vs 0.173, C₃₃ 4.477 ± 0.021 vs 4.494."""
    sim, out = _compare(0.6, N=32, eta=0.008, n_samples=200, thin=100, burn_in=2000, n_chains=16, seed=0, order=12)
    assert sim.acceptance > 0.5, sim.acceptance
    for k, (m, err, exact, z) in out.items():
        assert abs(z) < 4.0, (k, m, err, exact)
    m, err, exact, _ = out["C13"]
    assert exact > 5 * err and m > 5 * err, out["C13"]   # resolved away from the saddle point's 0


@pytest.mark.slow
def test_network_matches_the_exact_width_n_posterior_above_the_transition():
    """RNN, N = 64, y = 2 y_c (broken phase), 25 000 unadjusted burn-in steps then 40 000 MALA steps
    (measured: acceptance 0.82; C₃₃ 21.73 ± 0.12 vs exact 21.90, C₁₃ 2.35 ± 0.10 vs 2.42, f 5.7016 ±
    0.0004 vs 5.7011), ≈ 80 s."""
    sim, out = _compare(2.0, N=64, eta=0.001, n_samples=400, thin=100, burn_in=25_000, n_chains=16, seed=4)
    assert sim.acceptance > 0.5, sim.acceptance
    for k, (m, se, exact, z) in out.items():
        assert abs(z) < 4.0, (k, m, se, exact)
