"""Up-front resource checks and BLAS thread control, shared by every solver and simulation.

:func:`require_memory` refuses a request whose estimated peak memory exceeds what the machine has
available, *before* anything is allocated, with one error that names the parameter to reduce.
:func:`single_blas_thread` keeps numpy's BLAS to one thread around solver loops: the heavy linear
algebra runs inside XLA, and OpenBLAS threads competing with XLA's for the same cores made a 156×156
``np.linalg.solve`` take 170 ms instead of 0.2 ms (issue #12).
"""
from __future__ import annotations

import contextlib
import os

from ._validate import FLTheoryInputError


def available_memory() -> int:
    """Bytes of memory available to this process now (MemAvailable, else total physical memory)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 1 << 62


def fmt_bytes(b: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if b < 1024 or unit == "TiB":
            return f"{b:.1f} {unit}"
        b /= 1024
    return f"{b:.1f} TiB"  # pragma: no cover


def require_memory(name: str, need: float, what: str, remedy: str, fraction: float = 0.8) -> None:
    """Raise FLTheoryInputError naming ``name`` when ``need`` bytes exceed ``fraction`` of available memory."""
    avail = available_memory()
    if need > fraction * avail:
        raise FLTheoryInputError(f"{name}: {what} needs about {fmt_bytes(need)}, more than the "
                                 f"{fmt_bytes(fraction * avail)} available; {remedy}")


@contextlib.contextmanager
def single_blas_thread():
    """Limit numpy's BLAS/OpenMP pools to one thread inside the block (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - declared dependency
        yield
        return
    with threadpool_limits(limits=1):
        yield
