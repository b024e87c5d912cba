"""The ``nrpfiles`` command.

Subcommands live in ``SUBCOMMANDS``: each entry adds its parser and names the
function that runs it, so a new subcommand is one function pair and one entry.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Sequence

Runner = Callable[[argparse.Namespace], int]
Configure = Callable[[argparse.ArgumentParser], None]


def _configure_serve(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5000, help="port (0 picks a free one)")
    parser.add_argument(
        "--data-dir", default=None, help="keep records and files here (default: temporary)"
    )
    parser.add_argument("--token", default=None, help="token of the first user (default: new)")
    parser.add_argument(
        "--transfers",
        default="L,M,F,R",
        help="comma-separated transfer types to allow, of L, M, F, R",
    )
    parser.add_argument(
        "--no-ranges",
        action="store_true",
        help="ignore Range headers, as many deployments do",
    )
    parser.add_argument(
        "--storage-redirect",
        action="store_true",
        help="answer downloads with a 302 to a storage server on another port, like S3",
    )
    parser.add_argument(
        "--fetch-allow",
        nargs="+",
        default=None,
        metavar="DOMAIN",
        help="domains url-fetch (F) transfers may fetch from (default: 127.0.0.1 localhost)",
    )
    parser.add_argument("--page-size", type=int, default=25, help="default search page size")
    parser.add_argument(
        "--max-files",
        type=int,
        default=100,
        help="files one record may hold (InvenioRDM's default is 100)",
    )


def _run_serve(args: argparse.Namespace) -> int:
    from .testing import LocalRepository

    transfers = tuple(t.strip().upper() for t in args.transfers.split(",") if t.strip())
    repository = LocalRepository(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        token=args.token,
        transfers=transfers,
        ranges=not args.no_ranges,
        storage_redirect=args.storage_redirect,
        fetch_allowed_domains=tuple(args.fetch_allow or ("127.0.0.1", "localhost")),
        page_size=args.page_size,
        max_files=args.max_files,
    )
    # a service manager's SIGTERM stops the repository as cleanly as Ctrl-C does
    signal.signal(signal.SIGTERM, _interrupt)
    with repository:
        print(f"Repository: {repository.url}")
        print(f"API:        {repository.api_url}")
        print(f"Token:      {repository.token}")
        if repository.storage_url:
            print(f"Storage:    {repository.storage_url}")
        print(f"Data:       {repository.data_dir}")
        print("Press Ctrl-C to stop.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("Stopping.", file=sys.stderr)
    return 0


def _configure_demo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", action="store_true", help="do not draw progress bars")


def _run_demo(args: argparse.Namespace) -> int:
    from . import demo

    rows = demo.run(show_progress=not args.no_progress)
    return 0 if all(row["verified"] for row in rows) else 1


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


SUBCOMMANDS: dict[str, tuple[str, Configure, Runner]] = {
    "serve": ("run a local InvenioRDM-compatible repository", _configure_serve, _run_serve),
    "demo": (
        "upload, publish and download back files against a local repository",
        _configure_demo,
        _run_demo,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nrpfiles", description="Files of InvenioRDM and NRP repository records."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (summary, configure, run) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        configure(sub)
        sub.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    runner: Runner = args.run
    return runner(args)
