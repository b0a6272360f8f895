"""Long commands say what they are doing and what they wrote (issue #17: phase-diagram printed nothing
but a numpy warning for 10 minutes)."""
from typer.testing import CliRunner

from fltheory.cli import app


def test_phase_diagram_reports_its_stages_and_the_files_it_wrote(in_tmp_cwd):
    res = CliRunner().invoke(app, ["phase-diagram", "--widths", "", "--n", "3", "--smin", "0.5", "--smax", "1.0"])
    assert res.exit_code == 0, res.output
    out = res.output
    assert "theory: RNN and DNN branches at 3 signals done" in out
    written = [ln.split("wrote ", 1)[1].strip() for ln in out.splitlines() if ln.startswith("wrote ")]
    assert sorted(p.rsplit("/", 1)[-1] for p in written) == ["phase_diagram.md", "phase_diagram.nc",
                                                              "phase_diagram.png"]
    assert all((in_tmp_cwd / "fltheory-out" / "phase-diagram" / p.rsplit("/", 1)[-1]).is_file() for p in written)
    assert "Warning" not in out  # no overflow (or other) warning leaks from the solver
