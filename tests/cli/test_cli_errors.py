"""Every command reports a bad input as one line, ``error: <parameter>: <problem>``, exit code 2, no
traceback, and creates nothing (issue #17, conventions §8)."""
from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from fltheory.cli import app

runner = CliRunner()

# (arguments, the parameter the error must name). Each is rejected before any computation.
BAD = [
    (["phase-diagram", "--kappa", "-1"], "kappa"),
    (["phase-diagram", "--smin", "nan"], "smin"),
    (["phase-diagram", "--smin", "3", "--smax", "1"], "smax"),
    (["phase-diagram", "--n", "1"], "n"),
    (["phase-diagram", "--widths", "128,x"], "widths"),
    (["phase-diagram", "--n-mc", "0"], "n-mc"),
    (["phase-diagram", "--relaxation-times", "-1"], "relaxation-times"),
    (["phase-diagram", "--sim-signals", "-1"], "sim_signals"),
    (["phase-diagram", "--phi", "foo"], "phi"),
    (["phase-diagram", "--kappa", "abc"], "--kappa"),
    (["phase-diagram", "--g2", "0"], "g2"),
    (["phase-diagram", "--gu2", "nan"], "gu2"),
    (["phase-diagram", "--gw2", "-1"], "gw2"),
    (["finite-size", "--kappa", "-0.1"], "kappa"),
    (["phase-diagram", "--no-such-option"], "--no-such-option"),
    (["demo", "--N", "0"], "N"),
    (["sequential", "--width", "0"], "widths"),
    (["lowrank", "--task", "foo"], "task"),
    (["lowrank", "--rank", "3"], "rank"),
    (["lowrank", "--method", "foo"], "method"),
    (["learning-curve", "--size", "huge"], "size"),
    (["learning-curve", "--methods", "sgld,foo"], "methods"),
    (["learning-curve", "--sgld-readout", "foo"], "sgld_readout"),
    (["learning-curve", "--gibbs-every", "0"], "gibbs_every"),
    (["depth", "kernel", "--phi", "foo"], "phi"),
    (["depth", "gap", "--arch", "foo"], "archs"),
    (["depth", "covariance", "--l", "0"], "L"),
    (["sweep", "no-such-spec.yaml"], "spec"),
    (["reproduce", "no-such-spec"], "name"),
]


def _one_error_line(res, param: str):
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert res.exit_code == 2, (res.exit_code, res.output)
    assert len(errors) == 1, res.output
    assert errors[0].startswith(f"error: {param}: "), errors[0]
    assert "Traceback" not in res.output and "╭" not in res.output, res.output


@pytest.mark.parametrize("args,param", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2_and_creates_nothing(args, param, in_tmp_cwd):
    tmp_path = in_tmp_cwd
    res = runner.invoke(app, args)
    _one_error_line(res, param)
    assert list(tmp_path.iterdir()) == [], "a rejected command must not create its output folder"


@pytest.mark.parametrize("make_out", ["file", "under_file"])
def test_unusable_out_names_out(make_out, in_tmp_cwd):
    tmp_path = in_tmp_cwd
    f = tmp_path / "afile"
    f.write_text("x")
    out = f if make_out == "file" else f / "sub"
    for cmd in (["phase-diagram"], ["demo"], ["sequential"], ["lowrank"], ["learning-curve"], ["depth", "kernel"]):
        res = runner.invoke(app, [*cmd, "--out", str(out)])
        _one_error_line(res, "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_prior_options_reach_the_experiment_as_one_priors_object(monkeypatch, in_tmp_cwd):
    """The CLI builds one fltheory.Priors at the boundary and passes its fields down unchanged; the
    defaults are the experiment's own (DEFAULT_THEORY), so the numbers of a default run do not move."""
    import xarray as xr

    import fltheory.experiments.finite_size as fs
    import fltheory.experiments.phase as ph

    seen = {}

    def phase(out_dir, **kw):
        seen["phase"] = kw
        return []

    def finite_size(out, **kw):
        seen["fs"] = kw
        return xr.Dataset(coords={"arch": [], "y_ratio": []}), []

    monkeypatch.setattr(ph, "run_phase_diagram", phase)
    monkeypatch.setattr(fs, "finite_size_study", finite_size)
    assert runner.invoke(app, ["phase-diagram", "--widths", ""]).exit_code == 0
    assert {k: seen["phase"][k] for k in ("g2", "gu2", "gw2", "kappa")} == \
        {k: ph.DEFAULT_THEORY[k] for k in ("g2", "gu2", "gw2", "kappa")}
    seen.clear()
    res = runner.invoke(app, ["phase-diagram", "--widths", "", "--g2", "0.8", "--gu2", "1.5", "--gw2", "2",
                              "--kappa", "0.3"])
    assert res.exit_code == 0, res.output
    assert {k: seen["phase"][k] for k in ("g2", "gu2", "gw2", "kappa")} == dict(g2=0.8, gu2=1.5, gw2=2.0, kappa=0.3)
    assert runner.invoke(app, ["finite-size", "--kappa", "0.2"]).exit_code == 0 and seen["fs"]["kappa"] == 0.2


def test_debug_shows_the_traceback(in_tmp_cwd):
    res = runner.invoke(app, ["--debug", "phase-diagram", "--kappa", "-1"])
    assert res.exit_code != 0 and "must be > 0" in str(res.exception)


def test_version_and_console_script():
    """``--version`` works, and the installed entry point prints the one-line error on stderr."""
    from fltheory import __version__

    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and __version__ in res.output
    proc = subprocess.run([sys.executable, "-c", "from fltheory.cli import main; main()", "phase-diagram",
                           "--kappa", "-1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == "error: kappa: must be > 0, got -1.0", proc.stderr
    assert proc.stdout.strip() == ""


def test_sizes_that_cannot_fit_are_refused_before_allocating(in_tmp_cwd):
    """The NNGP kernels and the Langevin sampler estimate their memory first (issue #17: a bare
    ``MemoryError: Unable to allocate 298 GiB`` and an XLA out-of-memory after 21 s before)."""
    import time

    import numpy as np

    from fltheory import FLTheoryInputError
    from fltheory.kernels import nngp_kernels
    from fltheory.models import RecurrentNet
    from fltheory.sampling import sample_posterior
    from fltheory.tasks import endpoint_task

    t0 = time.perf_counter()
    with pytest.raises(FLTheoryInputError, match=r"^X: the NNGP kernels of T·P = 200000 .* GiB"):
        nngp_kernels(np.zeros((20000, 10, 2)))
    task = endpoint_task(P=4, P_test=4, T=3, D=4, seed=0)
    with pytest.raises(FLTheoryInputError, match=r"^N: Langevin sampling of 4 chains at width N=100000"):
        sample_posterior(RecurrentNet(N=100_000, D=4, T=3), task, kappa=1.0)
    assert time.perf_counter() - t0 < 10.0
    _one_error_line(runner.invoke(app, ["demo", "--N", "100000"]), "N")
    assert list(in_tmp_cwd.iterdir()) == [], "refused before the output folder is created"


def test_every_option_has_help_text():
    """``--help`` explains every option (issue #17: depth options had none, lowrank showed sentinels)."""
    import typer

    missing = []

    def walk(cmd, path):
        for p in cmd.params:
            if getattr(p, "param_type_name", "") == "option" and not (getattr(p, "help", None) or "").strip():
                missing.append(f"{' '.join(path)} {p.opts[0]}")
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), ["fltheory"])
    assert missing == []
    # per-task defaults are stated in the help, not shown as a sentinel `[default: 0]`
    lowrank = typer.main.get_command(app).commands["lowrank"]
    for p in lowrank.params:
        if p.name in ("rank", "phi", "n", "eta", "epochs"):
            assert p.default is None and "default:" in p.help, (p.name, p.default, p.help)
