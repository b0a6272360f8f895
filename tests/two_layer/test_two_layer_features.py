"""Overlaps J_A(w), Σ(w) and the cube NNGP eigenvalues of issue #5 (docs/theory/two_layer.md §2)."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fltheory  # noqa: F401  (float64)
from fltheory import FLTheoryInputError
from fltheory.two_layer.ard import ard_update, relevance_ratio, symmetrize_groups
from fltheory.two_layer.features import (ParityOverlaps, SingleIndexOverlaps, all_patterns,
                                         cube_kernel_eigenvalue, walsh)


def test_odd_parity_is_invisible_to_bias_free_relu():
    # relu(h) = h/2 + |h|/2: Walsh weight only on degree 1 and even degrees, so J_A ≡ 0 for odd |A| >= 3.
    model = ParityOverlaps(8, (0, 1, 2), method="exact")
    rng = np.random.default_rng(0)
    for _ in range(5):
        J, _ = model.overlaps(jnp.asarray(rng.standard_normal(8) * 3))
        assert abs(float(J[0])) < 1e-14
    assert cube_kernel_eigenvalue(3, 8) == pytest.approx(0.0, abs=1e-15)
    assert cube_kernel_eigenvalue(4, 8) > 1e-5


def test_cube_eigenvalue_matches_brute_force_over_prior_weights():
    # λ_k = E_w[J_S(w)²] (exact J by enumeration of {±1}^8). Monte Carlo over 20000 prior w:
    # tolerance = 4 standard errors of the sample mean of J².
    d = 8
    X = all_patterns(d)
    w = np.random.default_rng(1).standard_normal((20000, d))
    H = np.maximum(X @ w.T / np.sqrt(d), 0.0)
    for k in (1, 2, 4):
        J = walsh(X, range(k)) @ H / len(X)
        lam = cube_kernel_eigenvalue(k, d)
        se = (J**2).std() / np.sqrt(len(J))
        assert abs((J**2).mean() - lam) < 4 * se, (k, (J**2).mean(), lam, se)
    # orthogonality: E_w[J_A J_B] = 0 for A ≠ B of equal size
    JA, JB = walsh(X, (0, 1)) @ H / len(X), walsh(X, (0, 2)) @ H / len(X)
    assert abs(np.mean(JA * JB)) < 4 * np.std(JA * JB) / np.sqrt(len(JA))


def test_clt_overlaps_against_exact_enumeration():
    # The CLT replaces the Rademacher sum over the d - |E| unenumerated coordinates by a Gaussian
    # (Berry–Esseen: error O(max_j w_j²/‖w_⊥‖²)). Measured at d = 12, 16 (docs/theory/two_layer.md §2):
    # |ΔJ_S| ≲ 4e-3 for every neuron, ≤ 13 % of |J_S| ≈ 0.1 for aligned neurons. Required here:
    # |ΔJ_S| < 6e-3 always, < 15 % of |J_S| for aligned neurons, and Σ within 2 %.
    d, S = 16, (0, 1, 2, 3)
    clt, exact = ParityOverlaps(d, S), ParityOverlaps(d, S, method="exact")
    rng = np.random.default_rng(2)
    for aligned in (True, False):
        for _ in range(6):
            w = rng.standard_normal(d)
            if aligned:
                w[list(S)] = 3.0 * rng.choice([-1.0, 1.0], 4) + 0.3 * rng.standard_normal(4)
            Jc, Sc = clt.overlaps(jnp.asarray(w))
            Je, Se = exact.overlaps(jnp.asarray(w))
            err = abs(float(Jc[0] - Je[0]))
            assert err < 6e-3
            if aligned:
                assert err < 0.15 * abs(float(Je[0]))
            assert abs(float(Sc - Se)) < 0.02 * float(Se)
    # the gradient used by MALA is finite
    g = jax.grad(lambda w: clt.overlaps(w)[0][0])(jnp.asarray(w))
    assert np.all(np.isfinite(np.asarray(g)))


def test_single_index_overlaps_against_monte_carlo():
    # J_n(w) = E_x[relu(w·x/√d) He_n(v·x)]/√n! in closed form vs 4·10^5 Gaussian inputs;
    # tolerance 5 standard errors of the Monte-Carlo mean.
    d = 6
    model = SingleIndexOverlaps(d, (0, 1), degree=2, n_max=4)
    rng = np.random.default_rng(3)
    w = rng.standard_normal(d)
    w[:2] += 1.5
    J, Sig = model.overlaps(jnp.asarray(w))
    x = rng.standard_normal((400000, d))
    h = np.maximum(x @ w / np.sqrt(d), 0.0)
    u = x @ model.v
    for n in range(5):
        he = np.polynomial.hermite_e.hermeval(u, np.eye(n + 1)[n]) / math.sqrt(math.factorial(n))
        est = h * he
        assert abs(est.mean() - float(J[n])) < 5 * est.std() / np.sqrt(len(est)), n
    assert abs((h**2).mean() - float(Sig)) < 5 * (h**2).std() / np.sqrt(len(h))
    assert np.mean(model.target(x) ** 2) == pytest.approx(1.0, abs=0.02)


def test_ard_update_and_helpers():
    w2 = np.array([4.0, 4.0, 0.5, 0.5])
    rho = ard_update(w2, N=100, a0=1.0, b0=2.0)
    np.testing.assert_allclose(rho, (1 + 50) / (2 + 50 * w2))
    assert relevance_ratio(rho, (0, 1)) == pytest.approx(rho[2] / rho[0])
    np.testing.assert_allclose(symmetrize_groups([1.0, 3.0, 0.0, 2.0], (0, 1)), [2, 2, 1, 1])
    with pytest.raises(FLTheoryInputError, match="w2"):
        ard_update([-1.0], N=4, a0=1, b0=1)
    with pytest.raises(FLTheoryInputError, match="relevant"):
        ParityOverlaps(5, (0, 7))
    with pytest.raises(FLTheoryInputError, match="method"):
        ParityOverlaps(5, (0, 1), method="mc")


def test_models_hash_by_parameters_and_the_mf_block_cache_is_bounded():
    # issue #18: the MALA blocks of mean_field are cached in a bounded LRU keyed on the model itself.
    import types

    from fltheory.two_layer import mean_field

    a, b = ParityOverlaps(6, [0, 1], tracked=[(2,)]), ParityOverlaps(6, (0, 1), tracked=((2,),))
    assert a == b and hash(a) == hash(b) and a != ParityOverlaps(6, (0, 1), method="exact")
    assert SingleIndexOverlaps(6, (0, 1)) == SingleIndexOverlaps(6, (0, 1))
    assert mean_field._get_block(a, True, 3) is mean_field._get_block(b, True, 3)  # jit is lazy: no compile
    assert mean_field._build_block.cache_info().maxsize == mean_field._BLOCK_CACHE_SIZE
    with pytest.raises(FLTheoryInputError, match="hashable"):
        mean_field._get_block(types.SimpleNamespace(d=6), True, 3)
