"""Kill a sweep with SIGKILL mid-way, restart it: nothing finished is recomputed or lost."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import xarray as xr

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import sweep_fixtures  # noqa: E402
from fltheory.sweep import load_spec, run_sweep  # noqa: E402

# 12 points of 0.25 s each on 2 workers: ~1.5 s of work; we kill after >= 3 have landed, so at
# least 12 - 3 - 2 (in flight) points are still missing unless the poll lags by > 1 s.
SPEC = {"name": "slow", "function": "sweep_fixtures:slow_point", "fixed": {"delay": 0.25},
        "axes": {"a": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "b": [1, 2]}, "seeds": 1}

CHILD = """
import json, sys
sys.path.insert(0, {here!r})
from fltheory.sweep import run_sweep
run_sweep(json.loads({spec!r}), {out!r}, executor="local", workers=2, progress=False)
"""


def _finished(out: Path) -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in (out / "points").glob("*.npz")}


def test_sigkill_then_resume_recomputes_nothing_and_matches_uninterrupted(tmp_path):
    out = tmp_path / "store"
    counter = tmp_path / "calls.log"
    env = {**os.environ, sweep_fixtures.COUNTER_ENV: str(counter)}
    code = CHILD.format(here=str(HERE), spec=json.dumps(SPEC), out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while len(list((out / "points").glob("*.npz"))) < 3:
            assert proc.poll() is None, f"sweep ended early: {proc.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, "no points finished in 120 s"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its pool workers, like a crash
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = _finished(out)
    n_before = len(sweep_fixtures.read_counter(counter))
    spec = load_spec(SPEC)
    all_points = {p.key: p for p in spec.points()}
    assert 3 <= len(before) < len(all_points), f"{len(before)} points finished before the kill"
    assert set(before) <= set(all_points)

    os.environ[sweep_fixtures.COUNTER_ENV] = str(counter)
    try:
        res = run_sweep(SPEC, out, executor="local", workers=2, progress=False)
    finally:
        del os.environ[sweep_fixtures.COUNTER_ENV]
    # calls after the restart are exactly the points that had not finished, each once
    after = [tuple(sorted(c[1].items())) for c in sweep_fixtures.read_counter(counter)[n_before:]]
    missing = [tuple(sorted({"a": p.params["a"], "b": p.params["b"]}.items()))
               for k, p in all_points.items() if k not in before]
    assert sorted(after) == sorted(missing)
    assert res.n_reused == len(before) and res.n_computed == len(missing) and not res.failures
    # nothing finished was lost or rewritten
    now = _finished(out)
    assert all(now[k] == v for k, v in before.items()) and set(now) == set(all_points)
    # the resumed dataset equals an uninterrupted run (different executor, fresh store)
    fresh = run_sweep(SPEC, tmp_path / "fresh", executor="serial", progress=False)
    xr.testing.assert_identical(res.dataset, fresh.dataset)
