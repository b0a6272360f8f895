"""Kernel of the depth-muP ResNet at initialisation: depth ODE, its Euler recursion, and Monte Carlo.

With t = ℓ/L, the infinite-width kernel Σ_ℓ(x, x') = lim_N h_ℓ(x)·h_ℓ(x')/N obeys, exactly,

    Σ_ℓ = Σ_{ℓ−1} + (a²/L) E_{h∼N(0,Σ_{ℓ−1})}[φ(h)φ(h)ᵀ],      Σ_0 = g_u² X Xᵀ / D,

(the cross terms h_{ℓ−1}·W_ℓφ vanish in expectation because W_ℓ is independent of h_{ℓ−1}).
That is forward Euler with step 1/L for the depth ODE

    dΣ_t/dt = a² E_{h∼N(0,Σ_t)}[φ(h)φ(h)ᵀ],

so the finite-L kernel differs from the ODE by an O(1/L) discretisation error, and the finite-N
empirical kernel differs from the recursion by O(1/√N) Monte Carlo noise (O(1/N) in mean square).
See docs/theory/depth.md.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

from .._validate import FLTheoryInputError, finite_array, positive, positive_int, report_nonconvergence
from ..activations import get_activation
from ..diagnostics import Diagnostics
from ..gaussian import kernel_map
from ..priors import Priors, depth_priors
from .model import ResNetConfig, forward, init_params


def input_kernel(X, gu2: float | None = None, *, priors: Priors | None = None):
    """Σ_0 = g_u² X Xᵀ / D for inputs ``X[P, D]`` (input layer h_0 = U x/√D, conventions §11).

    ``gu2`` (default 1) or ``priors`` (its ``gu2``; not both, see :func:`fltheory.priors.depth_priors`)."""
    X = finite_array("X", X, ndim=2)
    gu2 = positive("gu2", depth_priors(priors, gu2=gu2)[0])
    X = jnp.asarray(X)
    return gu2 * X @ X.T / X.shape[1]


@dataclass(frozen=True)
class DepthKernel:
    """The depth-ODE kernel Σ_t at the depth times ``ts``, with the solver's convergence record.

    ``Sigma[k]`` is the P×P kernel Σ_t at t = ``ts[k]`` (float64, ``[len(ts), P, P]``); with the
    default ``ts = (1.0,)``, ``Sigma[0]`` is the kernel at the output of the infinitely deep network.
    ``diagnostics`` (:class:`~fltheory.diagnostics.Diagnostics`): ``converged`` = diffrax reported
    success, ``iterations`` = accepted steps, ``residual`` = NaN (diffrax does not return its error
    estimate; the local error per step is below ``rtol``/``atol``), ``method`` = the solver and step
    controller, ``wall_time`` = seconds in ``diffeqsolve`` (including compilation).
    """

    Sigma: np.ndarray
    ts: np.ndarray
    diagnostics: Diagnostics


_SOLVER = diffrax.Tsit5()
_TRACE_COUNT = [0]  # times _solve_depth_ode has been traced (= compiled); read by depth_ode_trace_count


def depth_ode_trace_count() -> int:
    """How many times the jitted depth-ODE solve has been traced (compiled) in this process.

    :func:`depth_ode_kernel` compiles once per (P, len(ts), φ, rtol, atol, max_steps); further calls
    with the same shapes and options (any X, a, g_u², ts values) reuse the compiled solve.
    """
    return _TRACE_COUNT[0]


def _depth_rhs(t, S, a, phi):
    """dΣ_t/dt = a² E[φ(h)φ(h)ᵀ]; ``a`` arrives through diffrax's ``args`` (traced), φ is static."""
    return a**2 * kernel_map(phi, S)


@partial(jax.jit, static_argnames=("phi", "rtol", "atol", "max_steps"))
def _solve_depth_ode(S0, a, ts, t1, *, phi, rtol, atol, max_steps):
    """The diffrax solve, jitted once per shape/option set; ``a``, ``ts``, ``t1`` and Σ_0 are traced."""
    _TRACE_COUNT[0] += 1  # a Python side effect: runs only while tracing
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(lambda t, S, args: _depth_rhs(t, S, args, phi)), _SOLVER, t0=0.0, t1=t1, dt0=1e-3,
        y0=S0, args=a,
        saveat=diffrax.SaveAt(ts=ts), stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        max_steps=max_steps, throw=False)
    return sol.ys, sol.result, sol.stats["num_accepted_steps"]


def depth_ode_kernel(X, phi="relu", a: float = 1.0, gu2: float | None = None, ts=(1.0,), rtol: float = 1e-10,
                     atol: float = 1e-12, max_steps: int = 100_000, throw: bool = True, *,
                     priors: Priors | None = None) -> DepthKernel:
    """Solve dΣ_t/dt = a² kernel_map(φ, Σ_t) from Σ_0 = g_u² X Xᵀ/D; Σ at ``ts`` as a :class:`DepthKernel`.

    Solved with diffrax (Tsit5, adaptive steps, tolerances ``rtol``/``atol``, at most ``max_steps``
    steps), in float64; ``result.Sigma`` is ``[len(ts), P, P]``. If the solver fails (e.g.
    ``max_steps`` reached) raises :class:`~fltheory.ConvergenceError`; with ``throw=False`` (an explicit
    opt-in) it warns (:class:`~fltheory.ConvergenceWarning`) and returns the result with
    ``diagnostics.converged = False`` (the times it did not reach hold ``inf``). ``gu2`` (default 1) or
    ``priors`` (its ``gu2``; not both, :func:`fltheory.priors.depth_priors`).
    """
    gu2 = depth_priors(priors, gu2=gu2)[0]
    a = positive("a", a)
    get_activation(phi)  # the name (or callable) is checked here, before anything is solved
    ts = finite_array("ts", ts, ndim=1)
    if ts.size == 0:
        raise FLTheoryInputError("ts: must not be empty")
    if np.any(ts < 0) or np.any(np.diff(ts) < 0):
        raise FLTheoryInputError("ts: must be non-negative and non-decreasing")
    rtol, atol = positive("rtol", rtol), positive("atol", atol)
    max_steps = positive_int("max_steps", max_steps)
    S0 = input_kernel(X, gu2)
    t0 = time.perf_counter()
    ys, result, steps = _solve_depth_ode(S0, jnp.float64(a), jnp.asarray(ts, dtype=jnp.float64),
                                         jnp.float64(ts[-1] if ts[-1] > 0 else 1e-12), phi=phi, rtol=rtol,
                                         atol=atol, max_steps=max_steps)
    Sigma = np.asarray(jax.block_until_ready(ys))
    wall = time.perf_counter() - t0
    ok = bool(diffrax.is_successful(result))
    steps = int(steps)
    if not ok:
        report_nonconvergence(f"depth_ode_kernel: diffrax failed after {steps} accepted steps "
                              f"(max_steps = {max_steps}): {diffrax.RESULTS[result]}; remedies: a "
                              "larger max_steps, or looser rtol/atol", throw)
    diagnostics = Diagnostics(converged=ok, iterations=steps, residual=float("nan"),
                              method=f"diffrax.{type(_SOLVER).__name__}+PID(rtol={rtol:g}, atol={atol:g})",
                              wall_time=wall)
    return DepthKernel(Sigma=Sigma, ts=ts, diagnostics=diagnostics)


def recursion_kernel(X, phi="relu", a: float = 1.0, L: int = 8, gu2: float | None = None, arch: str = "depth_mup",
                     *, priors: Priors | None = None):
    """Infinite-width kernels of the finite-depth network, Σ_0..Σ_L as ``[L+1, P, P]``.

    Σ_ℓ = s² Σ_{ℓ−1} + c_L² kernel_map(φ, Σ_{ℓ−1}) with (s, c_L) from the architecture
    (conventions §11); for ``depth_mup`` this is forward Euler for :func:`depth_ode_kernel`. ``gu2``
    (default 1) or ``priors`` (its ``gu2``; not both, :func:`fltheory.priors.depth_priors`).
    """
    gu2 = depth_priors(priors, gu2=gu2)[0]
    L = positive_int("L", L)
    cfg = ResNetConfig(N=1, L=L, D=1, phi=phi if isinstance(phi, str) else "linear", arch=arch, a=a, gu2=gu2)
    S0 = input_kernel(X, gu2)
    s2, c2 = cfg.skip**2, cfg.branch**2

    def step(S, _):
        S = s2 * S + c2 * kernel_map(phi, S)
        return S, S

    _, Ss = jax.lax.scan(step, S0, None, length=L)
    return jnp.concatenate([S0[None], Ss], axis=0)


def empirical_kernels(key, X, cfg: ResNetConfig, n_seeds: int, dtype=jnp.float64):
    """Empirical kernels h_ℓ·h_ℓ'/N of ``n_seeds`` independent random networks, ``[n_seeds, L+1, P, P]``.

    Uses the model's own ``init_params``/``forward`` (seeds run sequentially with ``lax.map`` so
    memory stays at one network).
    """
    n_seeds = positive_int("n_seeds", n_seeds)
    X = jnp.asarray(finite_array("X", X, shape=(None, cfg.D)), dtype)

    @jax.jit
    def one(k):
        params, frozen = init_params(k, cfg, dtype=dtype)
        _, hs = forward(params, frozen, X, cfg, return_all=True)
        return jnp.einsum("lpn,lqn->lpq", hs, hs) / cfg.N

    return jax.lax.map(one, jax.random.split(key, n_seeds))
