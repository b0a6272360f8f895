"""The commands: `fltheory reproduce` on every packaged spec (small default size), `sweep`, `plot`."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from fltheory.cli import app  # (the real root: its one-line error handling is under test)
from fltheory.sweep import load_spec, packaged_specs

runner = CliRunner()

SPEC_YAML = """
name: cli-noisy
function: sweep_fixtures:noisy_point
axes:
  a: [0.5, 1.0, 2.0]
seeds: 3
figure: {x: a, theory: [y], simulation: [y]}
"""


def test_packaged_specs_exist():
    assert "nngp-depth" in packaged_specs()


@pytest.mark.parametrize("name", sorted(packaged_specs()))
def test_reproduce_small_default(name, tmp_path):
    out = tmp_path / name
    # serial executor: the spawn pool and Dask are tested in test_sweep_executors/test_sweep_resume; here
    # each packaged spec only has to run end to end, and in-process runs share JAX's compile cache
    res = runner.invoke(app, ["reproduce", name, "--out", str(out), "--executor", "serial", "--no-progress"])
    assert res.exit_code == 0, res.output
    spec = load_spec(packaged_specs()[name].read_text())
    ds = xr.load_dataset(out / "results.nc", engine="h5netcdf")
    assert {d: ds.sizes[d] for d in spec.dims()} == spec.dims()
    assert not ds["failed"].any()
    # every observable is a declared output of the function, labelled in the file
    assert set(ds.data_vars) - {"failed"} <= set(spec.outputs), sorted(set(ds.data_vars) - set(spec.outputs))
    assert all(ds[v].attrs["long_name"] == spec.outputs[v] for v in ds.data_vars if v != "failed")
    for var in ds.data_vars:
        # NaN marks "not applicable" (e.g. the DNN has no shared W, so no eigenvalue); inf never
        vals = np.asarray(ds[var].values, dtype=float)
        assert not np.isinf(vals).any() and np.isfinite(vals).any(), var
    for suffix in ("png", "pdf"):
        assert (out / f"figure.{suffix}").stat().st_size > 1000
    assert f"wrote {out / 'results.nc'}" in res.output.replace("\n", "")


def test_reproduce_lists_and_rejects_unknown(tmp_path):
    res = runner.invoke(app, ["reproduce"])
    assert res.exit_code == 0 and "nngp-depth" in res.output
    res = runner.invoke(app, ["reproduce", "no-such-figure", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "name: no packaged spec 'no-such-figure'" in res.output


def test_sweep_then_plot(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC_YAML)
    out = tmp_path / "out"
    res = runner.invoke(app, ["sweep", str(spec), "--out", str(out), "--executor", "serial", "--no-plot"])
    assert res.exit_code == 0, res.output
    assert "3 points" not in res.output and "9 points: 0 reused, 9 computed, 0 failed" in res.output
    assert not (out / "figure.png").exists()
    res = runner.invoke(app, ["plot", str(spec), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "figure.png").exists() and (out / "figure.pdf").exists()
    # resume: nothing to do
    res = runner.invoke(app, ["sweep", str(spec), "--out", str(out), "--executor", "serial"])
    assert res.exit_code == 0 and "9 points: 9 reused, 0 computed" in res.output


def test_sweep_reports_spec_errors_and_failures(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SPEC_YAML.replace("[0.5, 1.0, 2.0]", "[]"))
    res = runner.invoke(app, ["sweep", str(bad), "--out", str(tmp_path / "o1")])
    assert res.exit_code == 2 and "axes.a: axis is empty" in res.output
    assert not (tmp_path / "o1").exists()
    failing = tmp_path / "failing.yaml"
    failing.write_text("name: f\nfunction: sweep_fixtures:failing_point\naxes: {a: [1.0, -1.0]}\n")
    res = runner.invoke(app, ["sweep", str(failing), "--out", str(tmp_path / "o2"), "--executor", "serial"])
    assert res.exit_code == 1, res.output
    assert "1 failed" in res.output and "negative a=-1.0" in res.output and "failed point" in res.output
    assert (tmp_path / "o2" / "results.nc").exists()


def test_sweep_and_reproduce_reject_invalid_specs_before_any_work(tmp_path):
    from fltheory.sweep import packaged_specs

    text = packaged_specs()["nngp-depth"].read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("g2: [0.5, 2.0, 8.0]", "g2: [-1.0]"))
    res = runner.invoke(app, ["sweep", str(bad), "--out", str(tmp_path / "o1")])
    assert res.exit_code == 2 and "axes.g2[0]: invalid value for parameter 'g2'" in res.output, res.output
    assert not (tmp_path / "o1").exists()
    typo = tmp_path / "typo.yaml"
    typo.write_text(text.replace("theory: [gp_test_error]", "theory: [gp_tset_error]"))
    res = runner.invoke(app, ["sweep", str(typo), "--out", str(tmp_path / "o2")])
    assert res.exit_code == 2 and "figure.theory[0]: 'gp_tset_error' is not an output" in res.output, res.output
    assert not (tmp_path / "o2").exists()
    res = runner.invoke(app, ["reproduce", "nngp-depth", "--profile", "huge", "--out", str(tmp_path / "o3")])
    assert res.exit_code == 2 and "profile: unknown profile 'huge'" in res.output, res.output
    assert not (tmp_path / "o3").exists()
