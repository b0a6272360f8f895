"""The exact Gibbs update of the readout a | w in the two-layer SGLD (issue #14, docs/theory/two_layer.md §6b).

Given the first layer w the posterior of a is Gaussian: precision Λ = I/sa2 + Φ̃ᵀΦ̃/κ², mean
Λ⁻¹Φ̃ᵀy/κ², Φ̃ = φ(w·x/√d)/N^γ. The referee below is that closed form written out in NumPy; the sampler
draws through a Cholesky factor of the N × N (N ≤ P) or the P × P system (P < N, Matheron's rule), and
both branches are checked. Tolerances: 4 standard errors of the sample mean and covariance (fixed seeds).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fltheory  # noqa: F401  (float64)
from fltheory import FLTheoryInputError
from fltheory.two_layer import relaxation_diagnostics, run_sgld, sample_readout

KAPPA2, SA2, GAMMA = 0.1, 1.3, 0.5


def features(X, W):
    return np.maximum(X @ W.T / np.sqrt(X.shape[1]), 0.0)


def closed_form(Phi, Y, kappa2=KAPPA2, sa2=SA2, gamma=GAMMA):
    """Mean and covariance of p(a | w) ∝ exp(−‖Φa/N^γ − y‖²/(2κ²) − ‖a‖²/(2 sa2))."""
    F = Phi / Phi.shape[1] ** gamma
    cov = np.linalg.inv(np.eye(Phi.shape[1]) / sa2 + F.T @ F / kappa2)
    return cov @ F.T @ Y / kappa2, cov


def instance(P, N, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.choice([-1.0, 1.0], size=(P, d))
    W = rng.normal(size=(N, d))
    return X, np.prod(X[:, :2], 1) + 0.3 * rng.normal(size=P), W


def assert_moments(A, mean, cov, z=4.0):
    """Sample mean and covariance of the rows of A within z standard errors of (mean, cov), entrywise
    (+1e-12: an input where every relu is off has f ≡ 0, variance 0)."""
    n = len(A)
    se_mean = np.sqrt(np.diag(cov) / n) + 1e-12
    assert np.all(np.abs(A.mean(0) - mean) < z * se_mean), np.max(np.abs(A.mean(0) - mean) / se_mean)
    S = np.cov(A.T)
    se_cov = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov ** 2) / n) + 1e-12
    assert np.all(np.abs(S - cov) < z * se_cov), np.max(np.abs(S - cov) / se_cov)


@pytest.mark.parametrize("P, N", [(9, 5), (5, 9)], ids=["NxN", "PxP"])
def test_sample_readout_has_the_closed_form_mean_and_covariance(P, N):
    X, Y, W = instance(P, N)
    Phi = features(X, W)
    mean, cov = closed_form(Phi, Y)
    draw = jax.jit(jax.vmap(lambda k: sample_readout(k, Phi, Y, kappa2=KAPPA2, sa2=SA2, gamma=GAMMA)))
    A = np.asarray(draw(jax.random.split(jax.random.PRNGKey(3), 20000)))
    assert A.dtype == np.float64
    assert_moments(A, mean, cov)


@pytest.mark.parametrize("P, N", [(9, 5), (5, 9)], ids=["NxN", "PxP"])
def test_run_sgld_gibbs_with_frozen_first_layer_samples_the_readout_conditional(P, N):
    # A first-layer step of ~1e-16 freezes w at init_params; the Gibbs chain's readouts are then i.i.d.
    # draws of p(a | w), so the recorded test predictor f = Φ_t a/N^γ has mean Φ_t μ/N^γ and covariance
    # Φ_t Σ Φ_tᵀ/N^{2γ} (μ, Σ: closed form at each chain's w).
    X, Y, _ = instance(P, N)
    rng = np.random.default_rng(1)
    Xt = rng.choice([-1.0, 1.0], size=(4, X.shape[1]))
    n_chains = 2
    init = {"w": rng.normal(size=(n_chains, N, X.shape[1])), "a": np.zeros((n_chains, N))}
    res = run_sgld(X, Y, Xt, np.zeros(len(Xt)), N=N, kappa2=KAPPA2, sw2=1.0, sa2=SA2, n_chains=n_chains,
                   burn_in=0, n_samples=6000, thin=1, step_scale=1e-16, readout_update="gibbs",
                   init_params=init, keep_trace=True, dtype=jnp.float64, seed=2)
    assert res.readout_update == "gibbs" and res.f_test_trace.shape == (n_chains, 6000, len(Xt))
    np.testing.assert_allclose(res.final_params["w"], init["w"], atol=1e-4)   # frozen
    for c in range(n_chains):
        mean, cov = closed_form(features(X, init["w"][c]), Y)
        Ft = features(Xt, init["w"][c]) / N ** GAMMA
        assert_moments(res.f_test_trace[c], Ft @ mean, Ft @ cov @ Ft.T)


def test_gibbs_is_stable_where_langevin_diverges():
    # N = 256, P = 200: the readouts' constant mode is ≈ 1 + 255/π ≈ 80 times stiffer than the per-neuron
    # curvature the default step (step_scale = 0.05) is scaled by, η·λ_max ≈ 3.4 > 2 at the prior: joint
    # Langevin diverges in some chains (an error naming step_scale) and shrinks w in the others until
    # η·λ_max < 2. The Gibbs sampler draws a exactly, keeps the same w step, and stays finite with
    # ⟨w²⟩ near its prior value.
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(200, 12))
    Y = np.prod(X[:, :4], 1)
    Xt = rng.choice([-1.0, 1.0], size=(64, 12))
    kw = dict(N=256, kappa2=0.1, n_chains=4, burn_in=400, n_samples=2, thin=50, seed=0)
    with pytest.raises(FLTheoryInputError, match="^step_scale: .*diverged.*readout_update='gibbs'"):
        run_sgld(X, Y, Xt, np.prod(Xt[:, :4], 1), **kw)
    gibbs = run_sgld(X, Y, Xt, np.prod(Xt[:, :4], 1), readout_update="gibbs", **kw)
    # Finite, fitting (train MSE 0.09 measured after 500 steps; the prior predictor's is ≈ 1), and no
    # shrunken first layer: the posterior's ⟨w²⟩ at N = 256, P = 200 is 0.97 (irrelevant) to 1.36
    # (relevant) in the long runs of docs §6b, where the diverging Langevin chains that survive fall to 0.57.
    assert np.all(np.isfinite(gibbs.f_test_mean)) and gibbs.train_mse < 0.5, gibbs.train_mse
    assert 0.8 < gibbs.w2.mean() < 1.3, gibbs.w2


def test_relaxation_diagnostics_on_known_traces():
    rng = np.random.default_rng(0)
    # i.i.d. chains: R̂ ≈ 1, no drift, τ ≈ 1.
    d = relaxation_diagnostics(rng.normal(size=(8, 400)))
    assert abs(d["r_hat"] - 1.0) < 0.02 and abs(d["drift"]) < 4 * d["drift_se"] and d["tau"] < 1.5
    # AR(1) with ρ = 0.9: τ = (1 + ρ)/(1 − ρ) = 19; Sokal's s.e. of τ̂ here, τ·√(2(2·5τ + 1)/32000) ≈ 2.1.
    x = np.zeros((8, 4000))
    for t in range(1, x.shape[1]):
        x[:, t] = 0.9 * x[:, t - 1] + rng.normal(size=8)
    assert 14 < relaxation_diagnostics(x)["tau"] < 24
    # chains still relaxing (a shared linear trend): drift ≫ its s.e., R̂ > 1.1.
    trend = rng.normal(size=(4, 200)) * 0.1 + np.linspace(0, 1, 200)
    d = relaxation_diagnostics(trend)
    assert d["drift"] > 10 * d["drift_se"] and d["r_hat"] > 1.1


def test_bad_sampler_options_name_the_parameter():
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(10, 4))
    Y = X[:, 0]
    kw = dict(N=8, kappa2=0.1, n_chains=2, burn_in=10, n_samples=2, thin=2)
    cases = [
        (dict(readout_update="metropolis"), "readout_update"),
        (dict(readout_update="gibbs", gibbs_every=0), "gibbs_every"),
        (dict(readout_update="gibbs", gibbs_every=3), "gibbs_every"),     # burn_in 10, thin 2: not multiples
        (dict(step_scale=0.0), "step_scale"),
        (dict(init_params={"w": np.zeros((2, 8, 3)), "a": np.zeros((2, 8))}), "init_params"),
        (dict(init_params={"w": np.zeros((2, 8, 4))}), "init_params"),
    ]
    for extra, name in cases:
        with pytest.raises(FLTheoryInputError, match=f"^{name}:"):
            run_sgld(X, Y, X, Y, **{**kw, **extra})
    with pytest.raises(FLTheoryInputError, match="^trace:"):
        relaxation_diagnostics(np.zeros(10))


@pytest.mark.slow
@pytest.mark.parametrize("P", [100, 200])
def test_gibbs_reproduces_the_langevin_learning_curve_at_N64(small_point, P):
    # Both samplers target the same posterior; at N = 64 the Langevin default is stable (η_a λ_max ≈ 1.1),
    # so the small preset's m_S must agree within 4 combined chain s.e. Measured (seed 0, docs §6b):
    # P = 100: 0.350 ± 0.015 (Langevin) vs 0.356 ± 0.012 (Gibbs); P = 200: 0.789 ± 0.003 vs 0.796 ± 0.003.
    from fltheory.experiments.learning_curve import SIZES, LearningCurveConfig, make_data
    from fltheory.two_layer import walsh

    lang = small_point("sgld", P)
    cfg = LearningCurveConfig(**SIZES["small"])
    X, Y, Xt, Yt = make_data(cfg, P, 0)
    res = run_sgld(X, Y, Xt, Yt, N=cfg.N, kappa2=cfg.kappa2, n_chains=cfg.sgld_chains, burn_in=cfg.burn_in,
                   n_samples=cfg.n_samples, thin=cfg.thin, step_scale=cfg.step_scale, seed=0,
                   readout_update="gibbs")
    chi = walsh(Xt, cfg.relevant)
    m_ch = (res.f_test_chains * chi).mean(-1)
    m, se = float(np.mean(res.f_test_mean * chi)), float(m_ch.std(ddof=1) / np.sqrt(len(m_ch)))
    z = (m - lang["m_target"]) / np.hypot(se, lang["m_target_se"])
    assert abs(z) < 4.0, (m, se, lang["m_target"], lang["m_target_se"])


def test_learning_curve_point_passes_the_readout_update_through():
    """`LearningCurveConfig.sgld_readout` / `gibbs_every` reach run_sgld: at a tiny size the Gibbs point is
    finite and differs from the Langevin one with the same seed; bad values name their field."""
    from fltheory.experiments.learning_curve import learning_curve_point

    kw = dict(d=6, k=2, N=8, P_test=64, sgld_chains=2, burn_in=40, n_samples=4, thin=4)
    g = learning_curve_point(P=16, method="sgld", seed=0, sgld_readout="gibbs", gibbs_every=2, **kw)
    l = learning_curve_point(P=16, method="sgld", seed=0, **kw)
    assert np.isfinite(g["m_target"]) and np.isfinite(l["m_target"])
    assert g["test_mse"] != l["test_mse"]
    with pytest.raises(FLTheoryInputError, match="^sgld_readout"):
        learning_curve_point(P=16, method="sgld", sgld_readout="exact", **kw)
