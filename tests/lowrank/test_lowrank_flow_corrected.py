"""``overlap_dynamics(method="flow-corrected")``: the gradient flow of L̃ = L + η tr(GΣG) follows vector GD
to second order in η, the plain flow only to first (backward error analysis; docs/theory/lowrank.md §3).

Linear φ, where the "gd" overlap map *is* the network's GD (to round-off). At a fixed learning time η·E,
halving η must halve the plain flow's largest loss difference from GD (order 1) and quarter the corrected
flow's (order 2). The ratios approach 2 and 4 as η → 0 with corrections of relative order η; measured
2.017 and 4.06 for η = 0.02 → 0.01, and 2.008 and 4.03 for 0.01 → 0.005 (the deviation halves with η, as
it should), so 5 % is the tolerance."""
import numpy as np
import pytest

from fltheory._validate import FLTheoryInputError
from fltheory.lowrank import Layout, flip_flop, impulse_response, init_vectors, overlap_dynamics


def _errors(S0, task, eta, epochs):
    gd = overlap_dynamics(S0, task, 1, "linear", eta, epochs, "gd").loss
    return [float(np.abs(overlap_dynamics(S0, task, 1, "linear", eta, epochs, m, rtol=1e-11, atol=1e-14).loss
                         - gd).max()) for m in ("flow", "flow-corrected")]


@pytest.mark.slow  # 30–70 s: six overlap solves, each compiled (the corrected one differentiates twice)
def test_corrected_flow_is_second_order_in_eta():
    import jax

    task = impulse_response(0.2, dt=0.1, T=5.0)
    S0 = np.asarray(init_vectors(jax.random.PRNGKey(0), 40, Layout(1)).gram())
    (f1, c1), (f2, c2) = _errors(S0, task, 0.02, 50), _errors(S0, task, 0.01, 100)
    assert c1 < 0.1 * f1  # the correction removes most of the GD-vs-flow difference
    assert f1 / f2 == pytest.approx(2.0, rel=0.05)
    assert c1 / c2 == pytest.approx(4.0, rel=0.05)


def test_corrected_flow_rejects_fresh_batches():
    import jax

    S0 = np.asarray(init_vectors(jax.random.PRNGKey(0), 12, Layout(1)).gram())
    task = flip_flop(n_trials=2, dt=0.1, T=4.0, fresh_batches=True)
    with pytest.raises(FLTheoryInputError, match="^method: "):
        overlap_dynamics(S0, task, 1, "linear", 0.01, 2, "flow-corrected")
