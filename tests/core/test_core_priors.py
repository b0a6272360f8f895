"""The one prior vocabulary (fltheory.Priors, docs/conventions.md §3 and the shared-vocabulary table)."""
import doctest

import numpy as np
import pytest

import fltheory
from fltheory import FLTheoryInputError, Priors
from fltheory.two_layer import nngp_parity_population, nngp_regression


def test_priors_validate_each_field_by_name():
    for name in ("g2", "gu2", "gw2", "kappa"):
        with pytest.raises(FLTheoryInputError, match=f"^{name}: must be > 0"):
            Priors(**{name: 0.0})
    with pytest.raises(FLTheoryInputError, match="^kappa: expected a number"):
        Priors(kappa="warm")


def test_two_layer_translation_round_trips_and_follows_conventions_9():
    """κ² = κ / N^{2γ−1}: equal for the NTK scaling (γ = ½), κ/N for muP (γ = 1)."""
    pr = Priors(gu2=2.0, gw2=0.5, kappa=0.3)
    assert pr.two_layer(N=64, gamma=0.5) == {"sw2": 2.0, "sa2": 0.5, "kappa2": 0.3}
    assert abs(pr.two_layer(N=64, gamma=1.0)["kappa2"] - 0.3 / 64) < 1e-15
    back = Priors.from_two_layer(**pr.two_layer(N=64, gamma=1.0), N=64, gamma=1.0)
    assert (back.gu2, back.gw2, back.g2) == (2.0, 0.5, 1.0) and abs(back.kappa - 0.3) < 1e-15
    assert pr.as_dict() == {"g2": 1.0, "gu2": 2.0, "gw2": 0.5, "kappa": 0.3}


def test_two_layer_entry_points_take_priors_and_give_the_same_numbers():
    rng = np.random.default_rng(0)
    X = rng.choice([-1.0, 1.0], size=(12, 5))
    Y = X[:, 0] * X[:, 1]
    Xt = rng.choice([-1.0, 1.0], size=(4, 5))
    pr = Priors(gu2=1.5, gw2=0.7, kappa=0.2)
    for gamma in (0.5, 1.0):
        a = nngp_regression(X, Y, Xt, priors=pr, N=32, gamma=gamma)
        b = nngp_regression(X, Y, Xt, **pr.two_layer(32, gamma), N=32, gamma=gamma)
        assert np.array_equal(a, b)
    p1 = nngp_parity_population(d=6, k=2, P=50, priors=pr, N=8, gamma=1.0)
    p2 = nngp_parity_population(d=6, k=2, P=50, **pr.two_layer(8, 1.0), N=8, gamma=1.0)
    assert p1 == p2


def test_both_vocabularies_at_once_is_one_error_naming_priors():
    X = np.ones((2, 3))
    with pytest.raises(FLTheoryInputError, match="^priors: pass either priors or kappa2, not both"):
        nngp_regression(X, [1.0, 1.0], X, priors=Priors(), kappa2=0.1)
    with pytest.raises(FLTheoryInputError, match="^kappa2: required"):
        nngp_regression(X, [1.0, 1.0], X)
    with pytest.raises(FLTheoryInputError, match="^priors: expected a fltheory.Priors"):
        nngp_regression(X, [1.0, 1.0], X, priors={"kappa": 0.1})


def test_module_examples_run():
    import fltheory.priors as mod

    res = doctest.testmod(mod)
    assert res.attempted >= 3 and res.failed == 0, res
    assert fltheory.Priors is Priors


def test_simulation_takes_the_same_priors_object():
    """The Langevin referee (experiments.simulate) takes the Priors the theory takes; same numbers."""
    from fltheory.experiments.simulate import simulate
    from fltheory.saddle.linear_chain import chain_task

    pr = Priors(g2=0.8, gu2=1.2, gw2=0.9, kappa=0.5)
    kw = dict(N=8, n_chains=2, n_samples=3, thin=2, burn_in=4, seed=0)
    a = simulate(chain_task(1.0), priors=pr, **kw)
    b = simulate(chain_task(1.0), **pr.as_dict(), **kw)
    assert np.array_equal(a.C_chains, b.C_chains)
    with pytest.raises(FLTheoryInputError, match="^priors: pass either priors or kappa, not both"):
        simulate(chain_task(1.0), priors=pr, kappa=0.1, **kw)
    with pytest.raises(FLTheoryInputError, match="^g2: must be > 0"):
        simulate(chain_task(1.0), g2=-1.0, **kw)


def test_saddle_solve_takes_the_same_priors_object():
    """The theory (saddle.solve) and its referee take one Priors; same solution either way."""
    from fltheory.saddle import solve
    from fltheory.saddle.linear_chain import chain_task

    pr = Priors(g2=0.8, gu2=1.2, gw2=0.9, kappa=0.5)
    a = solve(chain_task(1.0), "rnn", "linear", priors=pr)
    b = solve(chain_task(1.0), "rnn", "linear", **pr.as_dict())
    assert np.array_equal(a.C, b.C) and a.params == b.params
    with pytest.raises(FLTheoryInputError, match="^priors: pass either priors or g2, not both"):
        solve(chain_task(1.0), g2=1.0, priors=pr)
