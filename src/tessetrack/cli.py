"""Command-line interface (``tessetrack``): thin commands that call the library.

Each command parses its arguments, calls one library function and reports. Errors meant for the
user (:class:`~tessetrack.errors.TesseTrackError`) are printed as one line and exit with status 2.
Heavy imports happen inside the commands so that ``tessetrack --help`` stays fast.
"""

from __future__ import annotations

import logging
import sys

import typer

from tessetrack import __version__
from tessetrack.errors import TesseTrackError

app = typer.Typer(
    name="tessetrack",
    help="Find, reconstruct and track the 3D skeletons of several people seen by calibrated cameras.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"tessetrack {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")


# --- commands ------------------------------------------------------------------------------------
# Each command lives in its own block below; keep them thin (argument parsing + one library call).


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        app(args=argv, standalone_mode=True)
    except TesseTrackError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
