"""The full N-dimensional low-rank RNN and its training by GD or Adam (optax).

    x_{k+1} = x_k + (dt/τ)(−x_k + (1/N) U Vᵀ φ(x_k) + m s_k),    x_0 = 0,
    y_k     = (1/N) zᵀ φ(x_{k+1})     readout "next" (default)   (φ = identity: (1/N) zᵀ x_{k+1})
    y_k     = (1/N) zᵀ φ(x_k)         readout "current" (the paper's; y_0 = 0), see tasks.READOUTS

The time loop is a ``jax.lax.scan`` over Euler steps; training is a jitted optax step scanned over
a chunk of epochs (a Python loop only over chunks, for the progress bar). Gradient descent uses
step N·η on the vectors, which is overlap-space step η (conventions §10). A task with fresh batches
(:attr:`.tasks.Task.epoch_batch`) is trained on batch e at epoch e (the chunk scans over them).
"""

from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._validate import FLTheoryInputError, choice, positive, positive_int
from .gain import LowRankActivation
from .overlaps import Layout, check_gram, gram
from .tasks import Task, check_readout


class Vectors(NamedTuple):
    """Trainable vectors: m (N,), U (N, r), V (N, r), z (N,)."""

    m: jnp.ndarray
    U: jnp.ndarray
    V: jnp.ndarray
    z: jnp.ndarray

    @property
    def N(self) -> int:
        return self.m.shape[0]

    def stacked(self) -> jnp.ndarray:
        """Columns in the layout order [m, u_1..u_r, v_1..v_r, z] (N × n)."""
        return jnp.concatenate([self.m[:, None], self.U, self.V, self.z[:, None]], axis=1)

    def gram(self) -> jnp.ndarray:
        return gram(self.stacked())


def from_stacked(X, layout: Layout) -> Vectors:
    X = jnp.asarray(X)
    return Vectors(X[:, 0], X[:, layout.u_idx], X[:, layout.v_idx], X[:, layout.z_idx])


def init_vectors(key, N: int, layout: Layout, normalize: bool = True, balanced: bool = False) -> Vectors:
    """i.i.d. N(0, 1) entries; with ``normalize`` each vector is rescaled to ‖a‖² = N (σ_aa = 1).

    ``balanced=True``: the input side B = [m, u_1..u_r] is drawn as above and the output side is
    A = [v_1..v_r, z] = B R with R a Haar-random orthogonal (r+1) × (r+1) matrix (from the same key), so
    that the conserved N × N matrix K = AAᵀ − BBᵀ vanishes (docs/theory/lowrank.md §5, "Balanced
    initialisation"; in overlaps: ΣJΣ = 0). Gradient flow keeps K = 0, hence the invisible overlaps stay
    functions of the visible ones: Σ_BB = (Σ_ABᵀ Σ_AB)^{1/2}, Σ_AA = (Σ_AB Σ_ABᵀ)^{1/2}.
    """
    N = positive_int("N", N, minimum=layout.n)
    if not isinstance(balanced, (bool, np.bool_)):
        raise FLTheoryInputError(f"balanced: expected True or False, got {balanced!r}")
    X = jax.random.normal(key, (N, layout.n), dtype=jnp.float64)
    if normalize:
        X = X * jnp.sqrt(N / jnp.sum(X**2, axis=0))
    if balanced:
        k = layout.rank + 1
        Q, Rq = np.linalg.qr(np.asarray(jax.random.normal(jax.random.fold_in(key, 1), (k, k), dtype=jnp.float64)))
        R = Q * np.sign(np.diag(Rq))  # Haar-distributed orthogonal matrix
        B = X[:, layout.input_side]
        X = jnp.concatenate([B, B @ jnp.asarray(R)], axis=1)
    return from_stacked(X, layout)


def vectors_with_gram(key, N: int, S, layout: Layout) -> Vectors:
    """Gaussian-like vectors whose Gram matrix VᵀV/N equals ``S`` exactly.

    Draw X (N × n) with i.i.d. N(0, 1) entries, whiten it to XᵀX/N = I, and map it by a square
    root of S. The rows stay (asymptotically) jointly Gaussian with covariance S, which is what the
    Stein reduction needs.
    """
    N = positive_int("N", N, minimum=layout.n)
    S = check_gram("S", S, layout)
    X = np.asarray(jax.random.normal(key, (N, layout.n), dtype=jnp.float64))
    C = X.T @ X / N
    w, Q = np.linalg.eigh(C)
    X = X @ (Q / np.sqrt(w)) @ Q.T
    w, Q = np.linalg.eigh(S)
    root = (Q * np.sqrt(np.clip(w, 0.0, None))) @ Q.T
    return from_stacked(jnp.asarray(X @ root), layout)


def network_rollout(vecs: Vectors, inputs, act: LowRankActivation, dt: float, tau: float = 1.0,
                    readout: str = "next"):
    """Run the full network on ``inputs`` [B, K]; returns y [B, K]. One ``lax.scan`` over time.

    ``readout="next"``: y_k = zᵀφ(x_{k+1})/N; ``"current"``: y_k = zᵀφ(x_k)/N (tasks.READOUTS).
    """
    readout = check_readout(readout)
    N = vecs.N
    a = dt / tau
    inputs = jnp.asarray(inputs, dtype=vecs.m.dtype)

    def step(x, s_t):
        r = act.phi(x)
        x_next = x + a * (-x + ((r @ vecs.V) @ vecs.U.T) / N + s_t[:, None] * vecs.m[None, :])
        y = act.phi(x_next) @ vecs.z / N if readout == "next" else r @ vecs.z / N
        return x_next, y

    x0 = jnp.zeros((inputs.shape[0], N), dtype=vecs.m.dtype)
    _, ys = jax.lax.scan(step, x0, inputs.T)
    return ys.T


def network_loss(vecs: Vectors, task: Task, act: LowRankActivation, readout: str = "next", epoch: int = 0):
    """The task loss Σ_k w_k (y_k − target_k)² of the full network with vectors ``vecs``
    (on the batch of ``epoch`` for a task with fresh batches)."""
    inputs, targets, weights = task.batch(epoch)
    y = network_rollout(vecs, inputs, act, task.dt, task.tau, readout)
    return jnp.sum(jnp.asarray(weights) * (y - jnp.asarray(targets)) ** 2)


def optimizer_step_size(optimizer: str, N: int, eta: float | None = None, lr: float | None = None) -> float:
    """Vector-space learning rate: N·η for ``"gd"`` (optax.sgd), ``lr`` for ``"adam"`` (optax.adam)."""
    choice("optimizer", optimizer, ("gd", "adam"))
    if optimizer == "gd":
        if eta is None:
            raise FLTheoryInputError("eta: required for optimizer='gd'")
        return N * positive("eta", eta)
    if lr is None:
        raise FLTheoryInputError("lr: required for optimizer='adam'")
    return positive("lr", lr)


def _optax(optimizer: str, rate):
    return optax.sgd(rate) if optimizer == "gd" else optax.adam(rate)


@partial(jax.jit, static_argnames=("act", "dt", "tau", "optimizer", "n_epochs", "readout", "fresh"))
def _train_chunk(vecs, opt_state, rate, inputs, targets, weights, *, act, dt, tau, optimizer, n_epochs,
                 readout="next", fresh=False):
    """``n_epochs`` optimiser steps; ``fresh``: inputs/targets/weights are [n_epochs, B, K], one batch per epoch."""
    opt = _optax(optimizer, rate)

    def loss_fn(v, batch):
        inp, tgt, w = batch
        y = network_rollout(v, inp, act, dt, tau, readout)
        return jnp.sum(w * (y - tgt) ** 2)

    def epoch(carry, batch):
        v, st = carry
        loss, g = jax.value_and_grad(loss_fn)(v, (inputs, targets, weights) if batch is None else batch)
        upd, st = opt.update(g, st, v)
        return (optax.apply_updates(v, upd), st), (v.gram(), loss)

    xs = (inputs, targets, weights) if fresh else None
    (vecs, opt_state), (grams, losses) = jax.lax.scan(epoch, (vecs, opt_state), xs, length=n_epochs)
    return vecs, opt_state, grams, losses


def train_network(vecs0: Vectors, task: Task, act: LowRankActivation, epochs: int, optimizer: str = "gd",
                  eta: float | None = None, lr: float | None = None, chunk: int = 250,
                  progress: Callable[[int], None] | None = None, readout: str = "next") -> dict:
    """Train all four (rank-1) / six (rank-2) vectors, full batch (a fresh one per epoch if ``task.fresh``).

    Returns ``{"gram": [E+1, n, n], "loss": [E+1], "vectors": final Vectors}``; entry e is the
    state *before* update e (entry 0 = initialisation, entry E = after the last update), and
    ``loss[e]`` its loss on the batch of epoch e (for fresh batches, ``loss[E]`` is on batch E,
    one the network has not been trained on). ``readout``: see :data:`.tasks.READOUTS`.
    ``progress(n)`` is called after each chunk with the number of epochs just done.
    """
    epochs = positive_int("epochs", epochs, minimum=0)
    chunk = positive_int("chunk", chunk)
    rate = optimizer_step_size(optimizer, vecs0.N, eta, lr)
    readout = check_readout(readout)
    st = _optax(optimizer, rate).init(vecs0)
    vecs = vecs0
    grams, losses = [], []
    done = 0
    while done < epochs:
        n = min(chunk, epochs - done)
        batch = task.batches(done, n) if task.fresh else task.batch(0)
        inputs, targets, weights = (jnp.asarray(a) for a in batch)
        vecs, st, g, lo = _train_chunk(vecs, st, jnp.float64(rate), inputs, targets, weights, act=act,
                                       dt=task.dt, tau=task.tau, optimizer=optimizer, n_epochs=n,
                                       readout=readout, fresh=task.fresh)
        grams.append(np.asarray(g))
        losses.append(np.asarray(lo))
        done += n
        if progress is not None:
            progress(n)
    final_loss = float(network_loss(vecs, task, act, readout, epoch=epochs))
    grams.append(np.asarray(vecs.gram())[None])
    losses.append(np.array([final_loss]))
    gram_traj = np.concatenate(grams)
    loss_traj = np.concatenate(losses)
    if not np.all(np.isfinite(loss_traj)):
        raise FLTheoryInputError("eta: training diverged (non-finite loss); use a smaller learning rate")
    return {"gram": gram_traj, "loss": loss_traj, "vectors": vecs}
