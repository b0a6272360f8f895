"""Model identities: an RNN unrolled with untied weights is exactly a depth-T DNN."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fltheory  # noqa: F401
from fltheory.models import RecurrentNet, TwoLayerNet


def _explicit_dnn(params, X, phi, N, D, gamma):
    """A plain layer-by-layer DNN written without scan: h_1 = U_1 x_1/√D, h_{l+1} = W_l φ(h_l)/√N + U_{l+1} x_{l+1}/√D."""
    U, W, w = (np.asarray(params[k], np.float64) for k in ("U", "W", "w"))
    T = X.shape[1]
    h = X[:, 0] @ U[0] / np.sqrt(D)
    outs = [phi(h) @ w[0] / N**gamma]
    for l in range(1, T):
        h = phi(h) @ W[l - 1] / np.sqrt(N) + X[:, l] @ U[l] / np.sqrt(D)
        outs.append(phi(h) @ w[l] / N**gamma)
    return np.stack(outs, axis=1)


@pytest.mark.parametrize("phi", ["tanh", "relu", "linear"])
def test_untied_rnn_is_a_dnn(phi):
    net = RecurrentNet(N=32, D=5, T=4, O=2, phi=phi, tied=False)
    params = net.init(jax.random.PRNGKey(0), jnp.float64)
    X = np.random.default_rng(1).standard_normal((6, 4, 5))
    act = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0), "linear": lambda x: x}[phi]
    expected = _explicit_dnn(params, X, act, 32, 5, 1.0)
    np.testing.assert_allclose(np.asarray(net.apply(params, X)), expected, rtol=1e-12, atol=1e-12)


def test_tied_equals_untied_with_copied_weights():
    T = 5
    tied = RecurrentNet(N=16, D=3, T=T, phi="erf", tied=True, parametrization="ntk")
    untied = RecurrentNet(N=16, D=3, T=T, phi="erf", tied=False, parametrization="ntk")
    p = tied.init(jax.random.PRNGKey(3), jnp.float64)
    q = {"U": jnp.stack([p["U"]] * T), "W": jnp.stack([p["W"]] * (T - 1)), "w": jnp.stack([p["w"]] * T)}
    X = np.random.default_rng(2).standard_normal((4, T, 3))
    np.testing.assert_allclose(tied.apply(p, X), untied.apply(q, X), rtol=1e-12)


def test_readout_exponent_and_kernel():
    X = np.random.default_rng(0).standard_normal((3, 2, 4))
    mup = RecurrentNet(N=64, D=4, T=2, phi="tanh", parametrization="mup")
    ntk = RecurrentNet(N=64, D=4, T=2, phi="tanh", parametrization="ntk")
    p = mup.init(jax.random.PRNGKey(0), jnp.float64)
    np.testing.assert_allclose(mup.apply(p, X) * 8.0, ntk.apply(p, X), rtol=1e-12)  # √64 = 8
    C = np.asarray(mup.kernel(p, X))
    a = np.tanh(np.asarray(mup.hidden(p, X)))  # [P, T, N]
    assert C.shape == (6, 6)
    np.testing.assert_allclose(C[1 * 3 + 2, 0 * 3 + 1], a[2, 1] @ a[1, 0] / 64, rtol=1e-12)


def test_two_layer_forward():
    net = TwoLayerNet(N=10, D=4, phi="relu", parametrization="ntk")
    p = net.init(jax.random.PRNGKey(0), jnp.float64)
    X = np.random.default_rng(0).standard_normal((5, 4))
    manual = np.maximum(X @ np.asarray(p["w"]).T / 2.0, 0) @ np.asarray(p["a"]) / np.sqrt(10)
    np.testing.assert_allclose(net.apply(p, X), manual, rtol=1e-12)
