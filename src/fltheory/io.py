"""Where commands write: ``./fltheory-out/<command>/`` by default, or ``--out DIR`` (conventions §8)."""
from __future__ import annotations

from pathlib import Path

from rich.console import Console

console = Console()


def output_dir(command: str, out: str | Path | None = None) -> Path:
    """Return (and create) the output directory of ``command``."""
    path = Path(out) if out is not None else Path.cwd() / "fltheory-out" / command
    path.mkdir(parents=True, exist_ok=True)
    return path


def report_written(paths) -> None:
    """Print every written path, one per line."""
    for p in paths:
        console.print(f"wrote {p}")


def save_dataset(ds, path: Path) -> Path:
    """Save an xarray Dataset as netCDF (h5netcdf), atomically (temp file + rename)."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    ds.to_netcdf(tmp, engine="h5netcdf")
    tmp.replace(path)
    return path
