"""Transfer benchmarks, printed as markdown.

    python benchmarks/run.py                 # the full run (~40 minutes)
    python benchmarks/run.py --quick         # a smoke run (a few minutes)
    python benchmarks/run.py --real-invenio  # adds the real InvenioRDM 14 rows (heavy)

Everything runs side by side in one go and is reported as ratios: MD5 alone over
the same bytes, curl against the repository (and a static file server, nginx
when installed), nrpfiles sync and async, and nrp-cmd (the reference client)
when Python 3.12 is found through pyenv. Groups of rows, each against its own
server: the local repository on loopback; the same with 20 ms added to every
request; its ``nrp`` profile on S3 (SeaweedFS) when available; the real
InvenioRDM 14 of the conformance stage on request. Every transfer runs in a
process of its own (memory peaks are its own) and each server in another, so
no two share a GIL. Targets are printed with pass/fail; nothing here is a test.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from subprocess import CalledProcessError

from _cases import (
    GIB,
    Group,
    make_big_file,
    make_small_files,
    measure_big_files,
    measure_memory,
    measure_small_files,
    prepare_reference,
)
from _report import group_report, machine, targets
from _servers import WORK, Repository, local_repository, real_invenio, static_server
from httpx import HTTPError

LATENCY_SECONDS = 0.02
REAL_INVENIO_SMALL_FILES = 100
REAL_INVENIO_SIZE = 256 << 20

Server = Callable[[], AbstractContextManager[Repository | str]]


def _groups(args: argparse.Namespace) -> Iterator[tuple[Group, Server, dict[str, bool]]]:
    """Each group of rows, how to start its server, and which kinds of rows it has."""
    size = int((0.25 if args.quick else args.size_gib) * GIB)
    rounds = args.rounds or (1 if args.quick else 3)
    small = args.small_files or (100 if args.quick else 1000)
    yield (
        Group("local", "Local repository on loopback", "client CPU and the hash (see ratios)",
              size, rounds, small, curl_static=True),
        lambda: local_repository(WORK / "repository"),
        {"big": True, "memory": not args.quick, "small": True},
    )  # fmt: skip
    yield (
        Group("latency", f"Local repository, {LATENCY_SECONDS * 1000:.0f} ms added to every "
              "request", "the round trips: requests per file and how many are in flight",
              size, rounds, small),
        lambda: local_repository(WORK / "repository-latency", delay=LATENCY_SECONDS),
        {"big": False, "memory": False, "small": True},
    )  # fmt: skip
    yield (
        Group("s3", "Local repository, nrp profile: files on S3 (SeaweedFS), downloads "
              "through a 302 to presigned URLs, multipart uploads straight to S3",
              "the S3 engine on the same two cores (curl shows its ceiling)",
              size, rounds, small, storage_redirect=True, in_parts=True),
        lambda: local_repository(WORK / "repository-s3", profile="nrp"),
        {"big": True, "memory": not args.quick, "small": False},
    )  # fmt: skip
    for storage in args.real_invenio or ():
        yield (
            Group(f"invenio-{storage}", f"The real InvenioRDM 14 ({storage} storage)",
                  "the server: InvenioRDM's own request handling, far below the client's",
                  REAL_INVENIO_SIZE, rounds, REAL_INVENIO_SMALL_FILES, modes=("single", "auto"),
                  # it answers 413 to any request body above 100 MiB: no single upload
                  upload_modes=("parallel", "auto"), in_parts=True),
            lambda storage=storage: real_invenio(storage),  # type: ignore[misc]
            {"big": True, "memory": False, "small": True},
        )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-gib", type=float, default=1.0, help="big-file size (default 1)")
    parser.add_argument("--quick", action="store_true", help="small sizes, one run, no 4 GiB")
    parser.add_argument("--rounds", type=int, help="runs per row; the best counts (default 3)")
    parser.add_argument("--small-files", type=int, help="how many small files (default 1000)")
    parser.add_argument("--no-reference", action="store_true", help="skip nrp-cmd")
    parser.add_argument(
        "--only", help="comma-separated groups to run (local, latency, s3, invenio-file, ...)"
    )
    parser.add_argument(
        "--real-invenio",
        nargs="?",
        const="file",
        type=lambda text: [part for part in text.split(",") if part],
        help="also run against the real InvenioRDM 14: 'file' (default), 's3' or 'file,s3'",
    )
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    reference_problem = None if args.no_reference else prepare_reference(args.quick)
    reference = not args.no_reference and reference_problem is None
    print(f"machine: {machine()}", file=sys.stderr)
    static_dir = WORK / "static"
    static_dir.mkdir(exist_ok=True)
    only = set(args.only.split(",")) if args.only else None
    measured: list[Group] = []
    try:
        for group, server, kinds in _groups(args):
            if only is not None and group.name not in only:
                continue
            measured.append(group)
            try:
                _measure(group, server, kinds, static_dir, reference)
            except (RuntimeError, OSError, ValueError, CalledProcessError, HTTPError) as error:
                # the other groups still run
                print(f"  {group.name}: stopped: {error}", file=sys.stderr)
                if group.seconds or group.small:
                    group.errors[("the group stopped",)] = str(error)
                else:
                    group.skipped = f"it could not run: {error}"
            # Each group as soon as it is done: a run stopped later keeps these rows.
            print(group_report(group) + "\n", flush=True)
    finally:
        for leftover in static_dir.glob("big*"):
            leftover.unlink()
        for pieces in WORK.glob("pieces-*"):
            shutil.rmtree(pieces, ignore_errors=True)
    print(targets(measured))
    if reference_problem:
        print(f"\nnrp-cmd: {reference_problem}")
    print(
        f"\n{machine()}\n\nCommand: `python benchmarks/run.py {' '.join(sys.argv[1:])}`"
        f"; took {time.perf_counter() - started:.0f} s."
    )


def _measure(
    group: Group, server: Server, kinds: dict[str, bool], static_dir: Path, reference: bool
) -> None:
    source = static_dir / f"big-{group.size}.bin"
    small_dir = WORK / f"small-{group.small_count}"
    with server() as repository:
        if isinstance(repository, str):
            group.skipped = repository
            print(f"  {group.name}: skipped: {repository}", file=sys.stderr)
            return
        if kinds["big"]:
            md5 = make_big_file(source, group.size)
            if group.curl_static:
                with static_server(static_dir) as (static_url, static_name):
                    group.static_name = static_name
                    measure_big_files(group, repository, source, md5, reference, static_url)
            else:
                measure_big_files(group, repository, source, md5, reference)
        if kinds["memory"]:
            measure_memory(group, repository, [GIB, 4 * GIB])
        if kinds["small"]:
            make_small_files(small_dir, group.small_count)
            measure_small_files(group, repository, small_dir, reference)


if __name__ == "__main__":
    main()
