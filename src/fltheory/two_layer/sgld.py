"""SGLD experiments on the two-layer network (conventions §6, §9).

Full-batch Langevin dynamics (:func:`fltheory.sampling.langevin.langevin`) on

    E(w, a) = (1/2κ²) Σ_μ (f(x_μ) − y_μ)² + ‖w‖²/(2 sw2) + ‖a‖²/(2 sa2),

whose stationary law is the Gibbs posterior of issue #5. Chains are vmapped, run with burn-in and
thinning (:func:`fltheory.sampling.langevin.run_chains`), and the recorded observables are
averaged over samples and chains:

- the posterior-mean predictor ⟨f⟩ on the test inputs → test MSE, m_A = mean_test(⟨f⟩ χ_A);
- the second moments ⟨w_j²⟩ per input coordinate (averaged over neurons), and the ARD precisions
  that the update of :mod:`fltheory.two_layer.ard` would assign to them.

Step sizes are per leaf (a diagonal preconditioner, stationary law unchanged): η = ``step_scale``
divided by the largest curvature of E in that leaf, prior + P·E[φ²]N^{−2γ}/κ² (× sa2 for w).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from .._validate import FLTheoryInputError, positive, positive_int
from ..models.two_layer import TwoLayerNet
from ..priors import Priors, two_layer_priors
from ..sampling.langevin import gaussian_prior_energy, langevin, run_chains
from .ard import ard_update, relevance_ratio


@dataclass(frozen=True)
class SGLDResult:
    """Averages of one SGLD run (all chains pooled) and per-chain spreads."""

    f_test_mean: np.ndarray
    test_mse: float
    test_mse_chains: np.ndarray
    w2: np.ndarray
    rho: np.ndarray
    train_mse: float
    step_size: dict = field(default_factory=dict)
    f_test_chains: np.ndarray | None = None   # [chain, P_test]: each chain's posterior-mean predictor

    def summary(self, relevant) -> dict[str, float]:
        mask = np.zeros(len(self.w2), bool)
        mask[list(relevant)] = True
        out = dict(test_mse=self.test_mse,
                   test_mse_se=float(np.std(self.test_mse_chains, ddof=1) / np.sqrt(len(self.test_mse_chains)))
                   if len(self.test_mse_chains) > 1 else float("nan"),
                   train_mse=self.train_mse,
                   w2_relevant=float(self.w2[mask].mean()),
                   w2_irrelevant=float(self.w2[~mask].mean()) if (~mask).any() else float("nan"),
                   rho_relevant=float(self.rho[mask].mean()),
                   rho_irrelevant=float(self.rho[~mask].mean()) if (~mask).any() else float("nan"),
                   rho_ratio=relevance_ratio(self.rho, relevant) if (~mask).any() else float("nan"))
        return out


def default_step_sizes(P: int, N: int, gamma: float, kappa2: float, sw2: float, sa2: float,
                       step_scale: float = 0.05) -> dict:
    """Per-leaf Langevin step sizes: ``step_scale``/(largest curvature of the energy in the leaf).

    The data curvature of a is P·E[φ²]/(N^{2γ}κ²) with E[φ²] ≤ sw2/2 (relu at the prior); that of
    w carries an extra a² ≈ sa2. ``step_scale`` = 0.05 gives an Euler bias of the stationary
    variance of about η·curvature/2 ≈ 2.5 % in the stiffest direction and far less elsewhere.
    """
    data = P * 0.5 * sw2 / (N ** (2.0 * gamma) * kappa2)
    return {"w": step_scale / (1.0 / sw2 + data * sa2 / sw2), "a": step_scale / (1.0 / sa2 + data)}


def run_sgld(X, Y, X_test, Y_test, *, N: int, kappa2: float | None = None, parametrization: str = "ntk",
             sw2: float | None = None, sa2: float | None = None, priors: Priors | None = None, phi: str = "relu", n_chains: int = 4,
             burn_in: int = 20000, n_samples: int = 100, thin: int = 100, step_scale: float = 0.05,
             a0: float = 1.0, b0: float = 1.0, seed: int = 0, dtype=jnp.float32,
             progress: bool = False) -> SGLDResult:
    """Sample the Gibbs posterior of issue #5 with vmapped full-batch Langevin chains.

    ``X[P, d]``, ``Y[P]`` training data; ``X_test``, ``Y_test`` likewise. Chains start at the
    prior. Returns pooled averages (see :class:`SGLDResult`); ``rho`` is the ARD update
    (:func:`~fltheory.two_layer.ard.ard_update`) evaluated at the SGLD second moments ⟨w_j²⟩.
    Priors: ``priors=fltheory.Priors(gu2, gw2, kappa)`` or ``sw2``/``sa2``/``kappa2`` (conventions §9), not both.
    """
    X = np.asarray(X, float)
    X_test = np.asarray(X_test, float)
    if X.ndim != 2 or X_test.ndim != 2 or X.shape[1] != X_test.shape[1]:
        raise FLTheoryInputError(f"X: expected [P, d] and X_test [P_test, d], got {X.shape}, {X_test.shape}")
    Y, Y_test = np.asarray(Y, float).reshape(-1), np.asarray(Y_test, float).reshape(-1)
    if len(Y) != len(X) or len(Y_test) != len(X_test):
        raise FLTheoryInputError("Y: length must match X (and Y_test match X_test)")
    N = positive_int("N", N)
    n_chains = positive_int("n_chains", n_chains)
    P, d = X.shape
    gamma = TwoLayerNet(N=N, D=d, phi=phi, parametrization=parametrization).gamma
    sw2, sa2, kappa2 = two_layer_priors(priors, sw2=sw2, sa2=sa2, kappa2=kappa2, N=N, gamma=gamma)
    net = TwoLayerNet(N=N, D=d, phi=phi, parametrization=parametrization, sw2=sw2, sa2=sa2)
    Xj, Yj = jnp.asarray(X, dtype), jnp.asarray(Y, dtype)
    Xt = jnp.asarray(X_test, dtype)

    def energy(params):
        f = net.apply(params, Xj)
        return 0.5 * jnp.sum((f - Yj) ** 2) / kappa2 + gaussian_prior_energy(params, net.prior_variances())

    eta = default_step_sizes(P, N, net.gamma, kappa2, sw2, sa2, step_scale)
    init, step = langevin(energy, eta)
    k_init, k_run = jax.random.split(jax.random.PRNGKey(seed))
    params0 = jax.vmap(lambda k: net.init(k, dtype))(jax.random.split(k_init, n_chains))
    states = jax.vmap(init)(params0, jax.random.split(k_run, n_chains))

    def observe(params):
        return {"f_test": net.apply(params, Xt), "f_train": net.apply(params, Xj),
                "w2": jnp.mean(params["w"] ** 2, axis=0)}

    _, obs = run_chains(step, states, observe, n_samples=n_samples, thin=thin, burn_in=burn_in,
                        progress=progress, description=f"SGLD P={P}")
    f_chain = obs["f_test"].astype(float).mean(1)          # [chain, P_test]
    f_mean = f_chain.mean(0)
    w2 = obs["w2"].astype(float).mean((0, 1))
    return SGLDResult(
        f_test_mean=f_mean,
        test_mse=float(np.mean((f_mean - Y_test) ** 2)),
        test_mse_chains=np.mean((f_chain - Y_test) ** 2, axis=1),
        w2=w2, rho=ard_update(w2, N, a0, b0),
        train_mse=float(np.mean((obs["f_train"].astype(float).mean((0, 1)) - Y) ** 2)),
        step_size=eta, f_test_chains=f_chain,
    )
