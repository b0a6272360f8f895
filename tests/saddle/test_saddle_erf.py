"""erf networks: the importance-sampled saddle point (theory only; Langevin in test_saddle_langevin_erf.py).

Task: the shortest chain (T = 3, P = 1, κ = 0.1), as in the linear referee. Measured (n_mc = 4096):
the block-diagonal branch stays exactly block-diagonal, the broken branch exists from y ≈ 1.9 on
(q = 0.36 at y = 2, 0.73 at y = 3) and has the larger action there. Draws: scrambled Sobol' (default).
"""
import numpy as np

import fltheory  # noqa: F401  (float64)
from fltheory.activations import get_activation
from fltheory.kernels import nngp_kernels
from fltheory.saddle import broken_branch, follow_branch, solve
from fltheory.saddle.linear_chain import chain_task
from fltheory.saddle.single_neuron import (alternating_signs, importance_moments, mcmc_moments,
                                           standard_draws)

KAPPA = 0.1
T2, P2 = 3, 2  # a small RNN measure (T·P = 6) for estimator-level tests


def _tilted_problem(seed, chat_scale):
    """A random PD K and symmetric Ĉ on T2·P2 time-major entries."""
    n = T2 * P2
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))
    B = rng.standard_normal((n, n))
    return A @ A.T / n + 0.3 * np.eye(n), chat_scale * (B + B.T)


def test_symmetric_draws_make_the_sampled_action_exactly_invariant():
    # h_t → (−1)^t h_t (and h → −h) maps the draw set onto itself, so the sampled moments of a
    # sign-transformed problem are the sign-transformed moments, to round-off.
    T, P, n = T2, P2, T2 * P2
    K, Chat = _tilted_problem(0, 0.2)
    E = np.diag(alternating_signs(T, P))
    act = get_activation("erf")
    z = standard_draws(512, n, 3, flips=(alternating_signs(T, P),))
    assert z.shape == (4 * 512, n)
    C1 = importance_moments(K, Chat, act, z).phiphi
    C2 = importance_moments(E @ K @ E, E @ Chat @ E, act, z).phiphi
    np.testing.assert_allclose(E @ C2 @ E, C1, atol=1e-12)
    # without the flips the sampled moments are not equivariant (the MC noise breaks the symmetry)
    z0 = standard_draws(512, n, 3)
    D1 = importance_moments(K, Chat, act, z0).phiphi
    D2 = importance_moments(E @ K @ E, E @ Chat @ E, act, z0).phiphi
    assert np.abs(E @ D2 @ E - D1).max() > 1e-4


def test_erf_pitchfork_block_diagonal_branch_and_broken_branch():
    ys = np.linspace(0.25, 3.0, 12)
    sym = follow_branch(chain_task, ys, phi="erf", kappa=KAPPA)
    br = broken_branch(chain_task, ys, sym, phi="erf", kappa=KAPPA)
    for y, s, b in zip(ys, sym, br):
        assert s.diagnostics.converged and s.diagnostics.residual < 1e-10
        # exact symmetry: the lag-1 blocks of the block-diagonal branch vanish to round-off. Below the
        # transition (y ≤ 1.75) they stay at round-off (measured ≤ 4e-17); above it the block-diagonal
        # branch is unstable along the lag-1 direction, and each continuation step amplifies the
        # round-off there (measured 1e-12 at y = 2.25 growing to 1.9e-10 at y = 3, on the 2026-12-07
        # machine; < 1e-10 on an earlier one). Open draws break the symmetry at q ≥ 0.04 and the broken
        # branch has q > 0.4, so 1e-8 still separates exact symmetry from either by > 6 decades.
        bound = 1e-14 if y <= 1.75 else 1e-8
        assert s.order_parameter() < bound, (y, s.order_parameter())
        if y <= 1.75:
            assert b is None, (y, b.order_parameter())
        if y >= 2.25:
            assert b is not None and b.order_parameter() > 0.4 and b.action > s.action + 1e-3, y
    # the order parameter grows with the signal on the broken branch
    qs = [b.order_parameter() for b in br if b is not None]
    assert np.all(np.diff(qs) > 0), qs


def test_erf_lazy_limit_is_the_arcsine_nngp():
    task = chain_task(0.02)
    sol = solve(task, phi="erf", kappa=KAPPA, n_mc=16384)
    C0 = nngp_kernels(task.X, phi="erf").C
    # Ĉ → 0: C is the importance (here plain MC) estimate of the arcsine kernel; MC s.e. ≈ 0.2 %
    np.testing.assert_allclose(np.diag(sol.C), np.diag(C0), rtol=0.01)
    assert np.abs(sol.Chat).max() < 1e-2


def test_erf_saddle_point_against_hmc():
    """The importance-sampled solution satisfies C = ⟨φφᵀ⟩ when ⟨φφᵀ⟩ is re-measured by HMC.

    Measured at y = 1.25 (symmetric phase, C far from the NNGP), n_mc = 65536: ≤ 0.16 % off with Sobol'
    draws (≤ 0.34 % with plain MC draws), HMC s.e. 0.1–0.2 %. Tolerance 0.6 % (3 HMC s.e.) of each entry.
    """
    ys = np.linspace(0.25, 1.25, 5)
    sym = follow_branch(chain_task, ys, phi="erf", kappa=KAPPA)[-1]
    sol = solve(chain_task(1.25), phi="erf", kappa=KAPPA, init=sym, homotopy=False, n_mc=65536)
    C0 = nngp_kernels(chain_task(1.25).X, phi="erf").C
    assert np.all(np.diag(sol.C) > 1.1 * np.diag(C0))  # feature learning: far from the lazy kernel
    mm = mcmc_moments(sol.K, sol.Chat, "erf", n_chains=128, n_samples=1000, burn_in=300, seed=5)
    rel = np.abs(np.diag(mm.phiphi) - np.diag(sol.C)) / np.diag(sol.C)
    assert rel.max() < 0.006, (rel, np.diag(mm.phiphi_sem))


def test_sobol_draws_beat_plain_monte_carlo():
    # the same tilted erf measure (T = 3, P = 2), 8 scramble/PRNG seeds, 4096 base draws each:
    # the seed-to-seed spread of ⟨φφᵀ⟩ is several times smaller with scrambled Sobol' points
    T, P, n = T2, P2, T2 * P2
    K, Chat = _tilted_problem(1, 0.3)
    act = get_activation("erf")
    flips = (alternating_signs(T, P),)
    spread = {}
    for method in ("sobol", "mc"):
        est = [importance_moments(K, Chat, act, standard_draws(4096, n, s, flips=flips, method=method)).phiphi
               for s in range(8)]
        spread[method] = float(np.std(est, axis=0, ddof=1).max())
    assert spread["sobol"] < spread["mc"] / 2, spread
