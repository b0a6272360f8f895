"""Wall time of ``fltheory demo`` (the README's first command) against its budget of 3 minutes.

    python benchmarks/demo_time.py [--repeats R]

Runs the installed console script in a temporary directory, as a new user would (compilation
included), and prints the wall time of each repeat, the median and the ratio to the 180 s budget.
Run it on an otherwise idle machine: the budget is for 2 idle CPU cores.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

BUDGET_S = 180.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    exe = os.path.join(os.path.dirname(sys.executable), "fltheory")
    times = []
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            proc = subprocess.run([exe, "demo", "--out", tmp], capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            warned = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "Warning" in ln]
            if warned:
                print(f"  {len(warned)} warning line(s) in the output, first: {warned[0][:200]}")
            if proc.returncode != 0:
                print(proc.stdout[-2000:], proc.stderr[-2000:], sep="\n")
                return proc.returncode
        print(f"repeat {r + 1}: {times[-1]:.1f} s")
    med = statistics.median(times)
    print(f"fltheory demo: median {med:.1f} s over {len(times)} run(s), {os.cpu_count()} CPUs; "
          f"ratio to the {BUDGET_S:.0f} s budget: {med / BUDGET_S:.2f}")
    return 0 if med <= BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
