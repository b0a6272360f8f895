"""Kill a sweep with SIGKILL mid-way, restart it: nothing finished is recomputed or lost, and
nothing the killed sweep started (pool workers, the resource tracker) outlives it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xarray as xr

HERE = Path(__file__).parent

import sweep_fixtures
from fltheory.sweep import load_spec, run_sweep

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


# ---- kill -9 of `fltheory sweep` itself: its workers must not outlive it ------------------------
# 4 points of 1.5 s on 2 local workers: the first two land together, then two more are in flight for
# 1.5 s, which is when the main process (only) is killed: at least one point is finished, at least
# one is not.
CLI_SPEC = """
name: orphans
function: sweep_fixtures:slow_point
fixed: {delay: 1.5}
axes: {a: [0.0, 1.0, 2.0, 3.0], b: [1]}
seeds: 1
"""


def _session(sid: int) -> dict[int, str]:
    """Live (not zombie) processes of session ``sid`` -> command line. Killed workers re-parented
    to PID 1 keep their session, so this finds orphans too."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state ppid pgrp session ...
        if fields[0] != "Z" and int(fields[3]) == sid:
            found[int(entry)] = cmd
    return found


def _fltheory_command() -> list[str]:
    script = Path(sys.executable).with_name("fltheory")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from fltheory.cli import main; sys.argv[0] = 'fltheory'; main()"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="lists processes through /proc")
def test_sigkill_of_the_sweep_command_leaves_no_workers_and_resume_recomputes_nothing(tmp_path, monkeypatch):
    spec_path = tmp_path / "orphans.yaml"
    spec_path.write_text(CLI_SPEC)
    out = tmp_path / "store"
    counter = tmp_path / "calls.log"
    env = {**os.environ, sweep_fixtures.COUNTER_ENV: str(counter),
           "PYTHONPATH": os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p)}
    log = tmp_path / "stderr.txt"
    with open(log, "wb") as err:  # a file, not a pipe: nothing can block on a full pipe
        proc = subprocess.Popen([*_fltheory_command(), "sweep", str(spec_path), "--out", str(out), "--workers", "2",
                                 "--no-progress", "--no-plot"], env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 90
        while True:  # until a point has landed and both workers are running
            assert proc.poll() is None, f"sweep ended early: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "no point finished in 90 s"
            if list((out / "points").glob("*.npz")):
                before = _session(proc.pid)
                if sum("spawn_main" in cmd for cmd in before.values()) == 2:
                    break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)  # the main process only, like the OOM killer or `kill -9 PID`
        proc.wait()
        assert proc.pid in before and len(before) >= 3, before  # the sweep, 2 workers (+ resource tracker)
        # everything the sweep started (workers, the multiprocessing resource tracker) dies with it
        deadline = time.monotonic() + 10
        while (alive := _session(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive, f"outlived the killed sweep by 10 s: {alive}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # never leave anything behind, whatever failed
        except ProcessLookupError:
            pass
        proc.wait()

    finished = _finished(out)
    spec = load_spec(CLI_SPEC)
    keys = {p.key for p in spec.points()}
    assert 1 <= len(finished) < len(keys) and set(finished) <= keys
    n_calls = len(sweep_fixtures.read_counter(counter))
    monkeypatch.setenv(sweep_fixtures.COUNTER_ENV, str(counter))
    res = run_sweep(CLI_SPEC, out, executor="serial", progress=False)
    assert res.n_reused == len(finished) and res.n_computed == len(keys) - len(finished) and not res.failures
    # only the unfinished points ran again, each once; the finished files are untouched
    redone = {p["a"] for _, p in sweep_fixtures.read_counter(counter)[n_calls:]}
    assert len(redone) == res.n_computed
    assert redone == {p.params["a"] for p in spec.points() if p.key not in finished}
    assert all(_finished(out)[k] == v for k, v in finished.items())
