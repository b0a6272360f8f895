"""The ``lowrank`` sweep point: full low-rank RNN vs its overlap ODE vs naive descent (issue #6)."""
from __future__ import annotations

from .._validate import FLTheoryInputError, choice, positive, positive_int
from ..lowrank.gain import get_lowrank_activation
from ..sweep.registry import declare


LOWRANK_OUTPUTS = {
    "ode_overlap_error": "overlap ODE: max |σ − σ_net|",
    "naive_overlap_error": "naive visible-only descent: max |σ − σ_net|",
    "loss_net": "final loss, full network",
    "loss_ode": "final loss, overlap ODE",
    "loss_naive": "final loss, naive descent",
}


def check_lowrank(*, task, N, epochs, eta, phi, rank, readout="next", **_) -> None:
    """Parameters of :func:`lowrank_point` (``compare``'s checks)."""
    from ..lowrank.compare import TASKS
    from ..lowrank.tasks import check_readout

    choice("task", task, TASKS)
    check_readout(readout)
    if isinstance(rank, bool) or rank not in (1, 2):
        raise FLTheoryInputError(f"rank: must be 1 or 2, got {rank!r}")
    if not isinstance(phi, str):
        raise FLTheoryInputError(f"phi: expected an activation name, got {phi!r}")
    get_lowrank_activation(phi)  # the names lowrank accepts ('erf' = erf_unit = erf(√π x/2))
    positive_int("N", N, minimum=2 + 2 * rank)  # at least as many neurons as overlap vectors
    positive("eta", eta)
    positive_int("epochs", epochs)


@declare(outputs=LOWRANK_OUTPUTS, validate=check_lowrank)
def lowrank_point(*, task: str = "impulse", N: int = 500, epochs: int = 200, eta: float = 5e-3,
                  phi: str = "linear", rank: int = 1, seed: int = 0, readout: str = "next") -> dict:
    """Full-network GD vs the overlap ODE vs naive visible-only descent (issue #6); ``readout`` is
    ``"next"`` (y_k from x_{k+1}) or ``"current"`` (y_k from x_k, the paper's), conventions §10."""
    from ..lowrank.compare import compare, overlap_errors

    check_lowrank(task=task, N=N, epochs=epochs, eta=eta, phi=phi, rank=rank, readout=readout)
    ds = compare(task, rank=rank, phi=phi, N=N, eta=eta, epochs=epochs, seed=seed, adam_lr=None, readout=readout)
    return {
        "ode_overlap_error": overlap_errors(ds, "theory")["max"],
        "naive_overlap_error": overlap_errors(ds, "naive")["max"],
        "loss_net": float(ds["loss_net"].values[-1]),
        "loss_ode": float(ds["loss_theory"].values[-1]),
        "loss_naive": float(ds["loss_naive"].values[-1]),
    }


MEMORY_OUTPUTS = {
    **{f"accuracy_{f}": f"decoding accuracy from {f} overlaps (A only vs A-B-A-B-A)"
       for f in ("visible", "invisible", "all")},
    "accuracy_residual": "decoding accuracy from the invisible overlaps' residuals given the visible ones",
    "accuracy_K": "decoding accuracy from the drift of the conserved matrix K",
    **{f"ci_low_{f}": f"Clopper-Pearson lower bound, {f}" for f in ("visible", "invisible", "residual", "all")},
    **{f"ci_high_{f}": f"Clopper-Pearson upper bound, {f}" for f in ("visible", "invisible", "residual", "all")},
    "p_invisible": "one-sided binomial p-value of the invisible accuracy against chance 1/2",
    "K_max_drift": "max |K - J| (conserved matrix in initial-vector coordinates)",
}


def check_lowrank_memory(*, eta, noise, phase_epochs, final_factor=2.0, n_networks=40, N=500, decay_a=0.2,
                         decay_b=0.4, dt=0.05, T=20.0, readout="next", balanced=False, **_) -> None:
    """Parameters of :func:`lowrank_memory_point` (checked without computing)."""
    from ..lowrank.tasks import check_readout

    positive("eta", eta)
    positive("noise", noise, allow_zero=True)
    positive_int("phase_epochs", phase_epochs)
    positive("final_factor", final_factor)
    positive_int("n_networks", n_networks, minimum=5)
    positive_int("N", N, minimum=4)
    positive("decay_a", decay_a, allow_zero=True)
    positive("decay_b", decay_b, allow_zero=True)
    positive("dt", dt)
    positive("T", T)
    check_readout(readout)
    if not isinstance(balanced, bool):
        raise FLTheoryInputError(f"balanced: expected true or false, got {balanced!r}")


@declare(outputs=MEMORY_OUTPUTS, validate=check_lowrank_memory)
def lowrank_memory_point(*, eta: float = 5e-3, noise: float = 0.1, phase_epochs: int = 300,
                         final_factor: float = 2.0, n_networks: int = 40, N: int = 500, decay_a: float = 0.2,
                         decay_b: float = 0.4, dt: float = 0.05, T: float = 20.0, readout: str = "next",
                         balanced: bool = False, seed: int = 0) -> dict:
    """One point of the memory regime map (issue #16): :func:`fltheory.lowrank.memory.memory_protocol`,
    A only vs A-B-A-B-A then a final noisy A phase of ``final_factor``·phase_epochs epochs; accuracies with
    Clopper–Pearson 95 % bounds over the 2·n_networks held-out predictions."""
    from ..lowrank.memory import memory_protocol

    check_lowrank_memory(eta=eta, noise=noise, phase_epochs=phase_epochs, final_factor=final_factor,
                         n_networks=n_networks, N=N, decay_a=decay_a, decay_b=decay_b, dt=dt, T=T,
                         readout=readout, balanced=balanced)
    res = memory_protocol(n_networks=n_networks, N=N, eta=eta, phase_epochs=phase_epochs,
                          final_epochs=max(1, int(round(final_factor * phase_epochs))), noise=noise,
                          decay_a=decay_a, decay_b=decay_b, dt=dt, T=T, seed=seed, readout=readout,
                          balanced=balanced, keep_every=phase_epochs)
    out = {"K_max_drift": res["K_max_drift"], "p_invisible": res["p_invisible"],
           "accuracy_K": res["accuracy_K"]}
    for f, key in (("visible", "visible"), ("invisible", "invisible"), ("residual", "invisible|visible"),
                   ("all", "all")):
        out[f"accuracy_{f}"] = res[f"accuracy_{key}"]
        out[f"ci_low_{f}"], out[f"ci_high_{f}"] = res[f"ci_{key}"]
    if balanced:  # no K feature for balanced networks (K = 0): NaN, not applicable
        out["accuracy_K"] = float("nan")
    return out
