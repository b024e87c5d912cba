"""The local repository in a process of its own, so its threads never share the client's GIL.

    python benchmarks/_repository.py DATA_DIR

Prints one JSON line ({"url", "api_url", "token"}) once it serves, and stops when
stdin closes. The per-record file limit (max_files) is raised from InvenioRDM's default of 100
(real instances configure theirs) so that 1,000 small files fit on one draft. Range requests
are on (FILES_REST_ALLOW_RANGE_REQUESTS, off in InvenioRDM's default) because the benchmarks
measure parallel ranged downloads, and a multipart upload's checksum is computed at commit
(an eager worker) so that upload times measure the transfer, not a background task's delay.
"""

from __future__ import annotations

import json
import sys

from nrpfiles.testing import LocalRepository

FILES_PER_RECORD = 10_000


def main() -> None:
    with LocalRepository(
        data_dir=sys.argv[1], max_files=FILES_PER_RECORD, ranges=True, checksum_delay=0
    ) as repository:
        ready = {"url": repository.url, "api_url": repository.api_url, "token": repository.token}
        print(json.dumps(ready), flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
