"""Overlap-ODE wall time against the full low-rank RNN at N = 600 reaching the same observables (issue #16).

    python benchmarks/lowrank_ode.py                  # linear impulse, N = 600, 2000 epochs
    python benchmarks/lowrank_ode.py --task flipflop  # erf flip-flop, 300 epochs (--task all: both)
    python benchmarks/lowrank_ode.py --quick          # 200 epochs (a smoke run)

For each task, from the same initial vectors (``init_vectors(PRNGKey(seed), N)``):

- the full network: ``train_network`` (full-batch GD, vector step N·η, jitted ``lax.scan`` over epochs);
- the overlap map: ``overlap_dynamics(method="gd")``, the exact overlap image of the same GD (for linear φ
  it *is* the network's trajectory, to round-off; for erf, up to the Gaussian closure, docs/theory/lowrank.md §4);
- the overlap ODE: ``overlap_dynamics(method="flow")`` (diffrax Tsit5, ``--rtol``), the gradient-flow limit,
  which differs from GD at first order in η (§4).

- ``--networks M`` (linear tasks, default 40): the overlap map of M networks at once (``memory.run_schedule``,
  vmapped, as the memory experiment uses it) against M sequential trainings of the network (M × t_net).

The network is timed compiled (second call) and with compilation; the overlap runs with compilation (each
call compiles its own scan or solve, so that is what a user pays). "Same observables": the loss curve and
the overlaps at every epoch; printed are max |L − L_net|, max |σ − σ_net| and the ratio t / t_net (the
issue's target: loss difference ≤ 1e-2 at a ratio ≤ 1/50). The ratio depends on the machine (the network's cost grows like N, the ODE's does not): run on an
otherwise idle machine; OPENBLAS_NUM_THREADS=1 on a shared one.
"""
from __future__ import annotations

import argparse
import sys
import time

TASKS = {
    # name: (task, phi, eta, default epochs)
    "impulse": ("impulse", "linear", 5e-3, 2000),
    "flipflop": ("flipflop", "erf", 5e-2, 300),
}


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run_task(name: str, N: int, epochs: int | None, seed: int, rtol: float, networks: int = 1) -> dict:
    import jax
    import numpy as np

    import fltheory  # noqa: F401  (float64)
    from fltheory.lowrank import Layout, get_lowrank_activation, init_vectors, overlap_dynamics, train_network
    from fltheory.lowrank.compare import lowrank_task

    task_name, phi, eta, default_epochs = TASKS[name]
    epochs = default_epochs if epochs is None else epochs
    task = lowrank_task(task_name)
    act = get_lowrank_activation(phi)
    v0 = init_vectors(jax.random.PRNGKey(seed), N, Layout(1))
    S0 = np.asarray(v0.gram())

    net = lambda: train_network(v0, task, act, epochs, "gd", eta=eta, chunk=epochs)  # noqa: E731
    ode = {m: (lambda m=m: overlap_dynamics(S0, task, 1, act, eta=eta, epochs=epochs, method=m, rtol=rtol,
                                            atol=1e-3 * rtol)) for m in ("gd", "flow")}
    out = {"task": name, "phi": phi, "N": N, "eta": eta, "epochs": epochs}
    run_net, out["t_net_cold"] = _timed(net)
    run_net, out["t_net"] = _timed(net)  # compiled: the time of training itself
    out["loss_range"] = (float(run_net["loss"].min()), float(run_net["loss"].max()))
    if networks > 1 and phi == "linear":
        # many networks at once: the overlap map vmapped over M initial Gram matrices (memory.run_schedule,
        # one phase on this task), against M sequential trainings of the network (M × t_net)
        from fltheory.lowrank.memory import initial_grams, run_schedule

        S0s = initial_grams(networks, N, seed)
        decay = {"impulse": 0.2}[name]
        kw = dict(eta=eta, dt=task.dt, T=task.n_steps * task.dt)
        _, out["t_batch_cold"] = _timed(lambda: run_schedule(S0s, [(decay, epochs)], **kw))
        rep, out["t_batch"] = _timed(lambda: run_schedule(S0s, [(decay, epochs)], **kw))
        out["networks"] = networks
    for m, fn in ode.items():
        traj, out[f"t_{m}"] = _timed(fn)  # each call compiles its own scan / solve: cold time
        out[f"loss_err_{m}"] = float(np.abs(traj.loss - run_net["loss"]).max())
        out[f"sigma_err_{m}"] = float(np.abs(traj.gram - run_net["gram"]).max())
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", choices=[*TASKS, "all"], default="impulse")
    ap.add_argument("--N", type=int, default=600)
    ap.add_argument("--epochs", type=int, default=None, help="default: 2000 (impulse), 300 (flipflop)")
    ap.add_argument("--quick", action="store_true", help="200 epochs per task")
    ap.add_argument("--rtol", type=float, default=1e-6, help="the flow's relative tolerance (atol = 1e-3 rtol)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--networks", type=int, default=40, help="linear tasks: also time the overlap map vmapped over "
                                                              "this many networks (1: skip)")
    args = ap.parse_args()
    epochs = 200 if args.quick and args.epochs is None else args.epochs
    names = list(TASKS) if args.task == "all" else [args.task]
    for name in names:
        r = run_task(name, args.N, epochs, args.seed, args.rtol, args.networks)
        print(f"{r['task']} (phi={r['phi']}, N={r['N']}, eta={r['eta']}, {r['epochs']} epochs, loss "
              f"{r['loss_range'][0]:.3g}..{r['loss_range'][1]:.3g}): full network {r['t_net']:.2f} s compiled "
              f"({r['t_net_cold']:.2f} s with compilation)")
        for m, what in (("gd", "overlap map (exact image of GD)"), ("flow", f"overlap ODE (flow, rtol {args.rtol:g})")):
            ratio = r[f"t_{m}"] / r["t_net"]
            print(f"  {what}: {r[f't_{m}']:.2f} s with compilation; ratio t/t_net = {ratio:.3f} (1/{1 / ratio:.1f}); "
                  f"max |dL| = {r[f'loss_err_{m}']:.2e}, max |dsigma| = {r[f'sigma_err_{m}']:.2e}"
                  + ("  (loss within 1e-2)" if r[f"loss_err_{m}"] <= 1e-2 else "  (loss differs by more than 1e-2)"))
        if "t_batch" in r:
            M = r["networks"]
            ratio = r["t_batch"] / (M * r["t_net"])
            print(f"  {M} networks: overlap map vmapped {r['t_batch']:.2f} s compiled ({r['t_batch_cold']:.2f} s with "
                  f"compilation) vs {M} × {r['t_net']:.2f} s = {M * r['t_net']:.1f} s for the networks one by one; "
                  f"ratio = {ratio:.4f} (1/{1 / ratio:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
