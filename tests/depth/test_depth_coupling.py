"""The coupling count (docs/theory/depth.md §8, "The coupling count"; issue #15).

How much of the first GD step of a depth-muP ResNet comes from reusing W_ℓ in the backward pass,
measured by the one-step loss-decrease rate κ = yᵀKy/P² and split into

- total    = κ(reused) − κ(every W̃_ℓ independent)                           → O(1) as L → ∞
- single   = κ(reused) − κ(only W_m independent), m = L/2 + 1               → O(1/L)
- adjacent = the part of `single` that reaches the update of layer m − 1     → O(1/L²)
- skip     = the part of `single` that reaches layers j < m − 1 and U        → O(1/L)

Checks: the infinite-width theory against the tangent kernels of tangent.py (round-off) and its rates
in L (a convergent sequence, deterministic); finite networks at two widths against the theory within
4 s.e. (seed spread); the depth sweep of the networks (slow); bad input.
"""
from __future__ import annotations

import jax
import numpy as np
import pytest

import fltheory  # noqa: F401  (float64)
from fltheory import FLTheoryInputError
from fltheory.depth import ResNetConfig, tangent_kernels, teacher_task
from fltheory.depth.nfd_convergence import (COUPLING_PARTS, coupling_count_experiment, coupling_count_network,
                                            coupling_count_theory)

TASK = teacher_task(jax.random.PRNGKey(0), P=8, P_test=1, D=16)
X = np.asarray(TASK.X, np.float64)
Y = np.asarray(TASK.y, np.float64)
TOTAL, SINGLE, ADJ, SKIP = (COUPLING_PARTS.index(p) for p in ("total", "single", "adjacent", "skip"))


def _theory(L):
    return coupling_count_theory(X, Y, ResNetConfig(N=1, L=L, D=16, phi="erf"))


def test_theory_matches_tangent_kernels():
    for L in (8,):
        kappa, parts = _theory(L)
        Kr, Kd = (np.asarray(k) for k in tangent_kernels(X, ResNetConfig(N=1, L=L, D=16, phi="erf")))
        P = len(Y)
        np.testing.assert_allclose(kappa[:2], [Y @ Kr @ Y / P**2, Y @ Kd @ Y / P**2], rtol=1e-12)
        np.testing.assert_allclose(parts[SINGLE], parts[ADJ] + parts[SKIP], rtol=1e-12)
        assert np.all(parts > 0)


def test_theory_rates_in_depth():
    """total → a non-zero limit; L·single, L·skip and L²·adjacent → non-zero limits (Cauchy in L)."""
    p = {L: _theory(L)[1] for L in (64, 128, 256)}
    kappa = _theory(256)[0][0]
    assert p[256][TOTAL] > 0.2 * kappa  # an O(1) fraction (≈ 22 %) of the one-step loss decrease
    for part, power in ((TOTAL, 0), (SINGLE, 1), (SKIP, 1), (ADJ, 2)):
        scaled = {L: p[L][part] * L**power for L in p}
        # differences shrink like 1/L (Euler): the limit exists and is ≈ scaled[256]
        d1, d2 = abs(scaled[128] - scaled[64]), abs(scaled[256] - scaled[128])
        assert d2 < 0.6 * d1 and d2 < 0.01 * scaled[256], (COUPLING_PARTS[part], scaled)


@pytest.fixture(scope="module")
def net8():
    cfg = lambda N: ResNetConfig(N=N, L=8, D=16, phi="erf")  # noqa: E731
    return {N: coupling_count_network(cfg(N), X, Y, n_seeds=10, seed=3)[1] for N in (128, 512)}


def test_networks_at_two_widths_match_theory(net8):
    """Finite networks at N = 128 and 512 (L = 8, 10 seeds): every part within 4 s.e. of the N = ∞ theory."""
    th = _theory(8)[1]
    for N, parts in net8.items():
        mean, se = parts.mean(0), parts.std(0, ddof=1) / np.sqrt(parts.shape[0])
        assert np.all(np.abs(mean - th) < 4 * se), (N, mean, se, th)
    # resolved at N = 512: the total reuse effect and the single-matrix one are far above their s.e.
    p = net8[512]
    se = p.std(0, ddof=1) / np.sqrt(p.shape[0])
    assert p.mean(0)[TOTAL] > 10 * se[TOTAL] and p.mean(0)[SINGLE] > 8 * se[SINGLE]
    # the seed spread shrinks with N (fluctuation ∝ 1/√N)
    assert p.std(0, ddof=1)[TOTAL] < net8[128].std(0, ddof=1)[TOTAL]


@pytest.mark.slow
def test_depth_sweep_networks():
    """N = 512, L = 4 … 32: total stays O(1), single falls ∝ 1/L (not 1/L²), each within 4 s.e. of theory."""
    ds = coupling_count_experiment(Ls=(4, 8, 16, 32), N=512, n_seeds=8)
    net, se, th = ds.network.values, ds.network_se.values, ds.theory.values
    assert np.all(np.abs(net - th) < 4 * se + 1e-12)
    r = net[0, SINGLE] / net[-1, SINGLE]  # L = 4 → 32: 8 if ∝ 1/L, 64 if ∝ 1/L²
    r_se = r * np.hypot(se[0, SINGLE] / net[0, SINGLE], se[-1, SINGLE] / net[-1, SINGLE])
    assert abs(r - th[0, SINGLE] / th[-1, SINGLE]) < 4 * r_se and r + 4 * r_se < 32
    assert net[-1, TOTAL] > net[0, TOTAL] - 4 * np.hypot(se[0, TOTAL], se[-1, TOTAL])


def test_bad_input():
    with pytest.raises(FLTheoryInputError, match="^cfg"):
        coupling_count_theory(X, Y, ResNetConfig(N=1, L=4, D=16, phi="erf", arch="mup_resnet"))
    with pytest.raises(FLTheoryInputError, match="^cfg"):
        coupling_count_network(ResNetConfig(N=8, L=4, D=16, phi="erf", arch="dnn"), X, Y)
    with pytest.raises(FLTheoryInputError, match="^n_seeds"):
        coupling_count_network(ResNetConfig(N=8, L=4, D=16, phi="erf"), X, Y, n_seeds=0)
    with pytest.raises(FLTheoryInputError, match="^y"):
        coupling_count_network(ResNetConfig(N=8, L=4, D=16, phi="erf"), X, Y[:3])
    with pytest.raises(FLTheoryInputError, match="^Ls"):
        coupling_count_experiment(Ls=(), N=8)
    with pytest.raises(FLTheoryInputError, match="^N"):
        coupling_count_experiment(Ls=(2,), N=0)
