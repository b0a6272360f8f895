"""benchmarks/lowrank_ode.py (issue #16's benchmark) runs, and its overlap sides reproduce the network's loss curve.

Slow: it compiles the network and three overlap programs (≈ 20 s CPU); the timings themselves are not asserted
(they depend on the machine), only the accounting and the accuracy columns."""
import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "lowrank_ode.py"


def _bench():
    spec = importlib.util.spec_from_file_location("lowrank_ode_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_benchmark_linear_sides_and_cpu_accounting():
    r = _bench().run_task("impulse", N=40, epochs=30, seed=0, rtol=1e-6, rtol_corrected=1e-4, repeats=1, networks=1)
    sides = r["sides"]
    assert list(sides) == ["network", "gd map", "flow", "flow, eta-corrected"]
    for s in sides.values():
        for when in ("cold", "warm"):
            assert set(s[when]) == {"wall", "cpu"} and s[when]["cpu"] > 0 and s[when]["wall"] > 0
    # linear φ: the GD overlap map *is* the network's trajectory (round-off, any N)
    assert sides["gd map"]["loss_err"] < 1e-9
    # the flows differ from GD at O(η) / O(η²) only: far inside the 1e-2 at η = 5e-3
    assert sides["flow"]["loss_err"] < 1e-2 and sides["flow, eta-corrected"]["loss_err"] < 1e-2
