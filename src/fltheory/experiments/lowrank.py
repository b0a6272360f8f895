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
