"""Sweep point functions wrapping the low-rank (#6) and depth (#7) experiments.

Each returns theory and simulation observables of one grid point as floats, so a spec can draw
theory lines against simulation markers (docs/experiments.md). Their declared outputs and
parameter checks are in :mod:`fltheory.sweep.declarations`.
"""
from __future__ import annotations

from .declarations import check_depth_gap, check_lowrank


def lowrank_point(*, task: str = "impulse", N: int = 500, epochs: int = 200, eta: float = 5e-3,
                  phi: str = "linear", rank: int = 1, seed: int = 0) -> dict:
    """Full-network GD vs the overlap ODE vs naive visible-only descent (issue #6)."""
    from ..lowrank.compare import compare, overlap_errors

    check_lowrank(task=task, N=N, epochs=epochs, eta=eta, phi=phi, rank=rank)
    ds = compare(task, rank=rank, phi=phi, N=N, eta=eta, epochs=epochs, seed=seed, adam_lr=None)
    return {
        "ode_overlap_error": overlap_errors(ds, "theory")["max"],
        "naive_overlap_error": overlap_errors(ds, "naive")["max"],
        "loss_net": float(ds["loss_net"].values[-1]),
        "loss_ode": float(ds["loss_theory"].values[-1]),
        "loss_naive": float(ds["loss_naive"].values[-1]),
    }


def depth_gap_point(*, arch: str = "depth_mup", L: int = 4, N: int = 128, steps: int = 20,
                    lr: float = 0.05, n_seeds: int = 2, seed: int = 0) -> dict:
    """Train-loss gap between decoupled and reused backward weights at depth L (issue #7)."""
    from ..depth.experiments import gap_experiment

    check_depth_gap(arch=arch, L=L, N=N, steps=steps, lr=lr, n_seeds=n_seeds)
    ds = gap_experiment(archs=(arch,), Ls=(L,), N=N, n_seeds=n_seeds, steps=steps, lr=lr, seed=seed)
    last = dict(arch=arch, L=L, step=steps)
    return {
        "gap": float(ds["train_gap"].sel(**last)),
        "gap_se": float(ds["train_gap_se"].sel(**last)),
        "theory_gap": float(ds["theory_train_gap"].sel(**last)),
    }
