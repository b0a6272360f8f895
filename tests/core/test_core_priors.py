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


def test_network_and_sampler_take_the_same_priors_object():
    """RecurrentNet(priors=) and sample_posterior(priors=) give bit-identical samples to the four names
    and to experiments.simulate (fixed seed), and each ambiguity is one error naming its parameter.
    Same network, task and chain shapes as the simulate test above, so the compiled sampler is reused."""
    from fltheory.experiments.simulate import simulate
    from fltheory.models import RecurrentNet
    from fltheory.sampling import sample_posterior
    from fltheory.saddle.linear_chain import chain_task

    task = chain_task(1.0)
    pr = Priors(g2=0.8, gu2=1.2, gw2=0.9, kappa=0.5)
    shape = dict(N=8, D=task.D, T=task.T, O=task.O, phi="linear")
    net_a = RecurrentNet(**shape, priors=pr)
    net_b = RecurrentNet(**shape, g2=0.8, gu2=1.2, gw2=0.9)
    assert net_a == net_b and hash(net_a) == hash(net_b)  # one compiled sampler for both
    assert (net_a.g2, net_a.gu2, net_a.gw2) == (0.8, 1.2, 0.9)
    kw = dict(n_samples=3, thin=2, burn_in=4, n_chains=2, seed=0, progress=False)
    a = sample_posterior(net_a, task, priors=pr, **kw)
    b = sample_posterior(net_b, task, kappa=0.5, **kw)
    c = simulate(task, priors=pr, N=8, **{k: v for k, v in kw.items() if k != "progress"})
    assert np.array_equal(a.C_chains, b.C_chains) and np.array_equal(a.f_chains, b.f_chains)
    assert np.array_equal(a.C_chains, c.C_chains)
    assert all(np.array_equal(a.final_params[k], b.final_params[k]) for k in ("U", "W", "w"))
    assert (a.beta, a.step_size) == (b.beta, b.step_size)

    assert RecurrentNet(N=8, D=4, T=3).g2 == 1.0  # each name still defaults to 1
    with pytest.raises(FLTheoryInputError, match="^priors: pass either priors or g2, not both"):
        RecurrentNet(N=8, D=4, T=3, g2=1.0, priors=pr)
    with pytest.raises(FLTheoryInputError, match="^gw2: must be > 0"):
        RecurrentNet(N=8, D=4, T=3, gw2=-1.0)
    with pytest.raises(FLTheoryInputError, match="^priors: pass either priors or kappa, not both"):
        sample_posterior(net_a, task, kappa=0.5, priors=pr, **kw)
    with pytest.raises(FLTheoryInputError, match="^priors: g2 = 0.8 but the network has 1; gu2 = 1.2"):
        sample_posterior(RecurrentNet(**shape), task, priors=pr, **kw)
    with pytest.raises(FLTheoryInputError, match="^kappa: required"):
        sample_posterior(net_a, task, **kw)
    with pytest.raises(FLTheoryInputError, match="^priors: expected a fltheory.Priors"):
        sample_posterior(net_a, task, priors=pr.as_dict(), **kw)


def test_depth_dnn_is_the_saddle_dnn_at_g2_a2_and_T_L_plus_1():
    """The two "dnn"s of the package are one network (docs/conventions.md, shared-vocabulary table):
    depth's ``arch="dnn"`` (branch multiplier a, L hidden blocks, W ~ N(0, 1)) is the untied
    RecurrentNet (muP) at g2 = a², T = L + 1, input only at step 1 and readout only at step T, with
    U, W transposed (depth stores them [out, in]). Same outputs to round-off."""
    import jax
    import jax.numpy as jnp

    from fltheory.depth.model import ResNetConfig, forward, init_params
    from fltheory.models import RecurrentNet

    a, L, N, D, P = 1.5, 3, 16, 5, 6
    cfg = ResNetConfig(N=N, L=L, D=D, phi="erf", arch="dnn", a=a, gu2=1.3, gw2=0.7)
    params, frozen = init_params(jax.random.PRNGKey(0), cfg, dtype=jnp.float64)
    X = np.random.default_rng(0).standard_normal((P, D))
    f_depth = np.asarray(forward(params, frozen, X, cfg))

    net = RecurrentNet(N=N, D=D, T=L + 1, phi="erf", tied=False, parametrization="mup",
                       priors=Priors(g2=a * a, gu2=cfg.gu2, gw2=cfg.gw2))
    X_seq = np.zeros((P, L + 1, D))
    X_seq[:, 0] = X
    rnn_params = {"U": jnp.zeros((L + 1, D, N)).at[0].set(params["U"].T),
                  "W": a * jnp.swapaxes(frozen["W0"], 1, 2),
                  "w": jnp.zeros((L + 1, N, 1)).at[L].set(params["w"][:, None])}
    f_saddle = np.asarray(net.apply(rnn_params, X_seq))[:, L, 0]
    np.testing.assert_allclose(f_saddle, f_depth, rtol=0, atol=1e-14)
    assert np.max(np.abs(f_depth)) > 0.05  # not a trivial agreement of zeros


def test_nngp_kernels_and_predictor_take_the_same_priors_object():
    """kernels.nngp_kernels (g2, gu2) and nngp_predict (all four) take the Priors; bit-identical numbers
    to the names, and each ambiguity is one error naming priors."""
    from fltheory.kernels import nngp_kernels, nngp_predict
    from fltheory.tasks import endpoint_task

    task = endpoint_task(P=3, P_test=3, T=3, D=4, teacher="linear", seed=0)
    X = np.concatenate([task.X, task.X_test])
    pr = Priors(g2=0.8, gu2=1.2, gw2=0.9, kappa=0.5)
    for phi in ("erf", "linear"):
        a, b = nngp_kernels(X, phi=phi, priors=pr), nngp_kernels(X, phi=phi, g2=0.8, gu2=1.2)
        assert np.array_equal(a.K, b.K) and np.array_equal(a.C, b.C)
    pa = nngp_predict(task, phi="erf", priors=pr)
    pb = nngp_predict(task, phi="erf", **pr.as_dict())
    assert np.array_equal(pa.f_test, pb.f_test) and np.array_equal(pa.var_test, pb.var_test)
    assert pa.error == pb.error
    assert not np.array_equal(pa.f_test, nngp_predict(task, phi="erf").f_test)  # the priors do reach it
    # the old keywords keep their defaults (1)
    assert np.array_equal(nngp_kernels(X).C, nngp_kernels(X, priors=Priors()).C)
    with pytest.raises(FLTheoryInputError, match="^priors: pass either priors or g2, not both"):
        nngp_kernels(X, g2=1.0, priors=pr)
    with pytest.raises(FLTheoryInputError, match="^priors: pass either priors or kappa, not both"):
        nngp_predict(task, kappa=0.5, priors=pr)
    with pytest.raises(FLTheoryInputError, match="^gu2: must be > 0"):
        nngp_kernels(X, gu2=-1.0)
    with pytest.raises(FLTheoryInputError, match="^priors: expected a fltheory.Priors"):
        nngp_kernels(X, priors=pr.as_dict())


def test_as_priors_fills_the_entry_points_own_defaults():
    from fltheory.priors import as_priors

    lazy = Priors(kappa=10.0)
    assert as_priors(None, lazy) == lazy
    assert as_priors(None, lazy, g2=0.5, kappa=None) == Priors(g2=0.5, kappa=10.0)
    pr = Priors(g2=2.0)
    assert as_priors(pr, lazy, kappa=None) is pr
    with pytest.raises(FLTheoryInputError, match="^priors: pass either priors or kappa, not both"):
        as_priors(pr, lazy, kappa=1.0)
    with pytest.raises(FLTheoryInputError, match="^gw2: must be > 0"):
        as_priors(None, lazy, gw2=0.0)


def test_sequential_theory_and_simulation_take_the_same_priors_object():
    """experiments.sequential's theory and Langevin simulation take one Priors: the same numbers as the
    names (chain task and chain shapes of the tests above, so the compiled programs are reused); the
    module defaults are DEFAULT_PRIORS (g2 = 0.5, κ = 0.05), unchanged."""
    from fltheory.experiments.sequential import DEFAULT_PRIORS, DEFAULTS, simulation, theory
    from fltheory.saddle.linear_chain import chain_task

    task = chain_task(1.0)
    pr = Priors(g2=0.8, gu2=1.2, gw2=0.9, kappa=0.5)
    ea, sa = theory(task, "rnn", priors=pr)
    eb, sb = theory(task, "rnn", **pr.as_dict())
    assert np.array_equal(sa.C, sb.C) and np.array_equal(ea, eb, equal_nan=True)
    assert DEFAULT_PRIORS.as_dict() == {k: DEFAULTS[k] for k in ("g2", "gu2", "gw2", "kappa")}
    ed, sd = theory(task, "rnn")
    assert np.array_equal(sd.C, theory(task, "rnn", priors=DEFAULT_PRIORS)[1].C)
    kw = dict(n_chains=2, n_samples=3, thin=2, burn_in=4, seed=0)
    fa, simA = simulation(task, "rnn", 8, priors=pr, **kw)
    fb, simB = simulation(task, "rnn", 8, **pr.as_dict(), **kw)
    assert np.array_equal(simA.C_chains, simB.C_chains) and np.array_equal(fa, fb, equal_nan=True)
    with pytest.raises(FLTheoryInputError, match="^priors: pass either priors or g2, not both"):
        theory(task, "rnn", g2=1.0, priors=pr)
    with pytest.raises(FLTheoryInputError, match="^priors: pass either priors or kappa, not both"):
        simulation(task, "rnn", 8, kappa=0.5, priors=pr, **kw)
