"""Kernel of the depth-muP ResNet at initialisation vs the depth ODE (issue #7, experiment 1).

Two effects are separated (docs/theory/depth.md §2): the finite-L Euler discretisation error of
the infinite-width recursion (deterministic, O(1/L)) and the finite-N Monte Carlo error of one
network around the recursion (O(1/N) in mean square, uniform in L).
"""
import jax
import numpy as np
import pytest

import fltheory  # noqa: F401  (float64)
from fltheory import FLTheoryInputError
from fltheory.depth import ResNetConfig, depth_ode_kernel, empirical_kernels, input_kernel, recursion_kernel

X = np.random.default_rng(0).normal(size=(4, 8))
IU = np.triu_indices(4)


def test_ode_relu_diagonal_closed_form():
    # relu: E[φ(h)²] = Σ/2, so the diagonal solves dΣ/dt = a²Σ/2 exactly: Σ_1 = Σ_0 e^{a²/2}.
    for a in (0.5, 1.0, 1.7):
        S1 = depth_ode_kernel(X, "relu", a).Sigma[0]
        np.testing.assert_allclose(np.diag(S1), np.diag(input_kernel(X)) * np.exp(a**2 / 2), rtol=1e-8)


@pytest.mark.parametrize("phi", ["relu", "erf"])
def test_recursion_is_first_order_euler_for_ode(phi):
    # Deterministic: ‖Σ_rec(L) − Σ_ODE‖ must fall like 1/L (Euler); the fitted slope over L=16..128
    # is −1 up to O(1/L) corrections (measured −0.99 to −1.00), so ±0.05 can fail on any O(1/L^2)
    # or O(1/√L) behaviour.
    ode = depth_ode_kernel(X, phi, 1.0).Sigma[0]
    Ls = np.array([16, 32, 64, 128])
    err = [np.linalg.norm(np.asarray(recursion_kernel(X, phi, 1.0, int(L))[-1]) - ode) for L in Ls]
    slope = np.polyfit(np.log(Ls), np.log(err), 1)[0]
    assert -1.05 < slope < -0.95, slope


def _chi2(m, se, ref):
    return float(np.mean((((m - ref) / se)[IU]) ** 2))


def test_empirical_kernel_tracks_recursion_and_approaches_ode_with_depth():
    # 64 random ResNets (N=256) per depth. The seed-mean kernel must agree with the infinite-width
    # recursion within Monte Carlo error (chi²/dof over the 10 distinct entries; entries are
    # correlated, measured 0.5–2.1 over repeated draws; 3 allows the O(1/N) bias), and must differ
    # from the ODE by the discretisation error, which is many s.e. at L=1 (measured chi² 32–48) and
    # shrinks with L (10–12 at L=2, 2–3 at L=4).
    ode = depth_ode_kernel(X, "relu", 1.0).Sigma[0]
    chi_ode = []
    for L in (1, 2, 4):
        rec = np.asarray(recursion_kernel(X, "relu", 1.0, L)[-1])
        E = np.asarray(empirical_kernels(jax.random.PRNGKey(100 * L), X, ResNetConfig(N=256, L=L, D=8), 64)[:, -1])
        m, se = E.mean(0), E.std(0, ddof=1) / np.sqrt(64)
        assert _chi2(m, se, rec) < 3.0, (L, _chi2(m, se, rec))
        chi_ode.append(_chi2(m, se, ode))
    assert chi_ode[0] > 10.0, chi_ode
    assert chi_ode[0] > chi_ode[1] > chi_ode[2], chi_ode


def test_finite_width_error_scales_as_one_over_N():
    # Mean-squared relative error of one network's kernel around the recursion, 32 seeds per N.
    # Each point has ≈ 20% relative s.e., so the fitted slope over N=64..512 has s.e. ≈ 0.13;
    # measured −0.86 to −1.04 over independent draws. Window [−1.3, −0.7] (≈2.3 s.e.).
    L = 4
    rec = np.asarray(recursion_kernel(X, "relu", 1.0, L)[-1])
    Ns = np.array([64, 128, 256, 512])
    mse = []
    for N in Ns:
        E = np.asarray(empirical_kernels(jax.random.PRNGKey(int(N)), X, ResNetConfig(N=int(N), L=L, D=8), 32)[:, -1])
        mse.append(np.mean(np.sum((E - rec) ** 2, axis=(1, 2))) / np.sum(rec**2))
    slope = np.polyfit(np.log(Ns), np.log(mse), 1)[0]
    assert -1.3 < slope < -0.7, (slope, mse)


def test_invalid_inputs_name_the_parameter():
    with pytest.raises(FLTheoryInputError, match="arch"):
        ResNetConfig(N=8, L=2, D=3, arch="transformer")
    with pytest.raises(FLTheoryInputError, match="^L"):
        ResNetConfig(N=8, L=0, D=3)
    with pytest.raises(FLTheoryInputError, match="ts"):
        depth_ode_kernel(X, "relu", ts=[0.5, 0.2])
