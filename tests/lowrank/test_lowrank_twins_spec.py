"""The ``lowrank-twins`` sweep spec (issue #16) and the ``lowrank_experiment`` boundary (issue #18's
layering: the CLI only parses and calls :func:`fltheory.experiments.lowrank.lowrank_experiment`)."""
import pytest

from fltheory._validate import FLTheoryInputError
from fltheory.sweep import load_spec, packaged_specs
from fltheory.sweep.spec import SpecError


def test_twins_spec_loads_with_every_profile_and_rejects_a_bad_task():
    text = packaged_specs()["lowrank-twins"].read_text()
    spec = load_spec(text)
    assert spec.dims() == {"N": 1, "seed": 1}
    full = load_spec(text, profile="full")
    assert full.dims() == {"N": 3, "task": 2, "seed": 3} and full.fixed["phi"] == "erf"
    draws = load_spec(text, profile="draws")  # replicates = draws of one twin pair (twin_seed fixed)
    assert draws.dims() == {"N": 1, "seed": 10} and draws.fixed["twin_seed"] == 0 and draws.seed_by == []
    raw = {"name": "t", "function": spec.function, "fixed": {"phi": "linear"}, "axes": {"task": ["impulse", "foo"]}}
    with pytest.raises(SpecError) as info:
        load_spec(raw)  # the point's validator runs at load time, naming the field
    assert str(info.value).startswith("axes.task[1]: ")


@pytest.mark.parametrize("kw,param", [
    ({"task": "twins", "twin_tasks": ["foo"]}, "twin_tasks"),
    ({"task": "twins", "twin_tasks": []}, "twin_tasks"),
    ({"task": "optimizers", "gd_etas": [1e-3, -1.0]}, "gd_etas"),
    ({"task": "impulse", "rank": 3}, "rank"),
    ({"task": "nope"}, "task"),
    ({"task": "memory", "phi": "erf"}, "phi"),
])
def test_lowrank_experiment_rejects_bad_input_before_creating_anything(kw, param, tmp_path):
    from fltheory.experiments.lowrank import lowrank_experiment

    with pytest.raises(FLTheoryInputError) as info:
        lowrank_experiment(out=tmp_path / "o", **kw)
    assert str(info.value).startswith(f"{param}: ")
    assert not (tmp_path / "o").exists()


@pytest.mark.slow  # ≈ 18 s on a shared CPU (compilation); the same point runs in the default suite through
# tests/sweep/test_sweep_cli.py::test_reproduce_small_default[lowrank-twins]
def test_twins_point_linear_map_equals_the_networks():
    """One point of the spec's small default. Linear φ, exact overlap map ("gd"): theory and networks
    coincide to round-off (docs/theory/lowrank.md §4) and the untrained twins compute the same function,
    while training separates them (the separation is O(1), not round-off)."""
    from fltheory.experiments.lowrank import lowrank_twins_point

    spec = load_spec(packaged_specs()["lowrank-twins"].read_text())
    r = lowrank_twins_point(**spec.fixed, N=spec.axes["N"][0], seed=0)
    assert set(r) == set(spec.outputs)
    assert r["output_gap0_net"] < 1e-12 and r["ode_overlap_rms"] < 1e-12
    assert r["loss_gap_theory"] == pytest.approx(r["loss_gap_net"], abs=1e-12)
    assert r["visible_gap_theory"] == pytest.approx(r["visible_gap_net"], abs=1e-12)
    assert r["loss_gap_net"] > 1e-3 and r["visible_gap_net"] > 1e-2
    assert r["loss_split_net"] == pytest.approx(r["loss_split_theory"], abs=1e-12)
    assert abs(r["loss_split_theory"]) == pytest.approx(r["loss_gap_theory"], rel=1e-12)
    assert abs(r["loss_split0_net"]) < 1e-12


@pytest.mark.slow  # ≈ 15–35 s on a shared CPU: two twins() runs (compilation)
def test_twin_draws_realise_the_same_overlaps():
    """``draw`` realises the same twin Gram pair with other vectors: equal gram0, and (linear φ, exact map:
    the trajectory depends on the vectors only through Σ)
    equal network trajectories for every draw; a bad draw names the parameter."""
    import numpy as np

    from fltheory.lowrank.twins import twins

    kw = dict(tasks=["impulse"], phi="linear", N=12, eta=0.02, epochs=2, method="gd")
    d0, d3 = twins(**kw), twins(draw=3, **kw)
    np.testing.assert_allclose(d0["gram0"], d3["gram0"], atol=1e-12)
    np.testing.assert_allclose(d0["sigma_net"], d3["sigma_net"], atol=1e-12)  # linear: the map is exact
    assert d3.attrs["draw"] == 3
    with pytest.raises(FLTheoryInputError, match="^draw: "):
        twins(draw=-1, **kw)
