"""Full-batch gradient descent of the ResNet with reused or decoupled backward weights.

Loss ℓ = (1/2P) Σ_μ (f(x_μ) − y_μ)². muP learning rate (conventions §11): every trained tensor
(U, ΔW_ℓ, w) moves by θ ← θ − η₀ N ∂ℓ/∂θ, so features move by O(1) as N grows; the 1/√L of the
depth-muP branch already makes the per-layer update O(1/L), so η₀ is constant in L.

The time loop is a ``jax.lax.scan`` over steps of a jitted step; the result holds the train and
test loss at every step and, on request, the smallest eigenvalue of the feature–gradient
covariance at a few depths (:func:`feature_gradient_covariance`).
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .._validate import FLTheoryInputError, choice, positive, positive_int
from ..activations import get_activation
from .data import as_regression_task
from .model import MODES, ResNetConfig, forward, init_params


def mse(f, y):
    return 0.5 * jnp.mean((f - y) ** 2)


def feature_gradient_covariance(params, frozen, X, cfg: ResNetConfig, layers):
    """Feature–gradient second-moment matrices at the hidden layers ``layers`` (indices 0..L).

    For layer ℓ and neuron i let v_i = (φ(h_ℓ,i(x_1)), …, φ(h_ℓ,i(x_m)), g_ℓ,i(x_1), …, g_ℓ,i(x_m))
    with g_ℓ = N ∂f/∂h_ℓ computed by the backward pass of ``frozen`` (reused or decoupled).
    Returns ``[len(layers), 2m, 2m]`` = (1/N) Σ_i v_i v_iᵀ: the finite-N estimate of the joint
    covariance of features and gradients (the object whose nondegeneracy the seed paper assumes).
    """
    act = get_activation(cfg.phi)
    P = X.shape[0]
    probe = jnp.zeros((cfg.L + 1, P, cfg.N), X.dtype)

    def total(pr):
        f, hs = forward(params, frozen, X, cfg, return_all=True, probe=pr)
        return jnp.sum(f), hs

    g, hs = jax.grad(total, has_aux=True)(probe)
    g = g * cfg.N
    idx = jnp.asarray(layers)
    v = jnp.concatenate([act(hs[idx]), g[idx]], axis=1)  # [n_layers, 2m, N]
    return jnp.einsum("lan,lbn->lab", v, v) / cfg.N


def min_eig_normalised(C):
    """Smallest eigenvalue of the correlation matrix D^{-1/2} C D^{-1/2} (scale free, in [0, 1])."""
    d = jnp.sqrt(jnp.clip(jnp.diagonal(C, axis1=-2, axis2=-1), 1e-30))
    R = C / (d[..., :, None] * d[..., None, :])
    return jnp.linalg.eigvalsh(R)[..., 0]


@partial(jax.jit, static_argnames=("cfg", "steps", "cov_layers", "n_cov"))
def _train(params, frozen, X, y, X_test, y_test, lr, cfg, steps, cov_layers, n_cov):
    eta = lr * cfg.N

    def loss_fn(p):
        return mse(forward(p, frozen, X, cfg), y)

    def step(p, _):
        loss, grads = jax.value_and_grad(loss_fn)(p)
        test = mse(forward(p, frozen, X_test, cfg), y_test)
        out = {"train_loss": loss, "test_loss": test}
        if cov_layers:
            C = feature_gradient_covariance(p, frozen, X[:n_cov], cfg, cov_layers)
            out["cov_min_eig"] = jnp.linalg.eigvalsh(C)[:, 0]
            out["cov_min_eig_normalised"] = min_eig_normalised(C)
        p = jax.tree_util.tree_map(lambda a, b: a - eta * b, p, grads)
        return p, out

    p, hist = jax.lax.scan(step, params, None, length=steps)
    final = {"train_loss": loss_fn(p), "test_loss": mse(forward(p, frozen, X_test, cfg), y_test)}
    return p, hist, final


def train(key, cfg: ResNetConfig, task, mode: str = "reused", steps: int = 100, lr: float = 0.5,
          cov_layers=(), n_cov: int = 4, dtype=jnp.float32):
    """Train one network by full-batch GD and return its history.

    ``task``: a :class:`~fltheory.depth.RegressionTask` or a one-step :class:`fltheory.tasks.Task`
    (:func:`~fltheory.depth.data.as_regression_task`). ``key`` fixes the forward initialisation (U, W(0), w)
    — identical for both modes — and, in
    ``"decoupled"`` mode, the independent backward initialisation W̃(0). ``lr`` is η₀ (the update is
    η₀ N ∂ℓ/∂θ). Returns a dict of numpy arrays: ``train_loss[steps+1]``, ``test_loss[steps+1]``
    (entry k is the loss after k steps) and, when ``cov_layers`` is given, ``cov_min_eig`` and
    ``cov_min_eig_normalised`` of shape ``[steps, len(cov_layers)]``.

    A step size that makes GD diverge (the train or test loss overflows to inf/NaN) raises one
    :class:`~fltheory.FLTheoryInputError` naming ``lr``, the step at which it happened and the remedy.
    """
    choice("mode", mode, MODES)
    steps = positive_int("steps", steps)
    lr = positive("lr", lr)
    n_cov = positive_int("n_cov", n_cov)
    cov_layers = tuple(int(l) for l in cov_layers)
    for l in cov_layers:
        if not 0 <= l <= cfg.L:
            raise FLTheoryInputError(f"cov_layers: layer {l} outside 0..{cfg.L}")
    params, frozen = init_params(key, cfg, mode=mode, dtype=dtype)
    task = as_regression_task(task)
    X, y = jnp.asarray(task.X, dtype), jnp.asarray(task.y, dtype)
    Xt, yt = jnp.asarray(task.X_test, dtype), jnp.asarray(task.y_test, dtype)
    _, hist, final = _train(params, frozen, X, y, Xt, yt, jnp.asarray(lr, dtype), cfg, steps,
                            cov_layers, min(n_cov, X.shape[0]))
    out = {k: jnp.concatenate([hist[k], final[k][None]]) for k in ("train_loss", "test_loss")}
    for k in ("cov_min_eig", "cov_min_eig_normalised"):
        if k in hist:
            out[k] = hist[k]
    out = {k: jax.device_get(v) for k, v in out.items()}
    bad = ~(np.isfinite(out["train_loss"]) & np.isfinite(out["test_loss"]))
    if bad.any():
        k = int(np.argmax(bad))
        raise FLTheoryInputError(
            f"lr: the loss became non-finite after {k} of {steps} GD steps at lr = {lr:g} ({cfg.arch}, "
            f"N = {cfg.N}, L = {cfg.L}, phi = {cfg.phi}, {mode} backward weights); reduce lr")
    return out
