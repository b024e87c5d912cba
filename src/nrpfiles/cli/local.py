"""``nrpfiles serve`` and ``nrpfiles demo``: the local repository and the demo.

Their options are argparse definitions kept as they were before the command
line grew click commands; the click group hands their arguments over
unchanged. Subcommands live in ``SUBCOMMANDS``: each entry adds its parser and
names the function that runs it, so a new subcommand is one function pair and
one entry.
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
        default="L,M",
        help="comma-separated transfer types users may create, of L, M, F, R "
        "(default: L,M, as InvenioRDM allows ordinary users)",
    )
    ranges = parser.add_mutually_exclusive_group()
    ranges.add_argument(
        "--ranges",
        dest="ranges",
        action="store_true",
        default=False,
        help="honour Range headers (InvenioRDM's FILES_REST_ALLOW_RANGE_REQUESTS)",
    )
    ranges.add_argument(
        "--no-ranges",
        dest="ranges",
        action="store_false",
        help="answer Range requests with the whole file (the default, as InvenioRDM does)",
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
        help="domains url-fetch (F) and remote (R) files may point at "
        "(default: none, as InvenioRDM)",
    )
    parser.add_argument("--page-size", type=int, default=25, help="default search page size")
    parser.add_argument(
        "--max-files",
        type=int,
        default=100,
        help="files one record may hold (InvenioRDM's default is 100)",
    )
    parser.add_argument(
        "--max-file-size",
        type=_size,
        default=DEFAULT_LIMIT,
        metavar="BYTES",
        help="largest file a whole-content upload may send, 0 for no limit (default: 10 GB)",
    )
    parser.add_argument(
        "--bucket-quota",
        type=_size,
        default=DEFAULT_LIMIT,
        metavar="BYTES",
        help="bytes one draft's files may hold, 0 for no limit (default: 10 GB)",
    )
    parser.add_argument(
        "--checksum-delay",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="how long after commit a multipart file's checksum appears (default: 0.5)",
    )
    parser.add_argument(
        "--well-known",
        action="store_true",
        help="also serve NRP's /.well-known/repository document",
    )
    parser.add_argument(
        "--no-csrf",
        dest="csrf",
        action="store_false",
        help="do not check cookie-carrying requests for a CSRF token",
    )


DEFAULT_LIMIT = 10 * 10**9


def _size(text: str) -> int | None:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("a size is 0 (no limit) or more bytes")
    return value or None


def _run_serve(args: argparse.Namespace) -> int:
    from nrpfiles.testing import LocalRepository

    transfers = tuple(t.strip().upper() for t in args.transfers.split(",") if t.strip())
    repository = LocalRepository(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        token=args.token,
        transfers=transfers,
        ranges=args.ranges,
        storage_redirect=args.storage_redirect,
        fetch_allowed_domains=tuple(args.fetch_allow or ()),
        page_size=args.page_size,
        max_files=args.max_files,
        max_file_size=args.max_file_size,
        bucket_quota=args.bucket_quota,
        checksum_delay=args.checksum_delay,
        well_known=args.well_known,
        csrf=args.csrf,
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
    from nrpfiles import demo

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
