"""``fltheory learning-curve``: issue #5 (two-layer MF theory vs SGLD, docs/theory/two_layer.md)."""
from __future__ import annotations

from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("learning-curve")
    def learning_curve(
        size: str = typer.Option("default", help="preset: small (d=12,N=64), default (d=16,N=128), full (d=35,N=512)"),
        task: str = typer.Option("parity", help="parity | single_index"),
        P: Optional[List[int]] = typer.Option(None, "--P", help="training-set sizes (repeat the option)"),
        seeds: int = typer.Option(1, help="number of seeds (data + chains) per point"),
        methods: str = typer.Option("sgld,nngp,mf,mf_ard", help="comma-separated subset of sgld,nngp,mf,mf_ard,"
                                    "mf_emp,mf_ard_emp (the last two: training-set MF / MF-ARD, issue #14)"),
        d: Optional[int] = typer.Option(None, help="input dimension (overrides the preset)"),
        k: Optional[int] = typer.Option(None, help="parity order / support size of the teacher"),
        N: Optional[int] = typer.Option(None, help="width"),
        kappa2: Optional[float] = typer.Option(None, help="noise variance κ² of the likelihood"),
        a0: Optional[float] = typer.Option(None, help="shape a₀ > 0 of the Gamma hyper-prior of the ARD precisions"),
        b0: Optional[float] = typer.Option(None, help="rate b₀ > 0 of the Gamma hyper-prior of the ARD precisions"),
        readout: Optional[str] = typer.Option(None, help="training-set MF readouts: independent (default, §3b) | "
                                              "joint (§3c); used by mf_emp, mf_ard_emp"),
        sgld_readout: Optional[str] = typer.Option(None, help="SGLD readout update: langevin (default) | gibbs "
                                                   "(exact draw of a given w; needed at N >= 256)"),
        gibbs_every: Optional[int] = typer.Option(None, help="Langevin steps of w between Gibbs draws of a"),
        phase: bool = typer.Option(True, help="also compute the MF P–κ² phase diagram"),
        out: Optional[str] = typer.Option(None, help="output directory (default ./fltheory-out/learning-curve)"),
    ) -> None:
        """Test MSE vs P: SGLD points, NNGP, MF and MF-ARD curves, plus the MF P–κ² phase diagram."""
        from .._validate import choice
        from ..experiments.learning_curve import SIZES, plot_learning_curve, run_learning_curve
        from ..io import ensure_dir, output_dir, report_written, save_dataset

        choice("size", size, list(SIZES))
        folder = output_dir("learning-curve", out)
        # every input (P as `P`, a0/b0, readout, ...) is checked by run_learning_curve before any work
        kw = {name: v for name, v in dict(task=task, d=d, k=k, N=N, kappa2=kappa2, a0=a0, b0=b0,
                                          readout=readout, sgld_readout=sgld_readout,
                                          gibbs_every=gibbs_every).items() if v is not None}
        ds = run_learning_curve(list(P) if P else None, seeds=range(seeds), methods=[m.strip() for m in methods.split(",") if m.strip()],
                                phase_P=None if phase else (), size=size, progress=True, **kw)
        ensure_dir(folder)
        paths = [save_dataset(ds, folder / "learning_curve.nc"),
                 plot_learning_curve(ds, folder / "learning_curve.png")]
        report_written(paths)
