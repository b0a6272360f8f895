"""The ``fltheory`` command line (typer).

Each module in this package defines ``register(app)`` adding its commands; they are discovered
automatically, so a new experiment adds one file and touches nothing else.

Errors: every input error (:class:`~fltheory._validate.FLTheoryInputError`, sweep-spec errors, a bad
option value, an unusable path) is printed as one line, ``error: <parameter>: <problem>``, with exit
code 2 and no traceback; a solver that does not converge exits 1 the same way. ``fltheory --debug
<command>`` shows the traceback instead (conventions §8).
"""
from __future__ import annotations

import importlib
import pkgutil

import typer
from typer.core import TyperGroup

try:  # typer (0.2x) vendors click; its parse errors are these classes, not the click package's
    from typer._click import exceptions as _cx
except ImportError:  # pragma: no cover - older typer on top of click
    from click import exceptions as _cx

from .._validate import ConvergenceError, FLTheoryInputError

__all__ = ["app", "main"]

INPUT_ERROR = 2  # exit code of every input error (click's own usage errors use 2 as well)
RUN_ERROR = 1  # a computation that could not finish (non-convergence, out of memory)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _usage_message(exc) -> str:
    """``<parameter>: <problem>`` for click's parse errors."""
    param = getattr(exc, "param", None)
    if isinstance(exc, _cx.NoSuchOption):
        msg = f"{exc.option_name}: no such option"
        if exc.possibilities:
            msg += f" (did you mean {', '.join(sorted(exc.possibilities))}?)"
        return msg
    if param is not None:
        hint = param.opts[0] if getattr(param, "opts", None) else param.name
        if isinstance(exc, _cx.MissingParameter):
            return f"{hint}: missing"
        return f"{hint}: {exc.message}"
    return exc.format_message()


def _os_message(exc: OSError) -> str:
    where = exc.filename if exc.filename is not None else type(exc).__name__
    return f"{where}: {exc.strerror or exc}"


class _ErrorsAsOneLine(TyperGroup):
    """The root group: turns the errors a user can act on into one ``error: …`` line (see module doc)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except _cx.UsageError as exc:
            if isinstance(exc, _cx.NoArgsIsHelpError) or ctx.params.get("debug"):
                raise
            self._fail(_usage_message(exc), exc.exit_code)
        except FLTheoryInputError as exc:
            self._fail(str(exc), INPUT_ERROR, ctx, exc)
        except ConvergenceError as exc:
            self._fail(str(exc), RUN_ERROR, ctx, exc)
        except MemoryError as exc:
            self._fail(f"memory: {exc or 'out of memory'}; reduce the problem size", RUN_ERROR, ctx, exc)
        except OSError as exc:
            self._fail(_os_message(exc), INPUT_ERROR, ctx, exc)

    @staticmethod
    def _fail(message: str, code: int, ctx=None, exc: Exception | None = None):
        if ctx is not None and exc is not None and ctx.params.get("debug"):
            raise exc
        typer.echo(f"error: {_one_line(message)}", err=True)
        raise typer.Exit(code) from None


app = typer.Typer(
    name="fltheory",
    cls=_ErrorsAsOneLine,
    help="Theory of feature learning in deep and recurrent networks, checked against simulation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"fltheory {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_version,
                                 help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback of an error."),
) -> None:
    """Theory of feature learning in deep and recurrent networks, checked against simulation."""


def _register_all() -> None:
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_all()


def main() -> None:
    """The ``fltheory`` console-script entry point."""
    app()
