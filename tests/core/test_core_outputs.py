"""Written outputs are readable without the code (issue #17, conventions §8).

Every dataset an experiment writes: each variable and coordinate has ``long_name`` (and ``units`` unless
it holds labels), numbers are stored as numbers (not ``'0.1'``), and the file carries the package and
dependency versions and its creation date. Kernels are stored over (t, mu, s, nu); "no W outlier" is
NaN, not 0; kernel heatmaps have colourbars. Each experiment runs at a toy size (seconds).
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

import fltheory  # noqa: E402
from fltheory.io import save_dataset  # noqa: E402

VERSION_ATTRS = ("fltheory_version", "jax_version", "numpy_version", "xarray_version", "date_created")


def _numeric_string(v) -> bool:
    if not isinstance(v, str):
        return False
    if v.strip() in ("True", "False", "None"):
        return True
    try:
        float(v)
    except ValueError:
        return False
    return True


def output_problems(ds: xr.Dataset) -> list[str]:
    """What makes ``ds`` hard to read without the code (empty list: nothing)."""
    out = []
    for name, var in ds.variables.items():
        if not var.attrs.get("long_name"):
            out.append(f"{name}: no long_name")
        if var.dtype.kind in "biufc" and "units" not in var.attrs:
            out.append(f"{name}: no units")
        out += [f"{name}.{k}: number stored as a string {v!r}" for k, v in var.attrs.items()
                if k != "units" and _numeric_string(v)]  # units "1" (dimensionless) is a string by CF
    out += [f"attrs.{k}: number stored as a string {v!r}" for k, v in ds.attrs.items() if _numeric_string(v)]
    out += [f"attrs.{k}: missing" for k in VERSION_ATTRS if k not in ds.attrs]
    return out


def _roundtrip(ds, path) -> xr.Dataset:
    save_dataset(ds, path)
    return xr.load_dataset(path, engine="h5netcdf")


def test_save_dataset_adds_provenance_and_stores_numbers(tmp_path):
    ds = xr.Dataset({"y": ("x", np.arange(3.0))}, coords={"x": [1, 2, 3]},
                    attrs={"kappa": 0.1, "flag": True, "nothing": None, "label": "erf"})
    back = _roundtrip(ds, tmp_path / "a.nc")
    assert back.attrs["kappa"] == 0.1 and isinstance(back.attrs["kappa"], (float, np.floating))
    assert back.attrs["flag"] == 1 and "nothing" not in back.attrs and back.attrs["label"] == "erf"
    assert back.attrs["fltheory_version"] == fltheory.__version__
    for k in VERSION_ATTRS:
        assert k in back.attrs and k in ds.attrs  # in the file and in the saved object alike
    assert output_problems(back) == ["y: no long_name", "y: no units", "x: no long_name", "x: no units"]
    # a dataset that already carries its provenance (the sweep engine's) is left as it is
    pre = xr.Dataset(attrs={"fltheory_version": "x"})
    assert _roundtrip(pre, tmp_path / "b.nc").attrs == {"fltheory_version": "x"}


def test_kernel_check_layout_metadata_and_colourbars(tmp_path):
    """kernel_check at a toy size: kernels on (t, mu, s, nu), everything described, numbers as numbers."""
    from fltheory.experiments.kernel_check import kernel_check
    from fltheory.kernels import KERNEL_DIMS, merge_time, nngp_kernels
    from fltheory.tasks import endpoint_task

    T, P, P_test = 3, 2, 2
    ds, paths = kernel_check(tmp_path, N=8, T=T, P=P, P_test=P_test, D=3, n_samples=2, n_chains=1,
                             progress=False)
    back = xr.load_dataset(tmp_path / "kernel_check.nc", engine="h5netcdf")
    n = P + P_test
    for arch in ("rnn", "dnn"):
        for k in ("C_theory", "C_sim", "C_sem"):
            assert back[f"{k}_{arch}"].dims == KERNEL_DIMS
    assert output_problems(back) == []
    assert dict(back.sizes) == {"t": T, "mu": n, "s": T, "nu": n, "arch": 2}
    assert list(back["t"].values) == [1, 2, 3] and list(back["mu"].values) == list(range(n))
    # the stored layout merges back to the time-major NNGP matrix (row t·n + μ, train patterns first)
    task = endpoint_task(P=P, P_test=P_test, T=T, D=3, teacher="linear", seed=0)
    C = nngp_kernels(np.concatenate([task.X, task.X_test]), phi="erf", tied=True).C
    np.testing.assert_allclose(merge_time(back["C_theory_rnn"].values), C, rtol=1e-12)
    np.testing.assert_allclose(back["C_theory_rnn"].sel(t=2, mu=1, s=3, nu=0), C[1 * n + 1, 2 * n + 0], rtol=1e-12)
    for key, typ in (("kappa", float), ("N", int), ("T", int), ("P", int)):
        assert isinstance(back.attrs[key], (typ, np.number)) and not isinstance(back.attrs[key], str), key
    assert back.attrs["kappa"] == 10.0
    # one Priors for the kernels, the GP, the networks and the sampler: the same numbers as kappa alone
    from fltheory import FLTheoryInputError, Priors

    ds_pr, _ = kernel_check(tmp_path / "pr", N=8, T=T, P=P, P_test=P_test, D=3, n_samples=2, n_chains=1,
                            progress=False, priors=Priors(kappa=10.0))
    assert all(np.array_equal(ds[v].values, ds_pr[v].values, equal_nan=True) for v in ds.data_vars)
    assert (ds.attrs["g2"], ds.attrs["gu2"], ds.attrs["gw2"]) == (1.0, 1.0, 1.0)
    with pytest.raises(FLTheoryInputError, match="^priors: pass either priors or kappa, not both"):
        kernel_check(tmp_path / "both", N=8, kappa=1.0, priors=Priors())
    assert not (tmp_path / "both").exists()
    from fltheory.experiments.kernel_check import kernel_figure

    fig = kernel_figure(back)
    try:
        images = [im for ax in fig.axes for im in ax.images]
        assert len(images) == 4 and all(im.colorbar is not None for im in images)
        assert len(fig.axes) == 6 + 4  # 2×3 panels + one colourbar per heatmap
        heat = images[0].axes
        assert "(t, μ)" in heat.get_ylabel() and "time-major" in heat.get_ylabel()
        assert "(s, ν)" in heat.get_xlabel()
        np.testing.assert_allclose(heat.get_yticks(minor=True), [k * n - 0.5 for k in range(T + 1)])
    finally:
        plt.close(fig)
    assert (tmp_path / "kernel_check.png").stat().st_size > 1000


def test_w_outlier_none_is_nan_in_theory_dataset_and_table(tmp_path):
    """Below the transition (y_c ≈ 1.7) the linear theory has no W outlier: NaN, "—" in the table."""
    from fltheory.experiments.phase import phase_point, run_phase_diagram

    paths = run_phase_diagram(tmp_path, signals=[1.0, 3.0], widths=(), progress=False)
    back = xr.load_dataset(paths[0], engine="h5netcdf")
    out = back["outlier_rnn"].values
    assert np.isnan(out[0]) and out[1] > 1.0, out  # none below y_c; |λ| > g = 1 above
    assert output_problems(back) == []
    assert back.attrs["kappa"] == 0.1 and back.attrs["task_P"] == 4 and back.attrs["phi"] == "linear"
    row = [ln for ln in paths[2].read_text().splitlines() if ln.startswith("| 1 |")][0]
    assert row.split("|")[4].strip() == "—", row
    assert np.isnan(phase_point(signal=1.0, arch="dnn")["outlier_theory"])


def test_phase_diagram_takes_priors_with_the_same_numbers(tmp_path):
    """run_phase_diagram(priors=Priors(...)) writes the dataset the four names write (same task shapes
    as the test above, so its compiled solves are reused); a name beside priors is one error naming
    priors, and nothing is created."""
    from fltheory import FLTheoryInputError, Priors
    from fltheory.experiments.phase import run_phase_diagram

    pr = Priors(g2=0.8, gu2=1.2, gw2=0.9, kappa=0.2)
    kw = dict(signals=[1.0, 3.0], widths=(), progress=False)
    a = xr.load_dataset(run_phase_diagram(tmp_path / "a", priors=pr, **kw)[0], engine="h5netcdf")
    b = xr.load_dataset(run_phase_diagram(tmp_path / "b", **pr.as_dict(), **kw)[0], engine="h5netcdf")
    for ds in (a, b):
        ds.attrs.pop("date_created")  # provenance: the only attribute that may differ
    assert a.identical(b)
    assert {k: a.attrs[k] for k in ("g2", "gu2", "gw2", "kappa")} == pr.as_dict()
    with pytest.raises(FLTheoryInputError, match="^priors: pass either priors or kappa, not both"):
        run_phase_diagram(tmp_path / "c", priors=pr, kappa=0.1, **kw)
    assert not (tmp_path / "c").exists()


def test_sequential_grid_is_described():
    from fltheory.experiments.sequential import DEFAULTS, _grid
    from fltheory.tasks import sequential_task

    make = lambda P: sequential_task(teacher="lds", P=P, P_test=8, T=3, D=3, mask="every_other",  # noqa: E731
                                     n_state=2, rho=0.9, seed=0)
    ds = _grid("P", [2], make, (), {}, dict(DEFAULTS), False, "grid")
    assert [p for p in output_problems(ds) if not p.startswith("attrs.")] == []  # attrs: sequential_experiments
    assert ds["theory"].dims == ("P", "arch", "step") and ds["theory"].attrs["units"] == "1"


def test_learning_curve_dataset_is_described(tmp_path):
    from fltheory.experiments.learning_curve import plot_learning_curve, run_learning_curve

    ds = run_learning_curve([20], methods=["nngp"], size="small", d=8, k=2, P_test=64, phase_P=(), progress=False)
    back = _roundtrip(ds, tmp_path / "lc.nc")
    assert output_problems(back) == []
    assert list(back.attrs["relevant"]) == [0, 1] and back.attrs["kappa2"] == 0.1
    fig_path = plot_learning_curve(back, tmp_path / "lc.png")
    assert fig_path.stat().st_size > 1000


def test_lowrank_datasets_are_described(tmp_path):
    from fltheory.lowrank import compare, memory_dataset

    ds = compare("impulse", N=20, epochs=3, adam_lr=None)
    back = _roundtrip(ds, tmp_path / "lr.nc")
    assert output_problems(back) == [] and np.isnan(back.attrs["adam_lr"])  # None → NaN, not −1
    res = dict(X=np.zeros((4, 10)), y=np.array([0, 0, 1, 1]), visible=np.arange(10) < 4,
               labels=[f"o{i}" for i in range(10)], accuracy_visible=0.5, accuracy_invisible=0.75,
               accuracy_all=0.75)
    assert output_problems(_roundtrip(memory_dataset(res), tmp_path / "mem.nc")) == []


@pytest.mark.parametrize("which", ["kernel", "gap", "covariance"])
def test_depth_datasets_are_described(tmp_path, which):
    from fltheory.depth import experiments as ex

    ds = {"kernel": lambda: ex.kernel_experiment(Ns=(8, 16), Ls=(1, 2), n_seeds=2, L_for_N=2, N_for_L=8, P=2, D=3),
          "gap": lambda: ex.gap_experiment(archs=("dnn",), Ls=(2,), N=8, n_seeds=2, steps=2, P=4, P_test=4, D=3),
          "covariance": lambda: ex.covariance_experiment(N=8, L=2, ts=(0.5, 1.0), steps=2, n_seeds=1, P=4, D=3,
                                                         n_cov=2)}[which]()
    back = _roundtrip(ds, tmp_path / f"{which}.nc")
    assert output_problems(back) == []
    if which == "gap":
        assert back["a"].dims == ("arch",) and float(back["a"].sel(arch="dnn")) == 1.5
