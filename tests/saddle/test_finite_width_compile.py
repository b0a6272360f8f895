"""The 1/N correction compiles once per problem structure (issue #13).

``SaddleProblem`` is a pytree (its numbers are leaves, T, P, the architecture and the supervised mask
static), and every compiled piece of :mod:`fltheory.saddle.finite_width` is a module-level jitted function
of (problem or action, arrays). A second ``finite_width`` call on a problem of the same structure but other
numbers (inputs, targets, κ) therefore compiles nothing: counted with JAX's backend-compile event. The
cached programs must not carry the first problem's numbers: the second result is checked against the same
call after ``jax.clear_caches()`` (bit-identical: the same programs, compiled afresh).
"""
import warnings

import jax
import numpy as np
import pytest

import fltheory  # noqa: F401
from fltheory.saddle import solve
from fltheory.saddle.action import SaddleProblem
from fltheory.saddle.finite_width import FiniteWidthWarning
from fltheory.tasks import endpoint_task

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


class _CompileCounter:
    def __init__(self):
        self.n = 0

    def __call__(self, event, duration, **kw):
        if event == COMPILE_EVENT:
            self.n += 1

    def __enter__(self):
        jax.monitoring.register_event_duration_secs_listener(self)
        return self

    def __exit__(self, *exc):
        jax.monitoring.unregister_event_duration_listener(self)


def _fields(fw):
    return (fw.C_first, fw.f_first, fw.q_first, fw.C_second, fw.C_first_se, fw.softest, fw.ginzburg_first)


def _same(a, b):
    return all(np.array_equal(np.asarray(u), np.asarray(v), equal_nan=True) for u, v in zip(_fields(a), _fields(b)))


def _pair(phi):
    """Two problems of one structure (RNN, T = 2, P = 1), other inputs, targets and κ."""
    a = solve(endpoint_task(P=1, P_test=1, T=2, D=8, signal=1.0, seed=0), arch="rnn", kappa=0.1, phi=phi)
    b = solve(endpoint_task(P=1, P_test=1, T=2, D=6, signal=0.7, seed=1), arch="rnn", kappa=0.2, phi=phi)
    return a, b


def test_saddle_problem_is_a_pytree_with_static_structure():
    prob = _pair("linear")[0].problem
    leaves, tree = jax.tree_util.tree_flatten(prob)
    assert len(leaves) == 6            # G, y, g2, gu2, gw2, kappa
    back = jax.tree_util.tree_unflatten(tree, leaves)
    assert isinstance(back, SaddleProblem) and (back.T, back.P, back.tied) == (prob.T, prob.P, prob.tied)
    assert back.sup.dtype == bool and np.array_equal(back.sup, prob.sup) and back.G is prob.G
    doubled = jax.tree_util.tree_map(lambda v: 2 * v, prob)
    assert doubled.kappa == 2 * prob.kappa and np.array_equal(doubled.sup, prob.sup) and doubled.n == prob.n


@pytest.mark.parametrize("phi,kw", [("linear", {}),
                                    pytest.param("erf", dict(n_draws=256, mc_splits=2), marks=pytest.mark.slow)])
def test_a_second_call_on_a_same_shape_problem_compiles_nothing(phi, kw):
    """≈ 8 s of CPU per cold call (linear), 0.01 s for the second; erf (slow): 1 + mc_splits expansions on
    two draw-set sizes, compiled once each."""
    a, b = _pair(phi)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FiniteWidthWarning)
        fa = a.finite_width(64, **kw)
        with _CompileCounter() as counter:
            fb = b.finite_width(64, **kw)
        assert counter.n == 0, f"{counter.n} compilations in the second call"
        assert not np.allclose(fa.C_first, fb.C_first)     # another problem, other numbers
        jax.clear_caches()
        fresh = b.finite_width(64, **kw)
    assert _same(fb, fresh)
