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

Readout update (``readout_update``). ``"langevin"`` (default) moves a and w together by Langevin
steps. The readouts' collective (constant) mode is stiffer than the per-neuron curvature the step
is scaled by, by 1 + (N − 1)E[φ]²/E[φ²] (≈ 1 + (N − 1)/π for relu at the prior), so at the default
``step_scale`` the chains diverge for N ≳ 256. ``"gibbs"`` draws a exactly from its conditional
p(a | w), a Gaussian (linear regression with prior N(0, sa2) and noise κ², :func:`sample_readout`,
float64), after every ``gibbs_every`` unadjusted Langevin steps of w at fixed a: a Gibbs sampler
whose a-block is exact and whose w-block is the Langevin step of the default. ``burn_in`` and
``thin`` count Langevin steps of w in both modes (docs/theory/two_layer.md §6b).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from .._validate import FLTheoryInputError, choice, positive, positive_int
from ..models.two_layer import TwoLayerNet
from ..priors import Priors, two_layer_priors
from ..sampling.langevin import LangevinState, gaussian_prior_energy, langevin, run_chains
from .ard import ard_update, relevance_ratio

#: values of ``run_sgld(readout_update=...)``
READOUT_UPDATES = ("langevin", "gibbs")


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
    f_test_trace: np.ndarray | None = None    # [chain, sample, P_test] (``keep_trace=True``): relaxation checks
    final_params: dict | None = None          # {"w": [chain, N, d], "a": [chain, N]}: last positions (warm starts)
    readout_update: str = "langevin"

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


def sample_readout(key, features, Y, *, kappa2: float, sa2: float, gamma: float) -> jax.Array:
    """One exact draw of the readout a[N] from p(a | w) ∝ exp(−‖Φa/N^γ − y‖²/(2κ²) − ‖a‖²/(2 sa2)).

    ``features`` = Φ[P, N] = φ(w_i·x_μ/√d) at the current first layer, ``Y[P]``. With Φ̃ = Φ/N^γ the
    conditional is Gaussian with precision Λ = I/sa2 + Φ̃ᵀΦ̃/κ² and mean Λ⁻¹Φ̃ᵀy/κ². Computed in float64
    with a Cholesky factor of the smaller of the two systems (shapes are static, so the branch is
    chosen at trace time):

    - N ≤ P: L Lᵀ = Λ (N × N); a = Λ⁻¹Φ̃ᵀy/κ² + L⁻ᵀz, z ~ N(0, I_N);
    - P < N (Matheron's rule, the P × P system): u ~ N(0, sa2 I_N), δ ~ N(0, I_P),
      a = u + sa2 Φ̃ᵀ (sa2 Φ̃Φ̃ᵀ + κ² I)⁻¹ (y − Φ̃u − κδ), which has the same mean and covariance.
    """
    F = jnp.asarray(features, jnp.float64)
    y = jnp.asarray(Y, jnp.float64)
    P, N = F.shape
    F = F / N ** gamma
    if N <= P:
        lam = jnp.eye(N, dtype=jnp.float64) / sa2 + F.T @ F / kappa2
        L = jnp.linalg.cholesky(lam)
        mean = jax.scipy.linalg.cho_solve((L, True), F.T @ y / kappa2)
        z = jax.random.normal(key, (N,), jnp.float64)
        return mean + jax.scipy.linalg.solve_triangular(L.T, z, lower=False)
    ku, kd = jax.random.split(key)
    u = jnp.sqrt(sa2) * jax.random.normal(ku, (N,), jnp.float64)
    delta = jax.random.normal(kd, (P,), jnp.float64)
    K = sa2 * F @ F.T + kappa2 * jnp.eye(P, dtype=jnp.float64)
    L = jnp.linalg.cholesky(K)
    v = jax.scipy.linalg.cho_solve((L, True), y - F @ u - jnp.sqrt(kappa2) * delta)
    return u + sa2 * F.T @ v


def _check_init_params(init_params, n_chains: int, N: int, d: int, dtype) -> dict:
    if not isinstance(init_params, dict) or set(init_params) != {"w", "a"}:
        raise FLTheoryInputError("init_params: expected a dict with keys 'w' [chain, N, d] and 'a' [chain, N]")
    w, a = np.asarray(init_params["w"], float), np.asarray(init_params["a"], float)
    if w.shape != (n_chains, N, d) or a.shape != (n_chains, N):
        raise FLTheoryInputError(f"init_params: expected w {(n_chains, N, d)} and a {(n_chains, N)}, "
                                 f"got {w.shape} and {a.shape}")
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(a))):
        raise FLTheoryInputError("init_params: contains NaN or inf")
    return {"w": jnp.asarray(w, dtype), "a": jnp.asarray(a, dtype)}


def run_sgld(X, Y, X_test, Y_test, *, N: int, kappa2: float | None = None, parametrization: str = "ntk",
             sw2: float | None = None, sa2: float | None = None, priors: Priors | None = None, phi: str = "relu", n_chains: int = 4,
             burn_in: int = 20000, n_samples: int = 100, thin: int = 100, step_scale: float = 0.05,
             a0: float = 1.0, b0: float = 1.0, seed: int = 0, dtype=jnp.float32,
             readout_update: str = "langevin", gibbs_every: int = 1, init_params: dict | None = None,
             keep_trace: bool = False, progress: bool = False) -> SGLDResult:
    """Sample the Gibbs posterior of issue #5 with vmapped full-batch Langevin chains.

    ``X[P, d]``, ``Y[P]`` training data; ``X_test``, ``Y_test`` likewise. Chains start at the
    prior (or at ``init_params``). Returns pooled averages (see :class:`SGLDResult`); ``rho`` is the ARD update
    (:func:`~fltheory.two_layer.ard.ard_update`) evaluated at the SGLD second moments ⟨w_j²⟩.
    Priors: ``priors=fltheory.Priors(gu2, gw2, kappa)`` or ``sw2``/``sa2``/``kappa2`` (conventions §9), not both.

    ``readout_update``: ``"langevin"`` (a and w by Langevin steps) or ``"gibbs"`` (a drawn exactly from
    p(a | w) by :func:`sample_readout` after every ``gibbs_every`` Langevin steps of w; ``step_scale``
    then sets the w step only). ``burn_in`` and ``thin`` count Langevin steps of w and must be
    multiples of ``gibbs_every``. ``init_params`` ({"w": [chain, N, d], "a": [chain, N]}) replaces the
    prior draw as the chains' start (warm starts, hysteresis checks); ``keep_trace`` keeps every
    sample's test predictor in ``SGLDResult.f_test_trace``.
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
    step_scale = positive("step_scale", step_scale)
    readout_update = choice("readout_update", readout_update, READOUT_UPDATES)
    gibbs_every = positive_int("gibbs_every", gibbs_every)
    burn_in = positive_int("burn_in", burn_in, minimum=0)
    thin = positive_int("thin", thin)
    if readout_update == "gibbs" and (burn_in % gibbs_every or thin % gibbs_every):
        raise FLTheoryInputError(f"gibbs_every: burn_in ({burn_in}) and thin ({thin}) count Langevin steps of w "
                                 f"and must be multiples of gibbs_every, got {gibbs_every}")
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
    if readout_update == "langevin":
        init, step = langevin(energy, eta)
        sweeps = 1
    else:
        init, step = gibbs_sampler(net, Xj, Yj, kappa2, eta["w"], gibbs_every)
        eta = {"w": eta["w"]}                      # a: exact conditional draws, no step
        sweeps = gibbs_every
    k_init, k_run = jax.random.split(jax.random.PRNGKey(seed))
    if init_params is None:
        params0 = jax.vmap(lambda k: net.init(k, dtype))(jax.random.split(k_init, n_chains))
    else:
        params0 = _check_init_params(init_params, n_chains, N, d, dtype)
    states = jax.vmap(init)(params0, jax.random.split(k_run, n_chains))

    def observe(params):
        return {"f_test": net.apply(params, Xt), "f_train": net.apply(params, Xj),
                "w2": jnp.mean(params["w"] ** 2, axis=0)}

    # Not wrapped in _resources.single_blas_thread: the Gibbs draw's Cholesky runs in LAPACK (OpenBLAS) on
    # XLA's threads, and re-setting OpenBLAS's thread count around asynchronously dispatched work coincided
    # with two segmentation faults in XLA compiles later in the CI suite (2026-12-07). On 2 busy cores a
    # 200 × 200 factor can then take ~85 ms instead of ~1 ms (measured by the helper who added the draw).
    final, obs = run_chains(step, states, observe, n_samples=n_samples, thin=thin // sweeps,
                            burn_in=burn_in // sweeps, progress=progress,
                            description=f"SGLD P={P}" + (" (Gibbs a)" if readout_update == "gibbs" else ""))
    bad = [c for c in range(n_chains)
           if not (np.all(np.isfinite(obs["f_test"][c])) and np.all(np.isfinite(obs["w2"][c])))]
    if bad:
        hint = ("readout_update='gibbs' (exact draws of a | w, no readout step) or a smaller step_scale"
                if readout_update == "langevin" else "a smaller step_scale")
        raise FLTheoryInputError(f"step_scale: {len(bad)} of {n_chains} chains diverged (non-finite weights) at "
                                 f"step_scale = {step_scale}, N = {N}, P = {P}; use {hint}")
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
        f_test_trace=obs["f_test"].astype(float) if keep_trace else None,
        final_params={k: np.asarray(v) for k, v in final.position.items()},
        readout_update=readout_update,
    )


def relaxation_diagnostics(trace) -> dict[str, float]:
    """Relaxation checks of a scalar observable recorded along the chains, ``trace[chain, sample]``
    (e.g. m_S of each sample's predictor, ``(res.f_test_trace * chi).mean(-1)`` with ``keep_trace=True``).

    Returns ``mean``; ``se`` (spread of the chain means, s.e. of the mean; what ``m_target_se`` of the
    learning curve reports); ``r_hat`` (split-R̂ of Gelman–Rubin over the two halves of every chain:
    ≈ 1 when the chains and their halves agree, ≫ 1 when they have not forgotten their starts);
    ``drift`` = mean of the second halves − mean of the first halves and ``drift_se`` (from the chain
    spread of that difference): a relaxing observable drifts by more than a few ``drift_se``;
    ``tau`` (integrated autocorrelation time in samples, chain-averaged autocorrelation, Sokal's window
    c = 5) and ``n_eff`` = chains·samples/τ.
    """
    x = np.asarray(trace, float)
    if x.ndim != 2 or x.shape[1] < 4:
        raise FLTheoryInputError(f"trace: expected [chain, sample] with >= 4 samples, got shape {x.shape}")
    n_ch, n = x.shape
    h = n // 2
    halves = np.concatenate([x[:, :h], x[:, n - h:]])                    # [2·chain, h]
    W = halves.var(axis=1, ddof=1).mean()
    B = h * halves.mean(axis=1).var(ddof=1)
    r_hat = float(np.sqrt(((h - 1) / h * W + B / h) / W)) if W > 0 else float("nan")
    diff = x[:, n - h:].mean(1) - x[:, :h].mean(1)
    xc = x - x.mean(1, keepdims=True)
    var = np.mean(xc ** 2)
    spec = np.fft.rfft(xc, n=2 * n, axis=1)                              # autocovariance by FFT
    acov = np.fft.irfft(spec * spec.conj(), axis=1)[:, :n].sum(0) / (n_ch * (n - np.arange(n)))
    rho = acov / var if var > 0 else np.ones(n)
    tau = 1.0
    for t in range(1, n):
        tau = 1.0 + 2.0 * rho[1:t + 1].sum()
        if t >= 5.0 * tau:
            break
    tau = max(tau, 1.0)
    return dict(mean=float(x.mean()),
                se=float(x.mean(1).std(ddof=1) / np.sqrt(n_ch)) if n_ch > 1 else float("nan"),
                r_hat=r_hat, drift=float(diff.mean()),
                drift_se=float(diff.std(ddof=1) / np.sqrt(n_ch)) if n_ch > 1 else float("nan"),
                tau=float(tau), n_eff=float(n_ch * n / tau))


def gibbs_sampler(net: TwoLayerNet, X, Y, kappa2: float, eta_w: float, gibbs_every: int):
    """``(init, step)`` of the Gibbs sampler of :func:`run_sgld` (``readout_update="gibbs"``), for
    :func:`fltheory.sampling.langevin.run_chains`: one ``step`` is ``gibbs_every`` unadjusted Langevin
    steps of w at fixed a (energy E(w, a) of :func:`run_sgld`, step ``eta_w``), then a ~ p(a | w) exactly
    (:func:`sample_readout`). Positions are ``{"w": [N, d], "a": [N]}`` as :class:`TwoLayerNet` makes them."""
    eta_w = positive("eta_w", eta_w)
    gibbs_every = positive_int("gibbs_every", gibbs_every)
    X64, Y64 = jnp.asarray(X, jnp.float64), jnp.asarray(Y, jnp.float64)

    def energy_w(w, a):
        f = net.apply({"w": w, "a": a}, X)
        return 0.5 * jnp.sum((f - Y) ** 2) / kappa2 + jnp.sum(w ** 2) / (2.0 * net.sw2)

    grad_w = jax.grad(energy_w)

    def init(position, key) -> LangevinState:
        return LangevinState(position, key)

    def step(state: LangevinState) -> LangevinState:
        key, k_w, k_a = jax.random.split(state.key, 3)
        w, a = state.position["w"], state.position["a"]

        def w_step(_, carry):
            w, k = carry
            k, sub = jax.random.split(k)
            noise = jax.random.normal(sub, w.shape, w.dtype)
            return w - eta_w * grad_w(w, a) + jnp.sqrt(2.0 * eta_w).astype(w.dtype) * noise, k

        w, _ = jax.lax.fori_loop(0, gibbs_every, w_step, (w, k_w))
        phi = net.features({"w": w.astype(jnp.float64)}, X64)
        a_new = sample_readout(k_a, phi, Y64, kappa2=kappa2, sa2=net.sa2, gamma=net.gamma)
        return LangevinState({"w": w, "a": a_new.astype(a.dtype)}, key)

    return init, step
