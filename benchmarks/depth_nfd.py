"""NFD solve time against the finite-network ensemble it replaces at N = 512, L = 64 (issue #15).

    python benchmarks/depth_nfd.py              # P = 8 (+ 8 test inputs), 20 GD steps, erf, η₀ = 0.05
    python benchmarks/depth_nfd.py --seeds 16   # more network seeds for the seed-to-seed spread

Both on the same teacher task (``teacher_task(PRNGKey(0), P=8, P_test=8, D=16)``):

- the NFD (``solve_nfd``: L = 8 depth steps Richardson-extrapolated from 4 and 8, M particles per
  replica, R replicas), timed warm (second call; the first call's compilation is printed apart);
  its accuracy is the Monte-Carlo s.e. of the final train loss over the replicas;
- the depth-muP ResNet at N = 512, L = 64 (``fltheory.depth.train``, float32, the package's trainer),
  warm time per seed, seed-to-seed spread σ of the final train loss over ``--seeds`` seeds.

"Same accuracy": the ensemble needs S = ⌈(σ / s.e._NFD)²⌉ seeds for its mean to have the NFD's s.e.
(this ignores the network's own O(1/N + 1/L) bias, which no number of seeds removes: printed too, in
units of the combined s.e.). Printed: both times, S, and the ratio t_ensemble / t_NFD (the issue's
target: ≥ 10). Run on an otherwise idle machine; OPENBLAS_NUM_THREADS=1 on a shared one.
"""
from __future__ import annotations

import argparse
import math
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=8, help="network seeds for the spread σ (default 8)")
    ap.add_argument("--particles", type=int, default=1024, help="NFD particles per replica (default 1024)")
    ap.add_argument("--replicas", type=int, default=8, help="NFD replicas (default 8; their spread is the s.e.)")
    ap.add_argument("--depth", type=int, default=8, help="NFD depth steps L (extrapolated from L/2, L; default 8)")
    args = ap.parse_args()

    import jax
    import numpy as np

    import fltheory  # noqa: F401  (float64 for the NFD)
    from fltheory.depth import ResNetConfig, teacher_task, train
    from fltheory.depth.nfd import solve_nfd

    steps, lr = 20, 0.05
    task = teacher_task(jax.random.PRNGKey(0), P=8, P_test=8, D=16)
    kw = dict(steps=steps, lr=lr, phi="erf", L=args.depth, n_particles=args.particles, replicas=args.replicas)

    t0 = time.perf_counter()
    solve_nfd(task, seed=1, **kw)
    t_cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    nfd = solve_nfd(task, seed=0, **kw)
    t_nfd = time.perf_counter() - t0
    loss_nfd = nfd.train_loss[-1]
    se_nfd = nfd.diagnostics.mc_error * loss_nfd
    print(f"NFD: P = 8, {steps} steps, L = {args.depth} (Richardson from {args.depth // 2}), M = {args.particles} x "
          f"R = {args.replicas}: final train loss {loss_nfd:.5f} +- {se_nfd:.5f} (MC s.e.), depth correction "
          f"{nfd.diagnostics.residual:.2e}; {t_nfd:.1f} s warm ({t_cold:.1f} s with compilation)")

    cfg = ResNetConfig(N=512, L=64, D=16, phi="erf")
    train(jax.random.PRNGKey(10_000), cfg, task, "reused", steps, lr)  # compile
    losses, times = [], []
    for s in range(args.seeds):
        t0 = time.perf_counter()
        h = train(jax.random.PRNGKey(s), cfg, task, "reused", steps, lr)
        times.append(time.perf_counter() - t0)
        losses.append(float(h["train_loss"][-1]))
    losses = np.array(losses)
    t_net = float(np.median(times))
    sigma = float(losses.std(ddof=1))
    mean, se_net = float(losses.mean()), sigma / math.sqrt(args.seeds)
    S = max(1, math.ceil((sigma / se_nfd) ** 2))
    print(f"network N = 512, L = 64: {t_net:.2f} s per seed (warm), final train loss over {args.seeds} seeds "
          f"{mean:.5f} +- {se_net:.5f} (seed-to-seed sigma {sigma:.5f}); bias against the NFD "
          f"{(mean - loss_nfd) / math.hypot(se_net, se_nfd):+.1f} combined s.e.")
    t_ens = S * t_net
    print(f"same accuracy as the NFD: S = {S} seeds -> {t_ens:.1f} s; ratio t_ensemble / t_NFD = {t_ens / t_nfd:.1f} "
          f"(target >= 10)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
