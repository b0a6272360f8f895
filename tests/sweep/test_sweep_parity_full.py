"""`fltheory reproduce parity-full` (issue #14 part 3): the packaged spec loads and validates with the
issue's parameters at every profile, without running the full size; the onset-vs-d analysis of its
results; the `smoke` profile end to end (slow). The default profile runs in
tests/sweep/test_sweep_cli.py::test_reproduce_small_default like every packaged spec."""
from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from fltheory.cli import app
from fltheory.experiments.learning_curve import METHODS, SIZES, onsets_vs_d
from fltheory.sweep import SpecError, load_spec, packaged_specs

ALL = ["sgld", "nngp", "mf", "mf_ard", "mf_emp", "mf_ard_emp"]


def _text():
    return packaged_specs()["parity-full"].read_text()


def test_parity_full_profiles_have_the_issue14_parameters():
    full = load_spec(_text(), profile="full")     # validates every grid point (no computation)
    fx = full.resolved_fixed()
    assert full.name == "parity-full-full" and full.function_path.endswith("learning_curve:learning_curve_point")
    assert (fx["k"], fx["N"], fx["kappa2"], fx["readout"]) == (4, 512, 0.1, "independent")
    coords = full.coords()
    assert coords["d"][1] == [10, 15, 20, 35]
    assert coords["method"][1] == ALL and set(ALL) == set(METHODS)
    Ps = coords["P"][1]
    assert Ps == sorted(Ps) and Ps[0] <= 50 and Ps[-1] >= 3200
    assert full.dims() == {"d": 4, "P": len(Ps), "method": 6, "seed": 1}
    assert full.figure.select == {"d": 35} and full.figure.x == "P" and full.figure.hue == "method"
    assert set(full.figure.theory) == {"m_target", "test_mse"}
    # the full preset the profile builds on is the d = 35, N = 512 one of `fltheory learning-curve --size full`
    assert (SIZES[fx["size"]]["d"], SIZES[fx["size"]]["N"]) == (35, 512)
    # SGLD is stable at N = 512: Langevin readouts would need step_scale·(1 + (N−1)/π) < 2 (the
    # readouts' shared mode; the default 0.05 gives ≈ 8 and diverges, measured at N = 256 and 512),
    # so the profile draws a | w exactly (Gibbs, two_layer.md §6b), at a w step no larger than the
    # default (0.025: no measurable m_S bias at N = 256, §6b), with ≥ 5× the small preset's relaxed
    # Langevin time of w (steps × step_scale)
    assert fx["sgld_readout"] == "gibbs" or fx["step_scale"] * (1 + (fx["N"] - 1) / math.pi) < 1.0
    assert fx["step_scale"] <= 0.025
    assert fx["burn_in"] % fx["gibbs_every"] == 0 and fx["thin"] % fx["gibbs_every"] == 0
    assert fx["burn_in"] * fx["step_scale"] >= 5 * SIZES["small"]["burn_in"] * 0.05

    joint = load_spec(_text(), profile="full-joint")
    assert joint.resolved_fixed()["readout"] == "joint" and joint.coords()["method"][1] == ["mf_emp", "mf_ard_emp"]
    assert joint.coords()["d"][1] == coords["d"][1] and joint.coords()["P"][1] == Ps[:len(joint.coords()["P"][1])]
    assert joint.resolved_fixed()["N"] == 512
    smoke = load_spec(_text(), profile="smoke")
    assert smoke.coords()["method"][1] == ALL and len(smoke.coords()["d"][1]) == 2
    default = load_spec(_text())
    assert len(default.points()) <= 6          # the CI size (test_reproduce_small_default)


def test_parity_full_spec_errors_name_the_field():
    with pytest.raises(SpecError, match=r"^fixed\.readout: invalid value for parameter 'readout'"):
        load_spec(_text().replace("readout: independent", "readout: both"))
    with pytest.raises(SpecError, match=r"^axes\.method\[1\]: invalid value for parameter 'method'"):
        load_spec(_text().replace("method: [nngp, mf_emp, mf_ard_emp]", "method: [nngp, mf_bogus]"))
    with pytest.raises(SpecError, match=r"^fixed\.b0: invalid value for parameter 'b0'.*must be > 0"):
        load_spec(_text().replace("  kappa2: 0.1\n", "  kappa2: 0.1\n  b0: 0.0\n", 1))


def test_onsets_vs_d_recovers_onsets_and_slope():
    # m_S(P) = 1/(1 + (c_d/P)^4), c_d = 20·d^s (s = 1.0 for "mf", 0.3 for "mf_ard"): m_S = 0.25 at
    # P_c = c_d/3^{1/4} exactly; log-linear interpolation on a 10 % grid recovers it to < 1 % and
    # the slope of log P_c vs log d to < 0.02.
    ds_, Ps = np.array([10, 15, 20, 35]), np.geomspace(10, 4000, 60)
    slopes = {"mf": 1.0, "mf_ard": 0.3, "sgld": 0.0}
    m = np.empty((len(slopes), len(ds_), len(Ps), 1))
    for i, s in enumerate(slopes.values()):
        for j, d in enumerate(ds_):
            m[i, j, :, 0] = 1 / (1 + (20 * d**s / Ps) ** 4)
    m[2, :, :, 0] = 0.1                       # never learns: onset inf, slope NaN
    ds = xr.Dataset({"m_target": (("method", "d", "P", "seed"), m)},
                    coords=dict(method=list(slopes), d=ds_, P=Ps, seed=[0])).transpose("d", "P", "method", "seed")
    out = onsets_vs_d(ds)
    exact = 20 * ds_[None, :] ** np.array([1.0, 0.3])[:, None] / 3 ** 0.25   # m = 1/4 ⇔ (P_c/P)^4 = 3
    np.testing.assert_allclose(out["onset"].sel({"method": ["mf", "mf_ard"]}).values, exact, rtol=0.01)
    assert out["slope"].sel({"method": "mf"}) == pytest.approx(1.0, abs=0.02)
    assert out["slope"].sel({"method": "mf_ard"}) == pytest.approx(0.3, abs=0.02)
    assert np.isinf(out["onset"].sel({"method": "sgld"})).all() and np.isnan(out["slope"].sel({"method": "sgld"}))


@pytest.mark.slow
def test_parity_full_smoke_profile_end_to_end(tmp_path):
    # every method on d ∈ {6, 8} through the same spec (measured ~1 min on 2 busy cores)
    out = tmp_path / "pf"
    res = CliRunner().invoke(app, ["reproduce", "parity-full", "--profile", "smoke", "--out", str(out),
                                   "--executor", "serial", "--no-progress"])
    assert res.exit_code == 0, res.output
    ds = xr.load_dataset(out / "results.nc", engine="h5netcdf")
    assert dict(ds.sizes) == {"d": 2, "P": 2, "method": 6, "seed": 1} and not ds["failed"].any()
    assert np.isfinite(ds["m_target"]).all() and np.isfinite(ds["test_mse"]).all()
    assert np.isfinite(ds["m_target_se"].sel({"method": ["mf_emp", "mf_ard_emp"]})).all()
    assert (out / "figure.png").stat().st_size > 1000
    on = onsets_vs_d(ds)
    assert on["onset"].dims == ("method", "d") and list(on["method"].values) == ALL
