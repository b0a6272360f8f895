"""The depth ODE's result protocol (``DepthKernel`` with ``diagnostics``) and bad input (issue #15):
each bad value is one error naming its parameter, at the Python API and at the CLI."""
from __future__ import annotations

import dataclasses
import re

import jax
import numpy as np
import pytest
from typer.testing import CliRunner

import fltheory  # noqa: F401  (float64)
from fltheory import ConvergenceError, ConvergenceWarning, FLTheoryInputError
from fltheory.cli import app
from fltheory.depth import (DepthKernel, ResNetConfig, covariance_experiment, depth_ode_kernel, gap_experiment,
                            input_kernel, kernel_experiment, recursion_kernel, teacher_task, train)
from fltheory.diagnostics import Diagnostics

X = np.random.default_rng(0).normal(size=(4, 8))


def test_depth_ode_kernel_returns_a_result_with_diagnostics():
    # relu diagonal in closed form, Σ_t(x,x) = Σ_0(x,x) e^{a² t/2}, at two depth times.
    res = depth_ode_kernel(X, "relu", 1.0, ts=(0.5, 1.0))
    assert isinstance(res, DepthKernel) and isinstance(res.diagnostics, Diagnostics)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.Sigma = None
    assert res.Sigma.shape == (2, 4, 4) and isinstance(res.Sigma, np.ndarray)
    np.testing.assert_array_equal(res.ts, [0.5, 1.0])
    for k, t in enumerate(res.ts):
        np.testing.assert_allclose(np.diag(res.Sigma[k]), np.diag(input_kernel(X)) * np.exp(t / 2), rtol=1e-8)
    d = res.diagnostics
    assert d.converged is True
    assert isinstance(d.iterations, int) and 0 < d.iterations < 100_000
    assert np.isnan(d.residual)  # diffrax does not return its error estimate
    assert "Tsit5" in d.method and "rtol=1e-10" in d.method
    assert d.wall_time > 0


def test_depth_ode_kernel_failure_raises_or_warns_with_throw_false():
    # max_steps=2 cannot reach t=1 at rtol 1e-10 (the solve needs ≈ 16 steps).
    with pytest.raises(ConvergenceError, match=r"^depth_ode_kernel: .*max_steps = 2.*remedies"):
        depth_ode_kernel(X, "relu", max_steps=2)
    with pytest.warns(ConvergenceWarning, match="max_steps = 2"):
        res = depth_ode_kernel(X, "relu", max_steps=2, throw=False)
    assert res.diagnostics.converged is False
    assert res.diagnostics.iterations == 2
    assert not np.all(np.isfinite(res.Sigma))  # the unreached time is not a number to be used


# (call, parameter the error must name). Each is rejected before anything is computed.
BAD = [
    (lambda: ResNetConfig(N=0, L=2, D=3), "N"),
    (lambda: ResNetConfig(N=8, L=0, D=3), "L"),
    (lambda: ResNetConfig(N=8, L=2, D=3, arch="transformer"), "arch"),
    (lambda: recursion_kernel(X, "relu", 1.0, 0), "L"),
    (lambda: recursion_kernel(X, "relu", 1.0, 2, arch="foo"), "arch"),
    (lambda: depth_ode_kernel(X, "foo"), "phi"),
    (lambda: depth_ode_kernel(X, "relu", ts=[]), "ts"),
    (lambda: depth_ode_kernel(X, "relu", rtol=-1.0), "rtol"),
    (lambda: depth_ode_kernel(X, "relu", max_steps=0), "max_steps"),
    (lambda: kernel_experiment(Ls=(0, 4)), "Ls"),
    (lambda: kernel_experiment(Ns=(0,)), "Ns"),
    (lambda: kernel_experiment(L_for_N=0), "L_for_N"),
    (lambda: kernel_experiment(seed=-1), "seed"),
    (lambda: gap_experiment(N=0), "N"),
    (lambda: gap_experiment(Ls=(4, 0)), "Ls"),
    (lambda: gap_experiment(archs=("dnn", "foo")), "archs"),
    (lambda: gap_experiment(archs=()), "archs"),
    (lambda: gap_experiment(a={"foo": 1.0}), "a"),
    (lambda: gap_experiment(a={"dnn": -1.0}), "a"),
    (lambda: gap_experiment(archs="dnn", a=-1.0), "a"),  # one arch as a str, one a for all
    (lambda: gap_experiment(phi="foo"), "phi"),
    (lambda: gap_experiment(seed=1.5), "seed"),
    (lambda: gap_experiment(lr=0.0), "lr"),
    (lambda: covariance_experiment(L=0), "L"),
    (lambda: covariance_experiment(N=0), "N"),
    (lambda: covariance_experiment(arch="foo"), "arch"),
    (lambda: covariance_experiment(ts=()), "ts"),
    (lambda: covariance_experiment(ts=(0.5, 1.5)), "ts"),
    (lambda: covariance_experiment(steps=0), "steps"),
]


@pytest.mark.parametrize("call,param", BAD, ids=[f"{i}-{p}" for i, (_, p) in enumerate(BAD)])
def test_bad_input_is_one_error_naming_the_parameter(call, param, rejected):
    rejected(call, param)


def test_one_architecture_may_be_named_as_a_string():
    with pytest.raises(FLTheoryInputError, match=r"^archs: unknown value 'foo'"):  # not 'f', its first letter
        gap_experiment(archs="foo")


def test_diverging_learning_rate_is_one_error_naming_lr():
    # relu, N=8: at η₀ = 1e4 the loss overflows after 2 GD steps (float32); at η₀ = 0.05 it decreases.
    task = teacher_task(jax.random.PRNGKey(0), P=4, P_test=4, D=4)
    cfg = ResNetConfig(N=8, L=1, D=4, phi="relu")
    with pytest.raises(FLTheoryInputError, match=r"^lr: the loss became non-finite after \d+ of 5 GD steps "
                                                 r"at lr = 10000 .*; reduce lr$"):
        train(jax.random.PRNGKey(1), cfg, task, "reused", 5, 1e4)
    h = train(jax.random.PRNGKey(1), cfg, task, "reused", 5, 0.05)  # same compiled step, finite
    assert np.all(np.isfinite(h["train_loss"])) and h["train_loss"][-1] < h["train_loss"][0]


CLI_BAD = [
    (["depth", "covariance", "--arch", "foo"], "arch"),  # was a KeyError traceback
    (["depth", "kernel", "--seed", "-1"], "seed"),  # was numpy's bare ValueError
    (["depth", "gap", "--n", "0"], "N"),
    (["depth", "kernel", "--l", "0"], "Ls"),
    (["depth", "covariance", "--lr", "1e4", "--phi", "relu", "--n", "8", "--l", "1", "--steps", "3",
      "--seeds", "1"], "lr"),  # diverges during training
    # fig2 and gap-scaling (issue #15)
    (["depth", "fig2", "--arch", "foo"], "archs"),
    (["depth", "fig2", "--l", "0"], "Ls"),
    (["depth", "fig2", "--n", "0"], "N"),
    (["depth", "fig2", "--profile", "huge"], "profile"),
    (["depth", "fig2", "--lr", "1e4", "--arch", "dnn", "--l", "2"], "lr"),  # diverges during training
    (["depth", "gap-scaling", "--n", "0"], "Ns"),
]


@pytest.mark.parametrize("args,param", CLI_BAD, ids=[" ".join(a[:4]) for a, _ in CLI_BAD])
def test_cli_bad_value_is_one_line_exit_2(args, param, in_tmp_cwd):
    res = CliRunner().invoke(app, args)
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error: ")]
    assert res.exit_code == 2, (res.exit_code, res.output)
    assert len(errors) == 1 and errors[0].startswith(f"error: {param}: "), res.output
    assert "Traceback" not in res.output
    assert list(in_tmp_cwd.iterdir()) == [], "a rejected command must not create its output folder"


def test_theory_doc_example_runs(repo_root, in_tmp_cwd, capsys):
    # docs/theory/depth.md §6 (not in tests/docs' list): it calls depth_ode_kernel and reads .Sigma.
    blocks = re.findall(r"```python\n(.*?)```", (repo_root / "docs/theory/depth.md").read_text(), re.S)
    assert blocks
    namespace = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"depth.md[{i}]", "exec"), namespace)
    out = capsys.readouterr().out.split("\n")
    errs = [float(line.split()[1]) for line in out[:3]]
    assert errs[0] > errs[1] > errs[2] > 0  # ∝ 1/L
