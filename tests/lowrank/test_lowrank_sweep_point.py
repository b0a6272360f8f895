"""The ``lowrank`` sweep point takes ``readout`` (conventions §10); a bad value fails at spec-load time,
before any work, naming its field."""
import pytest

from fltheory.sweep.spec import SpecError, load_spec


def test_lowrank_spec_accepts_readout_and_rejects_a_bad_one():
    spec = {"name": "o", "function": "lowrank", "fixed": {"N": 40, "epochs": 3},
            "axes": {"readout": ["next", "current"]}}
    load_spec(spec)  # both conventions are valid values
    with pytest.raises(SpecError) as info:
        load_spec({**spec, "axes": {"readout": ["next", "previous"]}})
    assert str(info.value).startswith("axes.readout[1]: ") and "previous" in str(info.value)


@pytest.mark.slow  # ≈ 10 s: two compare() runs (compilation)
def test_lowrank_point_runs_under_current_readout():
    from fltheory.experiments.lowrank import lowrank_point

    nxt = lowrank_point(task="impulse", N=40, epochs=3, eta=5e-3, readout="next")
    cur = lowrank_point(task="impulse", N=40, epochs=3, eta=5e-3, readout="current")
    # the same initial network, read at another step: different losses (the "current" one has y_0 = 0)
    assert nxt["loss_net"] != pytest.approx(cur["loss_net"], rel=1e-6)
