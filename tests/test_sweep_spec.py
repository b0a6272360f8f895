"""Spec validation: every invalid case raises ONE SpecError naming the field, before any work."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fltheory import FLTheoryInputError  # noqa: E402
from fltheory.sweep import SpecError, load_spec, run_sweep  # noqa: E402
from fltheory.sweep.registry import register  # noqa: E402


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
