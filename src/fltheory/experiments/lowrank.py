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


# ------------------------------------------------------------------------------------------------------
# The ``fltheory lowrank`` experiment: run -> xarray Dataset -> figure (issue #18's layering; the CLI
# only parses its options and calls :func:`lowrank_experiment`).
# ------------------------------------------------------------------------------------------------------

COMPARE_TASKS = ("impulse", "oscillation", "flipflop", "decision", "teacher")
"""Tasks of the theory-vs-network comparison (:func:`fltheory.lowrank.compare`)."""
EXPERIMENTS = COMPARE_TASKS + ("memory", "memory-map", "twins", "optimizers")
"""Every ``task`` :func:`lowrank_experiment` runs."""
#: per-experiment defaults: rank, phi, N, eta, epochs (docs/theory/lowrank.md §5)
DEFAULTS = {"impulse": (1, "linear", 500, 5e-3, 2000), "oscillation": (2, "linear", 500, 5e-3, 10000),
            "flipflop": (1, "erf", 600, 5e-2, 2000), "decision": (1, "erf", 600, 5e-2, 1000),
            "teacher": (1, "erf", 600, 5e-2, 1000), "memory": (1, "linear", 500, 1e-2, 0),
            "memory-map": (1, "linear", 500, 1e-2, 0),
            "twins": (1, "erf", 600, 0.1, 300), "optimizers": (1, "linear", 500, 5e-3, 1000)}


def _resolve(task, *, rank, phi, N, eta, epochs, readout, noise, fresh_batches, twin_tasks, gd_etas, adam_lr,
             method, seed, n_networks, balanced) -> dict:
    """Check every option of :func:`lowrank_experiment` (before anything is computed or created) and fill
    in the per-experiment defaults; returns the resolved options."""
    from ..lowrank.gain import get_lowrank_activation
    from ..lowrank.overlaps import Layout
    from ..lowrank.tasks import check_readout

    choice("task", task, EXPERIMENTS)
    readout = check_readout(readout)
    choice("method", method, ("flow", "gd"))
    r0, p0, n0, e0, ep0 = DEFAULTS[task]
    pick = lambda given, default: default if given is None else given  # noqa: E731
    o = {"eta_given": eta is not None, "epochs_given": epochs is not None}
    rank, phi, N, eta = pick(rank, r0), pick(phi, p0), pick(N, n0), pick(eta, e0)
    if isinstance(rank, bool) or rank not in (1, 2):
        raise FLTheoryInputError(f"rank: must be 1 or 2, got {rank!r}")
    layout = Layout(rank)
    act = get_lowrank_activation(phi)
    positive_int("N", N, minimum=layout.n)
    positive("eta", eta)
    seed = positive_int("seed", seed, minimum=0)
    if epochs is not None:
        positive_int("epochs", epochs)
    if adam_lr is None or adam_lr < 0:
        raise FLTheoryInputError(f"adam_lr: must be >= 0 (0 skips Adam), got {adam_lr}")
    if noise is not None:
        if task not in ("decision", "teacher", "memory"):
            raise FLTheoryInputError(f"noise: only the decision, teacher and memory tasks take a noise level, "
                                     f"not {task}")
        positive("noise", noise, allow_zero=True)
    if fresh_batches and task != "flipflop":
        raise FLTheoryInputError(f"fresh_batches: only the flipflop task draws a fresh batch per epoch, not {task}")
    memory = task.startswith("memory")
    if memory and rank != 1:
        raise FLTheoryInputError("rank: the memory experiment is rank 1")
    if balanced and not memory:
        raise FLTheoryInputError(f"balanced: only the memory tasks take a balanced initialisation, not {task}")
    if memory:
        positive_int("n_networks", n_networks, minimum=5)
        if not act.linear:
            raise FLTheoryInputError("phi: the memory experiment replays the exact linear overlap map; use linear")
    if task == "twins":
        from ..lowrank.twins import TWIN_TASKS

        if isinstance(twin_tasks, str) or not twin_tasks:
            raise FLTheoryInputError(f"twin_tasks: expected a non-empty list from {list(TWIN_TASKS)}, "
                                     f"got {twin_tasks!r}")
        twin_tasks = [choice("twin_tasks", t, TWIN_TASKS) for t in twin_tasks]
    if task == "optimizers":
        if not act.linear:
            raise FLTheoryInputError("phi: the conservation law holds for linear φ only; use linear")
        if adam_lr <= 0:
            raise FLTheoryInputError(f"adam_lr: the optimizers comparison needs an Adam rate > 0, got {adam_lr}")
        if not len(gd_etas):
            raise FLTheoryInputError("gd_etas: expected at least one GD step size")
        gd_etas = [positive("gd_etas", float(v)) for v in gd_etas]
    o.update(rank=rank, act=act, N=N, eta=eta, epochs=pick(epochs, ep0), epochs_opt=epochs, readout=readout,
             noise=noise, fresh_batches=bool(fresh_batches), twin_tasks=twin_tasks, gd_etas=gd_etas,
             adam_lr=adam_lr, method=method, seed=seed, n_networks=n_networks, balanced=bool(balanced))
    return o


def lowrank_stem(task: str, readout: str = "next", balanced: bool = False) -> str:
    """File stem of an experiment's outputs: ``lowrank_<task>`` (+ ``_current`` under the paper's readout,
    + ``_balanced`` for balanced memory runs)."""
    return (f"lowrank_{task.replace('-', '_')}" + ("_current" if readout == "current" else "")
            + ("_balanced" if balanced else ""))


def lowrank_experiment(task: str = "impulse", out=None, *, rank: int | None = None, phi: str | None = None,
                       N: int | None = None, eta: float | None = None, epochs: int | None = None,
                       readout: str = "next", noise: float | None = None, fresh_batches: bool = False,
                       twin_tasks=("decision", "teacher"), gd_etas=(5e-3, 2e-2, 4e-2), adam_lr: float = 1e-3,
                       method: str = "flow", seed: int = 0, n_networks: int = 40, balanced: bool = False,
                       progress=None):
    """One ``fltheory lowrank`` experiment: run it, build its Dataset, draw its figure.

    ``task``: a comparison task of :data:`COMPARE_TASKS` (network vs overlap ODE vs naive descent),
    ``memory`` (A only vs A-B-A-B-A decoding), ``memory-map`` (its regime map; η and epochs, if given,
    replace the grid's), ``twins`` or ``optimizers``. ``None`` options take the experiment's
    :data:`DEFAULTS`; every option is checked before anything is computed or created. ``out``: a
    directory (created only after the checks) that receives ``<stem>.nc`` and ``<stem>.png``
    (:func:`lowrank_stem`); ``None`` writes nothing. ``progress(stage, done, total)`` is called as the
    run advances (``total`` None: no count).

    Returns ``(dataset, paths, summary)``: the Dataset, the paths written and the summary lines
    (plain text: the key numbers of the run).
    """
    o = _resolve(task, rank=rank, phi=phi, N=N, eta=eta, epochs=epochs, readout=readout, noise=noise,
                 fresh_batches=fresh_batches, twin_tasks=twin_tasks, gd_etas=gd_etas, adam_lr=adam_lr,
                 method=method, seed=seed, n_networks=n_networks, balanced=balanced)
    note = progress or (lambda stage, done, total: None)
    if task == "memory":
        ds, plot, summary = _run_memory(o, note)
    elif task == "memory-map":
        ds, plot, summary = _run_memory_map(o, note)
    elif task == "twins":
        ds, plot, summary = _run_twins(o, note)
    elif task == "optimizers":
        ds, plot, summary = _run_optimizers(o, note)
    else:
        ds, plot, summary = _run_compare(task, o, note)
    paths = []
    if out is not None:
        from .. import io

        d = io.ensure_dir(out)
        stem = lowrank_stem(task, o["readout"], o["balanced"])
        paths = [io.save_dataset(ds, d / f"{stem}.nc"), plot(ds, d / f"{stem}.png")]
    return ds, paths, summary


def _run_compare(task, o, note):
    from ..lowrank import compare
    from ..lowrank.compare import lowrank_task, overlap_errors
    from ..lowrank.figures import plot_compare

    kw = {}
    if task == "flipflop":
        kw["fresh_batches"] = o["fresh_batches"]
    if task in ("decision", "teacher") and o["noise"] is not None:
        kw["noise"] = o["noise"]
    if task == "teacher":
        kw.update(rank=o["rank"], phi=o["act"], readout=o["readout"], seed=o["seed"])
    built = lowrank_task(task, **kw)
    ds = compare(built, rank=o["rank"], phi=o["act"], N=o["N"], eta=o["eta"], epochs=o["epochs"], seed=o["seed"],
                 adam_lr=o["adam_lr"] or None, method=o["method"], readout=o["readout"], progress=note)
    e = overlap_errors(ds)
    msg = f"overlap ODE vs network: max |Δσ| = {e['max']:.3g}, rms = {e['rms']:.3g}"
    if "sigma_naive" in ds:
        msg += f"; naive: max |Δσ| = {overlap_errors(ds, 'naive')['max']:.3g}"
    return ds, plot_compare, [msg]


def _run_memory(o, note):
    import numpy as np

    from ..lowrank.figures import plot_memory_protocol
    from ..lowrank.memory import MEMORY_FEATURES, memory_protocol, memory_protocol_dataset

    kw = {} if o["epochs_opt"] is None else {"phase_epochs": o["epochs_opt"], "final_epochs": 2 * o["epochs_opt"]}
    note("A only vs A-B-A-B-A (overlap space, vmapped)", 0, None)
    res = memory_protocol(n_networks=o["n_networks"], N=o["N"], eta=o["eta"], seed=o["seed"], readout=o["readout"],
                          noise=0.1 if o["noise"] is None else o["noise"], balanced=o["balanced"], **kw)
    note("A only vs A-B-A-B-A (overlap space, vmapped)", 1, 1)
    summary = [f"decoding accuracy over {res['n']} held-out networks (95 % Clopper-Pearson interval; chance 0.5):"]
    for f in MEMORY_FEATURES:
        if np.isfinite(res[f"accuracy_{f}"]):
            lo, hi = res[f"ci_{f}"]
            summary.append(f"  {f}: {res[f'accuracy_{f}']:.3f} ({lo:.3f} .. {hi:.3f}), p = {res[f'p_{f}']:.2g}")
    return memory_protocol_dataset(res), plot_memory_protocol, summary


def _run_memory_map(o, note):
    from ..lowrank.figures import plot_memory_grid
    from ..lowrank.memory import memory_map

    kw = {**({"etas": (o["eta"],)} if o["eta_given"] else {}),
          **({} if o["epochs_opt"] is None else {"phase_epochs": (o["epochs_opt"],)})}
    ds = memory_map(n_networks=o["n_networks"], N=o["N"], seed=o["seed"], readout=o["readout"],
                    balanced=o["balanced"], progress=lambda done, total: note("memory regime map", done, total), **kw)
    summary = []
    for eta in ds["eta"].values:
        for noise in ds["noise"].values:
            for e in ds["phase_epochs"].values:
                d = ds.sel(eta=eta, noise=noise, phase_epochs=e)
                summary.append(f"eta {eta:g}, noise {noise:g}, phases {e}: " + ", ".join(
                    f"{f} {float(d['accuracy'].sel(features=f)):.3f} ({float(d['ci_low'].sel(features=f)):.2f}.."
                    f"{float(d['ci_high'].sel(features=f)):.2f})" for f in ("visible", "invisible", "invisible|visible")))
    return ds, plot_memory_grid, summary


def _run_twins(o, note):
    from ..lowrank.figures import plot_twins
    from ..lowrank.twins import twin_errors, twins

    ds = twins(tasks=o["twin_tasks"], rank=o["rank"], phi=o["act"], N=o["N"], eta=o["eta"], epochs=o["epochs"],
               seed=o["seed"], method=o["method"], readout=o["readout"],
               progress=lambda stage, done, total: note("twins", done, total))
    summary = [f"{name}: twins' output gap at init {e['output_gap0_net']:.2g}; max separation |ΔL| "
               f"{e['loss_gap_net']:.3g} (ODE {e['loss_gap_theory']:.3g}), visible |Δσ| {e['visible_gap_net']:.3g} "
               f"(ODE {e['visible_gap_theory']:.3g}); L_a − L_b at epoch {e['peak_epoch']} {e['split_net']:.3g} "
               f"(ODE {e['split_theory']:.3g}, at epoch 0 {e['split0_net']:.2g}); ODE vs network rms |Δσ| {e['rms']:.3g}"
               for name, e in twin_errors(ds).items()]
    return ds, plot_twins, summary


def _run_optimizers(o, note):
    from ..lowrank.figures import plot_optimizers
    from ..lowrank.optimizers import optimizer_comparison

    ds = optimizer_comparison(rank=o["rank"], N=o["N"], etas=o["gd_etas"], adam_lr=o["adam_lr"], epochs=o["epochs"],
                              seed=o["seed"], readout=o["readout"],
                              progress=lambda stage, done, total: note("optimizers", done, total))
    summary = [f"{name}: final loss {float(ds.sel(optimizer=name)['loss'][-1]):.3g}, max |C − C(0)| "
               f"{float(abs(ds.sel(optimizer=name)['drift']).max()):.3g}" for name in ds["optimizer"].values]
    return ds, plot_optimizers, summary


# ------------------------------------------------------------------------------------------------------
# The ``lowrank-twins`` sweep point (spec src/fltheory/specs/lowrank-twins.yaml)
# ------------------------------------------------------------------------------------------------------

TWINS_OUTPUTS = {
    "loss_gap_net": "max over epochs |L_a − L_b|, full networks",
    "loss_gap_theory": "max over epochs |L_a − L_b|, overlap ODE",
    "visible_gap_net": "max over epochs and visible overlaps |σ_a − σ_b|, full networks",
    "visible_gap_theory": "max over epochs and visible overlaps |σ_a − σ_b|, overlap ODE",
    "output_gap0_net": "max |y_a − y_b| of the untrained twin networks",
    "ode_overlap_rms": "overlap ODE vs network: rms |σ − σ_net| over twins, epochs, overlaps",
    "final_loss_a": "final loss of twin a, full network",
    "final_loss_b": "final loss of twin b, full network",
    "peak_epoch": "epoch e* of the overlap ODE's largest loss separation",
    "loss_split_theory": "L_a − L_b at e*, overlap ODE",
    "loss_split_net": "L_a − L_b at e*, full networks",
    "loss_split0_net": "L_a − L_b at epoch 0 (untrained), full networks",
}


def check_lowrank_twins(*, task, N, epochs, eta, phi, rank, method="flow", readout="next", twin_seed=None,
                        **_) -> None:
    """Parameters of :func:`lowrank_twins_point` (checked without computing)."""
    from ..lowrank.tasks import check_readout
    from ..lowrank.twins import TWIN_TASKS

    choice("task", task, TWIN_TASKS)
    check_readout(readout)
    choice("method", method, ("flow", "gd"))
    if isinstance(rank, bool) or rank not in (1, 2):
        raise FLTheoryInputError(f"rank: must be 1 or 2, got {rank!r}")
    if not isinstance(phi, str):
        raise FLTheoryInputError(f"phi: expected an activation name, got {phi!r}")
    get_lowrank_activation(phi)
    positive_int("N", N, minimum=2 + 2 * rank)
    positive("eta", eta)
    positive_int("epochs", epochs)
    if twin_seed is not None:
        positive_int("twin_seed", twin_seed, minimum=0)


@declare(outputs=TWINS_OUTPUTS, validate=check_lowrank_twins)
def lowrank_twins_point(*, task: str = "decision", N: int = 600, epochs: int = 300, eta: float = 0.1,
                        phi: str = "erf", rank: int = 1, method: str = "flow", readout: str = "next",
                        twin_seed: int | None = None, seed: int = 0) -> dict:
    """One pair of twins (equal visible, different invisible overlaps; :func:`fltheory.lowrank.twins.twins`)
    trained on one task of :data:`fltheory.lowrank.twins.TWIN_TASKS`, as full networks (GD) and by the
    overlap ODE: their largest separation in loss and visible overlaps, the theory's error, and the signed
    loss split L_a − L_b at the epoch e* where the theory's is largest (and at epoch 0).

    ``twin_seed`` None: ``seed`` draws everything (twin a's overlaps, the task's teacher and noise, the
    vectors). ``twin_seed`` given: it fixes the overlaps and the task, and ``seed`` only draws the vectors
    (``twins(draw=...)``), so the sweep's replicates are independent realisations of one twin pair — their
    spread is the finite-N noise of the separation."""
    from ..lowrank.twins import twin_errors, twins

    check_lowrank_twins(task=task, N=N, epochs=epochs, eta=eta, phi=phi, rank=rank, method=method, readout=readout,
                        twin_seed=twin_seed)
    kw = {"seed": seed} if twin_seed is None else {"seed": twin_seed, "draw": 1 + seed}
    ds = twins(tasks=[task], rank=rank, phi=phi, N=N, eta=eta, epochs=epochs, method=method, readout=readout, **kw)
    e = next(iter(twin_errors(ds).values()))
    loss = ds["loss_net"].isel(task=0, epoch=-1)
    return {"peak_epoch": e["peak_epoch"], "loss_split_theory": e["split_theory"], "loss_split_net": e["split_net"],
            "loss_split0_net": e["split0_net"],"loss_gap_net": e["loss_gap_net"], "loss_gap_theory": e["loss_gap_theory"],
            "visible_gap_net": e["visible_gap_net"], "visible_gap_theory": e["visible_gap_theory"],
            "output_gap0_net": e["output_gap0_net"], "ode_overlap_rms": e["rms"],
            "final_loss_a": float(loss.sel(twin="a")), "final_loss_b": float(loss.sel(twin="b"))}
