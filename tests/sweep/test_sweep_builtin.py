"""The built-in `nngp-depth` point: kernel recursion vs closed form and vs random networks."""
from __future__ import annotations

import numpy as np
import pytest

from fltheory.experiments.nngp_depth import deep_nngp_kernel, empirical_kernel, nngp_depth_point


@pytest.mark.parametrize("every", [False, True])
def test_linear_recursion_closed_form(every):
    # phi = identity: C_l = K_l, so K_L = gu2 XX^T/D * g2^(L-1)  (or * sum_k g2^k with re-injected input)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((7, 5))
    g2, gu2, L = 1.7, 0.6, 4
    lin = gu2 * X @ X.T / 5
    want = lin * (sum(g2**k for k in range(L)) if every else g2 ** (L - 1))
    np.testing.assert_allclose(deep_nngp_kernel(X, L, "linear", g2, gu2, every), want, rtol=1e-12)


@pytest.mark.parametrize("phi, every", [("erf", False), ("relu", False), ("erf", True)])
def test_nngp_kernel_matches_random_networks(phi, every):
    # Monte Carlo: the empirical kernel of a width-N network is unbiased up to O(1/N) and fluctuates
    # by O(1/sqrt(N)). Average n = 32 independent networks (enough samples for a reliable standard
    # error); per entry, the error must lie within 5 standard errors plus an O(1/N) bias allowance
    # 2*max|C|/N. (Measured with 100-200 networks at N = 256 and 1024: max z over the 21 entries
    # 1.6-3.4, no bias resolved.)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6, 10))
    N, n, L, g2, gu2 = 512, 32, 3, 1.5, 1.2
    C = deep_nngp_kernel(X, L, phi, g2, gu2, every)
    samples = np.stack([empirical_kernel(X, L, phi, g2, gu2, N, np.random.default_rng(100 + s), every)
                        for s in range(n)])
    sem = samples.std(0, ddof=1) / np.sqrt(n)
    tol = 5 * sem + 2 * np.abs(C).max() / N
    err = np.abs(samples.mean(0) - C)
    assert np.all(err <= tol), (err / sem).max()
    # resolving power: the theory kernel of a 20% larger g2 (or gu2) fails the same check
    for wrong in (deep_nngp_kernel(X, L, phi, 1.2 * g2, gu2, every), deep_nngp_kernel(X, L, phi, g2, 1.2 * gu2, every)):
        assert np.any(np.abs(samples.mean(0) - wrong) > tol)


def test_point_is_deterministic_and_depth_one_ignores_g2():
    a = nngp_depth_point(depth=3, g2=2.0, P=16, P_test=32, D=6, width=64, seed=5)
    b = nngp_depth_point(depth=3, g2=2.0, P=16, P_test=32, D=6, width=64, seed=5)
    assert a == b and set(a) == {"gp_test_error", "gp_train_error", "kernel_corr", "rf_test_error"}
    # with one layer the kernel gu2 XX^T/D -> C_1 does not involve g2 at all
    c1 = nngp_depth_point(depth=1, g2=0.5, P=16, P_test=32, D=6, width=0, seed=5)
    c2 = nngp_depth_point(depth=1, g2=4.0, P=16, P_test=32, D=6, width=0, seed=5)
    assert c1 == c2 and "rf_test_error" not in c1
    # ridge -> 0 interpolates the training set
    assert nngp_depth_point(depth=2, g2=1.0, P=16, P_test=32, D=6, ridge=1e-10, width=0)["gp_train_error"] < 1e-8


def test_point_validates_inputs():
    with pytest.raises(ValueError, match="^depth: must be >= 1"):
        nngp_depth_point(depth=0, g2=1.0)
    with pytest.raises(ValueError, match="^phi: unknown value 'softplus'"):
        nngp_depth_point(depth=2, g2=1.0, phi="softplus")


def test_common_random_numbers_sweep(tmp_path):
    # seed_by: [] -> replicate r shares its seed across the grid; at depth 1 the kernel does not
    # involve g2, so every g2 must then give bit-identical errors (and different replicates differ).
    from fltheory.sweep import run_sweep

    spec = {"name": "crn", "function": "nngp-depth", "seed_by": [], "seeds": 2,
            "fixed": {"P": 16, "P_test": 32, "D": 6, "width": 32},
            "axes": {"depth": [1, 2], "g2": [0.5, 4.0]}}
    ds = run_sweep(spec, tmp_path / "s", executor="serial", progress=False).dataset
    d1 = ds.sel(depth=1)
    for var in ("gp_test_error", "rf_test_error"):
        assert (d1[var].sel(g2=0.5) == d1[var].sel(g2=4.0)).all()
        assert (d1[var].sel(seed=0) != d1[var].sel(seed=1)).all()
    assert (ds["gp_test_error"].sel(depth=2, g2=0.5) != ds["gp_test_error"].sel(depth=2, g2=4.0)).all()


@pytest.mark.slow
def test_reproduce_nngp_depth_full(tmp_path):
    # the paper-size run of the packaged spec (`fltheory reproduce nngp-depth --profile full`)
    import typer
    import xarray as xr
    from typer.testing import CliRunner

    from fltheory.cli.sweep import register

    app = typer.Typer()
    register(app)
    res = CliRunner().invoke(app, ["reproduce", "nngp-depth", "--profile", "full", "--out", str(tmp_path),
                                   "--workers", "2", "--no-progress"])
    assert res.exit_code == 0, res.output
    ds = xr.load_dataset(tmp_path / "results.nc", engine="h5netcdf")
    assert dict(ds["gp_test_error"].sizes) == {"depth": 10, "g2": 5, "seed": 8}
    assert np.isfinite(ds["gp_test_error"]).all() and np.isfinite(ds["rf_test_error"]).all()
    d1 = ds.sel(depth=1)
    assert (d1["gp_test_error"] == d1["gp_test_error"].isel(g2=0)).all()
    assert (tmp_path / "figure.pdf").exists()
