"""Overlap algebra of the low-rank RNN (issue #6): exact identities, checked to float precision."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fltheory  # noqa: F401  (float64)
from fltheory import FLTheoryInputError
from fltheory.lowrank import (Layout, effective_rollout, get_lowrank_activation, impulse_response, init_vectors,
                              make_overlap_loss, network_rollout, overlap_velocity, symmetric_gradient,
                              vectors_with_gram)
from fltheory.lowrank.compare import degenerate_partner, with_invisible
from fltheory.lowrank.tasks import flip_flop


def _random_gram(layout, seed, scale=0.4):
    rng = np.random.default_rng(seed)
    A = np.eye(layout.n) + scale * rng.standard_normal((layout.n, layout.n))
    return A @ A.T / layout.n + 0.5 * np.eye(layout.n)


@pytest.mark.parametrize("rank,phi", [(1, "linear"), (2, "erf")])
def test_vector_gradient_is_gram_identity(rank, phi):
    # ∂L/∂V of L(VᵀV/N) must equal (2/N) V G with G = sym(∂L/∂Σ) — pure algebra, so 1e-12.
    layout = Layout(rank)
    task = impulse_response(0.2, dt=0.1, T=5.0)
    loss = make_overlap_loss(task, layout, get_lowrank_activation(phi))
    V = init_vectors(jax.random.PRNGKey(rank), 50, layout).stacked() * 0.8
    g_auto = jax.grad(lambda X: loss(X.T @ X / X.shape[0]))(V)
    G = symmetric_gradient(loss, V.T @ V / 50)
    np.testing.assert_allclose(g_auto, 2.0 / 50 * V @ G, rtol=1e-10, atol=1e-13)


def test_velocity_matches_hand_written_10d_system():
    # The 10 linear rank-1 equations of the notes (Ger & Barak Eqs. 8–10) from ∂_ab = ∂L/∂σ_ab.
    layout = Layout(1)
    loss = make_overlap_loss(impulse_response(0.2, 0.05, 20.0), layout, get_lowrank_activation("linear"))
    S = _random_gram(layout, 3)
    eta = 0.01
    dS = np.asarray(overlap_velocity(loss, jnp.asarray(S), eta))
    G = np.asarray(symmetric_gradient(loss, jnp.asarray(S)))
    m, u, v, z = range(4)
    d = lambda a, b: 2 * G[a, b]  # noqa: E731  (∂L/∂σ_ab for a ≠ b)
    s = lambda a, b: S[a, b]  # noqa: E731
    hand = {
        (z, m): -eta * ((s(m, m) + s(z, z)) * d(z, m) + s(m, u) * d(z, u) + s(z, v) * d(v, m)),
        (v, m): -eta * ((s(m, m) + s(v, v)) * d(v, m) + s(m, u) * d(v, u) + s(z, v) * d(z, m)),
        (z, u): -eta * ((s(u, u) + s(z, z)) * d(z, u) + s(m, u) * d(z, m) + s(z, v) * d(v, u)),
        (v, u): -eta * ((s(u, u) + s(v, v)) * d(v, u) + s(m, u) * d(v, m) + s(z, v) * d(z, u)),
        (m, u): -eta * (s(z, m) * d(z, u) + s(v, m) * d(v, u) + s(z, u) * d(z, m) + s(v, u) * d(v, m)),
        (z, v): -eta * (s(v, m) * d(z, m) + s(v, u) * d(z, u) + s(z, m) * d(v, m) + s(z, u) * d(v, u)),
        (m, m): -2 * eta * (s(z, m) * d(z, m) + s(v, m) * d(v, m)),
        (u, u): -2 * eta * (s(z, u) * d(z, u) + s(v, u) * d(v, u)),
        (v, v): -2 * eta * (s(v, m) * d(v, m) + s(v, u) * d(v, u)),
        (z, z): -2 * eta * (s(z, m) * d(z, m) + s(z, u) * d(z, u)),
    }
    for (a, b), val in hand.items():
        assert dS[a, b] == pytest.approx(val, rel=1e-10, abs=1e-14), (a, b)
    # and the linear loss has no diagonal / B–B / A–A dependence at all
    assert np.all(G[np.ix_([0, 1], [0, 1])] == 0) and np.all(G[np.ix_([2, 3], [2, 3])] == 0)


@pytest.mark.parametrize("rank,phi", [(1, "linear"), (1, "erf"), (2, "linear"), (2, "erf")])
def test_invisible_overlaps_are_invisible(rank, phi):
    # The loss gradient vanishes exactly on invisible entries and not on any visible one.
    layout = Layout(rank)
    act = get_lowrank_activation(phi)
    task = flip_flop(n_trials=3, dt=0.1, T=8.0, seed=1) if phi == "erf" else impulse_response(0.2, 0.1, 8.0)
    G = np.asarray(symmetric_gradient(make_overlap_loss(task, layout, act), jnp.asarray(_random_gram(layout, 5))))
    vis = layout.visible_matrix(act.linear)
    assert np.all(G[~vis] == 0.0)
    assert np.all(np.abs(G[vis]) > 1e-12)  # not structurally zero
    assert len(layout.labels) == {1: 10, 2: 21}[rank]


def test_linear_effective_rnn_is_exact_at_finite_N():
    # Linear φ: x = κ_m m + κ_u u exactly, so the full network output equals the 2-D RNN at any N.
    layout = Layout(2)
    task = impulse_response(0.3, 0.05, 10.0)
    act = get_lowrank_activation("linear")
    for N in (20, 300):
        vecs = init_vectors(jax.random.PRNGKey(N), N, layout)
        vecs = vecs._replace(U=vecs.U * 2.0, V=vecs.V * 1.5)  # O(1) recurrent overlaps
        y_net = network_rollout(vecs, task.inputs, act, task.dt)
        _, y_eff = effective_rollout(vecs.gram(), task.inputs, layout, act, task.dt)
        np.testing.assert_allclose(y_net, y_eff, rtol=1e-9, atol=1e-11)


def test_erf_closure_error_shrinks_with_N_for_gaussian_vectors():
    # Nonlinear φ: (1/N)vᵀφ(x) = G(Δ)Σσκ holds only on average over Gaussian entries; at finite N the
    # residual is an average of N i.i.d. zero-mean terms, so its rms falls like N^{-1/2}: the ratio
    # N=100 → N=1600 should be ≈ 4. Averaging the mean-square error over 8 seeds per N keeps the
    # relative noise of each rms estimate ≲ 25%, so demanding a ratio > 2.5 can only fail if the
    # error does not decay (or decays far slower than N^{-1/2}).
    layout = Layout(1)
    act = get_lowrank_activation("erf")
    task = flip_flop(n_trials=4, dt=0.05, T=10.0, seed=2)
    S = np.diag([1.0, 1.5, 1.5, 1.0])
    S[1, 2] = S[2, 1] = 1.2  # σ_uv: a bistable memory
    S[0, 2] = S[2, 0] = 0.4
    S[1, 3] = S[3, 1] = 0.5
    _, y_eff = effective_rollout(jnp.asarray(S), task.inputs, layout, act, task.dt)

    def rms(N):
        errs = []
        for seed in range(8):
            vecs = vectors_with_gram(jax.random.PRNGKey(seed), N, S, layout)
            y = network_rollout(vecs, task.inputs, act, task.dt)
            errs.append(np.mean((np.asarray(y) - np.asarray(y_eff)) ** 2))
        return np.sqrt(np.mean(errs))

    e100, e1600 = rms(100), rms(1600)
    assert e100 / e1600 > 2.5, (e100, e1600)


def test_erf_gain_closed_form_matches_quadrature():
    from jax.scipy.special import erf
    act_q = get_lowrank_activation(lambda x: erf(jnp.sqrt(jnp.pi) / 2 * x))
    act_c = get_lowrank_activation("erf")
    delta = jnp.array([0.0, 0.3, 1.0, 5.0])
    # 64-node Gauss–Hermite on the Gaussian φ′ = exp(−πx²/4): accurate to ~1e-6 relative at Δ = 5.
    np.testing.assert_allclose(act_q.gain(delta), act_c.gain(delta), rtol=1e-5)


def test_degenerate_partner_keeps_visible_overlaps_and_validates():
    layout = Layout(1)
    S = _random_gram(layout, 7, scale=0.1)
    S2 = degenerate_partner(S, layout, linear=True)
    vis = layout.visible_matrix(True)
    assert np.array_equal(S[vis], S2[vis]) and not np.allclose(S[~vis], S2[~vis])
    with pytest.raises(FLTheoryInputError, match="u.z"):
        with_invisible(S, layout, True, **{"u.z": 0.3})
    with pytest.raises(FLTheoryInputError, match="rank"):
        Layout(3)
    with pytest.raises(FLTheoryInputError, match="phi"):
        get_lowrank_activation("softsign")


def test_lowrank_uses_the_shared_registry_with_erf_as_the_unit_slope_alias():
    # issue #18: one activation registry. In lowrank, "erf" is an explicit alias of the shared
    # "erf_unit" = erf(√π x/2); the plain erf(x) is reachable by passing the shared Activation.
    from fltheory.activations import get_activation

    unit = get_lowrank_activation("erf")
    assert unit == get_lowrank_activation("erf_unit") and hash(unit) == hash(get_lowrank_activation("ERF"))
    assert unit.activation is get_activation("erf_unit") and unit.name == "erf_unit" and not unit.linear
    assert float(jax.grad(unit.phi)(0.0)) == pytest.approx(1.0, abs=1e-15)
    plain = get_lowrank_activation(get_activation("erf"))
    assert float(plain.gain(0.0)) == pytest.approx(2 / np.sqrt(np.pi), rel=1e-15)
    ident = get_lowrank_activation("identity")
    assert ident.linear and ident == get_lowrank_activation("linear")
    f = lambda x: jnp.tanh(x)  # noqa: E731  (same callable -> equal adapters -> one jit compilation)
    assert get_lowrank_activation(f) == get_lowrank_activation(f)
    with pytest.raises(FLTheoryInputError, match="erf_unit"):
        get_lowrank_activation("sigmoid")
