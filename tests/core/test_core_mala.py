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


def test_instantaneous_order_parameter_matches_the_saddle_definition():
    """Per sample, q_lag on the training patterns equals saddle.order_parameter of the training block
    (conventions §7), and it is invariant under the W → −W image h_t → (−1)^t h_t."""
    from fltheory.saddle import order_parameter
    from fltheory.sampling.posterior import instantaneous_order_parameter

    rng = np.random.default_rng(0)
    P, Pt, T = 3, 2, 3
    n = P + Pt
    H = rng.standard_normal((T * n, 40))
    C = H @ H.T / 40
    train = [t * n + mu for t in range(T) for mu in range(P)]
    for lag in (1, 2):
        q = instantaneous_order_parameter(C[None, None], P, Pt, T, lag)[0, 0]
        assert abs(q - order_parameter(C[np.ix_(train, train)], T, P, lag)) < 1e-12
    s = np.repeat((-1.0) ** np.arange(T), n)
    q1 = instantaneous_order_parameter(np.stack([C, s[:, None] * C * s[None, :]]), P, Pt, T)
    assert abs(q1[0] - q1[1]) < 1e-12 and q1[0] > 0.05


def test_mode_hops_count_sign_changes_of_the_lag1_block_and_half_drift():
    """A hand-made sequence of samples: the W → −W image h_t → (−1)^t h_t flips the sign of the lag-1
    block; mode_hops counts the flips between consecutive samples, half_drift the second-half shift."""
    from fltheory.sampling.posterior import half_drift, mode_hops

    rng = np.random.default_rng(1)
    P, Pt, T = 2, 1, 3
    n = P + Pt
    H = rng.standard_normal((T * n, 50))
    H[n:2 * n] += H[:n]                     # a positive lag-1 correlation on every pattern
    C = H @ H.T / 50
    s = np.repeat((-1.0) ** np.arange(T), n)
    Cm = s[:, None] * C * s[None, :]
    signs = [1, 1, -1, -1, -1, 1, -1]       # 3 hops in chain 0, none in chain 1
    seq = np.stack([np.stack([C if g > 0 else Cm for g in signs]), np.stack([C] * len(signs))])
    assert list(mode_hops(seq, P, Pt, T)) == [3, 0]
    x = np.array([[0.0, 0.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0]])
    assert np.allclose(half_drift(x), [1.0, 2.0])
