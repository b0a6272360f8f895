"""``fltheory depth {kernel,gap,covariance}``: the experiments of issue #7 (docs/theory/depth.md)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.progress import Progress

depth_app = typer.Typer(help="Depth-muP ResNets: kernel ODE at init, reused vs decoupled backward weights.",
                        no_args_is_help=True)


def _run(command, total, fn, plot, out, **kw):
    from .. import io

    d = io.output_dir(f"depth-{command}", out)
    with Progress() as prog:
        task = prog.add_task(f"depth {command}", total=total)
        ds = fn(progress=lambda: prog.advance(task), **kw)
    io.ensure_dir(d)
    paths = [io.save_dataset(ds, d / f"depth_{command}.nc"), plot(ds, d / f"depth_{command}.png")]
    io.report_written(paths)
    return ds


@depth_app.command("kernel")
def kernel(phi: str = typer.Option("relu", help="activation: linear | tanh | erf | relu"),
           a: float = typer.Option(1.0, help="branch multiplier a (depth-muP: h ← h + (a/√L)·W φ(h)/√N; "
                                             "docs/theory/depth.md)"),
           n: List[int] = typer.Option([64, 128, 256, 512], "--n", help="widths N (repeat the option)"),
           l: List[int] = typer.Option([1, 2, 4, 8, 16, 32], "--l", help="depths L (repeat the option)"),
           seeds: int = typer.Option(32, help="networks per (N, L) (≥ 2, for the error bars)"),
           l_for_n: int = typer.Option(8, help="depth L of the sweep over N"),
           n_for_l: int = typer.Option(256, help="width N of the sweep over L"),
           seed: int = typer.Option(0, help="seed of the inputs and the networks"),
           out: Optional[Path] = typer.Option(None, "--out",
                                              help="output directory (default ./fltheory-out/depth-kernel)")):
    """Experiment 1: empirical kernel vs depth ODE; error against N and L (writes .nc and .png)."""
    from ..depth.experiments import kernel_experiment
    from ..depth.plots import plot_kernel

    ds = _run("kernel", len(n) + len(l), kernel_experiment, plot_kernel, out, phi=phi, a=a, Ns=n, Ls=l,
              n_seeds=seeds, L_for_N=l_for_n, N_for_L=n_for_l, seed=seed)
    typer.echo(f"slope(disc err vs L) = {ds.slope_disc_vs_L:.3f}, slope(MSE vs N) = {ds.slope_mse_vs_N:.3f}")


@depth_app.command("gap")
def gap(arch: List[str] = typer.Option(["dnn", "mup_resnet", "depth_mup"], "--arch",
                                       help="architectures: dnn | mup_resnet | depth_mup (repeat the option)"),
        l: List[int] = typer.Option([2, 4, 8, 16, 32], "--l", help="depths L (repeat the option)"),
        n: int = typer.Option(128, help="width N"),
        seeds: int = typer.Option(4, help="networks per (arch, L) (≥ 2)"),
        steps: int = typer.Option(40, help="full-batch gradient-descent steps"),
        lr: float = typer.Option(0.05, help="learning rate (muP-scaled)"),
        phi: str = typer.Option("erf", help="activation: linear | tanh | erf | relu"),
        seed: int = typer.Option(0, help="seed of the data and the networks"),
        out: Optional[Path] = typer.Option(None, "--out",
                                           help="output directory (default ./fltheory-out/depth-gap)")):
    """Experiment 2: loss with reused vs decoupled backward weights against depth (writes .nc and .png)."""
    from ..depth.experiments import gap_experiment
    from ..depth.plots import plot_gap

    ds = _run("gap", len(arch) * len(l) * seeds, gap_experiment, plot_gap, out, archs=arch, Ls=l, N=n,
              n_seeds=seeds, steps=steps, lr=lr, phi=phi, seed=seed)
    for a in ds.arch.values:
        g = ds.train_gap.sel(arch=a).isel(step=-1).values
        typer.echo(f"{a}: train gap at last step vs L = " + ", ".join(f"{x:.4f}" for x in g))


@depth_app.command("covariance")
def covariance(n: int = typer.Option(128, help="width N"), l: int = typer.Option(16, help="depth L"),
               steps: int = typer.Option(40, help="full-batch gradient-descent steps"),
               lr: float = typer.Option(0.05, help="learning rate (muP-scaled)"),
               phi: str = typer.Option("erf", help="activation: linear | tanh | erf | relu"),
               arch: str = typer.Option("depth_mup", help="dnn | mup_resnet | depth_mup"),
               seeds: int = typer.Option(3, help="networks"),
               seed: int = typer.Option(0, help="seed of the data and the networks"),
               out: Optional[Path] = typer.Option(None, "--out",
                                                  help="output directory (default ./fltheory-out/depth-covariance)")):
    """Experiment 3: smallest eigenvalue of the feature–gradient covariance during training."""
    from ..depth.experiments import covariance_experiment
    from ..depth.plots import plot_covariance

    _run("covariance", seeds, covariance_experiment, plot_covariance, out, N=n, L=l, steps=steps, lr=lr,
         phi=phi, arch=arch, n_seeds=seeds, seed=seed)


def register(app: typer.Typer) -> None:
    app.add_typer(depth_app, name="depth")
