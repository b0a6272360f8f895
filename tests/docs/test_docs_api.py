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
