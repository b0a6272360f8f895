"""NFD solve time against the finite-network ensemble it replaces at N = 512, L = 64 (issue #15).

    python benchmarks/depth_nfd.py                 # P = 8 (+ 8 test inputs), 20 GD steps, erf, η₀ = 0.05
    python benchmarks/depth_nfd.py --seeds 16      # more network seeds for the seed-to-seed spread
    python benchmarks/depth_nfd.py --no-control-variate   # the plain particle estimator

Both on the same teacher task (``teacher_task(PRNGKey(0), P=8, P_test=8, D=16)``):

- the NFD (``solve_nfd``: ``--depth`` L depth steps Richardson-extrapolated from L/2 and L, M particles
  per replica, R replicas, with the tangent-kernel control variate unless ``--no-control-variate``),
  timed warm as the median of ``--repeats`` solves with different seeds (the first call's compilation is
  timed apart); its accuracy is the Monte-Carlo s.e. of the final train loss over the replicas, pooled
  over the repeats (the per-replica spread σ_rep, s.e. = σ_rep/√R);
- the depth-muP ResNet at N = 512, L = 64 (``fltheory.depth.train``, float32, the package's trainer),
  median warm time per seed, seed-to-seed spread σ of the final train loss over ``--seeds`` seeds.

"Same accuracy": the ensemble needs S = ⌈(σ / s.e._NFD)²⌉ seeds for its mean to have the NFD's s.e.
(this ignores the network's own O(1/N + 1/L) bias, which no number of seeds removes: printed too, in
units of the combined s.e.). Printed: times (wall and process CPU: on a shared machine the CPU time is
the fairer measure, both sides run single-threaded), S, and the ratios t_ensemble / t_NFD (the issue's
target: ≥ 10), warm and with each side's compilation counted once. Run with OPENBLAS_NUM_THREADS=1 and
XLA's single-thread flags on a shared machine.

Which number meets the target: the *warm* ratio is the like-for-like cost of the two estimators at equal
accuracy (each side's compilation is a fixed cost per shape, independent of the accuracy asked, shared by
every later solve or seed at that shape: a sweep over tasks or step sizes pays it once). The
compilation-inclusive ratio is printed too: it is the cost of a single cold solve, and it misses the target.

Robustness: S rests on two variance estimates, σ² from ``--seeds`` networks and σ_rep² from
``repeats × replicas`` NFD replicas, so the ratio carries their sampling error. Its 90 % interval follows
from (σ̂²/σ²)/(σ̂_rep²/σ_rep²) ~ F(seeds − 1, repeats·(replicas − 1)) and is printed beside each ratio.
"""
from __future__ import annotations

import argparse
import math
import time


def _timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=24, help="network seeds for the spread σ (default 24)")
    ap.add_argument("--particles", type=int, default=1024, help="NFD particles per replica (default 1024)")
    ap.add_argument("--replicas", type=int, default=8, help="NFD replicas (default 8; their spread is the s.e.)")
    ap.add_argument("--depth", type=int, default=8, help="NFD depth steps L (extrapolated from L/2, L; default 8)")
    ap.add_argument("--repeats", type=int, default=3, help="warm NFD solves for the median time (default 3)")
    ap.add_argument("--no-control-variate", dest="cv", action="store_false",
                    help="plain particle estimator (no tangent-kernel control variate)")
    args = ap.parse_args()

    import jax
    import numpy as np

    import fltheory  # noqa: F401  (float64 for the NFD)
    from fltheory.depth import ResNetConfig, teacher_task, train
    from fltheory.depth.nfd import solve_nfd

    steps, lr = 20, 0.05
    task = teacher_task(jax.random.PRNGKey(0), P=8, P_test=8, D=16)
    kw = dict(steps=steps, lr=lr, phi="erf", L=args.depth, n_particles=args.particles, replicas=args.replicas,
              control_variate=args.cv)

    _, t_cold, c_cold = _timed(lambda: solve_nfd(task, seed=100, **kw))
    runs = [_timed(lambda s=s: solve_nfd(task, seed=s, **kw)) for s in range(args.repeats)]
    t_nfd = float(np.median([r[1] for r in runs]))
    c_nfd = float(np.median([r[2] for r in runs]))
    nfd = runs[0][0]
    loss_nfd = nfd.train_loss[-1]
    # per-replica spread pooled over the repeats (each repeat: R replicas, its own mean removed)
    dev = np.concatenate([r[0].replicas[:, -1] - r[0].replicas[:, -1].mean() for r in runs])
    sigma_rep = float(np.sqrt(np.sum(dev**2) / (len(dev) - args.repeats)))
    se_nfd = sigma_rep / math.sqrt(args.replicas)
    print(f"NFD: P = 8, {steps} steps, L = {args.depth} (Richardson from {args.depth // 2}), M = {args.particles} x "
          f"R = {args.replicas}, control variate {'on' if args.cv else 'off'}: final train loss {loss_nfd:.5f} "
          f"+- {se_nfd:.5f} (MC s.e.; per-replica sigma {sigma_rep:.5f} pooled over {args.repeats} repeats), "
          f"depth correction {nfd.diagnostics.residual:.2e}; median of {args.repeats}: {t_nfd:.1f} s wall, "
          f"{c_nfd:.1f} s CPU warm (first call {t_cold:.1f} s wall, {c_cold:.1f} s CPU with compilation); "
          f"all repeats: {', '.join(f'{r[0].train_loss[-1]:.5f}' for r in runs)}")

    cfg = ResNetConfig(N=512, L=64, D=16, phi="erf")
    _, tn_cold, cn_cold = _timed(lambda: train(jax.random.PRNGKey(10_000), cfg, task, "reused", steps, lr))
    losses, times, cpus = [], [], []
    for s in range(args.seeds):
        h, t, c = _timed(lambda s=s: train(jax.random.PRNGKey(s), cfg, task, "reused", steps, lr))
        times.append(t)
        cpus.append(c)
        losses.append(float(h["train_loss"][-1]))
    losses = np.array(losses)
    t_net, c_net = float(np.median(times)), float(np.median(cpus))
    sigma = float(losses.std(ddof=1))
    mean, se_net = float(losses.mean()), sigma / math.sqrt(args.seeds)
    S = max(1, math.ceil((sigma / se_nfd) ** 2))
    print(f"network N = 512, L = 64: median {t_net:.2f} s wall, {c_net:.2f} s CPU per seed (warm; first call "
          f"{tn_cold:.1f} s wall with compilation), final train loss over {args.seeds} seeds {mean:.5f} +- "
          f"{se_net:.5f} (seed-to-seed sigma {sigma:.5f}); bias against the NFD "
          f"{(mean - loss_nfd) / math.hypot(se_net, se_nfd):+.1f} combined s.e.")
    print(f"same accuracy as the NFD: S = {S} seeds -> {S * t_net:.1f} s wall, {S * c_net:.1f} s CPU")
    # 90 % interval of the true S (and so of each ratio, which is linear in S up to the ceiling and the
    # compilation offset): S_true = S_est · F with F ~ 1/F(df_net, df_nfd) quantiles
    from scipy.stats import f as fdist

    df_net, df_nfd = args.seeds - 1, len(dev) - args.repeats
    lo_f, hi_f = 1.0 / fdist.ppf(0.95, df_net, df_nfd), 1.0 / fdist.ppf(0.05, df_net, df_nfd)
    S_lo, S_hi = max(1.0, S * lo_f), S * hi_f

    def rng(fn):
        return f"{fn(S):.1f} (90% interval {fn(S_lo):.1f}-{fn(S_hi):.1f})"

    print(f"ratio t_ensemble / t_NFD (target >= 10), S from sigma^2 ({df_net} d.o.f.) and sigma_rep^2 ({df_nfd} d.o.f.):")
    print(f"  warm, CPU {rng(lambda s: s * c_net / c_nfd)}; wall {rng(lambda s: s * t_net / t_nfd)}")
    print(f"  compilation counted once on each side, CPU {rng(lambda s: (cn_cold + (s - 1) * c_net) / c_cold)}; "
          f"wall {rng(lambda s: (tn_cold + (s - 1) * t_net) / t_cold)}")
    print(f"  NFD compilation (first call minus a warm solve): {c_cold - c_nfd:.1f} s CPU, {t_cold - t_nfd:.1f} s wall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
