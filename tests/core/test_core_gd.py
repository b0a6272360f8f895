"""Plain gradient descent (optax) reaches the exact least-squares solution."""
import jax.numpy as jnp
import numpy as np
import optax

import fltheory  # noqa: F401
from fltheory.sampling import gradient_descent


def test_gradient_descent_converges_to_least_squares():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((20, 4))
    b = rng.standard_normal(20)
    loss = lambda th: 0.5 * jnp.sum((A @ th - b) ** 2)
    lr = 1.0 / np.linalg.eigvalsh(A.T @ A).max()
    th, hist = gradient_descent(loss, jnp.zeros(4), optax.sgd(lr), n_steps=3000, record_every=100)
    exact = np.linalg.lstsq(A, b, rcond=None)[0]
    np.testing.assert_allclose(th, exact, atol=1e-8)
    assert hist["loss"].shape == (30,) and np.all(np.diff(hist["loss"]) <= 1e-12)
