"""The Langevin posterior at small β (κ ≫ signal², lazy regime) approaches the NNGP kernel as N grows.

Error budget at fixed sample count: the Monte-Carlo error of C̄ scales as 1/√N (each sample's C
fluctuates by O(1/√N)); the Euler bias is ≈ η/2 = 0.5 % of C (≈ 1.5e-3 absolute); the feature-learning
shift at κ = 100 is O(signal²/κ) ≈ 1e-4·C. Measured (P=8, P_test=8, T=4, erf, 4 chains × 100
samples): rms error 2.0e-3 at N = 128 and 1.1e-3 at N = 512; we require rms(512) < 2.5e-3 and
rms(512) < 0.8·rms(128).
"""
import numpy as np

import fltheory  # noqa: F401
from fltheory.kernels import nngp_kernels
from fltheory.models import RecurrentNet
from fltheory.sampling import sample_posterior
from fltheory.tasks import endpoint_task


def test_sampler_kernel_approaches_nngp_with_width():
    task = endpoint_task(P=8, P_test=8, T=4, D=16, seed=0)
    theory = nngp_kernels(np.concatenate([task.X, task.X_test]), phi="erf").C
    rms = {}
    for N in (128, 512):
        net = RecurrentNet(N=N, D=16, T=4, phi="erf")
        sim = sample_posterior(net, task, kappa=100.0, n_samples=100, thin=50, burn_in=1000, n_chains=4,
                               seed=1, progress=False)
        rms[N] = float(np.sqrt(np.mean((sim.C_mean - theory) ** 2)))
    assert rms[512] < 2.5e-3, rms
    assert rms[512] < 0.8 * rms[128], rms
