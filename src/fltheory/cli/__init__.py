"""The ``fltheory`` command line (typer).

Each module in this package defines ``register(app)`` adding its commands; they are discovered
automatically, so a new experiment adds one file and touches nothing else.
"""
from __future__ import annotations

import importlib
import pkgutil

import typer

app = typer.Typer(
    name="fltheory",
    help="Theory of feature learning in deep and recurrent networks, checked against simulation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _register_all() -> None:
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_all()


def main() -> None:  # console-script entry point
    app()
