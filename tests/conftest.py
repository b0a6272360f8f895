"""Shared test fixtures. The tests mirror the packages: core/ (tasks, models, gaussian, kernels,
sampling, outputs), saddle/, sweep/, two_layer/, lowrank/, depth/, experiments/, cli/, docs/, plus the
layering test of docs/architecture.md at the top."""
from __future__ import annotations

from pathlib import Path

import gc

import jax
import pytest

import fltheory  # noqa: F401  (float64 for every test, as for every user)

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_root() -> Path:
    """The repository root (README.md, docs/, src/)."""
    return REPO_ROOT


@pytest.fixture
def in_tmp_cwd(tmp_path, monkeypatch) -> Path:
    """Run the test in an empty current directory, so that commands writing to ./fltheory-out/ write
    there and a test can check what was (not) created."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop JAX's compiled programs after each test module.

    Every distinct jit compilation keeps its XLA:CPU code mapped in the process until its executable is
    freed. The whole suite runs in one pytest process and compiles tens of thousands of programs; kept
    alive, their mappings approach Linux's per-process limit (``vm.max_map_count``, 65530 by default),
    and XLA's next code allocation then fails as a segmentation fault inside ``backend_compile_and_load``
    (seen twice in CI at 91-98 % of the suite). Modules share almost no compiled programs, so clearing
    between modules costs little and keeps the count bounded by the largest module.
    """
    yield
    jax.clear_caches()
    gc.collect()
