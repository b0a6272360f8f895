"""The linear RNN saddle point in its exact low-rank coordinates (docs/theory/unified.md §3, issue #12).

Three independent checks:
- the structural fact the reduction rests on, measured on solutions of the *full* Newton–Krylov solver
  (which knows nothing of it): rank Ĉ ≤ T·k, range Ĉ inside span{(Sᵀ)^j E a};
- the reduced solver and the full one agree to round-off from the same start, on endpoint and masked
  sequential tasks, one and several (rank-deficient) outputs, both sides of the RNN transition;
- every reduced solution satisfies the full equations: ``diagnostics.residual`` is evaluated by the full
  residual of :mod:`fltheory.saddle.equations`, not by the reduced one.
"""
import jax.numpy as jnp
import numpy as np
import pytest

import fltheory  # noqa: F401  (float64)
from fltheory.kernels.nngp import nngp_kernels
from fltheory.saddle import broken_branch, problem_from_task, solve
from fltheory.saddle import linear_rnn
from fltheory.saddle.equations import Equations, Layout
from fltheory.saddle.rnn import _run_newton
from fltheory._validate import ConvergenceError, FLTheoryInputError
from fltheory.activations import get_activation
from fltheory.tasks import Task, endpoint_task, sequential_task

KAPPA = 0.1


def _full_solve(task, init=None, **kw):
    """The full (C, Ĉ) Newton–Krylov, bypassing the reduction (from the NNGP start or ``init``)."""
    prob = problem_from_task(task, "rnn", kappa=KAPPA, **kw)
    eq = Equations(prob, get_activation("linear"), None)
    lay = Layout(prob.T, prob.P, True)
    if init is None:
        C0 = nngp_kernels(task.X, phi="linear", tied=True, g2=prob.g2, gu2=prob.gu2).C
        H0 = np.zeros_like(C0)
    else:
        C0, H0 = init
    x, rec = _run_newton(eq, (jnp.asarray(lay.from_dense(C0)), jnp.asarray(lay.from_dense(H0))), 1e-12, 80,
                         restart=200)
    assert rec.converged, rec.reason
    return np.asarray(x[0][0]), np.asarray(x[1][0])


def _two_output_task():
    """Endpoint task with O = 2 outputs, the second a multiple of the first: y yᵀ has rank k = 1."""
    base = endpoint_task(P=5, P_test=3, T=4, D=8, signal=1.0, seed=3)
    Y = np.concatenate([base.Y, -0.5 * base.Y], axis=2)
    Yt = np.concatenate([base.Y_test, -0.5 * base.Y_test], axis=2)
    return Task.from_arrays(base.X, Y, base.M, base.X_test, Yt, base.M_test)


TASKS = {
    "endpoint": lambda: endpoint_task(P=5, P_test=3, T=4, D=8, signal=1.0, seed=0),
    "sequential-masked": lambda: sequential_task(teacher="lds", P=4, P_test=3, T=5, D=6, n_state=2, rho=0.9,
                                                 mask="every_other", seed=0),
    "two-outputs-rank-1": _two_output_task,
}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_full_solutions_have_the_low_rank_structure(name):
    task = TASKS[name]()
    prob = problem_from_task(task, "rnn", kappa=KAPPA)
    C, H = _full_solve(task)
    k = linear_rnn.thin_targets(prob.y).shape[1]
    if name == "two-outputs-rank-1":
        assert k == 1
    s = np.linalg.svd(H, compute_uv=False)
    assert np.sum(s > 1e-9 * s[0]) <= prob.T * k
    # range(Ĉ) ⊂ span{(Sᵀ)^j E a}: the projection onto the Krylov space of a leaves Ĉ unchanged
    sup = np.flatnonzero(prob.sup)
    a = np.linalg.solve(prob.gw2 * C[np.ix_(sup, sup)] + KAPPA * np.eye(len(sup)), linear_rnn.thin_targets(prob.y))
    u = np.zeros((prob.n, k))
    u[sup] = a
    cols = []
    for _ in range(prob.T):
        cols.append(u)
        u = np.vstack([u[prob.P:], np.zeros((prob.P, k))])
    Q, _ = np.linalg.qr(np.hstack(cols))
    proj = Q @ (Q.T @ H @ Q) @ Q.T
    assert np.abs(proj - H).max() < 1e-9 * np.abs(H).max()


@pytest.mark.parametrize("name", sorted(TASKS))
def test_reduced_solver_agrees_with_full_newton(name):
    task = TASKS[name]()
    prob = problem_from_task(task, "rnn", kappa=KAPPA)
    assert linear_rnn.applies(prob)
    sol = solve(task, arch="rnn", kappa=KAPPA, method="reduced")
    assert "reduced" in sol.diagnostics.method
    C, H = _full_solve(task)
    np.testing.assert_allclose(sol.C, C, atol=1e-8 * np.abs(C).max())
    np.testing.assert_allclose(sol.Chat, H, atol=1e-8 * np.abs(H).max())
    assert sol.diagnostics.residual < 1e-10  # the full equations, evaluated at the reduced solution


def test_reduced_broken_branch_is_a_full_saddle_and_matches_full_newton():
    """Above the transition (the default phase task, T = 3, P = 4): the reduced solver's broken branch is a saddle
    of the full equations, and the full Newton started next to it returns to it."""
    make = lambda s: endpoint_task(P=4, P_test=2, T=3, D=6, signal=s, seed=0)
    signals = [2.0, 2.7]  # y_c ≈ 1.7 on this task (tests/saddle/test_saddle_phase.py)
    sym = [solve(make(s), arch="rnn", kappa=KAPPA, method="reduced") for s in signals]
    br = broken_branch(make, signals, sym, kappa=KAPPA, method="reduced")
    sol = br[-1]
    assert sol is not None and sol.order_parameter() > 0.05
    assert "reduced" in sol.diagnostics.method and sol.diagnostics.residual < 1e-10
    rng = np.random.default_rng(0)
    E = rng.normal(size=sol.C.shape)
    C0 = sol.C + 1e-3 * np.abs(sol.C).max() * (E + E.T) / 2
    C, H = _full_solve(make(signals[-1]), init=(C0, sol.Chat))
    np.testing.assert_allclose(sol.C, C, atol=1e-8 * np.abs(C).max())
    assert sol.action > sym[-1].action  # the broken saddle dominates (conventions §7)


def test_reduction_not_used_when_it_does_not_pay():
    """T·k ≥ n (one pattern: n = T): the full solver runs, and asking for the reduced one is an error
    naming ``method``; below n = 128 'auto' runs the full solver first."""
    task = endpoint_task(P=1, P_test=1, T=3, D=4, signal=1.0, seed=0)
    prob = problem_from_task(task, "rnn", kappa=KAPPA)
    assert not linear_rnn.applies(prob)
    assert "reduced" not in solve(task, arch="rnn", kappa=KAPPA).diagnostics.method
    with pytest.raises(FLTheoryInputError, match="^method: "):
        solve(task, arch="rnn", kappa=KAPPA, method="reduced")
    with pytest.raises(FLTheoryInputError, match="^method: "):
        solve(TASKS["endpoint"](), arch="rnn", kappa=KAPPA, method="dense")
    assert solve(TASKS["endpoint"](), arch="rnn", kappa=KAPPA).diagnostics.method == "newton-krylov"


def test_auto_falls_back_to_the_reduced_solver(monkeypatch):
    """When the full solver fails (Newton and its homotopy), 'auto' falls back to the reduced coordinates
    and returns their solution. (The natural trigger of old, a singular NNGP kernel, no longer makes
    the full solver fail: test_saddle_linear.py::test_more_patterns_than_input_dimensions.) The failure
    is simulated, so the test checks the control flow against the reduced solver run on its own."""
    from fltheory.saddle import rnn
    from fltheory.saddle.newton_krylov import NewtonRecord

    task = sequential_task(teacher="lds", P=4, P_test=4, T=6, D=3, n_state=2, rho=0.9, mask="all", seed=0)
    ref = solve(task, arch="rnn", kappa=KAPPA, method="reduced")
    calls = []

    def failing_newton(eq, x0, tol, max_iter, restart):
        calls.append("newton")
        return x0, NewtonRecord(converged=False, iterations=1, matvecs=0, history=[np.inf], reason="simulated")

    monkeypatch.setattr(rnn, "_run_newton", failing_newton)
    sol = solve(task, arch="rnn", kappa=KAPPA)
    assert calls, "the full solver was not tried first"
    assert sol.diagnostics.method.startswith("newton-krylov+homotopy, then newton(reduced)")
    assert sol.diagnostics.residual < 1e-10
    np.testing.assert_allclose(sol.C, ref.C, atol=1e-10)
    with pytest.raises(ConvergenceError):
        solve(task, arch="rnn", kappa=KAPPA, method="full")


# ---- the DNN: one basis of readout vectors for every layer (linear_rnn._compiled_dnn) ----
DNN_TASKS = ("endpoint", "sequential-masked")


@pytest.mark.parametrize("name", DNN_TASKS)
def test_dnn_full_solutions_have_the_low_rank_structure(name):
    """On the full solver's DNN solutions, each layer's Ĉ_t lies in span{â_s : s ≥ t supervised} (the
    readout vectors of the later supervised steps, placed on their patterns)."""
    task = TASKS[name]()
    prob = problem_from_task(task, "dnn", kappa=KAPPA)
    sol = solve(task, arch="dnn", kappa=KAPPA, method="full", tol=1e-12, max_iter=100)
    assert "reduced" not in sol.diagnostics.method
    C, H, P = sol.C, sol.Chat, prob.P
    sup = np.flatnonzero(prob.sup)
    Css = (C * prob.time_mask)[np.ix_(sup, sup)]
    a = np.linalg.solve(prob.gw2 * Css + KAPPA * np.eye(len(sup)), linear_rnn.thin_targets(prob.y))
    checked = 0
    for t in range(prob.T):
        later = sup // P >= t
        if not later.any():
            continue
        U = np.zeros((P, 0))
        for s in np.unique(sup[later] // P):
            u = np.zeros((P, a.shape[1]))
            u[sup[sup // P == s] % P] = a[sup // P == s]
            U = np.hstack([U, u])
        Q, _ = np.linalg.qr(U)
        Ht = H[t * P:(t + 1) * P, t * P:(t + 1) * P]
        assert np.abs(Q @ (Q.T @ Ht @ Q) @ Q.T - Ht).max() < 1e-9 * np.abs(H).max()
        checked += np.abs(Ht).max() > 1e-6 * np.abs(H).max()
    assert checked >= 2  # more than the last layer carries a tilt


@pytest.mark.parametrize("name", DNN_TASKS)
def test_dnn_reduced_solver_agrees_with_full_newton(name):
    task = TASKS[name]()
    assert linear_rnn.applies(problem_from_task(task, "dnn", kappa=KAPPA))
    full = solve(task, arch="dnn", kappa=KAPPA, method="full", tol=1e-12, max_iter=100)
    red = solve(task, arch="dnn", kappa=KAPPA, method="reduced", tol=1e-12)
    assert red.diagnostics.method.startswith("newton(reduced)")
    np.testing.assert_allclose(red.C, full.C, atol=1e-8 * np.abs(full.C).max())
    np.testing.assert_allclose(red.Chat, full.Chat, atol=1e-8 * np.abs(full.Chat).max())
    np.testing.assert_allclose(red.prediction.f_test, full.prediction.f_test, atol=1e-8)
    assert red.diagnostics.residual < 1e-10  # the full equations, evaluated at the reduced solution
