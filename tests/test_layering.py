"""The layers of docs/architecture.md, checked on the source (issue #18): the sweep engine imports no
domain code, and the theory packages import neither the experiments, the CLI nor the sweep engine.
Every import counts, including those inside functions."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "fltheory"
THEORY = ("activations", "gaussian", "kernels", "models", "tasks", "sampling", "saddle", "two_layer",
          "lowrank", "depth")
APPLICATION = ("experiments", "cli", "sweep")
SHARED = ("_validate", "_resources", "io")  # used by every layer


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_fltheory_packages(path: Path) -> set[str]:
    """The first component below ``fltheory`` of every module ``path`` imports (``""``: the root)."""
    this = _module_name(path).split(".")
    package = this if path.name == "__init__.py" else this[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
                names = [mod] if node.module else [f"{mod}.{a.name}" for a in node.names]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "fltheory":
                sub = parts[1] if len(parts) > 1 else ""
                is_module = (SRC / sub).is_dir() or (SRC / f"{sub}.py").is_file()
                found.add(sub if is_module else "")  # `from .. import __version__`: the root package
    return found


def _files(package: str):
    root = SRC / package
    return sorted(root.rglob("*.py")) if root.is_dir() else [SRC / f"{package}.py"]


def test_the_sweep_engine_imports_no_domain_code():
    bad = {}
    for f in _files("sweep"):
        wrong = imported_fltheory_packages(f) - {"sweep", "", *SHARED}
        if wrong:
            bad[str(f.relative_to(SRC))] = sorted(wrong)
    assert bad == {}


@pytest.mark.parametrize("package", THEORY)
def test_theory_packages_import_no_application_layer(package):
    bad = {}
    for f in _files(package):
        wrong = imported_fltheory_packages(f) & set(APPLICATION)
        if wrong:
            bad[str(f.relative_to(SRC))] = sorted(wrong)
    assert bad == {}


def test_the_checker_sees_relative_and_nested_imports(tmp_path, monkeypatch):
    """The test above cannot pass vacuously: it finds the imports it is meant to forbid."""
    found = imported_fltheory_packages(SRC / "experiments" / "phase.py")
    assert {"saddle", "sweep", "tasks"} <= found
    assert "experiments" in imported_fltheory_packages(SRC / "cli" / "phase.py")  # imported inside a function
