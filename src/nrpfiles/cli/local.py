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
from typing import Any

Runner = Callable[[argparse.Namespace], int]
Configure = Callable[[argparse.ArgumentParser], None]


# the names of nrpfiles.testing.profiles, here so that building the parser loads no server
PROFILES = ("invenio", "nrp", "zenodo")


def _configure_serve(parser: argparse.ArgumentParser) -> None:
    """Options a profile decides default to None: what is not given is the profile's."""
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default="invenio",
        help="the deployment to answer as: invenio (InvenioRDM 14 on a file store, the "
        "default), nrp (NRP as in production: files on S3 in a SeaweedFS started with the "
        "repository, presigned parts, 302 downloads, needing nrpfiles[s3]; its discovery "
        "document; publishing through requests) or zenodo (rate limits, 100 files and 50 GB "
        "a record, no multipart)",
    )
    parser.add_argument(
        "--publish-review",
        action="store_const",
        const=True,
        default=None,
        help="with publishing through requests (nrp): a publish request waits, submitted, "
        "until another user accepts it",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5000, help="port (0 picks a free one)")
    parser.add_argument(
        "--data-dir", default=None, help="keep records and files here (default: temporary)"
    )
    parser.add_argument("--token", default=None, help="token of the first user (default: new)")
    parser.add_argument(
        "--transfers",
        default=None,
        help="comma-separated transfer types users may create, of L, M, F, R "
        "(default: L,M, as InvenioRDM allows ordinary users)",
    )
    ranges = parser.add_mutually_exclusive_group()
    ranges.add_argument(
        "--ranges",
        dest="ranges",
        action="store_const",
        const=True,
        default=None,
        help="honour Range headers (InvenioRDM's FILES_REST_ALLOW_RANGE_REQUESTS)",
    )
    ranges.add_argument(
        "--no-ranges",
        dest="ranges",
        action="store_const",
        const=False,
        help="answer Range requests with the whole file (the default, as InvenioRDM does)",
    )
    parser.add_argument(
        "--storage-redirect",
        action="store_const",
        const=True,
        default=None,
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
    parser.add_argument(
        "--page-size", type=int, default=None, help="default search page size (default: 25)"
    )
    parser.add_argument(
        "--max-files",
        type=int,
        default=None,
        help="files one record may hold (default: 100, as InvenioRDM and Zenodo)",
    )
    parser.add_argument(
        "--max-file-size",
        type=_size,
        default=None,
        metavar="BYTES",
        help="largest file a whole-content upload may send, 0 for no limit "
        "(default: 10 GB; zenodo: 50 GB)",
    )
    parser.add_argument(
        "--bucket-quota",
        type=_size,
        default=None,
        metavar="BYTES",
        help="bytes one draft's files may hold, 0 for no limit (default: 10 GB; zenodo: 50 GB)",
    )
    parser.add_argument(
        "--max-request-size",
        type=_size,
        default=None,
        metavar="BYTES",
        help="largest body of one content or part upload, 0 for no limit "
        "(default: 100 MiB; zenodo: none)",
    )
    parser.add_argument(
        "--checksum-delay",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long after commit a multipart file's md5 appears (default: 0.5; nrp: 30)",
    )
    parser.add_argument(
        "--download-url-expiry",
        type=int,
        default=None,
        metavar="SECONDS",
        help="how long a download's presigned S3 URL lasts (S3 storage; default: 60)",
    )
    parser.add_argument(
        "--well-known",
        action="store_const",
        const=True,
        default=None,
        help="also serve NRP's /.well-known/repository document",
    )
    parser.add_argument(
        "--no-csrf",
        dest="csrf",
        action="store_const",
        const=False,
        default=None,
        help="do not check cookie-carrying requests for a CSRF token",
    )
    _configure_rate_limit(parser)


def _configure_rate_limit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rate-limit",
        type=_rate_limit,
        default=None,
        metavar="N/SECONDS",
        help="requests a signed-in user may send per fixed window, and guests too unless "
        "--guest-rate-limit says otherwise; off for none (default: none; zenodo: 100/60)",
    )
    parser.add_argument(
        "--guest-rate-limit",
        type=_rate_limit,
        default=None,
        metavar="N/SECONDS",
        help="requests per window from one address without a known token; off for none "
        "(default: none; zenodo: 60/60)",
    )
    retry_after = parser.add_mutually_exclusive_group()
    retry_after.add_argument(
        "--rate-limit-retry-after",
        dest="rate_limit_retry_after",
        action="store_const",
        const=True,
        default=None,
        help="a 429 of the rate limit says Retry-After (the default)",
    )
    retry_after.add_argument(
        "--no-rate-limit-retry-after",
        dest="rate_limit_retry_after",
        action="store_const",
        const=False,
        help="a 429 of the rate limit carries only the X-RateLimit-* headers",
    )


# what --max-file-size, --bucket-quota and --max-request-size take to say there is no limit
NO_LIMIT = 0
# what --rate-limit and --guest-rate-limit take to say there is none
NO_RATE_LIMIT = "off"
# the serve options a profile decides, as LocalRepository names them
_PROFILE_OPTIONS = (
    "transfers",
    "ranges",
    "storage_redirect",
    "fetch_allowed_domains",
    "page_size",
    "max_files",
    "max_file_size",
    "bucket_quota",
    "max_request_size",
    "checksum_delay",
    "download_url_expiry",
    "well_known",
    "csrf",
    "rate_limit",
    "guest_rate_limit",
    "rate_limit_retry_after",
    "publish_review",
)


def _size(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("a size is 0 (no limit) or more bytes")
    return value


def _rate_limit(text: str) -> tuple[int, float] | str:
    if text.strip().lower() == NO_RATE_LIMIT:
        return NO_RATE_LIMIT
    requests, slash, seconds = text.partition("/")
    try:
        value = (int(requests), float(seconds))
    except ValueError:
        value = (0, 0.0)
    if not slash or value[0] < 1 or not value[1] > 0:
        raise argparse.ArgumentTypeError(
            f"{text!r}: write N/SECONDS (e.g. 100/60 for 100 a minute), or off"
        )
    return value


def serve_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``LocalRepository`` options given on the command line; the rest are the profile's."""
    values = vars(args)
    if args.transfers is not None:
        values = {**values, "transfers": [t.strip().upper() for t in args.transfers.split(",")]}
    values = {**values, "fetch_allowed_domains": args.fetch_allow}
    options = {name: values[name] for name in _PROFILE_OPTIONS if values[name] is not None}
    for name in ("max_file_size", "bucket_quota", "max_request_size"):
        if options.get(name) == NO_LIMIT:
            options[name] = None
    for name in ("rate_limit", "guest_rate_limit"):
        if options.get(name) == NO_RATE_LIMIT:
            options[name] = None
    if "transfers" in options:
        options["transfers"] = tuple(t for t in options["transfers"] if t)
    return options


def _run_serve(args: argparse.Namespace) -> int:
    from nrpfiles.testing import LocalRepository
    from nrpfiles.testing.profiles import ProfileNotAvailable
    from nrpfiles.testing.seaweed import EngineMissing

    try:
        repository = LocalRepository(
            data_dir=args.data_dir,
            host=args.host,
            port=args.port,
            token=args.token,
            profile=args.profile,
            **serve_options(args),
        )
    except (ProfileNotAvailable, EngineMissing) as error:
        print(f"nrpfiles serve: {error}", file=sys.stderr)
        return 2
    # a service manager's SIGTERM stops the repository as cleanly as Ctrl-C does
    signal.signal(signal.SIGTERM, _interrupt)
    with repository:
        print(f"Repository: {repository.url}")
        print(f"API:        {repository.api_url}")
        print(f"Token:      {repository.token}")
        if repository.storage_url:
            print(f"Storage:    {repository.storage_url}")
        print(f"Data:       {repository.data_dir}")
        config = repository.config
        if config.profile != "invenio":
            limits = [f"rate limit {config.rate_limit}"] if config.rate_limit else []
            limits += [f"guests {config.guest_rate_limit}"] if config.guest_rate_limit else []
            print(f"Profile:    {config.profile}" + (f" ({', '.join(limits)})" if limits else ""))
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
