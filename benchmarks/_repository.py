"""The local repository in a process of its own, so its threads never share the client's GIL.

    python benchmarks/_repository.py DATA_DIR [--profile nrp] [--delay 0.02]

Prints one JSON line ({"url", "api_url", "token"}) once it serves, or {"error": why} when it
cannot (a profile not available yet), and stops when stdin closes. A line ``reclaim`` on stdin
gives the disk back the bytes of deleted files now (S3 storage keeps them for minutes) and
answers {"reclaimed": bytes}. The per-record file limit
(max_files) is raised from InvenioRDM's default of 100 (real instances configure theirs) so that
1,000 small files fit on one draft. Range requests are on (FILES_REST_ALLOW_RANGE_REQUESTS, off
in InvenioRDM's default) because the benchmarks measure parallel ranged downloads. One request
may carry a whole file of any size (InvenioRDM refuses bodies above 100 MiB, Zenodo does not),
so that the "single" upload rows measure one stream of the whole file. On a file
store a multipart upload's checksum is computed at commit (an eager worker) so that upload
times measure the transfer, not a background task's delay. On S3 the checksum stays S3's
composite ``multipart:`` one, as on NRP with a busy worker, which clients verify at once; the
task that replaces it never runs during a benchmark, where it would take a core from the rows
measured after. ``--delay`` holds every request that long before it is answered: the round
trip of a repository across a network.
"""

from __future__ import annotations

import argparse
import json
import sys

from nrpfiles.testing import LocalRepository
from nrpfiles.testing.profiles import profile_named

FILES_PER_RECORD = 10_000
# longer than any benchmark: S3's composite checksum is what clients see
BUSY_WORKER_SECONDS = 24 * 3600.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir")
    parser.add_argument("--profile", default="invenio")
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    try:
        on_file_store = profile_named(args.profile).config.storage == "file"
        repository = LocalRepository(
            data_dir=args.data_dir,
            max_files=FILES_PER_RECORD,
            ranges=True,
            checksum_delay=0 if on_file_store else BUSY_WORKER_SECONDS,
            max_request_size=None,
            profile=args.profile,
        )
        repository.start()
    except Exception as error:
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}), flush=True)
        return
    try:
        if args.delay:
            repository.faults.configure(delay=args.delay)
        ready = {"url": repository.url, "api_url": repository.api_url, "token": repository.token}
        print(json.dumps(ready), flush=True)
        for command in sys.stdin:  # until stdin closes
            if command.strip() == "reclaim":
                print(json.dumps({"reclaimed": repository.reclaim_storage()}), flush=True)
    finally:
        repository.stop()


if __name__ == "__main__":
    main()
