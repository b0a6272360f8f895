"""Moments of the single-neuron measure  p(h) ∝ N(h; 0, K) · exp(−φ(h)ᵀ Ĉ φ(h))  (conventions §7).

Three estimators, all in float64:

- :func:`gaussian_moments` — φ = identity: the measure is Gaussian, ⟨hhᵀ⟩ = (K⁻¹ + 2Ĉ)⁻¹ exactly.
- :func:`importance_ln_z1` — a *sample-average approximation*: ln Z₁ ≈ ln mean_k exp(−φ(L z_k)ᵀ Ĉ φ(L z_k))
  with fixed standard-normal draws z_k (and their mirror images −z_k), L Lᵀ = K. It is a smooth
  deterministic function of (K, Ĉ), so Newton with autodiff Jacobians can solve the saddle-point
  equations with it; its gradient in Ĉ is −⟨φφᵀ⟩ under the self-normalised importance weights.
- :func:`mcmc_moments` — Hamiltonian Monte Carlo (blackjax) on the tilted measure in whitened
  coordinates h = L z, many vmapped chains; returns ⟨φφᵀ⟩, ⟨hhᵀ⟩, ⟨φ h_nextᵀ⟩-type cross moments with
  their Monte-Carlo standard errors (from the spread of independent chain means). This is the
  referee for the importance estimate: a solution's ``mc_*`` diagnostics come from it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._validate import FLTheoryInputError, positive_int
from ..activations import get_activation
from .action import tilted_cov_gaussian


def psd_sqrt(K, jitter: float = 1e-12):
    """A factor L with L Lᵀ = K for a PSD (possibly singular) K: Cholesky, else eigen-decomposition."""
    K = np.asarray(K, float)
    n = K.shape[0]
    try:
        return np.linalg.cholesky(K + jitter * np.trace(K) / n * np.eye(n))
    except np.linalg.LinAlgError:
        lam, V = np.linalg.eigh(0.5 * (K + K.T))
        return V * np.sqrt(np.clip(lam, 0.0, None))


def gaussian_moments(K, Chat):
    """Exact ⟨hhᵀ⟩ (= ⟨φφᵀ⟩ for φ = identity) of the tilted Gaussian measure."""
    return np.asarray(tilted_cov_gaussian(jnp.asarray(K), jnp.asarray(Chat)))


def standard_draws(n_mc: int, n: int, seed: int, flips=(), method: str = "sobol") -> jax.Array:
    """Fixed draws z: n_mc standard normal points closed under z → −z (antithetic) and under z → s⊙z for
    each sign pattern s in ``flips`` (the whole group they generate with −1; 2·n_mc·2^len(flips) rows).

    ``method='sobol'`` (default): a scrambled Sobol' sequence (``scipy.stats.qmc``, scramble seed ``seed``)
    mapped through the normal quantile — randomised quasi-Monte Carlo, unbiased like plain MC but with a far
    smaller error for the smooth integrands here (erf chain, T = 3: the solution's seed-to-seed spread is
    4–8× smaller than with ``'mc'`` at equal n_mc). n_mc is rounded up to a power of 2 (Sobol' balance).
    ``method='mc'``: pseudo-random normals from ``jax.random`` (key ``seed``).

    Closing the draw set under a sign symmetry of the single-neuron measure (odd φ: h → E h with E
    diagonal ±1) makes the sample-average action exactly invariant under it, so a symmetric saddle
    point stays exactly symmetric and a pitchfork stays a pitchfork (with open draws the MC noise
    breaks the symmetry and turns the bifurcation into an imperfect one). The sample average stays
    unbiased for any such set, because s⊙z has the law of z.
    """
    n_mc = positive_int("n_mc", n_mc)
    n = positive_int("n", n)
    if method == "sobol":
        from scipy.stats import norm, qmc

        m = int(np.ceil(np.log2(n_mc)))
        u = qmc.Sobol(d=n, scramble=True, seed=int(seed)).random_base2(m)
        z = jnp.asarray(norm.ppf(np.clip(u, 1e-15, 1 - 1e-15)), dtype=jnp.float64)  # no ±inf
    elif method == "mc":
        z = jax.random.normal(jax.random.PRNGKey(seed), (n_mc, n), dtype=jnp.float64)
    else:
        raise FLTheoryInputError(f"method: expected 'sobol' or 'mc', got {method!r}")
    z = jnp.concatenate([z, -z], axis=0)
    for s in flips:
        s = jnp.asarray(s, jnp.float64)
        if s.shape != (n,) or not bool(jnp.all(jnp.abs(s) == 1.0)):
            raise FLTheoryInputError(f"flips: expected sign patterns of ±1 with shape ({n},)")
        z = jnp.concatenate([z, z * s], axis=0)
    return z


def alternating_signs(T: int, P: int) -> np.ndarray:
    """The sign pattern (−1)^t on time-major (t, μ) entries: the RNN's odd-lag symmetry (conventions §7)."""
    return np.repeat((-1.0) ** np.arange(T), P)


def _chol(K):
    n = K.shape[0]
    return jnp.linalg.cholesky(K + 1e-12 * jnp.trace(K) / n * jnp.eye(n))


def importance_log_weights(K, Chat, act, z, Lq=None):
    """Samples h and log importance weights of the tilted measure.

    Proposal h = L_K A z (L_K = chol K; ``Lq`` = A, a fixed lower-triangular "whitened" factor,
    default I = the prior). The density ratio N(h;0,K)/N(h;0,L_K AAᵀL_Kᵀ) = N(Az;0,I)/N(Az;0,AAᵀ) does
    not depend on K, so derivatives in K are pathwise (low variance) for any fixed A.
    """
    L = _chol(K)
    if Lq is None:
        h = z @ L.T
        corr = 0.0
    else:
        u = z @ Lq.T
        h = u @ L.T
        corr = -0.5 * jnp.sum(u**2, axis=1) + 0.5 * jnp.sum(z**2, axis=1) + jnp.sum(jnp.log(jnp.diag(Lq)))
    a = act(h)
    return h, a, corr - jnp.einsum("ki,ij,kj->k", a, Chat, a)


def importance_ln_z1(K, Chat, act, z, blocks=None, Lq=None):
    """Sample-average ln Z₁ = ln mean_k w_k with fixed draws z (see :func:`importance_log_weights`).

    ``blocks``: list of index arrays over which the measure factorises (the DNN's layers); then
    ln Z₁ = Σ_b ln Z₁^(b), each estimated from its own coordinates (far less variance).
    ``Lq``: whitened proposal factor A (adapted to the tilted measure by the solver), see
    :func:`importance_log_weights`.
    """
    if blocks is None:
        _, _, e = importance_log_weights(K, Chat, act, z, Lq)
        return jax.scipy.special.logsumexp(e) - jnp.log(e.shape[0])
    total = 0.0
    for idx in blocks:
        Kb = K[jnp.ix_(idx, idx)]
        Cb = Chat[jnp.ix_(idx, idx)]
        Lb = None if Lq is None else Lq[jnp.ix_(idx, idx)]
        total = total + importance_ln_z1(Kb, Cb, act, z[:, : len(idx)], Lq=Lb)
    return total


class ImportanceMoments(NamedTuple):
    """Self-normalised importance estimates of the tilted single-neuron measure, with the draws."""

    phiphi: np.ndarray   # ⟨φ φᵀ⟩
    hh: np.ndarray       # ⟨h hᵀ⟩
    phih: np.ndarray     # ⟨φ(h) hᵀ⟩
    ess: float           # effective sample size 1/Σw²
    weights: np.ndarray  # normalised weights w [n_draws]
    h: np.ndarray        # draws h [n_draws, m]
    phi: np.ndarray      # φ(h) [n_draws, m]


def importance_moments(K, Chat, act, z, Lq=None) -> ImportanceMoments:
    """Self-normalised importance estimates of ⟨φφᵀ⟩, ⟨hhᵀ⟩, ⟨φhᵀ⟩ and the effective sample size."""
    h, a, e = importance_log_weights(jnp.asarray(K), jnp.asarray(Chat), act, jnp.asarray(z),
                                     None if Lq is None else jnp.asarray(Lq))
    w = jax.nn.softmax(e)
    C = jnp.einsum("k,ki,kj->ij", w, a, a)
    Ch = jnp.einsum("k,ki,kj->ij", w, h, h)
    Cph = jnp.einsum("k,ki,kj->ij", w, a, h)
    ess = 1.0 / jnp.sum(w**2)
    return ImportanceMoments(np.asarray(C), np.asarray(Ch), np.asarray(Cph), float(ess), np.asarray(w),
                             np.asarray(h), np.asarray(a))


@dataclass(frozen=True)
class MCMCMoments:
    """Tilted-measure moments with Monte-Carlo standard errors (over independent chains)."""

    phiphi: np.ndarray       # ⟨φ φᵀ⟩
    phiphi_sem: np.ndarray
    hh: np.ndarray           # ⟨h hᵀ⟩
    hh_sem: np.ndarray
    phih: np.ndarray         # ⟨φ(h) hᵀ⟩
    phih_sem: np.ndarray
    acceptance: float
    n_chains: int
    n_samples: int

    @property
    def max_sem(self) -> float:
        return float(np.max(self.phiphi_sem))


def mcmc_moments(K, Chat, phi="erf", n_chains: int = 64, n_samples: int = 400, burn_in: int = 200,
                 step_size: float = 0.25, n_leapfrog: int = 8, seed: int = 0, observed=None) -> MCMCMoments:
    """Moments of N(h; 0, K)·exp(−φ(h)ᵀĈφ(h)) by blackjax HMC with vmapped chains.

    Sampling is in whitened coordinates z (h = L z, L Lᵀ = K, K may be singular), where the
    measure is N(0, I) times a bounded tilt for bounded φ — well conditioned, so a fixed step size
    and identity mass matrix work. ``observed`` (index array) restricts the tilt's φ to those
    coordinates (Ĉ is zero elsewhere, e.g. on test patterns) — it only speeds things up.
    The standard error of each moment is the standard deviation of the chain means / √n_chains
    (chains are independent, each started from an exact N(0, I) draw).
    """
    import blackjax

    act = get_activation(phi, "phi")
    n_chains = positive_int("n_chains", n_chains, minimum=2)
    n_samples = positive_int("n_samples", n_samples)
    K = np.asarray(K, float)
    Chat = np.asarray(Chat, float)
    if K.shape != Chat.shape or K.ndim != 2:
        raise FLTheoryInputError(f"Chat: shape {Chat.shape} does not match K {K.shape}")
    n = K.shape[0]
    L = jnp.asarray(psd_sqrt(K))
    idx = np.arange(n) if observed is None else np.asarray(observed)
    Ch = jnp.asarray(Chat[np.ix_(idx, idx)])
    Lo = L[idx]

    def logdensity(z):
        a = act(Lo @ z)
        return -0.5 * jnp.sum(z**2) - a @ Ch @ a

    hmc = blackjax.hmc(logdensity, step_size=step_size, inverse_mass_matrix=jnp.ones(n),
                       num_integration_steps=n_leapfrog)
    key = jax.random.PRNGKey(seed)
    k0, k1 = jax.random.split(key)
    z0 = jax.random.normal(k0, (n_chains, n), dtype=jnp.float64)

    def run_chain(z_init, k):
        state = hmc.init(z_init)

        def step(carry, kk):
            s, _ = carry
            s, info = hmc.step(kk, s)
            return (s, info.acceptance_rate), None

        keys = jax.random.split(k, burn_in + n_samples)
        (state, _), _ = jax.lax.scan(step, (state, 0.0), keys[:burn_in])

        def sample(carry, kk):
            s, acc = carry
            s, info = hmc.step(kk, s)
            h = L @ s.position
            a = act(h)
            stats = (jnp.outer(a, a), jnp.outer(h, h), jnp.outer(a, h))
            return (s, acc + info.acceptance_rate), stats

        (state, acc), stats = jax.lax.scan(sample, (state, 0.0), keys[burn_in:])
        means = jax.tree_util.tree_map(lambda x: x.mean(0), stats)
        return means, acc / n_samples

    means, acc = jax.jit(jax.vmap(run_chain))(z0, jax.random.split(k1, n_chains))
    out = []
    for m in means:
        m = np.asarray(m)
        out += [m.mean(0), m.std(0, ddof=1) / np.sqrt(n_chains)]
    pp, pp_s, hh, hh_s, ph, ph_s = out
    return MCMCMoments(phiphi=0.5 * (pp + pp.T), phiphi_sem=pp_s, hh=0.5 * (hh + hh.T), hh_sem=hh_s,
                       phih=ph, phih_sem=ph_s, acceptance=float(np.mean(acc)), n_chains=n_chains,
                       n_samples=n_samples)
