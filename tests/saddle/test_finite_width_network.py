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
from fltheory.saddle.finite_width import FiniteWidthWarning
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


@pytest.mark.slow
def test_per_entry_criterion_on_the_phase_task_against_mala():
    """The per-entry reliability criterion (``C_entry_reliable``, ``C_error_estimate``;
    docs/theory/finite_width.md §2.5) on the default P = 4 phase task (linear RNN, signal 1.0, symmetric
    branch, κ = 0.1), against the Metropolis-adjusted sampler at N = 64 (Gi 1.46: the global criterion
    warns; 34 of the 78 training-kernel entries flagged). 16 chains, the default step, 12 relaxation times
    of burn-in and 16 of sampling (29 502 steps), seed 0: the run of
    ``python benchmarks/finite_width_entries.py --phase rnn 1.0 64``.

    Measured: χ² over the 46 entries the correction moves 129.5 (saddle point) → 42.8 (corrected); one
    entry (C[t1p2, t3p3]) is made worse by more than 2 s.e. (2.4), and it is flagged; every corrected
    entry lies within ``C_error_estimate`` + 1.0 s.e. of the network. 302 s on 2 cores at a load average of 25."""
    from scipy.stats import chi2

    from fltheory.experiments.phase import make_task_fn
    from fltheory.saddle import follow_branch
    from fltheory.sampling.posterior import default_burn_in, default_step_size

    N, s = 64, 1.0
    fn = make_task_fn()
    task = fn(s)
    sol = follow_branch(fn, np.linspace(0.25, s, 6), arch="rnn", kappa=KAPPA)[-1]
    with pytest.warns(FiniteWidthWarning):
        fw = sol.finite_width(N)
    P, T, n = task.P, task.T, task.P + task.P_test
    tr = [t * n + mu for t in range(T) for mu in range(P)]
    iu, ju = np.triu_indices(T * P)
    net = RecurrentNet(N=N, D=task.D, T=T, phi="linear", tied=True)
    eta = default_step_size(net, task, KAPPA)
    sim = sample_posterior(net, task, kappa=KAPPA, n_samples=200,
                           thin=max(1, default_burn_in(net, eta, relaxation_times=16.0) // 200),
                           burn_in=default_burn_in(net, eta, relaxation_times=12.0), n_chains=16,
                           step_size=eta, seed=0, progress=False, sampler="mala", dtype=jnp.float64)
    assert sim.acceptance > 0.9, sim.acceptance
    drift, drift_se = sim.q_drift()
    assert abs(drift) < 4 * drift_se + 1e-12, (drift, drift_se)       # equilibrated
    C = sim.C_chains[:, tr][:, :, tr]
    m, se = C.mean(0)[iu, ju], (C.std(0, ddof=1) / np.sqrt(C.shape[0]))[iu, ju]
    c0, c1 = np.asarray(sol.C)[iu, ju], np.asarray(fw.C)[iu, ju]
    est, ok = np.asarray(fw.C_error_estimate)[iu, ju], np.asarray(fw.C_entry_reliable)[iu, ju]
    moved = np.abs(c1 - c0) > 1e-9            # the lag-1 entries are 0 by symmetry in both theories
    e0, e1 = np.abs(m - c0), np.abs(m - c1)
    # no misses: every entry the correction makes worse by more than 2 s.e. is flagged
    worse = e1 - e0 > 2 * se
    assert not np.any(worse & ok), [(iu[k], ju[k]) for k in np.where(worse & ok)[0]]
    # the estimated second-order error bounds the corrected entry's actual error, within 4 s.e.
    assert np.all(e1[moved] <= est[moved] + 4 * se[moved]), np.max((e1 - est)[moved] / se[moved])
    # the correction is needed and enough on the entries it moves (χ² at the 0.1 % level)
    bound = chi2.ppf(0.999, int(moved.sum()))
    z0, z1 = ((m - c0) / se)[moved], ((m - c1) / se)[moved]
    assert np.sum(z1**2) < bound < np.sum(z0**2), (np.sum(z1**2), bound, np.sum(z0**2))
