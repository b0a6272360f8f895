"""Kernel-regression predictor against exact Bayesian linear regression.

A one-step linear network has C = g_u² x·x'/D, so the GP posterior mean must equal ridge regression
with the same prior, entry by entry, including the placement of train/test rows in the time-major layout.
"""
import numpy as np

import fltheory  # noqa: F401
from fltheory.kernels import nngp_kernels, predict_with_kernel
from fltheory.tasks import Task, endpoint_task


def test_gp_predictor_equals_bayesian_linear_regression():
    task = endpoint_task(P=12, P_test=9, T=1, D=5, teacher="linear", signal=1.3, seed=2)
    X = task.X[:, 0]
    Xt = task.X_test[:, 0]
    y = task.Y[:, 0, 0]
    kappa, gw2, gu2 = 0.3, 1.7, 0.8
    C = nngp_kernels(np.concatenate([task.X, task.X_test]), phi="linear", gu2=gu2).C
    pred = predict_with_kernel(C, task, tied=True, gw2=gw2, kappa=kappa)
    # f(x) = β·x with β ~ N(0, gw2·gu2/D · I), noise variance κ
    s2 = gw2 * gu2 / 5
    beta = np.linalg.solve(X.T @ X + kappa / s2 * np.eye(5), X.T @ y)
    np.testing.assert_allclose(pred.f_test[:, 0, 0], Xt @ beta, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(pred.f_train[:, 0, 0], X @ beta, rtol=1e-10, atol=1e-12)


def test_targets_are_placed_at_their_time_steps():
    # sequential layout: each step's target depends only on that step's input; with a δ_ts output
    # kernel (DNN) and a linear kernel, each step is an independent ridge regression
    rng = np.random.default_rng(0)
    P, Pt, T, D = 6, 4, 3, 2
    X, Xt = rng.standard_normal((P, T, D)), rng.standard_normal((Pt, T, D))
    w = rng.standard_normal((T, D))
    Y, Yt = np.einsum("ptd,td->pt", X, w)[..., None], np.einsum("ptd,td->pt", Xt, w)[..., None]
    task = Task(X, Y, np.ones((P, T)), Xt, Yt, np.ones((Pt, T)))
    K = np.concatenate([X, Xt]).transpose(1, 0, 2).reshape(T * (P + Pt), D)
    G = np.kron(np.eye(T), np.ones((P + Pt, P + Pt))) * (K @ K.T / D)
    pred = predict_with_kernel(G, task, tied=False, gw2=1.0, kappa=0.1)
    for t in range(T):
        beta = np.linalg.solve(X[:, t].T @ X[:, t] + 0.1 * D * np.eye(D), X[:, t].T @ Y[:, t, 0])
        np.testing.assert_allclose(pred.f_test[:, t, 0], Xt[:, t] @ beta, rtol=1e-10)
