"""The ``nrpfiles`` command: a record's files from a shell, a job script or a CI pipeline.

A thin layer over the public sync API (``nrpfiles.Client``, ``nrpfiles.folders``):
each command module holds one group of commands; ``local`` keeps ``serve`` and
``demo`` with their argparse options as they always were.

Exit codes: 0 success, 1 when anything failed (one line per failure on stderr
and a summary), 2 for usage errors, 130 after Ctrl-C.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from nrpfiles.cli import files, records, repositories
from nrpfiles.cli.local import build_parser
from nrpfiles.cli.session import Session, configure_logging, describe
from nrpfiles.errors import RepositoryError

__all__ = ["build_parser", "cli", "main"]

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "-r",
    "--repository",
    metavar="ALIAS_OR_URL",
    help="Repository to talk to (else the one a URL names, NRPFILES_URL or the default alias).",
)
@click.option("--token", help="Bearer token (else NRPFILES_TOKEN or the configuration file).")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no notes on stderr.")
@click.option("-v", "--verbose", count=True, help="Log requests on stderr (-vv: more).")
@click.version_option(package_name="nrpfiles", prog_name="nrpfiles")
@click.pass_context
def cli(
    context: click.Context, repository: str | None, token: str | None, quiet: bool, verbose: int
) -> None:
    """Move the files of InvenioRDM, NRP and Zenodo records from the shell.

    RECORD is a record id, a record or draft URL (API or web page, such as
    https://zenodo.org/records/123) or a file URL. A URL tells which
    repository; otherwise -r, NRPFILES_URL and the configuration decide.

    \b
    Examples:
      nrpfiles download https://zenodo.org/records/123 -o data/
      nrpfiles -r my-repo sync results/ abcd-1234
    """
    configure_logging(verbose)
    session = Session(repository=repository, token=token, quiet=quiet, verbose=verbose)
    context.obj = session
    context.call_on_close(session.close)


for command in files.COMMANDS:
    cli.add_command(command)
cli.add_command(records.records)
cli.add_command(repositories.repositories)

_PASSTHROUGH = {
    "context_settings": {"ignore_unknown_options": True, "allow_interspersed_args": False},
    "add_help_option": False,
}


def _run_local(name: str, arguments: Sequence[str]) -> int:
    try:
        parsed = build_parser().parse_args([name, *arguments])
    except SystemExit as stop:  # argparse's --help and usage errors
        return stop.code if isinstance(stop.code, int) else EXIT_FAILED
    return int(parsed.run(parsed))


@cli.command(**_PASSTHROUGH)
@click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
def serve(arguments: tuple[str, ...]) -> None:
    """Run a local InvenioRDM-compatible repository (see: nrpfiles serve --help)."""
    raise click.exceptions.Exit(_run_local("serve", arguments))


@cli.command(**_PASSTHROUGH)
@click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
def demo(arguments: tuple[str, ...]) -> None:
    """Upload, publish and download back files against a local repository."""
    raise click.exceptions.Exit(_run_local("demo", arguments))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns its exit code (the console script exits with it)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        result = cli.main(arguments, prog_name="nrpfiles", standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("nrpfiles: interrupted", err=True)
        return EXIT_INTERRUPTED
    except (RepositoryError, OSError, ValueError) as error:
        # Expected failures: a line, not a traceback. The library keeps tokens out of messages.
        click.echo(f"nrpfiles: error: {describe(error)}", err=True)
        return EXIT_FAILED
    return result if isinstance(result, int) else 0
