"""Training-set (empirical) MF and MF-ARD of issue #14 (docs/theory/two_layer.md §3b, §3c, §4)."""
import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

import fltheory  # noqa: F401  (float64)
from fltheory import ConvergenceError, ConvergenceWarning, FLTheoryInputError
from fltheory.activations import get_activation
from fltheory.cli import app
from fltheory.two_layer.ard import ard_update
from fltheory.two_layer.empirical import single_neuron_logdensity, solve_empirical_mf
from fltheory.experiments.learning_curve import LearningCurveConfig, learning_curve_point
from fltheory.two_layer.features import ParityOverlaps, all_patterns, walsh
from fltheory.two_layer.mean_field import solve_mean_field
from fltheory.two_layer.nngp import nngp_kernel


def _data(P, d, k, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.choice([-1.0, 1.0], size=(P, d))
    return X, walsh(X, range(k))


def test_single_neuron_densities_are_the_exact_readout_integrals():
    # independent: −½log𝒜 + B²/(4𝒜) = log ∫da exp(−a²/(2sa2) − (1/2κ²)Σ_μ(aφ_μ/N^γ − r_μ)²) + const
    # joint: −½log(1+sφᵀMφ) + s(φᵀMy)²/(2(1+sφᵀMφ)) = log N(y; 0, M⁻¹ + sφφᵀ) − log N(y; 0, M⁻¹).
    # Both differences of two neurons w1, w2 (the constants cancel); quadrature / slogdet, float64.
    act = get_activation("relu")
    P, d, N, kappa2, sa2 = 30, 6, 16, 0.3, 1.3
    X, y = _data(P, d, 2)
    rng = np.random.default_rng(1)
    w1, w2 = rng.standard_normal(d), rng.standard_normal(d)
    r = y - 0.4 * rng.standard_normal(P)
    rho = np.full(d, 0.7)
    sc = dict(sa2=sa2, pre_A=N**-1.0 / (2 * kappa2), pre_B=N**-0.5 / kappa2, s=sa2 / N)
    a = np.linspace(-40, 40, 400001)

    def brute_independent(w):
        ph = np.maximum(X @ w / np.sqrt(d), 0)
        e = -a**2 / (2 * sa2) - ((a[:, None] * ph[None] / np.sqrt(N) - r[None]) ** 2).sum(1) / (2 * kappa2)
        m = e.max()
        return -0.5 * rho @ w**2 + m + np.log(np.trapezoid(np.exp(e - m), a))

    ld = lambda w, rr, scc, ro: float(single_neuron_logdensity(act, jnp.asarray(w), jnp.asarray(X), jnp.asarray(rr),  # noqa: E731
                                                               jnp.asarray(rho), scc, readout=ro))
    got = ld(w1, r, sc, "independent") - ld(w2, r, sc, "independent")
    assert got == pytest.approx(brute_independent(w1) - brute_independent(w2), abs=1e-8)

    B = rng.standard_normal((P, 3 * P))
    Cm = B @ B.T / (3 * P) + kappa2 * np.eye(P)          # C_{−i} + κ²
    M = np.linalg.inv(Cm)
    scj = {**sc, "M": jnp.asarray(M)}

    def brute_joint(w):
        v = np.sqrt(sc["s"]) * np.maximum(X @ w / np.sqrt(d), 0)
        S = Cm + np.outer(v, v)
        return -0.5 * rho @ w**2 - 0.5 * np.linalg.slogdet(S)[1] - 0.5 * y @ np.linalg.solve(S, y)

    got = ld(w1, M @ y, scj, "joint") - ld(w2, M @ y, scj, "joint")
    assert got == pytest.approx(brute_joint(w1) - brute_joint(w2), abs=1e-9)


@pytest.mark.parametrize("readout", ["independent", "joint"])
def test_without_tilt_the_empirical_mf_is_kernel_ridge_regression(readout):
    # tilt off: w stays at the prior. independent: ⟨f⟩ = Σ((1−1/N)Σ + κ²)⁻¹y; joint: Σ(Σ + κ²)⁻¹y
    # (Σ = sa2 N^{1−2γ} K, the NNGP output kernel). The only error is Monte Carlo (prior samples of
    # φφᵀ). Training outputs: within 4 standard errors (RMS over points, from the spread of the
    # fixed-point iterates; measured 1.7–1.8 s.e.), tight enough to see the 1 − 1/N self-exclusion
    # (the other convention is 4.0–5.6 s.e. away). Held-out outputs (the prediction path, 40960 samples, no s.e. recorded):
    # within 5 % of the RMS output (measured 2.6–2.8 %).
    P, d, N, kappa2 = 24, 6, 32, 0.2
    X, y = _data(P, d, 2)
    Xt = all_patterns(d)[:20]
    res = solve_empirical_mf(X, y, N=N, kappa2=kappa2, tilt=False, X_test=Xt, n_chains=2048, steps_per_iter=10,
                             stats_every=5, min_iter=30, n_avg=20, readout=readout, seed=3)
    K, Kt = nngp_kernel(X, X), nngp_kernel(Xt, X)
    c = (1 - 1 / N) if readout == "independent" else 1.0
    u = np.linalg.solve(c * K + kappa2 * np.eye(P), y)
    f_exact, ft_exact = K @ u, Kt @ u
    rms = lambda v: float(np.sqrt(np.mean(v**2)))  # noqa: E731
    assert rms(res.f_train - f_exact) < 4 * rms(res.f_train_se)
    assert rms(res.f_test - ft_exact) < 0.05 * rms(ft_exact)
    assert res.converged and res.diagnostics.method.startswith("mala-fixed-point-empirical")
    np.testing.assert_allclose(res.w2, 1.0, atol=0.05)   # the prior


def test_empirical_mf_ard_selects_the_relevant_coordinates():
    # d = 8, k = 2 parity, P = 120, N = 32: the training-set MF-ARD fixed point gives the relevant
    # inputs the larger weight variance and learns the target. Measured: ρ_irrelevant/ρ_relevant
    # = 58 (MF-ARD) vs 4.8 (the ARD update at plain MF's ⟨w²⟩); m_S on the whole cube 0.82 (MF-ARD)
    # vs 0.69 (MF). Required: ratio > 2 and above plain MF's, MF-ARD m_S > 0.5 and above MF's.
    P, d, N, kappa2 = 120, 8, 32, 0.1
    X, y = _data(P, d, 2, seed=4)
    Xc = all_patterns(d)
    kw = dict(N=N, kappa2=kappa2, X_test=Xc, n_chains=256, min_iter=30, seed=0)
    ard = solve_empirical_mf(X, y, ard=True, **kw)
    mf = solve_empirical_mf(X, y, **kw)
    ratio = lambda rho: rho[2:].mean() / rho[:2].mean()  # noqa: E731
    assert ratio(ard.rho) > 2.0
    assert ratio(ard.rho) > ratio(ard_update(mf.w2, N, 1.0, 1.0))
    m_ard, m_mf = (np.mean(r.f_test * walsh(Xc, (0, 1))) for r in (ard, mf))
    assert m_ard > 0.5 and m_ard > m_mf, (m_ard, m_mf)


def test_unconverged_empirical_mf_raises_and_warns_only_on_request():
    X, y = _data(20, 6, 2)
    kw = dict(N=16, kappa2=0.1, n_chains=8, steps_per_iter=5, max_iter=3, n_avg=2, min_iter=4)
    with pytest.raises(ConvergenceError, match="solve_empirical_mf: no fixed point after max_iter = 3"):
        solve_empirical_mf(X, y, **kw)
    with pytest.warns(ConvergenceWarning, match="no fixed point"):
        res = solve_empirical_mf(X, y, throw=False, **kw)
    assert res.converged is False and res.diagnostics.converged is False


def test_bad_input_names_the_parameter():
    X, y = _data(10, 6, 2)
    with pytest.raises(FLTheoryInputError, match="^kappa2: must be > 0"):
        solve_empirical_mf(X, y, N=8, kappa2=0.0)
    with pytest.raises(FLTheoryInputError, match="^X: expected a \\[P, d\\] array with P >= 1"):
        solve_empirical_mf(np.zeros((0, 6)), [], N=8, kappa2=0.1)
    for name in ("a0", "b0"):
        with pytest.raises(FLTheoryInputError, match=f"^{name}: must be > 0"):
            solve_empirical_mf(X, y, N=8, kappa2=0.1, ard=True, **{name: 0.0})
        with pytest.raises(FLTheoryInputError, match=f"^{name}: must be > 0"):
            solve_mean_field(ParityOverlaps(6, (0, 1)), P=10, kappa2=0.1, N=8, ard=True, **{name: -1.0})
        with pytest.raises(FLTheoryInputError, match=f"^{name}: must be > 0"):
            ard_update([1.0], 8, **{"a0": 1.0, "b0": 1.0, name: 0.0})
    with pytest.raises(FLTheoryInputError, match="^readout: unknown value"):
        solve_empirical_mf(X, y, N=8, kappa2=0.1, readout="both")
    with pytest.raises(FLTheoryInputError, match=r"^X: parity inputs must be in \{-1, \+1\}, got 0.5 at \[1, 2\]"):
        walsh(np.where(np.arange(60).reshape(10, 6) == 8, 0.5, X), (0, 1))
    with pytest.raises(FLTheoryInputError, match="^P: must be >= 1"):
        learning_curve_point(P=0, method="mf_emp", size="small")
    with pytest.raises(FLTheoryInputError, match="^k: must be <= d = 6"):
        learning_curve_point(P=10, method="mf_emp", size="small", d=6, k=8)
    with pytest.raises(FLTheoryInputError, match="^kappa2: must be > 0"):
        learning_curve_point(P=10, method="mf_ard_emp", size="small", kappa2=-1.0)
    with pytest.raises(FLTheoryInputError, match="^readout: unknown value"):
        learning_curve_point(P=10, method="mf_emp", size="small", readout="both")
    for name in ("a0", "b0"):   # the config checks its hyper-prior itself, for every method
        with pytest.raises(FLTheoryInputError, match=f"^{name}: must be > 0, got 0.0"):
            LearningCurveConfig(**{name: 0.0})
        with pytest.raises(FLTheoryInputError, match=f"^{name}: must be > 0, got -1.0"):
            learning_curve_point(P=10, method="nngp", size="small", **{name: -1.0})


@pytest.mark.parametrize("args,message", [
    (["--P", "0"], "error: P: must be >= 1, got 0"),
    (["--P", "20", "--P", "-5"], "error: P: must be >= 1, got -5"),
    (["--kappa2", "0"], "error: kappa2: must be > 0, got 0.0"),
    (["--d", "6", "--k", "8"], "error: k: must be <= d = 6, got 8"),
    (["--a0", "0"], "error: a0: must be > 0, got 0.0"),
    (["--b0", "-1"], "error: b0: must be > 0, got -1.0"),
    (["--methods", "nngp,mf_emp,mf_bogus"], "error: methods: unknown value 'mf_bogus'"),
    (["--readout", "both"], "error: readout: unknown value 'both'"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, args, message):
    res = CliRunner().invoke(app, ["learning-curve", "--size", "small", "--methods", "nngp", "--no-phase",
                                   "--out", str(tmp_path / "lc"), *args])
    assert res.exit_code == 2, res.output
    assert res.output.strip().splitlines()[-1].startswith(message), res.output
    assert not (tmp_path / "lc").exists()   # nothing created before the check
