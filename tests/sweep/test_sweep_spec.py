"""Spec validation: every invalid case raises ONE SpecError naming the field, before any work."""
from __future__ import annotations

import pytest

from fltheory import FLTheoryInputError
from fltheory.sweep import SpecError, load_spec, run_sweep
from fltheory.sweep.registry import declare, register


def typed(**over):
    spec = {"name": "t", "function": "sweep_fixtures:typed_point",
            "fixed": {"phi": "erf"}, "axes": {"n": [1, 2], "g2": [0.5, 1.0]}}
    spec.update(over)
    return spec


def check(spec, field, *words):
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    err = info.value
    assert err.field == field, str(err)
    assert str(err).startswith(f"{field}: "), str(err)
    for w in words:
        assert w in str(err), str(err)
    assert isinstance(err, FLTheoryInputError) and isinstance(err, ValueError)
    return err


# ---- the four cases of the issue ---------------------------------------------------------------
def test_unknown_function_name():
    check(typed(function="no-such-function"), "function", "unknown function 'no-such-function'", "nngp-depth")


def test_unknown_function_dotted_path():
    check(typed(function="sweep_fixtures:nope"), "function", "no attribute 'nope'")
    check(typed(function="no_such_module_xyz:f"), "function", "cannot import module")


def test_missing_parameter():
    check(typed(fixed={}), "fixed.phi", "missing required parameter 'phi'")
    check(typed(axes={"n": [1, 2]}), "fixed.g2", "missing required parameter 'g2'")


@pytest.mark.parametrize("fixed, axes, field, expected", [
    ({"phi": "erf", "g2": 1.0}, {"n": [1, "two"]}, "axes.n[1]", "expected int"),        # str for int
    ({"phi": "erf", "g2": 1.0}, {"n": [1, 2.5]}, "axes.n[1]", "expected int"),          # float for int
    ({"phi": "erf", "n": 3}, {"g2": ["1.0"]}, "axes.g2[0]", "expected float"),          # str for float
    ({"phi": "tanh", "n": 3, "g2": 1.0}, {}, "fixed.phi", "Literal['erf', 'relu']"),    # not in Literal
    ({"phi": "erf", "n": 3, "g2": 1.0, "flag": 1}, {}, "fixed.flag", "expected bool"),  # int for bool
    ({"phi": "erf", "n": True, "g2": 1.0}, {}, "fixed.n", "expected int"),               # bool for int
    ({"phi": "erf", "n": 3, "g2": 1.0, "sizes": [1, "x"]}, {}, "fixed.sizes", "tuple[int, ...]"),
    ({"phi": "erf", "n": 3}, {"z": {"zip": {"g2": [1.0, 2.0], "label": ["a", 3]}}}, "axes.z.zip.label[1]",
     "str | None"),
])
def test_wrong_type(fixed, axes, field, expected):
    check(typed(fixed=fixed, axes=axes), field, "wrong type", expected)


@pytest.mark.parametrize("axes, field", [
    ({"n": [], "g2": [1.0]}, "axes.n"),
    ({"n": [1], "g2": {"values": []}}, "axes.g2.values"),
    ({"n": [1], "g2": None}, "axes.g2"),
    ({"n": [1], "z": {"zip": {"g2": []}}}, "axes.z.zip.g2"),
    ({"n": [1], "z": {"zip": {}}}, "axes.z.zip"),
    ({"n": {"range": [3, 3]}, "g2": [1.0]}, "axes.n.range"),
])
def test_empty_axis(axes, field):
    check(typed(axes=axes), field, "empty" if "range" not in field and field != "axes.z.zip" else "")


# ---- more structural errors -------------------------------------------------------------------
def test_other_errors_name_their_field():
    check(typed(fixed={"phi": "erf", "bogus": 1}), "fixed.bogus", "unknown parameter 'bogus'")
    check(typed(axes={"n": [1], "g2": [1.0], "q": [1]}), "axes.q", "unknown parameter 'q'")
    check(typed(fixed={"phi": "erf", "n": 2}), "axes.n", "already set by fixed.n")
    check(typed(axes={"n": [1], "z": {"zip": {"g2": [1.0, 2.0], "phi": ["erf"]}}}), "axes.z.zip", "same length")
    check(typed(axes={"n": 3, "g2": [1.0]}), "axes.n", "expected a list of values")
    check(typed(axes={"n": {"logspace": [1, 2, 3]}, "g2": [1.0]}), "axes.n", "unknown axis form 'logspace'")
    check(typed(axes={"n": [[1, 2]], "g2": [1.0]}), "axes.n[0]", "numbers, strings or booleans")
    check(typed(seeds=3), "seeds", "takes no `seed` argument")
    check(typed(function="sweep_fixtures:noisy_point", fixed={}, axes={"a": [1.0]}, seeds=0), "seeds", ">= 1")
    check(typed(function="sweep_fixtures:noisy_point", fixed={"seed": 1}, axes={"a": [1.0]}), "fixed.seed")
    check(typed(colour="red"), "colour", "unknown field")
    check({"function": "nngp-depth"}, "name", "required field is missing")
    check(typed(name="bad name/"), "name", "pattern")
    check(typed(figure={"x": "nope", "theory": ["v"]}), "figure.x", "not a sweep axis")
    check(typed(figure={"x": "n"}), "figure", "at least one variable")
    check(typed(figure={"x": "n", "theory": ["v"], "colour": 1}), "figure.colour", "unknown field")
    check(typed(seed_by=["zz"]), "seed_by[0]", "not a parameter")


def test_yaml_file_errors(tmp_path):
    with pytest.raises(SpecError, match=r"^spec: file not found"):
        load_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="invalid YAML"):
        load_spec(bad)


def test_invalid_spec_starts_no_work(tmp_path):
    out = tmp_path / "store"
    with pytest.raises(SpecError, match=r"^axes\.n: "):
        run_sweep(typed(axes={"n": [], "g2": [1.0]}), out, executor="serial", progress=False)
    assert not out.exists()


# ---- what valid specs mean --------------------------------------------------------------------
def test_axes_forms_dims_and_coercion(tmp_path):
    spec = load_spec(typed(
        fixed={"phi": "relu", "sizes": [2, 3]},
        axes={"n": {"range": [1, 4]}, "z": {"zip": {"g2": [1, 2], "flag": [True, False]}}},
    ))
    assert spec.dims() == {"n": 3, "z": 2}
    coords = spec.coords()
    assert coords["g2"] == ("z", [1.0, 2.0]) and all(isinstance(v, float) for v in coords["g2"][1])
    pts = spec.points()
    assert len(pts) == 6 and pts[0].index == (0, 0) and pts[-1].index == (2, 1)
    assert pts[-1].params == {"phi": "relu", "sizes": [2, 3], "n": 3, "g2": 2.0, "flag": False}
    # int 1 and float 1.0 for a float parameter give the same key and seed (canonicalised by annotation)
    same = load_spec(typed(fixed={"phi": "relu", "sizes": [2, 3]},
                           axes={"n": [1, 2, 3], "z": {"zip": {"g2": [1.0, 2.0], "flag": [True, False]}}}))
    assert [p.key for p in pts] == [p.key for p in same.points()]
    g = load_spec(typed(axes={"n": [1], "g2": {"geomspace": [1, 100, 3]}}))
    assert g.coords()["g2"][1] == pytest.approx([1.0, 10.0, 100.0], rel=1e-12)


def test_keys_and_seeds():
    base = dict(name="s", function="sweep_fixtures:noisy_point", axes={"a": [1.0, 2.0], "b": [1, 2]}, seeds=2)
    pts = load_spec(base).points()
    assert len({p.key for p in pts}) == 4 * 2 and len({p.seed for p in pts}) == 8
    # reordering the axes changes the layout, not the points' keys/seeds
    other = load_spec({**base, "axes": {"b": [1, 2], "a": [1.0, 2.0]}}).points()
    assert {(p.key, p.seed) for p in pts} == {(p.key, p.seed) for p in other}
    # a new package version changes the keys but not the seeds
    newer = load_spec(base).points(version="999")
    assert [p.seed for p in newer] == [p.seed for p in pts] and not {p.key for p in newer} & {p.key for p in pts}
    # seed_by: common random numbers along b; keys still differ
    crn = load_spec({**base, "seed_by": ["a"]}).points()
    by = {(p.params["a"], p.params["b"], p.replicate): p for p in crn}
    assert by[(1.0, 1, 0)].seed == by[(1.0, 2, 0)].seed != by[(2.0, 1, 0)].seed
    assert by[(1.0, 1, 0)].seed != by[(1.0, 1, 1)].seed and by[(1.0, 1, 0)].key != by[(1.0, 2, 0)].key


def test_yaml_text_profiles_and_scientific_floats(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: p\nfunction: sweep_fixtures:typed_point\nfixed: {phi: erf, n: 2}\n"
        "axes:\n  g2: [1e-3, 2.5E+2]\nprofiles:\n  full:\n    fixed: {n: 10}\n    axes: {g2: [1.0, 2.0, 3.0]}\n"
    )
    spec = load_spec(path)
    assert spec.coords()["g2"][1] == [1e-3, 250.0]
    full = load_spec(path, profile="full")
    assert full.name == "p-full" and full.resolved_fixed()["n"] == 10 and full.dims() == {"g2": 3}
    with pytest.raises(SpecError, match=r"^profile: unknown profile 'huge'"):
        load_spec(path, profile="huge")


def test_register_decorator():
    import sweep_fixtures

    register("test-sweep-noisy")(sweep_fixtures.noisy_point)
    spec = load_spec({"name": "r", "function": "test-sweep-noisy", "axes": {"a": [1.0]}, "seeds": 1})
    assert spec.function_path == "sweep_fixtures:noisy_point"  # what worker processes import

    @register("test-sweep-local")
    def double(*, x: float) -> dict:  # a closure: worker processes could not import it
        return {"y": 2 * x}

    check({"name": "r", "function": "test-sweep-local", "axes": {"x": [1.0]}}, "function", "not importable")


# ---- declared outputs and parameter checks (PointInfo) ----------------------------------------
def _nngp_depth(**over) -> dict:
    """The packaged nngp-depth spec as a dict, with top-level sections updated by ``over``."""
    import yaml

    from fltheory.sweep import packaged_specs

    raw = yaml.safe_load(packaged_specs()["nngp-depth"].read_text())
    for key, val in over.items():
        raw[key] = {**raw[key], **val} if isinstance(val, dict) else val
    return raw


def test_misspelt_figure_variable_fails_at_load_time_listing_the_outputs(tmp_path):
    err = check(_nngp_depth(figure={"theory": ["gp_tset_error"]}), "figure.theory[0]",
                "'gp_tset_error' is not an output of function 'nngp-depth'", "did you mean 'gp_test_error'?")
    for name in ("gp_test_error", "rf_test_error", "gp_train_error", "kernel_corr"):
        assert repr(name) in str(err)
    check(_nngp_depth(figure={"simulation": ["rf_test_error", "nope"]}), "figure.simulation[1]", "'nope'")
    # before any work: no store directory
    out = tmp_path / "store"
    with pytest.raises(SpecError, match=r"^figure\.theory\[0\]: "):
        run_sweep(_nngp_depth(figure={"theory": ["gp_tset_error"]}), out, executor="serial", progress=False)
    assert not out.exists()


@pytest.mark.parametrize("over, field, words", [
    ({"axes": {"g2": [0.5, -1.0]}}, "axes.g2[1]", ["parameter 'g2'", "must be > 0, got -1.0"]),
    ({"fixed": {"gu2": 0.0}}, "fixed.gu2", ["parameter 'gu2'", "must be > 0"]),
    ({"fixed": {"phi": "erff"}}, "fixed.phi", ["unknown value 'erff'", "'relu'"]),
    ({"axes": {"depth": [1, 0]}}, "axes.depth[1]", ["must be >= 1, got 0"]),
    ({"fixed": {"width": -3}}, "fixed.width", ["must be >= 0, got -3"]),
])
def test_out_of_range_values_fail_at_load_time(over, field, words, tmp_path):
    check(_nngp_depth(**over), field, *words)
    out = tmp_path / "store"
    with pytest.raises(SpecError):
        run_sweep(_nngp_depth(**over), out, executor="serial", progress=False)
    assert not out.exists()


def test_out_of_range_values_of_other_builtins_fail_at_load_time():
    seq = {"name": "s", "function": "sequential", "fixed": {"N": 0},
           "axes": {"P": [4], "arch": ["rnn", "cnn"]}}
    check(seq, "axes.arch[1]", "unknown value 'cnn'")
    check({**seq, "axes": {"P": [4, -2], "arch": ["rnn"]}}, "axes.P[1]", "must be >= 1")
    check({**seq, "fixed": {"N": 0, "teacher": "flipflop"}, "axes": {"arch": ["rnn"]}}, "fixed.D",
          "default 6", "D must be 1")
    lc = {"name": "l", "function": "learning-curve", "fixed": {"size": "small"}, "axes": {"P": [10], "method": ["mf"]}}
    check({**lc, "fixed": {"size": "small", "kappa2": -1.0}}, "fixed.kappa2", "must be > 0")
    check({**lc, "fixed": {"size": "huge"}}, "fixed.size", "unknown value 'huge'")
    phase = {"name": "p", "function": "fltheory.experiments.phase:phase_point", "fixed": {"kappa": -0.1},
             "axes": {"signal": [1.0], "arch": ["rnn"]}}
    check(phase, "fixed.kappa", "must be > 0")  # named by dotted path: the built-in's checks still apply
    check({"name": "d", "function": "depth-gap", "fixed": {"n_seeds": 1}}, "fixed.n_seeds", "must be >= 2")
    check({"name": "o", "function": "lowrank", "fixed": {"rank": 2}, "axes": {"N": [500, 5]}}, "axes.N[1]",
          "must be >= 6")


def declared_point(*, n: int, g2: float = 1.0, cap: float = 100.0) -> dict:
    """A point function with declared outputs and checks (registered by the fixture below)."""
    return {"err": n * g2, "q": g2}


def check_declared(*, n, g2, cap):
    from fltheory._validate import positive, positive_int

    positive_int("n", n)
    positive("g2", g2)
    if n * g2 > cap:
        raise FLTheoryInputError(f"n * g2 = {n * g2} exceeds the cap {cap}")  # names no single parameter


@pytest.fixture
def declared():
    from fltheory.sweep import registry

    saved = dict(registry._REGISTERED)
    register("test-declared", outputs={"err": "test error", "q": "order parameter q"},
             validate=check_declared)(declared_point)
    yield "test-declared"
    registry._REGISTERED.clear()
    registry._REGISTERED.update(saved)
    del declared_point.point_info


def test_register_outputs_and_validate(declared, tmp_path, monkeypatch):
    from fltheory.sweep import registry

    base = {"name": "d", "function": declared, "axes": {"n": [1, 2, 3]},
            "figure": {"x": "n", "theory": ["err"], "simulation": ["q"]}}
    spec = load_spec(base)
    assert spec.outputs == {"err": "test error", "q": "order parameter q"}
    # the declarations follow the function when a spec names it by its dotted path
    assert registry.point_info(f"{__name__}:declared_point").outputs == spec.outputs
    check({**base, "figure": {"x": "n", "theory": ["error"]}}, "figure.theory[0]", "did you mean 'err'?")
    check({**base, "fixed": {"g2": -2.0}}, "fixed.g2", "must be > 0")
    check({**base, "axes": {"n": [1, 0]}}, "axes.n[1]", "must be >= 1, got 0")
    # a check that names no parameter is reported at the point that fails
    check({**base, "axes": {"n": [1, 50, 200]}, "fixed": {"g2": 1.0}}, "axes", "{'n': 200}", "exceeds the cap")
    # the labels reach the dataset (long_name) and the figure's legend
    res = run_sweep(base, tmp_path / "out", executor="serial", progress=False)
    assert res.dataset["err"].attrs["long_name"] == "test error"
    from fltheory.sweep import figures

    drawn = []
    monkeypatch.setattr(figures.plt, "close", lambda f: drawn.append(f))
    figures.plot_figure(res.dataset, spec.figure, tmp_path / "out")
    legend = [t.get_text() for t in drawn[0].axes[0].get_legend().get_texts()]
    assert legend == ["test error", "order parameter q"]
    assert drawn[0].axes[0].get_ylabel() == "test error, order parameter q"


def test_register_rejects_bad_declarations():
    with pytest.raises(FLTheoryInputError, match="outputs must be a non-empty dict"):
        register("bad", outputs=["err"])
    with pytest.raises(FLTheoryInputError, match="label of output 'err'"):
        register("bad", outputs={"err": ""})
    with pytest.raises(FLTheoryInputError, match="validate must be callable"):
        register("bad", validate="not callable")
    with pytest.raises(FLTheoryInputError, match=r"^declare: outputs must be a non-empty dict"):
        declare(outputs={})


def test_undeclared_outputs_are_checked_only_when_drawing(tmp_path):
    # sweep_fixtures functions declare nothing: the spec loads, the figure fails after the run
    spec = {"name": "u", "function": "sweep_fixtures:noisy_point", "axes": {"a": [1.0]},
            "figure": {"x": "a", "theory": ["nope"]}}
    assert load_spec(spec).outputs is None
    res = run_sweep(spec, tmp_path / "u", executor="serial", progress=False)
    from fltheory.sweep.figures import plot_figure

    with pytest.raises(SpecError, match=r"^figure\.theory\[0\]: no variable 'nope' in the results"):
        plot_figure(res.dataset, load_spec(spec).figure, tmp_path / "u")


def test_every_builtin_and_packaged_spec_declares_outputs_and_checks():
    from fltheory.sweep import packaged_specs, registry

    for name, path in registry.BUILTIN.items():
        info = registry.point_info(name)
        assert info.outputs and callable(info.validator()), name
        assert registry.point_info(path) is info  # by short name and by dotted path alike
    for name, path in packaged_specs().items():
        text = path.read_text()
        spec = load_spec(text)
        assert spec.outputs and registry.point_info(spec.function).validator() is not None, name
        for profile in spec.profiles:
            load_spec(text, profile=profile)  # every profile passes the checks too
