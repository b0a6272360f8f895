"""The same spec gives identical datasets in this process, on the spawn pool and on Dask; local
pool workers never outlive the process that started them."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from fltheory.sweep import run_sweep

# seed-dependent scalar, array and DataArray observables; one failing point exercises failure
# handling on every executor.
NOISY = {"name": "noisy", "function": "sweep_fixtures:noisy_point",
         "axes": {"a": [0.5, 1.5, 2.5], "b": [1, 2]}, "seeds": [0, 7]}
FAILING = {"name": "failing", "function": "sweep_fixtures:failing_point", "axes": {"a": [1.0, -1.0, 3.0]}}


def test_local_pool_dask_and_serial_give_identical_datasets(tmp_path):
    serial = run_sweep(NOISY, tmp_path / "serial", executor="serial", progress=False).dataset
    local = run_sweep(NOISY, tmp_path / "local", executor="local", workers=2, progress=False).dataset
    dask = run_sweep(NOISY, tmp_path / "dask", executor="dask", workers=2, processes=False, progress=False).dataset
    assert np.isfinite(serial["y"]).all() and not serial["failed"].any()
    xr.testing.assert_identical(local, serial)
    xr.testing.assert_identical(dask, serial)
    # and the replicates really differ (the seeds are in use)
    assert float(abs(serial["y"].sel(seed=0) - serial["y"].sel(seed=7)).min()) > 0


def test_failures_are_recorded_on_dask_and_local(tmp_path):
    for kind in ("dask", "local"):
        res = run_sweep(FAILING, tmp_path / kind, executor=kind, workers=2, processes=False, progress=False)
        assert [f["params"]["a"] for f in res.failures] == [-1.0]
        assert "ValueError: negative a=-1.0" in res.failures[0]["error"]
        assert "Traceback" in res.failures[0]["traceback"]
        assert list(res.dataset["failed"].values) == [False, True, False]


# ---- local pool workers die with their parent -------------------------------------------------
def test_spawned_from_main_thread_marker():
    import pickle
    import threading

    from fltheory.sweep.executors import _SpawnedFromMainThread

    assert pickle.loads(pickle.dumps(_SpawnedFromMainThread())) is True
    box = []
    t = threading.Thread(target=lambda: box.append(pickle.loads(pickle.dumps(_SpawnedFromMainThread()))))
    t.start()
    t.join()
    assert box == [False]


# A pool made in a short-lived thread: its first worker is started by that thread (so it must not ask
# for PR_SET_PDEATHSIG, which fires when the *thread* exits) and relies on the getppid watchdog; the
# second is started by the main thread (PR_SET_PDEATHSIG on Linux). Then the parent is SIGKILLed.
CHILD = r"""
import sys, threading, time
sys.path.insert(0, {here!r})
from fltheory.sweep.executors import LocalExecutor

def task(key, delay):
    return {{"key": key, "function": "sweep_fixtures:slow_point", "params": {{"a": 0.0, "b": 1, "delay": delay}},
             "seed": 0}}

box = {{}}
def start():
    box["ex"] = LocalExecutor(2)
    box["pid"] = box["ex"].submit(task("quick", 0.0)).result()["pid"]
t = threading.Thread(target=start)
t.start()
t.join()
futures = [box["ex"].submit(task(str(i), 120.0)) for i in range(2)]
print(box["pid"], flush=True)
time.sleep(300)
"""


def _workers(ppid: int) -> set[int]:
    """Live (not zombie) pids whose parent is ``ppid`` or that are orphans of it (session ``ppid``)."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] != "Z" and int(fields[3]) == ppid and b"spawn_main" in cmd:
                out.add(int(entry))
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="lists processes through /proc")
def test_pool_workers_survive_their_starting_thread_and_die_with_the_parent():
    proc = subprocess.Popen([sys.executable, "-c", CHILD.format(here=str(Path(__file__).parent))],
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        first = int(proc.stdout.readline() or 0)
        assert first, "the child printed no worker pid"
        deadline = time.monotonic() + 60
        while True:
            workers = _workers(proc.pid)
            # the worker started by the thread outlived the thread (no premature PDEATHSIG)
            assert first in workers, "the worker started by a short-lived thread died with the thread"
            if len(workers) == 2:
                break
            assert time.monotonic() < deadline, "the second worker did not start"
            time.sleep(0.05)
        time.sleep(0.5)
        assert _workers(proc.pid) == workers
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 5
        while (alive := _workers(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive, f"workers outlived their killed parent by 5 s: {alive}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def test_close_without_wait_ends_running_workers_at_once():
    from fltheory.sweep.executors import LocalExecutor

    ex = LocalExecutor(1)
    assert ex.submit({"key": "q", "function": "sweep_fixtures:slow_point",
                      "params": {"a": 0.0, "b": 1, "delay": 0.0}, "seed": 0}).result()["ok"]
    fut = ex.submit({"key": "s", "function": "sweep_fixtures:slow_point",
                     "params": {"a": 0.0, "b": 1, "delay": 60.0}, "seed": 0})
    (worker,) = list(ex._pool._processes.values())
    time.sleep(0.2)
    t0 = time.monotonic()
    ex.close(wait=False)  # what an interrupted sweep does
    worker.join(timeout=10)
    assert worker.exitcode is not None and time.monotonic() - t0 < 5
