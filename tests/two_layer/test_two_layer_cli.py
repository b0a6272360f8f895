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
