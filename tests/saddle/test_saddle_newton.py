"""The generic pieces of the saddle solver's Newton loop (fltheory.saddle.newton_krylov): Anderson mixing
of approximate-Jacobian steps and the secant predictor of the target homotopy."""
import jax
import jax.numpy as jnp
import numpy as np

from fltheory.saddle.newton_krylov import anderson_newton, newton_krylov, ramp

jax.config.update("jax_enable_x64", True)


def _approximate_jacobian_problem(n=60, noise=0.05, seed=0):
    """F(x) = A x + ¼ tanh(x) − b, and the Jacobian of a perturbed estimate A + E: the situation of the
    fine stage (fine F, coarse Jacobian). E = A·U diag(s) Uᵀ on three orthonormal directions U, so the
    plain iteration's error map (A + E)⁻¹E has the eigenvalues s/(1 + s) = 0.8, −0.82, 0.67 there
    (slow modes), plus a small spread part (‖A⁻¹E_spread‖ = noise)."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = Q @ np.diag(np.linspace(1.0, 3.0, n)) @ Q.T
    U = Q[:, :3] @ np.linalg.qr(rng.standard_normal((3, 3)))[0]
    spread = rng.standard_normal((n, n))
    E = (A @ U @ np.diag([4.0, -0.45, 2.0]) @ U.T
         + noise * spread / np.linalg.norm(np.linalg.solve(A, spread), 2))
    b = rng.standard_normal(n)
    A, E, b = jnp.asarray(A), jnp.asarray(E), jnp.asarray(b)
    F = jax.jit(lambda x: A @ x + 0.25 * jnp.tanh(x) - b)
    jvp = jax.jit(lambda x, v: (A + E) @ v + 0.25 * v / jnp.cosh(x) ** 2)
    measure = lambda x, r: float(jnp.max(jnp.abs(r)))
    return F, jvp, measure, n


def test_anderson_mixing_converges_faster_than_the_plain_approximate_newton_iteration():
    F, jvp, measure, n = _approximate_jacobian_problem()
    x0 = jnp.zeros(n)
    x_aa, rec_aa = anderson_newton(F, jvp, x0, measure, 1e-12, 200, restart=n, eta=1e-3)
    x_nk, rec_nk = newton_krylov(F, jvp, x0, measure, 1e-12, 200, restart=n, eta_min=1e-3)
    assert rec_aa.converged and rec_nk.converged
    # the same root (F has one: A ≻ 0 and tanh is monotone)
    assert float(jnp.max(jnp.abs(x_aa - x_nk))) < 1e-10
    # the plain iteration contracts at ≈ ‖I − J̃⁻¹J‖; mixing extrapolates it
    assert rec_aa.iterations < 0.6 * rec_nk.iterations, (rec_aa.iterations, rec_nk.iterations)


def test_anderson_with_the_exact_jacobian_converges():
    F, _, measure, n = _approximate_jacobian_problem()
    exact = jax.jit(lambda x, v: jax.jvp(F, (x,), (v,))[1])
    x, rec = anderson_newton(F, exact, jnp.zeros(n), measure, 1e-12, 50, restart=n, eta=1e-12)
    # mixing exact Newton steps costs the quadratic rate its last digits, not convergence
    assert rec.converged and rec.iterations <= 8
    assert float(jnp.max(jnp.abs(F(x)))) < 1e-12


def _cubic_path(predict):
    """x(λ) solves x³ + x = 3λ·c componentwise (one real root): a curved homotopy path."""
    c = jnp.linspace(0.5, 2.0, 5)
    solves = []
    F_at = jax.jit(lambda z, lam: z ** 3 + z - 3.0 * lam * c)
    J = jax.jit(lambda z, v: (3.0 * z ** 2 + 1.0) * v)

    def solve_at(lam, x):
        F = lambda z: F_at(z, lam)
        out = newton_krylov(F, J, x, lambda z, r: float(jnp.max(jnp.abs(r))), 1e-13, 3, restart=5)
        solves.append(out[1].converged)
        return out

    x, ok, iters, _, _ = ramp(solve_at, jnp.zeros(5), first=0.25, predict=predict)
    return x, ok, iters, len(solves), c


def test_ramp_secant_predictor_follows_a_curved_path_with_fewer_newton_steps():
    x_p, ok_p, it_p, n_p, c = _cubic_path(True)
    x_0, ok_0, it_0, n_0, _ = _cubic_path(False)
    assert ok_p and ok_0
    exact = np.array([np.roots([1.0, 0.0, 1.0, -3.0 * float(ci)]) for ci in c])
    exact = np.real(exact[np.abs(exact.imag) < 1e-12])
    np.testing.assert_allclose(np.asarray(x_p), exact, atol=1e-12)
    np.testing.assert_allclose(np.asarray(x_0), exact, atol=1e-12)
    # at most 3 Newton steps per λ: from the previous point the steps fail more often and shrink
    assert it_p + n_p < it_0 + n_0, (it_p, n_p, it_0, n_0)
