"""Linear networks: closed forms, lazy limit, RNN = DNN below the transition, the critical signal."""
import numpy as np
import pytest

import fltheory  # noqa: F401  (float64)
from fltheory.kernels import nngp_kernels
from fltheory.saddle import broken_branch, follow_branch, saddle_residual, solve
from fltheory.saddle.linear_chain import amplification, block_diagonal_solution, critical_signal_T3
from fltheory.kernels import predict_with_kernel
from fltheory.tasks import endpoint_task

KAPPA = 0.1


from fltheory.saddle.linear_chain import chain_task  # noqa: E402


@pytest.mark.parametrize("T", [1, 3, 4])
@pytest.mark.parametrize("y", [0.5, 2.0, 4.0])
def test_closed_form_satisfies_saddle_equations(T, y):
    # the closed form is exact: only float64 round-off remains (≪ 1e-10)
    task = chain_task(y, T)
    C, Chat = block_diagonal_solution(y, T, kappa=KAPPA)
    for arch in ("rnn", "dnn"):
        assert saddle_residual(task, C, Chat, arch=arch, kappa=KAPPA) < 1e-10
    sol = solve(task, arch="dnn", kappa=KAPPA)
    np.testing.assert_allclose(sol.C, C, atol=1e-9)
    np.testing.assert_allclose(sol.Chat, Chat, atol=1e-9)
    # predictor f = z y / (z + κ), z = C_TT
    np.testing.assert_allclose(sol.prediction.f_train[0, -1, 0], C[-1, -1] * y / (C[-1, -1] + KAPPA), rtol=1e-9)


def test_rnn_equals_dnn_below_transition():
    task = endpoint_task(P=4, P_test=8, T=3, D=6, signal=1.0, seed=0)
    r = solve(task, arch="rnn", kappa=KAPPA)
    d = solve(task, arch="dnn", kappa=KAPPA)
    np.testing.assert_allclose(r.C, d.C, atol=1e-10)
    np.testing.assert_allclose(r.C_all, d.C_all, atol=1e-10)
    np.testing.assert_allclose(r.prediction.f_test, d.prediction.f_test, atol=1e-10)
    assert r.order_parameter() < 1e-10
    assert abs(r.action - d.action) < 1e-10


def test_lazy_limit_is_nngp():
    # signal → 0: C → NNGP with corrections O(signal²); at signal 1e-4 they are ~1e-8
    task = endpoint_task(P=4, P_test=8, T=3, D=6, signal=1e-4, seed=1)
    X_all = np.concatenate([task.X, task.X_test])
    for arch in ("rnn", "dnn"):
        sol = solve(task, arch=arch, kappa=KAPPA)
        ng = nngp_kernels(X_all, phi="linear", tied=arch == "rnn")
        np.testing.assert_allclose(sol.C_all, ng.C, atol=1e-6)
        gp = predict_with_kernel(ng.C, task, tied=arch == "rnn", gw2=1.0, kappa=KAPPA)
        np.testing.assert_allclose(sol.prediction.f_test, gp.f_test, atol=1e-9)


def test_lazy_limit_large_kappa():
    # κ → ∞ at fixed targets: Ĉ = O(y²/κ²) → 0, C → NNGP
    task = endpoint_task(P=3, P_test=4, T=3, D=6, signal=1.0, seed=2)
    sol = solve(task, arch="rnn", kappa=1e4)
    ng = nngp_kernels(np.concatenate([task.X, task.X_test]), phi="linear", tied=True)
    np.testing.assert_allclose(sol.C_all, ng.C, atol=1e-6)


@pytest.mark.parametrize("arch", ["rnn", "dnn"])
def test_more_patterns_than_input_dimensions(arch):
    """P = 6 > D = 4: the first-layer kernel g_u² XXᵀ/D is singular. ``solve`` from scratch used to fail
    on every such task (the normalisability test took a Cholesky factor of the singular C). Lazy limit:
    C → NNGP at signal → 0; at signal 1 the solution is a positive-semidefinite root."""
    lazy = endpoint_task(P=6, P_test=6, T=3, D=4, signal=1e-4, seed=0)
    assert np.linalg.matrix_rank(lazy.X[:, 0] @ lazy.X[:, 0].T) == 4
    sol = solve(lazy, arch=arch, kappa=KAPPA)
    ng = nngp_kernels(np.concatenate([lazy.X, lazy.X_test]), phi="linear", tied=arch == "rnn")
    np.testing.assert_allclose(sol.C_all, ng.C, atol=1e-6)
    sol = solve(endpoint_task(P=6, P_test=6, T=3, D=4, signal=1.0, seed=0), arch=arch, kappa=KAPPA)
    assert sol.diagnostics.converged and sol.diagnostics.residual < 1e-9
    ev = np.linalg.eigvalsh(sol.C)
    assert ev.min() > -1e-10 * ev.max()


def test_critical_signal_shortest_chain():
    # T = 3, P = 1: the block-diagonal branch loses stability at r = 2, y_c = (z_c+κ)/√z_c, z_c = 8
    yc = critical_signal_T3(kappa=KAPPA)
    assert abs(amplification(yc, 3, kappa=KAPPA) - 2.0) < 1e-9
    ys = [0.95 * yc, 1.05 * yc, 1.5 * yc]
    sym = follow_branch(chain_task, ys, kappa=KAPPA)
    br = broken_branch(chain_task, ys, sym, kappa=KAPPA)
    assert br[0] is None                         # no broken branch below y_c
    assert br[1] is not None and br[2] is not None
    assert 0 < br[1].order_parameter() < br[2].order_parameter()
    for b, s in zip(br[1:], sym[1:]):            # the broken branch dominates (larger action)
        assert b.action > s.action
        assert b.diagnostics.residual < 1e-10
    # the DNN has no broken branch: its cross-time kernel is identically zero
    d = solve(chain_task(ys[2]), arch="dnn", kappa=KAPPA)
    assert d.order_parameter() == 0.0


def test_nonconvergence_raises():
    task = chain_task(4.0)
    with pytest.raises(fltheory.ConvergenceError):
        solve(task, kappa=KAPPA, max_iter=1, homotopy=False)


@pytest.mark.parametrize("arch", ["rnn", "dnn"])
def test_stein_preconditioner_inverts_the_jacobian_without_targets(arch):
    """The preconditioner drops only the C → Ĉ couplings, which vanish with Ĉ = 0 and no targets: there
    it must be the exact inverse of the Jacobian (RNN: Stein solver; DNN: the layer recursions)."""
    import jax.numpy as jnp

    from fltheory.activations import get_activation
    from fltheory.saddle.equations import Equations
    from fltheory.saddle.rnn import problem_from_task
    from fltheory.tasks import endpoint_task

    task = endpoint_task(P=3, P_test=2, T=4, D=5, signal=1.0, seed=1)
    prob = problem_from_task(task, arch, 0.8, 1.0, 1.0, 0.1)
    eq = Equations(prob, get_activation("linear"), None, scale=0.0)
    lay = eq.layout
    rng = np.random.default_rng(0)
    Cs = rng.normal(size=(lay.B, lay.m, lay.m))
    C = np.einsum("bij,bkj->bik", Cs, Cs) / lay.m + np.eye(lay.m)
    v = jnp.concatenate([jnp.asarray(C).ravel(), jnp.zeros(C.size)])
    Minv = eq.preconditioner(v)
    U = rng.normal(size=(2,) + C.shape)
    u = jnp.asarray((U + np.swapaxes(U, -1, -2)).ravel())  # the unknowns are symmetric matrices
    np.testing.assert_allclose(np.asarray(eq.jvp_flat(v, Minv(u))), np.asarray(u), atol=1e-9)
