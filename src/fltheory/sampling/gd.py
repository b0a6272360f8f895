"""Plain (non-noisy) gradient descent with any optax optimizer, many steps per jitted call."""
from __future__ import annotations

from typing import Any, Callable

import jax
import numpy as np
import optax

from .._validate import positive_int


def gradient_descent(loss_fn: Callable[[Any], jax.Array], params, optimizer: optax.GradientTransformation,
                     n_steps: int, record_every: int = 1, record: Callable[[Any], Any] | None = None):
    """Minimise ``loss_fn`` from ``params``; returns ``(params, history)``.

    ``history`` holds ``loss`` (and ``record(params)`` if given) every ``record_every`` steps, recorded
    *before* the update, stacked as NumPy arrays of length ``n_steps // record_every``.
    """
    n_steps = positive_int("n_steps", n_steps)
    record_every = positive_int("record_every", record_every)
    n_rec = n_steps // record_every
    record = record or (lambda p: {})

    def one(carry, _):
        p, s = carry
        loss, g = jax.value_and_grad(loss_fn)(p)
        upd, s = optimizer.update(g, s, p)
        return (optax.apply_updates(p, upd), s), loss

    @jax.jit
    def block(carry):
        rec = {"loss": loss_fn(carry[0]), **record(carry[0])}
        carry, _ = jax.lax.scan(one, carry, None, length=record_every)
        return carry, rec

    @jax.jit
    def run(params):
        return jax.lax.scan(lambda c, _: block(c), (params, optimizer.init(params)), None, length=n_rec)

    (params, _), hist = run(params)
    return params, jax.tree_util.tree_map(np.asarray, hist)
