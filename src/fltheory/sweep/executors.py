"""Where points run: in this process, a local process pool (default) or a Dask cluster.

Every executor runs the same worker function, :func:`run_point`, on a plain-dict task and returns
a plain-dict result. ``run_point`` never raises: an exception in the point function becomes a
failure record carrying the traceback, so one failing point never stops a sweep.

- :class:`SerialExecutor` — in this process, one point at a time (debugging, tiny sweeps).
- :class:`LocalExecutor` — ``concurrent.futures.ProcessPoolExecutor`` with the **spawn** start
  method (JAX is not fork-safe). Worker processes re-import the point function by dotted path.
- :class:`DaskExecutor` — a ``distributed.Client`` connected to ``scheduler`` (an existing
  cluster, e.g. ``tcp://host:8786``) or to a ``LocalCluster`` it starts on 127.0.0.1 with
  ``workers`` single-threaded workers. The point function must be importable on the workers.

Workers die with the sweep. A local pool worker runs :func:`_worker_init` first: on Linux it asks
the kernel for SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``), and on every platform a
daemon thread polls ``os.getppid()`` every 0.5 s and exits the worker once the parent is gone. So a
``kill -9`` of ``fltheory sweep`` leaves no workers behind, and the multiprocessing resource tracker,
which exits when the last holder of its pipe (the parent and the workers) is gone, follows them
(measured: all gone within 0.5 s; before, they were re-parented to PID 1 and kept waiting for
work). :meth:`LocalExecutor.close` without waiting (an interrupted sweep) also terminates the running
workers. For the Dask ``LocalCluster`` see :class:`DaskExecutor`.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from typing import Callable

import numpy as np

_FN_CACHE: dict[str, Callable] = {}


def _load_function(path: str) -> Callable:
    fn = _FN_CACHE.get(path)
    if fn is None:
        from .registry import import_dotted

        fn = _FN_CACHE[path] = import_dotted(path)
    return fn


def _normalise(out, reserved: set[str]):
    """Check a point function's return value; return (values, dims, coords)."""
    if not isinstance(out, dict) or not out:
        raise TypeError(f"a point function must return a non-empty dict of observables, got {type(out).__name__}")
    values, dims, coords = {}, {}, {}
    for name, val in out.items():
        if not isinstance(name, str) or not name or ":" in name:
            raise TypeError(f"observable names must be non-empty strings without ':', got {name!r}")
        if name in reserved:
            raise ValueError(f"observable {name!r} clashes with a sweep dimension/coordinate name {sorted(reserved)}")
        if type(val).__name__ == "DataArray" and hasattr(val, "dims"):
            arr = np.asarray(val.values)
            dims[name] = [str(d) for d in val.dims]
            c = {str(d): np.asarray(val.coords[d].values) for d in val.dims if d in val.coords}
            if c:
                coords[name] = c
            clash = set(dims[name]) & reserved
            if clash:
                raise ValueError(f"observable {name!r} has dims {sorted(clash)} that clash with sweep dimensions")
        else:
            arr = np.asarray(val)
            dims[name] = None
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"observable {name!r}: expected a number or numeric array, got dtype {arr.dtype}")
        values[name] = arr
    return values, dims, coords


def run_point(task: dict) -> dict:
    """Run one point (in a worker). Never raises: failures come back with their traceback."""
    t0 = time.perf_counter()
    base = {"key": task["key"], "pid": os.getpid()}
    try:
        fn = _load_function(task["function"])
        kwargs = dict(task["params"])
        if task.get("seed") is not None:
            kwargs["seed"] = task["seed"]
        values, dims, coords = _normalise(fn(**kwargs), set(task.get("reserved", ())))
    except Exception as exc:  # noqa: BLE001 - every point failure is recorded, never raised
        return {**base, "ok": False, "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(), "elapsed": time.perf_counter() - t0}
    return {**base, "ok": True, "values": values, "dims": dims, "coords": coords,
            "elapsed": time.perf_counter() - t0}


# --------------------------------------------------------------------------------------------
# Worker processes die with their parent.
_WATCHDOG_PERIOD = 0.5  # seconds between two os.getppid() polls in a worker
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class _SpawnedFromMainThread:
    """Pickles to ``True`` when pickled in the parent's main thread, else ``False``.

    A pool passes one as an initializer argument. A spawn worker's arguments are pickled by the
    thread that starts it, and ``PR_SET_PDEATHSIG`` fires when *that thread* exits, not the parent
    process (measured: a worker started from a short-lived thread is killed when the thread ends,
    breaking the pool). The main thread lives as long as the process, so only workers started
    from it ask for the signal; the others rely on the ``getppid`` watchdog.
    """

    def __reduce__(self):
        return (bool, (threading.current_thread() is threading.main_thread(),))


def _set_pdeathsig() -> bool:
    """Linux: ask for SIGKILL when the parent (thread) exits. Return whether it took effect."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):  # no libc / no prctl: the watchdog alone does the job
        return False


def _watch_parent(parent_pid: int, period: float = _WATCHDOG_PERIOD) -> None:
    """Exit this process as soon as ``os.getppid()`` is no longer ``parent_pid``."""
    while os.getppid() == parent_pid:
        time.sleep(period)
    os._exit(1)


def _worker_init(parent_pid: int, pdeathsig: bool = False) -> None:
    """Initializer of local pool workers: die with the parent, whatever kills it (SIGKILL too).

    ``PR_SET_PDEATHSIG`` (Linux, only when the worker was started from the parent's main thread)
    kills the worker at once, even inside a long C call that holds the GIL; the watchdog thread
    (every platform) notices a re-parented worker within :data:`_WATCHDOG_PERIOD` seconds. The
    ``getppid`` check after ``prctl`` closes the race where the parent died before the call.
    """
    if pdeathsig:
        _set_pdeathsig()
    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="fltheory-parent-watchdog",
                     daemon=True).start()


class SerialExecutor:
    """Runs each point in this process when it is submitted."""

    name = "serial"

    def __init__(self):
        self.capacity = 1

    def submit(self, task: dict) -> cf.Future:
        fut: cf.Future = cf.Future()
        fut.set_result(run_point(task))
        return fut

    def wait(self, futures, timeout: float):
        return set(futures), set()

    def recover(self) -> None:
        pass

    def close(self, wait: bool = True) -> None:
        pass


class LocalExecutor:
    """A spawn-context process pool on this machine; its workers die with this process
    (:func:`_worker_init`)."""

    name = "local"

    def __init__(self, workers: int):
        self.capacity = max(1, int(workers))
        self._pool = self._make()

    def _make(self):
        return cf.ProcessPoolExecutor(max_workers=self.capacity, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=_worker_init, initargs=(os.getpid(), _SpawnedFromMainThread()))

    def submit(self, task: dict) -> cf.Future:
        return self._pool.submit(run_point, task)

    def wait(self, futures, timeout: float):
        done, pending = cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return done, pending

    def recover(self) -> None:
        """Replace a broken pool (a worker process died, e.g. out of memory)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._make()

    def close(self, wait: bool = True) -> None:
        """Shut the pool down. ``wait=False`` (an interrupted sweep: Ctrl-C, an error) also ends
        the running workers at once (SIGTERM) instead of letting them finish their points, whose
        results nobody would collect; finished points are already stored."""
        procs = [] if wait else list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=wait, cancel_futures=True)
        for proc in procs:
            try:
                proc.terminate()
            except (OSError, ValueError):  # already gone / already closed
                pass


class DaskExecutor:
    """A Dask distributed client: an existing scheduler, or a loopback ``LocalCluster``.

    Shutdown: :meth:`close` closes the client and the ``LocalCluster``. If this process is killed
    (SIGKILL included), the ``LocalCluster``'s worker processes exit by themselves: Dask starts
    them with a pipe from the parent that a thread in each worker watches (``distributed.process``),
    and the resource tracker follows (measured: all gone within 0.5 s). On an existing cluster the
    workers are not ours: the scheduler releases a vanished client's tasks, and a point already
    running finishes there, unused.
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, workers: int = 2, processes: bool = True):
        from distributed import Client, LocalCluster

        self._cluster = None
        if scheduler:
            self._client = Client(scheduler)
        else:
            self._cluster = LocalCluster(
                n_workers=max(1, int(workers)), threads_per_worker=1, processes=processes,
                host="127.0.0.1", protocol="tcp://", dashboard_address=None,
            )
            self._client = Client(self._cluster)
        self.capacity = max(1, sum(self._client.nthreads().values()))
        self.address = self._client.scheduler.address

    def submit(self, task: dict):
        return self._client.submit(run_point, task, pure=False, key=f"fltheory-point-{task['key']}")

    def wait(self, futures, timeout: float):
        from distributed import wait

        try:
            res = wait(list(futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return set(), set(futures)
        return set(res.done), set(res.not_done)

    def recover(self) -> None:
        pass

    def close(self, wait: bool = True) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(kind: str = "local", workers: int | None = None, scheduler: str | None = None,
                  processes: bool = True, n_tasks: int | None = None):
    """Build an executor. ``kind``: ``local`` (default), ``serial`` or ``dask``; a ``scheduler``
    address implies ``dask``. ``workers`` defaults to the CPU count (local) or 2 (dask LocalCluster)
    and is capped by ``n_tasks`` for the local pool."""
    from .._validate import choice, positive_int

    if scheduler:
        kind = "dask"
    choice("executor", kind, ["local", "serial", "dask"])
    if workers is not None:
        positive_int("workers", workers)
    if kind == "serial":
        return SerialExecutor()
    if kind == "dask":
        return DaskExecutor(scheduler=scheduler, workers=workers or 2, processes=processes)
    w = workers or os.cpu_count() or 1
    if n_tasks is not None:
        w = max(1, min(w, n_tasks))
    return LocalExecutor(w)
