"""Langevin sampling of the Bayesian posterior of a DNN/RNN on a task (conventions §5–§6).

    E(θ) = β/2 Σ_{μ,t} M_t^μ ‖y_t^μ − f_t^μ‖² + ‖U‖²/(2g_u²) + ‖W‖²/(2g²) + ‖w‖²/(2g_w²),
    β = N^{2γ−1}/κ.

Recorded per sample: the representational kernel C over train+test patterns and all (t, s), and
the outputs on train and test patterns. The final parameters of every chain are kept, for the
spectrum of W/√N.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from .._resources import require_memory
from .._validate import choice, positive, positive_int
from ..kernels.layout import time_major
from ..models.parametrization import inverse_temperature
from ..priors import Priors, sampler_kappa
from .langevin import gaussian_prior_energy, langevin, mala, run_chains


def network_energy(net, X, Y, M, beta: float):
    """Energy E(θ) whose Gibbs law exp(−E) is the posterior of ``net`` on (X, Y, M)."""
    data = dict(X=X, Y=Y, M=M, beta=beta)
    return lambda params: _energy(net, params, data)


def _energy(net, params, data):
    dt = params["w"].dtype
    f = net.apply(params, jnp.asarray(data["X"], dt))
    resid = (f - jnp.asarray(data["Y"], dt)) ** 2
    fit = 0.5 * jnp.asarray(data["beta"], dt) * jnp.sum(jnp.asarray(data["M"], dt)[..., None] * resid)
    return fit + gaussian_prior_energy(params, net.prior_variances())


SAMPLERS = ("langevin", "mala")


@lru_cache(maxsize=32)
def _sampler(net, kind: str = "langevin"):
    """(init, step, observe) of ``net`` with the task, β and η as arguments (one dict ``data``), so that
    :func:`~fltheory.sampling.langevin.run_chains` compiles once per network and task shape, not once
    per task (a sweep over signals or seeds reuses it). ``kind``: ``langevin`` (unadjusted) or ``mala``."""
    make = mala if kind == "mala" else langevin
    init, step = make(lambda params, data: _energy(net, params, data), lambda data: data["eta"])

    def observe(params, data):
        h = net.hidden(params, data["X_all"])
        a = net.act(h)
        n, T, N = a.shape
        A = jnp.swapaxes(a, 0, 1).reshape(T * n, N)
        return {"C": A @ A.T / N, "f": net.readout(params, h)}

    return init, step, observe


def default_step_size(net, task, kappa: float) -> float:
    """A stable, nearly unbiased Euler step in prior units (conventions §6).

    Two curvatures compete: the prior precision 1/σ²_min of every entry, and the data curvature of the
    few collective directions that move the outputs, ≈ n_sup·C_max/κ in both parametrizations
    (n_sup supervised entries, C_max the largest prior kernel entry). The Euler stationary variance
    of a mode with curvature λ is biased by ≈ ηλ/2, so η = min(0.01 σ²_min, 0.05/data curvature)
    keeps the prior modes (which carry the kernels) within 0.5 % and the stiff output modes (whose
    variance is only O(κ/N)) within 2.5 %. Learning amplifies the kernels by at most
    A = 1 + max y²/(4κ) (the one-pattern linear chain, docs/theory/unified.md), so η is also capped
    at 1/(A·data curvature), which keeps ηλ ≤ 1 (stable) above a phase transition.
    """
    n_sup = float(np.sum(task.M))
    c_max = max(1.0, net.gu2 * float(np.max(np.sum(task.X**2, -1))) / task.D)
    curvature = n_sup * c_max / kappa
    y_max = float(np.max(np.abs(task.Y * task.M[..., None]))) if task.Y.size else 0.0
    amplification = 1.0 + y_max**2 / (4.0 * kappa)
    return min(0.01 * min(net.g2, net.gu2, net.gw2), 0.05 / curvature, 1.0 / (amplification * curvature))


def default_burn_in(net, step_size: float, relaxation_times: float = 3.0) -> int:
    """Burn-in steps covering ``relaxation_times`` prior relaxation times σ²_max (the slowest modes:
    weights whose posterior is set by the prior relax at rate 1/σ²)."""
    return int(np.ceil(relaxation_times * max(net.g2, net.gu2, net.gw2) / step_size))


@dataclass(frozen=True)
class PosteriorSamples:
    """Posterior averages over chains and samples, with standard errors from the chain spread.

    ``C_mean``/``C_sem`` are ``[T·n, T·n]`` (n = P + P_test, train patterns first, time-major).
    ``f_*_mean`` are ``[P, T, O]`` / ``[P_test, T, O]``. ``final_params`` has a leading chain axis.
    ``C_chains`` / ``f_chains`` keep each chain's time average (``[chains, ...]``, f over train+test):
    above the RNN transition each chain sits in one of two sign-symmetric modes (W → −W), so
    sign-invariant observables must be computed per chain before averaging. ``q_chains`` is each chain's
    average of the *instantaneous* lag-1 order parameter (:func:`instantaneous_order_parameter`).

    Equilibration diagnostics (:func:`mode_hops`, :func:`half_drift`): ``mode_hops_chains`` counts the
    sign changes of the lag-1 training block between consecutive recorded samples (W → −W mode hops; a
    lower bound when the thinning is longer than a hop); ``q_drift_chains`` is each chain's mean q over
    the second half of its samples minus the first half (≈ 0 within its noise once burned in).
    """

    C_mean: np.ndarray
    C_sem: np.ndarray
    f_train_mean: np.ndarray
    f_test_mean: np.ndarray
    f_test_sem: np.ndarray
    final_params: dict
    n_chains: int
    n_samples: int
    step_size: float
    beta: float
    C_chains: np.ndarray | None = None
    f_chains: np.ndarray | None = None
    n_steps: int = 0
    sampler: str = "langevin"
    acceptance: float = float("nan")  # MALA: accepted / proposed over all chains and steps
    q_chains: np.ndarray | None = None  # per chain: the instantaneous lag-1 q averaged over its samples
    mode_hops_chains: np.ndarray | None = None  # per chain: sign changes of the lag-1 block between samples
    q_drift_chains: np.ndarray | None = None    # per chain: mean q (second half) − mean q (first half)
    thin: int = 0

    def hop_rate(self) -> float:
        """Mode hops per sampler step, pooled over chains (0 for T = 1)."""
        if self.mode_hops_chains is None or self.thin <= 0:
            return float("nan")
        return float(np.sum(self.mode_hops_chains) / (self.n_chains * max(1, self.n_samples - 1) * self.thin))

    def q_drift(self) -> tuple[float, float]:
        """(mean, s.e.) over chains of the half-to-half q drift: a burn-in that was long enough gives
        |mean| within a few s.e. of 0."""
        d = np.asarray(self.q_drift_chains, float)
        return float(d.mean()), (float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else float("nan"))

    def test_error(self, task) -> float:
        sq = np.sum((self.f_test_mean - task.Y_test) ** 2, axis=-1)
        return float((sq * task.M_test).sum() / task.M_test.sum())

    def weight_eigenvalues(self, net) -> np.ndarray:
        """Eigenvalues of W/√N for every chain's final sample (RNN: shared W), ``[chains, N]`` complex."""
        W = np.asarray(self.final_params["W"], dtype=np.float64)
        if not net.tied:
            raise ValueError("weight_eigenvalues: only defined for the tied RNN (one W)")
        return np.linalg.eigvals(W / np.sqrt(net.N))


def _sem(x):
    """Standard error of the mean over the chain axis (axis 0) using chain averages."""
    n = x.shape[0]
    return x.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(x.shape[1:], np.nan)


def posterior_memory(net, n_patterns: int, n_chains: int, n_samples: int, dtype=jnp.float32) -> float:
    """Estimated peak bytes of :func:`sample_posterior`: per chain, the parameters with their Langevin
    gradient, noise and proposal (4 copies), the activations of the forward and backward pass over all
    ``n_patterns`` inputs (4 copies of [n, T, N]), and the recorded kernels [n_samples, T·n, T·n] and
    outputs."""
    item = np.dtype(dtype).itemsize
    n_params = sum(int(np.prod(s)) for s in net.param_shapes().values())
    per_chain = 4 * n_params + 4 * n_patterns * net.T * net.N
    recorded = n_samples * ((net.T * n_patterns) ** 2 + net.T * n_patterns * net.O)
    return float(n_chains * (per_chain + recorded) * max(item, 4))


def check_posterior_memory(net, n_patterns: int, n_chains: int, n_samples: int, dtype=jnp.float32) -> None:
    """Refuse (FLTheoryInputError naming ``N``) a run whose :func:`posterior_memory` does not fit."""
    require_memory("N", posterior_memory(net, n_patterns, n_chains, n_samples, dtype),
                   f"Langevin sampling of {n_chains} chains at width N={net.N}",
                   "reduce N (memory grows like N² per chain) or n_chains")


def sample_posterior(net, task, kappa: float | None = None, n_samples: int = 200, thin: int | None = None,
                     burn_in: int | None = None, n_chains: int = 4, step_size: float | None = None,
                     seed: int = 0, dtype=jnp.float32, init_params=None,
                     progress: bool = True, sampler: str = "langevin",
                     priors: Priors | None = None) -> PosteriorSamples:
    """Sample the posterior of ``net`` (a :class:`~fltheory.models.RecurrentNet`) on ``task``.

    Temperature: ``kappa`` (conventions §5), or ``priors=fltheory.Priors(g2, gu2, gw2, kappa)``, the
    object the theory takes (``saddle.solve(..., priors=pr)``); not both. The weight priors are the
    network's, so with ``priors`` build it as ``RecurrentNet(..., priors=pr)``: a network whose
    ``g2``/``gu2``/``gw2`` differ from ``priors`` is one error naming ``priors``, never overridden.

    Chains start from the prior (or ``init_params`` with a leading chain axis), burn in for
    ``burn_in`` steps (default: three prior relaxation times, :func:`default_burn_in`), then record
    ``n_samples`` samples every ``thin`` steps (default: spread over two relaxation times). Step size
    default: :func:`default_step_size`.

    ``sampler``: ``langevin`` (unadjusted Euler–Maruyama, O(η) bias) or ``mala`` (the same proposal
    with a Metropolis–Hastings test: exact, about twice the cost per step; the referee of issue #13).
    MALA's burn-in runs unadjusted (far from equilibrium MALA rejects nearly everything); its samples
    and ``acceptance`` are Metropolis-adjusted.
    The MALA acceptance rate is in the result; at the default step it is close to 1, and a larger
    ``step_size`` trades acceptance for faster mixing.
    """
    choice("sampler", sampler, SAMPLERS)
    kappa = sampler_kappa(priors, kappa, net)
    n_chains = positive_int("n_chains", n_chains, minimum=1)
    n_samples = positive_int("n_samples", n_samples)
    check_posterior_memory(net, task.P + task.P_test, n_chains, n_samples, dtype)
    beta = inverse_temperature(net.parametrization, net.N, kappa)
    eta = default_step_size(net, task, kappa) if step_size is None else positive("step_size", step_size)
    if burn_in is None:
        burn_in = default_burn_in(net, eta)
    if thin is None:
        thin = max(1, default_burn_in(net, eta, relaxation_times=2.0) // n_samples)
    init, step, observe = _sampler(net, sampler)
    key = jax.random.PRNGKey(seed)
    k_init, k_run = jax.random.split(key)
    if init_params is None:
        init_params = jax.vmap(lambda k: net.init(k, dtype))(jax.random.split(k_init, n_chains))
    data = dict(X=jnp.asarray(task.X, dtype), Y=jnp.asarray(task.Y, dtype), M=jnp.asarray(task.M, dtype),
                beta=jnp.asarray(beta, dtype), eta=jnp.asarray(eta, dtype),
                X_all=jnp.asarray(np.concatenate([task.X, task.X_test]), dtype))
    n_steps = burn_in + n_samples * thin
    if sampler == "mala" and burn_in > 0:
        # Far from equilibrium MALA rejects almost every proposal: from the prior start above the RNN
        # transition (T = 3 chain, y = 2 y_c, N = 64) its acceptance was 0.000 over 72 500 steps and the
        # chains never moved. The burn-in only has to reach the typical set, so it runs unadjusted; the
        # recorded samples are Metropolis-adjusted (docs/theory/finite_width.md §3).
        u_init, u_step, _ = _sampler(net, "langevin")
        k_burn, k_run = jax.random.split(k_run)
        u_states = jax.vmap(u_init)(init_params, jax.random.split(k_burn, n_chains))
        u_states, _ = run_chains(u_step, u_states, observe, n_samples=1, thin=1, burn_in=burn_in - 1,
                                 progress=progress, args=(data,), description=f"Langevin burn-in N={net.N}")
        init_params, burn_in = u_states.position, 0
    states = jax.vmap(init)(init_params, jax.random.split(k_run, n_chains))
    P = task.P
    states, obs = run_chains(step, states, observe, n_samples=n_samples, thin=thin, burn_in=burn_in,
                             progress=progress, args=(data,),
                             description=f"{'MALA' if sampler == 'mala' else 'Langevin'} N={net.N}")
    C_chain = obs["C"].astype(np.float64).mean(axis=1)
    f_chain = obs["f"].astype(np.float64).mean(axis=1)
    q_samples = instantaneous_order_parameter(obs["C"], P, task.P_test, net.T)      # [chains, samples]
    q_chain = q_samples.mean(axis=1)
    return PosteriorSamples(
        C_mean=C_chain.mean(0), C_sem=_sem(C_chain),
        f_train_mean=f_chain.mean(0)[:P], f_test_mean=f_chain.mean(0)[P:], f_test_sem=_sem(f_chain)[P:],
        final_params=jax.device_get(states.position), n_chains=n_chains, n_samples=n_samples,
        step_size=eta, beta=beta, C_chains=C_chain, f_chains=f_chain, n_steps=n_steps,
        sampler=sampler, acceptance=_acceptance(states), q_chains=q_chain,
        mode_hops_chains=mode_hops(obs["C"], P, task.P_test, net.T), q_drift_chains=half_drift(q_samples),
        thin=thin,
    )


def instantaneous_order_parameter(C, P: int, P_test: int, T: int, lag: int = 1) -> np.ndarray:
    """q_lag of every recorded sample (conventions §7: mean_t ‖C_{t,t+lag}‖_F/√(‖C_tt‖_F‖C_{t+lag,t+lag}‖_F)
    on the training patterns), from ``C[..., T·n, T·n]`` (n = P + P_test, train first, time-major).

    Sign-invariant per sample, so it is the observable to average when chains hop between the W → −W
    modes (docs/theory/unified.md §3.1); the q of a time-averaged kernel is biased low by the averaging.
    """
    C = np.asarray(C, np.float64)
    n = P + P_test
    B = C.reshape(C.shape[:-2] + (T, n, T, n))[..., :P, :, :P]          # [..., T, P, T, P]
    norm = lambda t, s: np.sqrt(np.sum(B[..., t, :, s, :] ** 2, axis=(-2, -1)))  # noqa: E731
    if T <= lag:
        return np.zeros(C.shape[:-2])
    return np.mean([norm(t, t + lag) / np.sqrt(norm(t, t) * norm(t + lag, t + lag)) for t in range(T - lag)], 0)


def mode_hops(C, P: int, P_test: int, T: int) -> np.ndarray:
    """Per chain, the number of sign changes of tr C_{1,2} (the lag-1 block on the training patterns)
    between consecutive samples of ``C[chains, samples, T·n, T·n]``: the W → −W mode hops that a chain
    makes above the RNN transition (below it, and for the DNN, the sign is noise and flips often)."""
    C = np.asarray(C, np.float64)
    if T < 2 or C.shape[1] < 2:
        return np.zeros(C.shape[0], dtype=int)
    n = P + P_test
    B = C.reshape(C.shape[:-2] + (T, n, T, n))
    s = np.sign(np.trace(B[..., 0, :P, 1, :P], axis1=-2, axis2=-1))          # [chains, samples]
    return np.sum(s[:, 1:] * s[:, :-1] < 0, axis=1)


def half_drift(x) -> np.ndarray:
    """Per chain (axis 0), the mean of the second half of the samples (axis 1) minus the first half."""
    x = np.asarray(x, np.float64)
    h = x.shape[1] // 2
    if h == 0:
        return np.zeros(x.shape[0])
    return x[:, -h:].mean(axis=1) - x[:, :h].mean(axis=1)


def _acceptance(states) -> float:
    if not hasattr(states, "n_accepted"):
        return float("nan")
    return float(np.sum(np.asarray(states.n_accepted)) / max(1, np.sum(np.asarray(states.n_steps))))


__all__ = ["PosteriorSamples", "check_posterior_memory", "default_burn_in", "default_step_size",
           "half_drift", "instantaneous_order_parameter", "mode_hops", "network_energy", "sample_posterior",
           "time_major"]
