"""``fltheory depth nfd-convergence`` (issue #15 part 2: finite network → NFD as a figure).

Default suite: the command's wiring (options reach ``nfd_convergence_experiment``, the dataset and the
figure are written under ``--out``, the fitted slopes are printed) with the experiment replaced by a
synthetic dataset of exact power laws, and bad input at the CLI. The real experiment end to end on a
tiny grid is a slow test; the numbers of the full study are in docs/theory/depth.md §8.
"""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from fltheory.cli import app
from fltheory.depth import nfd_convergence as nc


def _synthetic(Ns, Ls, **kw):
    N, L = np.asarray(Ns, float), np.asarray(Ls, float)
    v = {}
    for suf, c in (("", 1.0), ("_loss", 0.1), ("_kernel", 2.0)):
        v[f"err_N{suf}"] = ("N", c / N)
        v[f"err_N{suf}_se"] = ("N", 0.1 * c / N)
        v[f"err_L{suf}"] = ("L", c / L**2)
    v["err_L_se"] = ("L", 0.1 / L**2)
    v["err_L_loss_se"] = ("L", 0.01 / L**2)
    v["err_net_L"] = ("L", np.full(len(L), 1e-3))
    v["err_net_L_se"] = ("L", np.full(len(L), 1e-3))
    attrs = {k: kw[k] for k in ("L_for_N", "N_for_L", "n_seeds", "phi", "lr", "steps", "n_particles",
                                "replicas", "L_nfd")}
    attrs.update(P=4, P_test=4)
    for suf in ("", "_loss", "_kernel"):
        for d in ("N", "L"):
            attrs[f"slope_{d}{suf}"], attrs[f"slope_{d}{suf}_se"] = -1.0, 0.01
    return xr.Dataset(v, coords={"N": list(Ns), "L": list(Ls)}, attrs=attrs)


def test_cli_nfd_convergence_writes_dataset_figure_and_slopes(tmp_path, monkeypatch):
    seen = {}

    def fake(progress=None, **kw):
        seen.update(kw)
        for _ in range(len(kw["Ns"]) + len(kw["Ls"])):
            progress()
        return _synthetic(**kw)

    monkeypatch.setattr(nc, "nfd_convergence_experiment", fake)
    out = tmp_path / "o"
    res = CliRunner().invoke(app, ["depth", "nfd-convergence", "--n", "64", "--n", "256", "--l", "2", "--l", "8",
                                   "--seeds", "3", "--particles", "512", "--l-nfd", "16", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert seen == dict(Ns=[64, 256], Ls=[2, 8], L_for_N=8, N_for_L=1024, n_seeds=3, phi="erf", lr=0.05, steps=10,
                        n_particles=512, replicas=4, L_nfd=16, seed=0)
    for f in ("depth_nfd-convergence.nc", "depth_nfd-convergence.png"):
        assert (out / f).stat().st_size > 0 and str(out / f) in res.output.replace("\n", "")
    assert "final-layer kernel: slope vs N = -1.00 +- 0.01" in res.output
    assert xr.open_dataset(out / "depth_nfd-convergence.nc").err_N_kernel.size == 2


@pytest.mark.parametrize("args,param", [(["--n", "0"], "Ns"), (["--l", "0"], "Ls"), (["--seeds", "1"], "n_seeds"),
                                        (["--lr", "-1"], "lr"), (["--phi", "foo"], "phi")])
def test_cli_nfd_convergence_bad_input_names_the_parameter(args, param, tmp_path):
    res = CliRunner().invoke(app, ["depth", "nfd-convergence", *args, "--out", str(tmp_path)])
    assert res.exit_code != 0
    assert f"{param}:" in res.output, res.output


@pytest.mark.slow
def test_nfd_convergence_tiny_grid_end_to_end(tmp_path):
    # the real experiment on a tiny grid (≈ 30 s CPU): files written, every error finite and positive
    res = CliRunner().invoke(app, ["depth", "nfd-convergence", "--n", "8", "--n", "16", "--l", "2", "--l", "4",
                                   "--l-for-n", "2", "--n-for-l", "8", "--seeds", "2", "--steps", "2",
                                   "--particles", "64", "--replicas", "2", "--l-nfd", "8", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    ds = xr.open_dataset(tmp_path / "depth_nfd-convergence.nc")
    for v in ("err_N", "err_N_loss", "err_N_kernel", "err_L", "err_L_loss", "err_L_kernel"):
        assert np.all(np.isfinite(ds[v])) and np.all(ds[v] > 0), v
