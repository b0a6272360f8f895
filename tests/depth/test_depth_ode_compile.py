"""``depth_ode_kernel`` compiles its diffrax solve once per shape (issue #18): repeated calls with the
same P, number of output times, φ and solver options reuse the compiled code. Counted by the trace
counter of the jitted solve (a Python side effect that runs only while JAX traces), not by timing."""
import numpy as np

import fltheory  # noqa: F401  (float64)
from fltheory.depth import depth_ode_kernel, input_kernel
from fltheory.depth.kernel_ode import depth_ode_trace_count

RNG = np.random.default_rng(7)
P, D = 7, 5  # a shape no other depth test uses, so the first call below compiles


def test_second_call_with_same_shapes_does_not_recompile():
    X1, X2 = RNG.normal(size=(P, D)), RNG.normal(size=(P, D))
    n0 = depth_ode_trace_count()
    depth_ode_kernel(X1, "relu", 1.0, ts=(0.5, 1.0))
    n1 = depth_ode_trace_count()
    assert n1 == n0 + 1  # the first call with this shape traces once
    # new inputs, branch multiplier, input variance and output times (same count): no new trace …
    a, gu2 = 1.6, 0.7
    res = depth_ode_kernel(X2, "relu", a, gu2=gu2, ts=(0.25, 0.8))
    assert depth_ode_trace_count() == n1
    # … and the traced values were really used (not constants baked in by the first trace): relu's
    # diagonal solves dΣ/dt = a²Σ/2, Σ_t = Σ_0 e^{a² t/2}.
    d0 = np.diag(np.asarray(input_kernel(X2, gu2)))
    for k, t in enumerate((0.25, 0.8)):
        np.testing.assert_allclose(np.diag(res.Sigma[k]), d0 * np.exp(a**2 * t / 2), rtol=1e-8)
    # the counter does see a recompilation: a different number of output times is a new shape
    depth_ode_kernel(X2, "relu", a, ts=(0.3, 0.6, 0.9))
    assert depth_ode_trace_count() == n1 + 1
    depth_ode_kernel(X1, "relu", 0.9, ts=(0.1, 0.2, 0.4))
    assert depth_ode_trace_count() == n1 + 1
