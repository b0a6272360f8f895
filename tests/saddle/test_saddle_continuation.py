"""follow_branch bisects a failed continuation step (issue #18: it used to repeat the same solves)."""
from __future__ import annotations

import pytest

from fltheory import ConvergenceError
from fltheory.saddle import continuation


class _Point:
    """Stands in for a Solution: remembers the signal it was solved at."""

    def __init__(self, signal):
        self.signal = signal


@pytest.fixture
def newton_with_a_short_reach(monkeypatch):
    """A fake solver whose Newton converges only for steps shorter than ``reach`` from its start."""
    calls = []

    def fake_solve(task, init=None, homotopy=True, reach=0.3, **kw):
        start = 0.0 if init is None else init.signal
        calls.append((start, task))
        if abs(task - start) > reach + 1e-12:
            raise ConvergenceError("step too long")
        return _Point(task)

    monkeypatch.setattr(continuation, "solve", fake_solve)
    return calls


def test_a_long_step_is_halved_until_it_converges(newton_with_a_short_reach):
    calls = newton_with_a_short_reach
    out = continuation.follow_branch(lambda s: s, [0.0, 1.0])
    assert [p.signal for p in out] == [0.0, 1.0]
    assert len(calls) == len(set(calls)), f"a solve was repeated: {calls}"
    # each failure halves the step from the last converged point; each success retries the whole rest
    assert calls == [(0.0, 0.0), (0.0, 1.0), (0.0, 0.5), (0.0, 0.25), (0.25, 1.0), (0.25, 0.625),
                     (0.25, 0.4375), (0.4375, 1.0), (0.4375, 0.71875), (0.71875, 1.0)]


def test_gives_up_after_max_halvings_naming_the_last_step(newton_with_a_short_reach):
    calls = newton_with_a_short_reach
    with pytest.raises(ConvergenceError, match=r"lost the branch at signal 1 after 2 step halvings "
                                               r"\(last step 0.25 → 1\)"):
        continuation.follow_branch(lambda s: s, [0.0, 1.0], max_halvings=2)
    assert calls == [(0.0, 0.0), (0.0, 1.0), (0.0, 0.5), (0.0, 0.25), (0.25, 1.0)]


def test_bisect_flip_halves_the_bracket_with_one_solve_per_midpoint(newton_with_a_short_reach, monkeypatch):
    calls = newton_with_a_short_reach
    flip = 0.37  # det J changes sign here along the (fake) branch
    monkeypatch.setattr(continuation, "_jacobian_sign", lambda make_task, s, sol, kw: 1.0 if s < flip else -1.0)
    out = continuation.bisect_flip(lambda s: s, 0.25, 0.5, _Point(0.25), rtol=1e-2)
    assert isinstance(out, continuation.FlipBracket)
    lo, hi, sol = out  # still unpacks like the former 3-tuple
    assert (lo, hi, sol) == (out.lo, out.hi, out.solution)
    assert lo < flip <= hi and hi - lo <= 1e-2 * hi and sol.signal == lo
    # bracket width 0.25 → ≤ 0.01·hi ≈ 0.0037: seven halvings, one solve each, each from the last
    # solution below the flip
    assert calls == [(0.25, 0.375), (0.25, 0.3125), (0.3125, 0.34375), (0.34375, 0.359375),
                     (0.359375, 0.3671875), (0.3671875, 0.37109375), (0.3671875, 0.369140625)]
    assert (lo, hi) == (0.369140625, 0.37109375)
