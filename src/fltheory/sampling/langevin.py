"""Full-batch Langevin dynamics as a pure ``(init, step)`` pair (conventions §6).

    θ ← θ − η ∇E(θ) + √(2η) ξ,   ξ ~ N(0, I)

whose stationary law is ∝ exp(−E(θ)). The energy carries the inverse temperature and the
per-layer prior precisions explicitly (see :func:`gaussian_prior_energy` and
:func:`fltheory.sampling.posterior.network_energy`). This is written by hand on purpose: optax's
``add_noise`` scales its noise with the learning rate, which is not Langevin.

:func:`run_chains` drives many chains (``vmap``) for many steps per call (``lax.scan``), with
burn-in, thinning and a rich progress bar between jitted chunks.
"""

from functools import lru_cache
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from rich.progress import Progress

from .._validate import positive, positive_int


class LangevinState(NamedTuple):
    position: Any
    key: jax.Array


def gaussian_prior_energy(params, variances) -> jax.Array:
    """Σ_leaves ‖θ‖²/(2σ²): the negative log of an i.i.d. Gaussian prior (up to a constant).

    ``variances`` has the same tree structure as ``params`` (leaves: scalars or broadcastable arrays).
    """
    terms = jax.tree_util.tree_map(lambda p, v: jnp.sum(p**2) / (2.0 * v), params, variances)
    return sum(jax.tree_util.tree_leaves(terms))


def langevin(energy_fn: Callable[..., jax.Array], step_size):
    """Return ``(init, step)`` for overdamped Langevin dynamics on ``energy_fn``.

    ``step_size`` is a scalar or a pytree of per-leaf step sizes (a diagonal preconditioner; the
    noise is scaled consistently, so the stationary law is unchanged), or a function of the extra
    arguments returning one. ``step(state, *args)`` passes ``args`` to ``energy_fn(position, *args)``:
    data given as arguments rather than closed over lets one compiled sampler serve every task of the
    same shapes (:func:`run_chains` caches its compiled loops per ``step``).
    """
    grad_fn = jax.grad(energy_fn)

    def init(position, key) -> LangevinState:
        return LangevinState(position, key)

    def step(state: LangevinState, *args) -> LangevinState:
        key, sub = jax.random.split(state.key)
        leaves, treedef = jax.tree_util.tree_flatten(state.position)
        keys = jax.random.split(sub, len(leaves))
        noise = treedef.unflatten(
            [jax.random.normal(k, p.shape, p.dtype) for k, p in zip(keys, leaves)]
        )
        grads = grad_fn(state.position, *args)
        eta = step_size(*args) if callable(step_size) else step_size
        etas = eta if isinstance(eta, (dict, list, tuple)) else jax.tree_util.tree_map(lambda _: eta, state.position)
        new = jax.tree_util.tree_map(
            lambda p, g, n, eta: p - eta * g + jnp.sqrt(2.0 * eta).astype(p.dtype) * n,
            state.position, grads, noise, etas,
        )
        return LangevinState(new, key)

    return init, step


class MALAState(NamedTuple):
    """State of a Metropolis-adjusted Langevin chain: the position, its key and the running count of
    accepted proposals (``n_accepted / n_steps`` is the acceptance rate)."""

    position: Any
    key: jax.Array
    n_accepted: jax.Array
    n_steps: jax.Array


def mala(energy_fn: Callable[..., jax.Array], step_size):
    """Return ``(init, step)`` for the Metropolis-adjusted Langevin algorithm on ``energy_fn``.

    The proposal is the Langevin step of :func:`langevin` (θ' = θ − η∇E + √(2η)ξ) and a
    Metropolis–Hastings test accepts it with the exact ratio, so the chain samples exp(−E) with no
    O(η) bias: the referee of the unadjusted sampler (issue #13). It is blackjax's MALA kernel
    (``blackjax.mala.build_kernel``) on the log density −E(θ, *args). ``step_size`` is a scalar or a
    function of the extra arguments returning one. Each step evaluates E and ∇E at the current
    position and at the proposal (the data are arguments, so nothing is cached between steps): about
    twice the cost of an unadjusted step (``benchmarks/sampler_flops.py`` prints the ratio). The chain
    runs in float64 whatever the dtype of the initial position: the acceptance test compares energies
    of order N² (float32 would round them to ~N²·10⁻⁷), and blackjax draws its noise in the default
    (float64) dtype.
    """
    import blackjax

    kernel = blackjax.mala.build_kernel()

    def init(position, key) -> MALAState:
        position = jax.tree_util.tree_map(lambda p: jnp.asarray(p, jnp.float64), position)
        return MALAState(position, key, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))

    def step(state: MALAState, *args) -> MALAState:
        key, sub = jax.random.split(state.key)
        eta = step_size(*args) if callable(step_size) else step_size
        if isinstance(eta, (dict, list, tuple)):
            raise TypeError("mala: step_size must be a scalar (blackjax's MALA has no per-leaf steps)")
        eta = jnp.asarray(eta, jnp.float64)
        logdensity = lambda p: -jnp.asarray(energy_fn(p, *args), jnp.float64)  # noqa: E731
        current = blackjax.mala.init(state.position, logdensity)
        new, info = kernel(sub, current, logdensity, eta)
        return MALAState(new.position, key, state.n_accepted + info.is_accepted.astype(jnp.int32),
                         state.n_steps + 1)

    return init, step


@lru_cache(maxsize=32)
def _loops(step: Callable, observe: Callable, chunk: int):
    """Compiled burn-in and sampling loops of one (step, observe) pair, with the step counts and the
    extra arguments traced: a second run with the same shapes reuses the compilation."""

    def advance(state, n, args):
        return jax.lax.fori_loop(0, n, lambda _, s: step(s, *args), state)

    @jax.jit
    def burn(state, n, args):
        return jax.vmap(lambda s: advance(s, n, args))(state)

    @jax.jit
    def sample_chunk(state, thin, args):
        def one(s):
            def body(s, _):
                s = advance(s, thin, args)
                return s, observe(s.position, *args)
            return jax.lax.scan(body, s, None, length=chunk)
        return jax.vmap(one)(state)

    return burn, sample_chunk


def run_chains(
    step: Callable[[LangevinState], LangevinState],
    states: LangevinState,
    observe: Callable[[Any], Any],
    n_samples: int,
    thin: int = 1,
    burn_in: int = 0,
    chunk: int = 50,
    progress: bool = True,
    description: str = "Langevin",
    args: tuple = (),
):
    """Run vmapped chains: ``burn_in`` steps, then ``n_samples`` observations every ``thin`` steps.

    ``states`` is a batched :class:`LangevinState` (leading axis = chain). ``observe(position, *args)`` returns
    a pytree of arrays recorded per sample; ``args`` (shared by all chains) go to ``step`` and ``observe``.
    The compiled loops are cached per (``step``, ``observe``, chunk): pass the same functions and the
    data as ``args`` to sample many tasks of one shape with one compilation. Returns
    ``(final_states, observations)``, observations with leading axes ``[chain, sample, ...]`` as NumPy arrays.
    """
    n_samples = positive_int("n_samples", n_samples)
    thin = positive_int("thin", thin)
    burn_in = positive_int("burn_in", burn_in, minimum=0)
    chunk = min(positive_int("chunk", chunk), n_samples)
    burn, sample_chunk = _loops(step, observe, chunk)
    args = tuple(args)

    total_steps = burn_in + n_samples * thin
    obs_chunks = []
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(description, total=total_steps)
        if burn_in:
            states = burn(states, burn_in, args)
            jax.block_until_ready(states)
            bar.advance(task, burn_in)
        done = 0
        while done < n_samples:
            states, obs = sample_chunk(states, thin, args)
            obs_chunks.append(jax.device_get(obs))
            done += chunk
            bar.advance(task, chunk * thin)
    obs = jax.tree_util.tree_map(
        lambda *xs: np.concatenate(xs, axis=1)[:, :n_samples], *obs_chunks
    )
    return states, obs


def check_step_size(step_size) -> float:
    return positive("step_size", step_size)
