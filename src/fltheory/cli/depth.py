"""``fltheory depth {kernel,gap,gap-scaling,covariance,fig2,nfd-convergence}``: the experiments of issues #7 and #15
(docs/theory/depth.md)."""
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


@depth_app.command("gap-scaling")
def gap_scaling(arch: List[str] = typer.Option(["dnn", "mup_resnet", "depth_mup"], "--arch",
                                               help="architectures: dnn | mup_resnet | depth_mup (repeat the option)"),
                n: List[int] = typer.Option([64, 128, 256, 512], "--n", help="widths N of the sweep over N (repeat)"),
                l_for_n: List[int] = typer.Option([4, 16], "--l-for-n", help="depths L of the sweep over N (repeat)"),
                l: List[int] = typer.Option([2, 4, 8, 16, 32], "--l", help="depths L of the sweep over L (repeat)"),
                n_for_l: int = typer.Option(128, help="width N of the sweep over L"),
                seeds: int = typer.Option(4, help="networks per point (≥ 2)"),
                steps: int = typer.Option(40, help="full-batch gradient-descent steps (≥ 2)"),
                lr: float = typer.Option(0.05, help="learning rate (muP-scaled)"),
                phi: str = typer.Option("erf", help="activation: linear | tanh | erf | relu"),
                seed: int = typer.Option(0, help="seed of the data and the networks"),
                out: Optional[Path] = typer.Option(None, "--out",
                                                   help="output directory (default ./fltheory-out/depth-gap-scaling)")):
    """Issue #15 part 3: the reused-vs-decoupled gap in loss and features against N, L and step."""
    from ..depth.experiments import gap_scaling_experiment
    from ..depth.plots import plot_gap_scaling

    total = len(arch) * (len(n) * len(l_for_n) + len(l))
    ds = _run("gap-scaling", total, gap_scaling_experiment, plot_gap_scaling, out, archs=arch, Ns=n,
              L_for_N=l_for_n, Ls=l, N_for_L=n_for_l, n_seeds=seeds, steps=steps, lr=lr, phi=phi, seed=seed)
    for a in ds.arch.values:
        for Lf in ds.L_for_N.values:
            f = ds.sel(arch=a, L_for_N=Lf).isel(step=-1)
            typer.echo(f"{a}, L={Lf}: slope(train gap vs N) = {float(f.slopeN_train):.2f} +- "
                       f"{float(f.slopeN_train_err):.2f}, g_inf = {float(f.ginfN_train):.4f} +- "
                       f"{float(f.ginfN_train_err):.4f}, slope(feature gap vs N) = {float(f.slopeN_feature):.2f} +- "
                       f"{float(f.slopeN_feature_err):.2f}")


@depth_app.command("fig2")
def fig2(profile: str = typer.Option("small", help="sizes: small (seconds) | medium | full (the issue's: "
                                                  "N=128, L=2..16, 5 seeds, 400 steps; tens of minutes)"),
         arch: Optional[List[str]] = typer.Option(None, "--arch",
                                                  help="architectures: dnn | mup_resnet | depth_mup (repeat; "
                                                       "default: the profile's)"),
         l: Optional[List[int]] = typer.Option(None, "--l", help="depths L (repeat; default: the profile's)"),
         n: Optional[int] = typer.Option(None, help="width N (default: the profile's)"),
         seeds: Optional[int] = typer.Option(None, help="networks per (arch, L) (≥ 2; default: the profile's)"),
         steps: Optional[int] = typer.Option(None, help="full-batch GD steps (default: the profile's)"),
         p: Optional[int] = typer.Option(None, "--p", help="training images (default: the profile's)"),
         p_test: Optional[int] = typer.Option(None, "--p-test", help="test images (default: the profile's)"),
         lr: float = typer.Option(0.05, help="learning rate η₀ (muP-scaled)"),
         phi: str = typer.Option("erf", help="activation: linear | tanh | erf | relu"),
         split_seed: int = typer.Option(0, help="seed of the fixed train/test split of the digits"),
         seed: int = typer.Option(0, help="seed of the networks"),
         out: Optional[Path] = typer.Option(None, "--out",
                                            help="output directory (default ./fltheory-out/depth-fig2)")):
    """Issue #15 part 4: the seed paper's Fig. 2 on sklearn's digits (writes .nc and .png)."""
    from ..depth.fig2 import fig2_experiment, fig2_summary, resolve_profile
    from ..depth.plots import plot_fig2

    sizes = resolve_profile(profile, archs=arch or None, Ls=l or None)
    ds = _run("fig2", len(sizes["archs"]) * len(sizes["Ls"]), fig2_experiment, plot_fig2, out, profile=profile,
              archs=arch or None, Ls=l or None, N=n, n_seeds=seeds, steps=steps, P=p, P_test=p_test, lr=lr,
              phi=phi, split_seed=split_seed, seed=seed)
    for line in fig2_summary(ds):
        typer.echo(line)


@depth_app.command("nfd-convergence")
def nfd_convergence(n: List[int] = typer.Option([64, 128, 256, 512, 1024], "--n", help="widths N (repeat the option)"),
                    l: List[int] = typer.Option([2, 4, 8, 16, 32, 64], "--l", help="depths L (repeat the option)"),
                    l_for_n: int = typer.Option(8, help="depth L of the sweep over N"),
                    n_for_l: int = typer.Option(1024, help="width N of the networks in the sweep over L"),
                    seeds: int = typer.Option(8, help="networks per point (≥ 2)"),
                    steps: int = typer.Option(10, help="full-batch GD steps (≤ 50)"),
                    lr: float = typer.Option(0.05, help="learning rate η₀ (muP-scaled)"),
                    phi: str = typer.Option("erf", help="activation: linear | tanh | erf | relu"),
                    particles: int = typer.Option(4096, help="NFD particles per replica (even)"),
                    replicas: int = typer.Option(4, help="NFD replicas (their spread is the s.e.)"),
                    l_nfd: int = typer.Option(32, help="depth of the NFD reference (Richardson from l_nfd/2)"),
                    seed: int = typer.Option(0, help="seed of the data, the networks and the NFD"),
                    out: Optional[Path] = typer.Option(None, "--out",
                                                       help="output directory (default ./fltheory-out/depth-nfd-convergence)")):
    """Issue #15 part 2: finite depth-muP ResNet → NFD, errors against N and L with fitted slopes."""
    from ..depth.nfd_convergence import nfd_convergence_experiment
    from ..depth.plots import plot_nfd_convergence

    ds = _run("nfd-convergence", len(n) + len(l), nfd_convergence_experiment, plot_nfd_convergence, out, Ns=n, Ls=l,
              L_for_N=l_for_n, N_for_L=n_for_l, n_seeds=seeds, phi=phi, lr=lr, steps=steps, n_particles=particles,
              replicas=replicas, L_nfd=l_nfd, seed=seed)
    for suf, lab in (("", "predictor"), ("_loss", "loss trajectory"), ("_kernel", "final-layer kernel")):
        typer.echo(f"{lab}: slope vs N = {ds.attrs['slope_N' + suf]:.2f} +- {ds.attrs['slope_N' + suf + '_se']:.2f}, "
                   f"deviation slope vs L (N = inf schemes) = {ds.attrs['slope_L' + suf]:.2f} +- "
                   f"{ds.attrs['slope_L' + suf + '_se']:.2f} (target -1 +- 0.3)")


def register(app: typer.Typer) -> None:
    app.add_typer(depth_app, name="depth")
