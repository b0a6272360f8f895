"""Shared test fixtures. The tests mirror the packages: core/ (tasks, models, gaussian, kernels,
sampling, outputs), saddle/, sweep/, two_layer/, lowrank/, depth/, experiments/, cli/, docs/, plus the
layering test of docs/architecture.md at the top."""
from __future__ import annotations

from pathlib import Path

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
