"""``fltheory learning-curve`` writes a dataset and a PNG; the point function validates its input."""
import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

import fltheory  # noqa: F401
from fltheory import FLTheoryInputError
from fltheory.cli import app
from fltheory.experiments.learning_curve import learning_curve_point, make_data, LearningCurveConfig


def test_cli_learning_curve_writes_dataset_and_png(tmp_path):
    out = tmp_path / "lc"
    res = CliRunner().invoke(app, ["learning-curve", "--size", "small", "--d", "8", "--k", "2", "--P", "20",
                                   "--P", "60", "--methods", "nngp", "--no-phase", "--out", str(out)])
    assert res.exit_code == 0, res.output
    printed = "".join(res.output.split())  # rich wraps long paths
    assert str(out / "learning_curve.nc") in printed and str(out / "learning_curve.png") in printed
    ds = xr.open_dataset(out / "learning_curve.nc", engine="h5netcdf")
    assert list(ds["P"].values) == [20, 60]
    mse = ds["test_mse"].sel(level="nngp").values[:, 0]
    # degree-2 parity at d = 8 is kernel-learnable: KRR improves with P
    assert mse[1] < mse[0]
    assert (out / "learning_curve.png").stat().st_size > 1000


def test_point_validation_and_test_split():
    with pytest.raises(FLTheoryInputError, match="method"):
        learning_curve_point(P=10, method="bogus")
    with pytest.raises(FLTheoryInputError, match="k"):
        learning_curve_point(P=10, method="nngp", d=8, k=3)   # odd parity, relu
    with pytest.raises(FLTheoryInputError, match="foo"):
        learning_curve_point(P=10, method="nngp", foo=1)
    cfg = LearningCurveConfig(d=8, k=2, P_test=100)
    X, Y, Xt, Yt = make_data(cfg, 50, seed=0)
    train = {tuple(r) for r in X}
    assert not any(tuple(r) in train for r in Xt)  # test inputs are held out
    np.testing.assert_array_equal(Y, X[:, 0] * X[:, 1])


def test_training_set_mf_methods_in_the_learning_curve_and_its_figure(tmp_path):
    # the issue #14 methods run through run_learning_curve (same data as SGLD/NNGP) and are drawn.
    # Sizes as in the default profile of the parity-full spec (shared compilation in one test session);
    # the joint readouts go through the same path (test_two_layer_issue14.py, readout="joint").
    from fltheory.experiments.learning_curve import plot_learning_curve, run_learning_curve

    small = dict(size="small", d=8, k=2, N=16, P_test=128, mf_chains=16, steps_per_iter=10, max_iter=25)
    ds = run_learning_curve([16], methods=["nngp", "mf_emp", "mf_ard_emp"], readout="independent", phase_P=(),
                            progress=False, **small)
    assert list(ds["level"].values) == ["nngp", "mf_emp", "mf_ard_emp"] and ds.attrs["readout"] == "independent"
    for m in ("mf_emp", "mf_ard_emp"):
        sel = ds.sel(level=m, seed=0)
        assert np.isfinite(sel["m_target"]).all() and np.isfinite(sel["test_mse"]).all()
        assert (sel["test_mse_se"] >= 0).all() and set(sel["converged"].values) <= {0.0, 1.0}
    # the same point as learning_curve_point gives (run_learning_curve adds nothing of its own)
    one = learning_curve_point(P=16, method="mf_ard_emp", **small)
    assert one["m_target"] == float(ds["m_target"].sel(level="mf_ard_emp", P=16, seed=0))
    png = plot_learning_curve(ds, tmp_path / "lc.png")
    assert png.stat().st_size > 1000
    with pytest.raises(FLTheoryInputError, match="^P: must be >= 1, got 0"):
        run_learning_curve([20, 0], methods=["nngp"], size="small", phase_P=())
    with pytest.raises(FLTheoryInputError, match="^methods: unknown value"):
        run_learning_curve([20], methods=["mf_bogus"], size="small", phase_P=())
