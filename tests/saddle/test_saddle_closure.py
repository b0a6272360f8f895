"""The Gaussian-closure start of the nonlinear saddle solver (issue #12; docs/theory/unified.md §3).

``closure_block`` replaces the tilted single-neuron measure N(h; 0, K)·exp(−φᵀĈφ) by the Gaussian N(0, Σ)
that maximises the Gibbs–Bogoliubov bound B(Σ; K, Ĉ) = −KL(N(0, Σ) ‖ N(0, K)) − ⟨Ĉ, κ(Σ)⟩, κ(Σ) = E_Σ[φφᵀ].
It is an approximation (used only to start the solver), so it is tested for what it claims:
- linear φ: the bound is tight, and the closure is the exact Gaussian measure (:func:`gaussian_block`);
- erf: Σ is a stationary point of B (its gradient vanishes), C = κ(Σ) and Γ = ∂B/∂K at fixed Σ
  (the envelope theorem), each against autodiff of B written out here;
- ``solve(start='closure')`` reaches the root of the same importance-sampled equations as the lazy start,
  within the reported Monte-Carlo error (the proposals differ, so the estimators do);
- a bad ``start`` is one error naming it.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fltheory  # noqa: F401  (float64)
from fltheory import FLTheoryInputError
from fltheory.activations import get_activation
from fltheory.gaussian import kernel_map
from fltheory.saddle import solve
from fltheory.saddle.equations import closure_block, gaussian_block
from fltheory.tasks import endpoint_task


def _kh(m, seed, tilt):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, m + 2))
    K = X @ X.T / (m + 2) + 0.2 * np.eye(m)
    u = rng.normal(size=m)
    H = 0.02 * (lambda M: M + M.T)(rng.normal(size=(m, m))) - tilt * np.outer(u, u) / m
    return jnp.asarray(K), jnp.asarray(H)


def test_closure_is_the_exact_gaussian_measure_for_linear_phi():
    K, H = _kh(6, 0, 0.3)
    assert np.isfinite(np.asarray(gaussian_block(K, H)[0])).all()  # a normalisable linear measure
    C, Gam, lnz, Sig = closure_block(K, H, get_activation("linear"))
    C0, Gam0, lnz0 = gaussian_block(K, H)
    # the damped inner iteration contracts by ½ per step (24 steps: 2⁻²⁴ of the initial distance)
    tol = 2.0 ** -24 * float(jnp.max(jnp.abs(K - C0))) * 4
    assert float(jnp.max(jnp.abs(C - C0))) < tol
    assert float(jnp.max(jnp.abs(Gam - Gam0))) < 10 * tol
    assert abs(float(lnz - lnz0)) < 10 * tol


def test_erf_closure_is_a_stationary_point_of_the_bound_and_its_envelope():
    act = get_activation("erf")
    K, H = _kh(5, 1, 3.0)

    def bound(S, K):
        m = K.shape[0]
        KinvS = jnp.linalg.solve(K, S)
        kl = 0.5 * (jnp.trace(KinvS) - m - jnp.linalg.slogdet(KinvS)[1])
        return -kl - jnp.sum(H * kernel_map(act, S))

    C, Gam, lnz, Sig = closure_block(K, H, act, n_inner=80)
    gS = jax.grad(bound)(Sig, K)
    assert float(jnp.max(jnp.abs(gS + gS.T))) < 1e-10          # ∂B/∂Σ = 0 (symmetric part)
    np.testing.assert_allclose(C, kernel_map(act, Sig), atol=1e-14)
    gK = jax.grad(bound, argnums=1)(Sig, K)
    np.testing.assert_allclose(Gam, 0.5 * (gK + gK.T), atol=1e-10)
    # the tilt matters here: the closure's C is not the untilted kernel
    assert float(jnp.max(jnp.abs(C - kernel_map(act, K)))) > 0.05


def test_closure_start_reaches_the_same_root_within_the_monte_carlo_error():
    task = endpoint_task(P=4, P_test=2, T=3, D=6, signal=1.0, seed=0)
    kw = dict(arch="rnn", phi="erf", kappa=0.1, n_mc=4096)
    a = solve(task, start="lazy", **kw)
    b = solve(task, start="closure", **kw)
    assert b.diagnostics.converged and "closure-start" in b.diagnostics.method
    # each C is an importance estimate with its own proposal: compare within 5 reported s.e. of both
    se = np.hypot(a.diagnostics.mc_error * np.max(np.abs(a.C)), b.diagnostics.mc_error * np.max(np.abs(b.C)))
    assert np.max(np.abs(a.C - b.C)) < 5 * se


def test_bad_start_is_one_error_naming_it():
    task = endpoint_task(P=2, P_test=1, T=2, D=3, signal=1.0, seed=0)
    with pytest.raises(FLTheoryInputError, match="start"):
        solve(task, phi="erf", start="nngp")
