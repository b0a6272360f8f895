"""Result store and dataset assembly: atomic points, corruption detection, failures, layout."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import sweep_fixtures
from fltheory import __version__
from fltheory.sweep import SweepError, load_results, load_spec, run_sweep

NOISY = {"name": "noisy", "function": "sweep_fixtures:noisy_point",
         "axes": {"a": [0.5, 1.5, 2.5], "b": [1, 2]}, "seeds": 2}


@pytest.fixture
def counter(tmp_path, monkeypatch):
    path = tmp_path / "calls.log"
    monkeypatch.setenv(sweep_fixtures.COUNTER_ENV, str(path))
    return path


def test_layout_values_and_netcdf_roundtrip(tmp_path, counter):
    res = run_sweep(NOISY, tmp_path / "s", executor="serial", progress=False)
    ds = res.dataset
    assert dict(ds.sizes) == {"a": 3, "b": 2, "seed": 2, "vec_dim0": 3, "t": 4}
    assert ds["y"].dims == ("a", "b", "seed") and ds["vec"].dims == ("a", "b", "seed", "vec_dim0")
    assert ds["curve"].dims == ("a", "b", "seed", "t") and list(ds["t"].values) == [0, 1, 2, 3]
    assert not ds["failed"].any()
    assert len(sweep_fixtures.read_counter(counter)) == 12  # one call per point
    # every cell holds exactly what the function returns for that point's params and hashed seed
    spec = load_spec(NOISY)
    for p in spec.points():
        direct = sweep_fixtures.noisy_point(**p.params, seed=p.seed)
        cell = ds.isel(a=p.index[0], b=p.index[1], seed=p.index[2])
        assert float(cell["y"]) == direct["y"]
        np.testing.assert_array_equal(cell["vec"].values, direct["vec"])
        np.testing.assert_array_equal(cell["curve"].values, direct["curve"].values)
    back = xr.load_dataset(res.path, engine="h5netcdf")
    xr.testing.assert_identical(back, ds)
    assert back.attrs["fltheory_version"] == __version__ and back.attrs["spec"] == spec.to_json()
    assert back.attrs["function"] == "sweep_fixtures:noisy_point"
    # a second run reuses everything and calls nothing
    n0 = len(sweep_fixtures.read_counter(counter))
    again = run_sweep(NOISY, tmp_path / "s", executor="serial", progress=False)
    assert again.n_reused == 12 and again.n_computed == 0
    assert len(sweep_fixtures.read_counter(counter)) == n0
    xr.testing.assert_identical(again.dataset, ds)
    assert not list((tmp_path / "s" / "points").glob("*.tmp"))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "bitflip", "empty", "swap"])
def test_corrupt_point_is_detected_and_recomputed(tmp_path, counter, damage):
    out = tmp_path / "s"
    ref = run_sweep(NOISY, out, executor="serial", progress=False).dataset
    spec = load_spec(NOISY)
    victim, other = spec.points()[4], spec.points()[7]
    path = out / "points" / f"{victim.key}.npz"
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a zip file at all")
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "bitflip":  # flip one byte of the stored value of y: the zip CRC / our SHA-256 catch it
        arr = bytearray(data)
        i = data.index(np.float64(ref["y"].values[victim.index]).tobytes())
        arr[i] ^= 0x01
        path.write_bytes(bytes(arr))
    else:  # a valid file stored under the wrong key
        path.write_bytes((out / "points" / f"{other.key}.npz").read_bytes())
    n0 = len(sweep_fixtures.read_counter(counter))
    res = run_sweep(NOISY, out, executor="serial", progress=False)
    calls = sweep_fixtures.read_counter(counter)[n0:]
    assert res.store.corrupt == [victim.key] and res.n_computed == 1
    assert calls == [("noisy", {"a": victim.params["a"], "b": victim.params["b"]})]
    xr.testing.assert_identical(res.dataset, ref)


def test_failures_are_recorded_and_do_not_stop_the_sweep(tmp_path, counter):
    spec = {"name": "f", "function": "sweep_fixtures:failing_point", "axes": {"a": [1.0, -1.0, 2.0, -2.0]}}
    res = run_sweep(spec, tmp_path / "s", executor="serial", progress=False)
    assert sorted(f["params"]["a"] for f in res.failures) == [-2.0, -1.0]
    for f in res.failures:
        assert "ValueError: negative a=" in f["error"]
        assert "Traceback" in f["traceback"] and "failing_point" in f["traceback"]
        stored = res.store.load_failure(f["key"])
        assert stored["traceback"] == f["traceback"]
    ds = res.dataset
    assert list(ds["failed"].values) == [False, True, False, True]
    assert np.isnan(ds["y"].values[[1, 3]]).all() and np.isfinite(ds["y"].values[[0, 2]]).all()
    # the next run retries the failed points only (they fail again)
    n0 = len(sweep_fixtures.read_counter(counter))
    again = run_sweep(spec, tmp_path / "s", executor="serial", progress=False)
    assert again.n_reused == 2 and again.n_computed == 2
    assert sorted(c[1]["a"] for c in sweep_fixtures.read_counter(counter)[n0:]) == [-2.0, -1.0]
    # plotting/loading a store assembles what is there
    xr.testing.assert_identical(load_results(load_spec(spec), tmp_path / "s"), ds)


def test_observable_changing_shape_is_a_clear_error(tmp_path):
    spec = {"name": "v", "function": "sweep_fixtures:varying_shape_point", "axes": {"n": [2, 3]}}
    with pytest.raises(SweepError, match="observable 'arr' has dims"):
        run_sweep(spec, tmp_path / "s", executor="serial", progress=False)


def test_worker_checks_observables():
    from fltheory.sweep.executors import run_point

    # an observable named like a sweep dimension/coordinate is rejected: a recorded point failure
    out = run_point({"key": "k", "function": "sweep_fixtures:noisy_point", "params": {"a": 1.0},
                     "seed": 3, "reserved": ["y"]})
    assert not out["ok"] and "clashes" in out["error"] and "Traceback" in out["traceback"]
    # seed is passed only when given (typed_point takes none): 1*1.0 + sum((1,)) + 0 + (phi == "erf")
    out = run_point({"key": "k", "function": "sweep_fixtures:typed_point",
                     "params": {"n": 1, "g2": 1.0, "phi": "erf"}, "seed": None, "reserved": []})
    assert out["ok"] and float(out["values"]["v"]) == 3.0


def test_figure_with_a_single_x_value(tmp_path):
    """A small profile may sweep x over one value; the figure must still draw it (regression)."""
    import xarray as xr

    from fltheory.sweep.figures import plot_figure
    from fltheory.sweep.spec import FigureSpec

    ds = xr.Dataset({"err": (("P", "method", "seed"), np.array([[[0.5, 0.6], [0.9, 1.0]]]))},
                    coords={"P": [4], "method": ["mf", "nngp"], "seed": [0, 1]})
    paths = plot_figure(ds, FigureSpec(x="P", hue="method", theory=["err"], simulation=["err"]), tmp_path)
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
