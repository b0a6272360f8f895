"""Langevin sampler throughput against a plain float32 matmul of the same shapes (issue #2).

Prints, measured in one run, for the RNN at N ∈ {256, 512, 1024}: Langevin steps per second, the
sampler's FLOP rate, the FLOP rate of a chain of plain [P, N] @ [N, N] float32 matmuls, and their ratio.

FLOPs per step are counted analytically: the forward pass does (T−1) recurrent matmuls of
2·P·N² flops plus input and readout products; the backward pass costs twice the forward pass.
Target: ratio ≥ 0.5 at N ≥ 512. The last column is the cost of one Metropolis-adjusted step (MALA,
the exact referee of issue #13: two energy+gradient evaluations and an accept/reject) relative to one
unadjusted step, measured the same way. Usage: python benchmarks/sampler_flops.py [--P 64 --T 8 --steps 200]
"""
from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

import fltheory  # noqa: F401
from fltheory.models import RecurrentNet
from fltheory.sampling import langevin, mala, network_energy
from fltheory.tasks import sequential_task


def timed(fn, *args, repeats=3):
    jax.block_until_ready(fn(*args))  # compile + warm-up
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--P", type=int, default=64)
    ap.add_argument("--T", type=int, default=8)
    ap.add_argument("--D", type=int, default=8)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--widths", type=int, nargs="+", default=[256, 512, 1024])
    args = ap.parse_args()
    P, T, D, n = args.P, args.T, args.D, args.steps
    task = sequential_task(teacher="lds", P=P, P_test=1, T=T, D=D, mask="all", seed=0)
    print(f"RNN Langevin sampler, P={P}, T={T}, D={D}, float32, {n} steps per timing, "
          f"devices={jax.devices()}")
    print(f"{'N':>6} {'steps/s':>10} {'sampler GFLOP/s':>16} {'matmul GFLOP/s':>15} {'ratio':>7} "
          f"{'MALA/ULA time':>14}")
    for N in args.widths:
        net = RecurrentNet(N=N, D=D, T=T, phi="tanh")
        energy = network_energy(net, task.X, task.Y, task.M, beta=N / 1.0)
        init, step = langevin(energy, 1e-3)
        state = init(net.init(jax.random.PRNGKey(0)), jax.random.PRNGKey(1))
        run = jax.jit(lambda s: jax.lax.fori_loop(0, n, lambda _, x: step(x), s))
        t_s = timed(run, state)
        m_init, m_step = mala(energy, 1e-3)
        m_state = m_init(net.init(jax.random.PRNGKey(0)), jax.random.PRNGKey(1))
        m_run = jax.jit(lambda s: jax.lax.fori_loop(0, n, lambda _, x: m_step(x), s))
        t_mala = timed(m_run, m_state)
        fwd = 2 * P * N * N * (T - 1) + 2 * P * D * N * T + 2 * P * N * T
        flops = 3 * fwd * n
        # plain matmuls of the same shapes, the same count, chained so none is skipped
        W = jax.random.normal(jax.random.PRNGKey(2), (N, N), jnp.float32) / jnp.float32(np.sqrt(N))
        H = jax.random.normal(jax.random.PRNGKey(3), (P, N), jnp.float32)
        n_mm = 3 * (T - 1) * n
        mm = jax.jit(lambda h: jax.lax.fori_loop(0, n_mm, lambda _, x: jnp.tanh(x @ W), h))
        t_m = timed(mm, H)
        mm_rate = 2 * P * N * N * n_mm / t_m
        print(f"{N:>6} {n / t_s:>10.1f} {flops / t_s / 1e9:>16.2f} {mm_rate / 1e9:>15.2f} "
              f"{flops / t_s / mm_rate:>7.2f} {t_mala / t_s:>14.2f}")


if __name__ == "__main__":
    main()
