"""Declared outputs and parameter checks of the built-in point functions (see :mod:`.registry`).

:data:`BUILTIN_INFO` maps a built-in's dotted path to its :class:`~.registry.PointInfo`:

- ``outputs``: every observable the function may return, with the label used in figure legends
  and as the variable's ``long_name`` in ``results.nc``;
- ``validate``: checks the parameter values of one point *without computing*; it receives every
  keyword argument the function would receive except ``seed`` (the spec's values over the
  function's defaults) and raises :class:`~fltheory._validate.FLTheoryInputError` whose message
  starts with the offending parameter's name. The checks mirror those the function (and what it
  calls) makes before computing, so a spec that passes them does not fail on a range error.

Constants of the theory modules (activation names, task names, ...) are imported inside the
checks: importing this module imports no theory module.
"""
from __future__ import annotations

from .._validate import FLTheoryInputError, choice, positive, positive_int
from .registry import PointInfo


def _int(name: str, value, minimum: int) -> int:
    return positive_int(name, value, minimum=minimum)


def _bool(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise FLTheoryInputError(f"{name}: expected a bool, got {value!r}")
    return value


def _activation(name: str, value) -> None:
    """A named activation of :mod:`fltheory.activations` (what ``get_activation`` accepts by name)."""
    from ..activations import NAMES

    names = list(NAMES) + ["identity"]
    if not isinstance(value, str) or value.lower() not in names:
        raise FLTheoryInputError(f"{name}: unknown activation {value!r}; choose one of {names}")


# --------------------------------------------------------------------------------------------
NNGP_DEPTH_OUTPUTS = {
    "gp_test_error": "NNGP test error (N = ∞)",
    "rf_test_error": "random-feature test error (width N)",
    "gp_train_error": "NNGP train error (N = ∞)",
    "kernel_corr": "mean off-diagonal kernel correlation",
}


def check_nngp_depth(*, depth, g2, phi, gu2, gw2, P, P_test, D, teacher_width, ridge, width,
                     input_every_layer, **_) -> None:
    """Parameters of :func:`fltheory.sweep.builtin.nngp_depth_point` (which calls this first)."""
    positive_int("depth", depth)
    for name, value in (("g2", g2), ("gu2", gu2), ("gw2", gw2), ("ridge", ridge)):
        positive(name, value)
    for name, value in (("P", P), ("P_test", P_test), ("D", D), ("teacher_width", teacher_width)):
        positive_int(name, value)
    _int("width", width, 0)
    choice("phi", phi, ["linear", "tanh", "erf", "relu"])
    _bool("input_every_layer", input_every_layer)


# --------------------------------------------------------------------------------------------
LOWRANK_OUTPUTS = {
    "ode_overlap_error": "overlap ODE: max |σ − σ_net|",
    "naive_overlap_error": "naive visible-only descent: max |σ − σ_net|",
    "loss_net": "final loss, full network",
    "loss_ode": "final loss, overlap ODE",
    "loss_naive": "final loss, naive descent",
}


def check_lowrank(*, task, N, epochs, eta, phi, rank, **_) -> None:
    """Parameters of :func:`fltheory.sweep.points.lowrank_point` (``compare``'s checks)."""
    from ..lowrank.compare import TASKS

    choice("task", task, TASKS)
    if isinstance(rank, bool) or rank not in (1, 2):
        raise FLTheoryInputError(f"rank: must be 1 or 2, got {rank!r}")
    if not isinstance(phi, str) or phi.lower() not in ("linear", "identity", "erf"):
        raise FLTheoryInputError(f"phi: unknown activation {phi!r}; choose 'linear' or 'erf' (= erf(√π x/2))")
    _int("N", N, 2 + 2 * rank)  # at least as many neurons as overlap vectors
    positive("eta", eta)
    positive_int("epochs", epochs)


DEPTH_GAP_OUTPUTS = {
    "gap": "train-loss gap (decoupled − reused), finite N",
    "gap_se": "s.e. of the train-loss gap",
    "theory_gap": "train-loss gap, linearised theory (N = ∞)",
}


def check_depth_gap(*, arch, L, N, steps, lr, n_seeds, **_) -> None:
    """Parameters of :func:`fltheory.sweep.points.depth_gap_point` (``gap_experiment``'s checks)."""
    from ..depth.model import ARCHS

    choice("arch", arch, ARCHS)
    positive_int("L", L)
    positive_int("N", N)
    positive_int("steps", steps)
    positive("lr", lr)
    _int("n_seeds", n_seeds, 2)


# --------------------------------------------------------------------------------------------
SEQUENTIAL_OUTPUTS = {
    "err_sup": "theory: relative error, supervised steps",
    "err_unsup": "theory: relative error, unsupervised steps",
    "per_step": "theory: relative error per step",
    "sim_err_sup": "Langevin: relative error, supervised steps",
    "sim_err_unsup": "Langevin: relative error, unsupervised steps",
    "sim_per_step": "Langevin: relative error per step",
}


def check_sequential(*, arch, N, teacher, mask, mask_fraction, P, T, D, P_test, phi, kappa, g2, gu2, gw2,
                     n_samples, **_) -> None:
    """Parameters of :func:`fltheory.experiments.sequential.sequential_point`."""
    from ..tasks.sequential import MASKS, TEACHERS

    choice("arch", arch, ("rnn", "dnn"))
    _int("N", N, 0)
    choice("teacher", teacher, TEACHERS)
    for name, value in (("P", P), ("P_test", P_test), ("T", T), ("D", D)):
        positive_int(name, value)
    if teacher == "flipflop" and D != 1:
        raise FLTheoryInputError(f"D: teacher {teacher!r} uses a scalar input stream, so D must be 1, got {D}")
    if teacher == "delayed_copy" and T < 2:
        raise FLTheoryInputError(f"T: teacher 'delayed_copy' (delay 1) needs T >= 2, got {T}")
    if isinstance(mask, str):
        choice("mask", mask, MASKS)
        if mask == "random":
            if positive("mask_fraction", mask_fraction) > 1:
                raise FLTheoryInputError(f"mask_fraction: must be <= 1, got {mask_fraction}")
    elif (not isinstance(mask, (list, tuple)) or not mask
          or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < T for s in mask)):
        raise FLTheoryInputError(f"mask: steps must be a non-empty list of integers within [0, {T}), got {mask!r}")
    _activation("phi", phi)
    for name, value in (("kappa", kappa), ("g2", g2), ("gu2", gu2), ("gw2", gw2)):
        positive(name, value)
    if N > 0:
        positive_int("n_samples", n_samples)


# --------------------------------------------------------------------------------------------
LEARNING_CURVE_OUTPUTS = {
    "test_mse": "test MSE",
    "test_mse_se": "s.e. of the test MSE",
    "m_target": "coefficient on the target m_S",
    "m_off": "largest off-target coefficient",
    "w2_relevant": "⟨w²⟩ on relevant inputs",
    "w2_irrelevant": "⟨w²⟩ on irrelevant inputs",
    "rho_relevant": "ARD precision, relevant inputs",
    "rho_irrelevant": "ARD precision, irrelevant inputs",
    "rho_ratio": "ARD precision ratio (irrelevant / relevant)",
    "converged": "converged (1) or not (0)",
}


def check_learning_curve(*, P, method, **kw) -> None:
    """Parameters of :func:`fltheory.experiments.learning_curve.learning_curve_point`: its own first
    steps, up to building (and so validating) the :class:`LearningCurveConfig`."""
    from ..experiments.learning_curve import METHODS, SIZES, LearningCurveConfig

    positive_int("P", P)
    choice("method", method, METHODS)
    size = kw.pop("size", "default")
    choice("size", size, tuple(SIZES))
    kw.pop("progress", None)
    unknown = set(kw) - set(LearningCurveConfig.__dataclass_fields__)
    if unknown:
        raise FLTheoryInputError(f"{sorted(unknown)[0]}: unknown parameter of learning_curve_point")
    try:
        LearningCurveConfig(**{**SIZES[size], **kw})
    except TypeError as exc:  # e.g. a wrongly typed field the dataclass cannot compare
        raise FLTheoryInputError(f"invalid LearningCurveConfig ({exc})") from None


# --------------------------------------------------------------------------------------------
PHASE_OUTPUTS = {
    "q_theory": "order parameter q, theory",
    "outlier_theory": "outlier |λ| of W/√N, theory",
    "err_theory": "relative test error, theory",
    "action": "action S (log-evidence per neuron)",
    "q_sim": "order parameter q, Langevin",
    "q_sim_se": "s.e. of q, Langevin",
    "eig_sim": "largest |λ| of W/√N, Langevin",
    "err_sim": "relative test error, Langevin",
}


def check_phase(*, signal, arch, N, n_chains, relaxation_times, **kw) -> None:
    """Parameters of :func:`fltheory.experiments.phase.phase_point`: the endpoint task (P, P_test, T,
    D, teacher, inputs), the theory (phi, g2, gu2, gw2, kappa) and the Langevin run. Other keyword
    arguments go to the saddle-point solver and are left to it."""
    choice("arch", arch, ("rnn", "dnn"))
    positive("signal", signal, allow_zero=True)
    for name in ("P", "P_test", "T", "D"):
        if name in kw:
            positive_int(name, kw[name])
    if "teacher" in kw:
        choice("teacher", kw["teacher"], ("linear", "erf_net"))
    if "inputs" in kw:
        choice("inputs", kw["inputs"], ("gaussian", "orthogonal"))
    if "phi" in kw:
        _activation("phi", kw["phi"])
    for name in ("g2", "gu2", "gw2", "kappa"):
        if name in kw:
            positive(name, kw[name])
    if isinstance(N, bool) or not isinstance(N, int) or N < 0:
        raise FLTheoryInputError(f"N: expected an integer >= 0 (0: theory only), got {N!r}")
    if N > 0:
        positive_int("n_chains", n_chains)
        positive("relaxation_times", relaxation_times, allow_zero=True)


TRANSITION_OUTPUTS = {
    "y_c": "critical signal y_c",
    "q_above": "order parameter q at 1.25 y_c",
}


def check_transition(*, T, P, D, kappa, y_max, n_grid, **_) -> None:
    """Parameters of :func:`fltheory.experiments.phase.transition_point` (``critical_signal``'s checks)."""
    for name, value in (("T", T), ("P", P), ("D", D)):
        positive_int(name, value)
    positive("kappa", kappa)
    positive("y_max", y_max)
    _int("n_grid", n_grid, 2)


# --------------------------------------------------------------------------------------------
#: dotted path -> declarations of every built-in point function (the names in registry.BUILTIN and
#: the functions the packaged specs name by path).
BUILTIN_INFO: dict[str, PointInfo] = {
    "fltheory.sweep.builtin:nngp_depth_point": PointInfo(NNGP_DEPTH_OUTPUTS, check_nngp_depth),
    "fltheory.sweep.points:lowrank_point": PointInfo(LOWRANK_OUTPUTS, check_lowrank),
    "fltheory.sweep.points:depth_gap_point": PointInfo(DEPTH_GAP_OUTPUTS, check_depth_gap),
    "fltheory.experiments.sequential:sequential_point": PointInfo(SEQUENTIAL_OUTPUTS, check_sequential),
    "fltheory.experiments.learning_curve:learning_curve_point": PointInfo(LEARNING_CURVE_OUTPUTS,
                                                                          check_learning_curve),
    "fltheory.experiments.phase:phase_point": PointInfo(PHASE_OUTPUTS, check_phase),
    "fltheory.experiments.phase:transition_point": PointInfo(TRANSITION_OUTPUTS, check_transition),
}
