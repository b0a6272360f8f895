"""The same spec gives identical datasets in this process, on the spawn pool and on Dask."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import xarray as xr

sys.path.insert(0, str(Path(__file__).parent))

from fltheory.sweep import run_sweep  # noqa: E402

# seed-dependent scalar, array and DataArray observables; one failing point exercises failure
# handling on every executor.
NOISY = {"name": "noisy", "function": "sweep_fixtures:noisy_point",
         "axes": {"a": [0.5, 1.5, 2.5], "b": [1, 2]}, "seeds": [0, 7]}
FAILING = {"name": "failing", "function": "sweep_fixtures:failing_point", "axes": {"a": [1.0, -1.0, 3.0]}}


def test_local_pool_dask_and_serial_give_identical_datasets(tmp_path):
    serial = run_sweep(NOISY, tmp_path / "serial", executor="serial", progress=False).dataset
    local = run_sweep(NOISY, tmp_path / "local", executor="local", workers=2, progress=False).dataset
    dask = run_sweep(NOISY, tmp_path / "dask", executor="dask", workers=2, processes=False, progress=False).dataset
    assert np.isfinite(serial["y"]).all() and not serial["failed"].any()
    xr.testing.assert_identical(local, serial)
    xr.testing.assert_identical(dask, serial)
    # and the replicates really differ (the seeds are in use)
    assert float(abs(serial["y"].sel(seed=0) - serial["y"].sel(seed=7)).min()) > 0


def test_failures_are_recorded_on_dask_and_local(tmp_path):
    for kind in ("dask", "local"):
        res = run_sweep(FAILING, tmp_path / kind, executor=kind, workers=2, processes=False, progress=False)
        assert [f["params"]["a"] for f in res.failures] == [-1.0]
        assert "ValueError: negative a=-1.0" in res.failures[0]["error"]
        assert "Traceback" in res.failures[0]["traceback"]
        assert list(res.dataset["failed"].values) == [False, True, False]
