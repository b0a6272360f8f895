"""The Metropolis-adjusted referee on the network posterior (issue #13): same model code, same
(init, step) shape; exactness itself is tested on the Gaussian posterior in test_core_langevin_blr.py."""
import numpy as np
import pytest

import fltheory  # noqa: F401
from fltheory import FLTheoryInputError
from fltheory.models import RecurrentNet
from fltheory.sampling import sample_posterior
from fltheory.tasks import endpoint_task


def test_mala_and_langevin_agree_at_a_small_step_on_the_rnn_posterior():
    """At the default (small, nearly unbiased) step both samplers target the same posterior: the
    kernels agree within their combined standard errors, and MALA accepts almost every proposal.
    A MALA with a wrong energy sign or a broken acceptance test would stick (acceptance ≈ 0) or
    drift away from the Langevin kernels."""
    task = endpoint_task(P=3, P_test=2, T=3, D=4, signal=1.0, seed=0)
    net = RecurrentNet(N=32, D=4, T=3, phi="tanh")
    kw = dict(kappa=1.0, n_samples=40, n_chains=8, seed=0, progress=False)
    ula = sample_posterior(net, task, **kw)
    ref = sample_posterior(net, task, sampler="mala", **kw)
    assert ref.sampler == "mala" and np.isnan(ula.acceptance)
    assert 0.9 < ref.acceptance <= 1.0, ref.acceptance
    z = np.abs(ref.C_mean - ula.C_mean) / np.sqrt(ref.C_sem**2 + ula.C_sem**2 + 1e-30)
    assert np.max(z) < 5.0, np.max(z)  # 5 s.e. over ~100 entries: a ~1e-4 false-alarm rate
    assert ref.final_params["W"].dtype == np.float64  # the MH test runs in float64


def test_unknown_sampler_is_rejected():
    task = endpoint_task(P=2, P_test=1, T=2, D=2, seed=0)
    with pytest.raises(FLTheoryInputError, match="^sampler: unknown value 'hmc'"):
        sample_posterior(RecurrentNet(N=8, D=2, T=2), task, kappa=1.0, sampler="hmc")
