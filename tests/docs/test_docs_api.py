"""The API reference builds from the docstrings without a warning, and every public name has one
(issues #17 and #18)."""
from __future__ import annotations

import importlib
import inspect
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
build_api = runpy.run_path(str(ROOT / "docs" / "build_api.py"))


@pytest.mark.parametrize("module", build_api["modules"]())
def test_every_public_name_exists_and_has_a_docstring(module):
    mod = importlib.import_module(module)
    assert inspect.getdoc(mod), f"{module} has no module docstring"
    names = getattr(mod, "__all__", None)
    assert names, f"{module} declares no __all__ (its curated public API)"
    for name in names:
        if not hasattr(mod, name):  # a submodule listed in __all__
            obj = importlib.import_module(f"{module}.{name}")
        else:
            obj = getattr(mod, name)
        if inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismodule(obj):
            assert inspect.getdoc(obj), f"{module}.{name} has no docstring"


def test_api_reference_builds_without_warnings(tmp_path):
    problems = build_api["build"](tmp_path)
    assert problems == [], "\n".join(problems)
    pages = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.html")}
    assert {"index.html", "fltheory.html", "fltheory/saddle.html", "fltheory/sampling.html"} <= pages


def test_every_referee_resolves_and_docs_architecture_names_it():
    """experiments.simulate.REFEREES, the one place that pairs each theory with its referee (issue #18):
    every named object imports and has a docstring, and docs/architecture.md's referees table names each
    theory and each simulation (the object or its module)."""
    import re

    from fltheory import FLTheoryInputError
    from fltheory.experiments.simulate import REFEREES, referee

    assert {"saddle", "nngp", "two_layer", "lowrank", "depth"} <= set(REFEREES)
    for name, ref in REFEREES.items():
        assert referee(name) is ref
        for field, obj in ref.load().items():
            assert inspect.getdoc(obj), f"{name}.{field} = {getattr(ref, field)} has no docstring"
            if field != "comparison":
                assert callable(obj), f"{name}.{field} = {getattr(ref, field)} is not callable"
    with pytest.raises(FLTheoryInputError, match="^theory: unknown value 'foo'"):
        referee("foo")

    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## Referees", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([A-Za-z_][\w.]*)`", section))
    for name, ref in REFEREES.items():
        for dotted in (ref.theory, ref.simulation):
            assert any(dotted == n or dotted.startswith(n + ".") for n in named), (
                f"docs/architecture.md's referees table does not name {dotted} (referee {name!r})")
