"""``fltheory lowrank``: the readout option, the new tasks (decision, teacher, fresh-batch flip-flop),
the memory and twins experiments — each bad value one ``error: <param>: …`` line with exit 2 and
nothing created; each good run writes its dataset and figure and prints their paths (issue #16)."""
from __future__ import annotations

import pytest
import xarray as xr
from typer.testing import CliRunner

from fltheory.cli import app

runner = CliRunner()

BAD = [
    (["lowrank", "--readout", "previous"], "readout"),
    (["lowrank", "--task", "memory", "--readout", "x"], "readout"),
    (["lowrank", "--task", "impulse", "--fresh-batches"], "fresh_batches"),
    (["lowrank", "--task", "impulse", "--noise", "0.1"], "noise"),
    (["lowrank", "--task", "decision", "--noise", "-1"], "noise"),
    (["lowrank", "--task", "twins", "--twin-tasks", "flipflop,foo"], "twin_tasks"),
    (["lowrank", "--task", "twins", "--twin-tasks", ","], "twin_tasks"),
    (["lowrank", "--task", "memory", "--phi", "erf"], "phi"),
    (["lowrank", "--task", "memory", "--rank", "2"], "rank"),
    (["lowrank", "--task", "memory-map", "--phi", "erf"], "phi"),
    (["lowrank", "--task", "memory-map", "--noise", "0.1"], "noise"),
    (["lowrank", "--task", "teacher", "--phi", "softplusx"], "phi"),
    (["lowrank", "--task", "decision", "--N", "3"], "N"),
    (["lowrank", "--task", "twins", "--eta", "0"], "eta"),
    (["lowrank", "--epochs", "0"], "epochs"),
    (["lowrank", "--adam-lr", "-1"], "adam_lr"),
    (["lowrank", "--task", "optimizers", "--phi", "erf"], "phi"),
    (["lowrank", "--task", "optimizers", "--adam-lr", "0"], "adam_lr"),
    (["lowrank", "--task", "optimizers", "--gd-etas", "1e-3,x"], "gd_etas"),
    (["lowrank", "--task", "optimizers", "--gd-etas", "1e-3,-2"], "gd_etas"),
    (["lowrank", "--rank", "3"], "rank"),
    (["lowrank", "--task", "oscillation", "--rank", "0"], "rank"),
    (["lowrank", "--method", "euler"], "method"),
    (["lowrank", "--task", "bogus"], "task"),
]


@pytest.mark.parametrize("args,param", BAD, ids=[" ".join(a[1:]) for a, _ in BAD])
def test_bad_lowrank_input_is_one_line_exit_2(args, param, in_tmp_cwd):
    res = runner.invoke(app, args)
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2, (res.exit_code, res.output)
    assert len(lines) == 1 and lines[0].startswith(f"error: {param}: "), res.output
    assert list(in_tmp_cwd.iterdir()) == [], "a rejected command must not create its output folder"


def _written(res, out):
    assert res.exit_code == 0, res.output
    paths = [ln.split("wrote ", 1)[1].strip() for ln in res.output.splitlines() if ln.startswith("wrote ")]
    assert paths and all(p.startswith(str(out)) for p in paths), res.output
    return paths


def test_teacher_task_with_current_readout_writes_and_prints(tmp_path):
    out = tmp_path / "o"
    res = runner.invoke(app, ["lowrank", "--task", "teacher", "--phi", "linear", "--N", "40", "--epochs", "5",
                              "--readout", "current", "--noise", "0.2", "--adam-lr", "0", "--method", "gd",
                              "--out", str(out)])
    paths = _written(res, out)
    assert sorted(p.rsplit("/", 1)[1] for p in paths) == ["lowrank_teacher_current.nc",
                                                           "lowrank_teacher_current.png"]
    ds = xr.load_dataset(out / "lowrank_teacher_current.nc", engine="h5netcdf")
    assert ds.attrs["readout"] == "current" and ds.attrs["N"] == 40 and ds.sizes["epoch"] == 6
    assert "noise=0.2" in ds.attrs["task"]
    # linear φ with the exact overlap map: the theory is the network (round-off)
    assert abs(ds["sigma_theory"] - ds["sigma_net"]).max() < 1e-9


@pytest.mark.slow  # 20–25 s: two more runs (compilation)
def test_fresh_batch_flipflop_and_decision(tmp_path):
    out = tmp_path / "o"
    res = runner.invoke(app, ["lowrank", "--task", "flipflop", "--fresh-batches", "--phi", "linear", "--N", "40",
                              "--epochs", "3", "--adam-lr", "0", "--method", "gd", "--out", str(out)])
    _written(res, out)
    ds = xr.load_dataset(out / "lowrank_flipflop.nc", engine="h5netcdf")
    assert ds.attrs["fresh_batches"] == 1 and ds.attrs["readout"] == "next"
    res = runner.invoke(app, ["lowrank", "--task", "decision", "--N", "40", "--epochs", "3", "--adam-lr", "0",
                              "--noise", "0", "--method", "gd", "--out", str(out)])
    _written(res, out)
    ds = xr.load_dataset(out / "lowrank_decision.nc", engine="h5netcdf")
    assert ds.attrs["phi"] == "erf_unit" and "decision(noise=0)" == ds.attrs["task"]


@pytest.mark.slow  # 20–25 s: two more runs (compilation)
def test_twins_and_memory_write_and_print(tmp_path):
    out = tmp_path / "o"
    res = runner.invoke(app, ["lowrank", "--task", "twins", "--phi", "linear", "--N", "40", "--epochs", "4",
                              "--twin-tasks", "impulse", "--method", "gd", "--out", str(out)])
    _written(res, out)
    ds = xr.load_dataset(out / "lowrank_twins.nc", engine="h5netcdf")
    assert list(ds["twin"].values) == ["a", "b"] and ds.sizes["task"] == 1 and ds.sizes["epoch"] == 5
    res = runner.invoke(app, ["lowrank", "--task", "memory", "--N", "40", "--n-networks", "5", "--epochs", "6",
                              "--readout", "current", "--out", str(out)])
    _written(res, out)
    ds = xr.load_dataset(out / "lowrank_memory_current.nc", engine="h5netcdf")
    assert ds.attrs["readout"] == "current" and ds.attrs["phase_epochs"] == 6 and ds.sizes["network"] == 10
    res = runner.invoke(app, ["lowrank", "--task", "optimizers", "--N", "40", "--epochs", "5", "--gd-etas",
                              "0.01,0.02", "--out", str(out)])
    _written(res, out)
    ds = xr.load_dataset(out / "lowrank_optimizers.nc", engine="h5netcdf")
    assert ds.sizes["optimizer"] == 4 and ds.sizes["epoch"] == 6
