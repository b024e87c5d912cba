"""The same transfers with nrp-cmd's async client, run inside its own virtual environment.

    benchmarks/.work/nrp-cmd-venv/bin/python benchmarks/_reference.py '<json job>'

Takes the jobs of ``_worker.py`` (async flavour only) and prints the same JSON.
nrp-cmd verifies no checksums, so its rows compare with nrpfiles' unverified ones
as well as with the verified ones.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from _measure import report, small_files, start
from nrp_cmd.async_client import get_async_client, limit_connections
from nrp_cmd.async_client.streams import FileSink, FileSource
from nrp_cmd.config import RepositoryConfig
from yarl import URL


async def run(job: dict[str, Any], measure: dict[str, float]) -> None:
    config = RepositoryConfig(
        alias="local", url=URL(job["url"] + "/api"), token=job["token"], verify_tls=False
    )
    client = await get_async_client(config)
    record = await client.records.read(URL(job["record"]))
    files_url = URL(job["record"] + "/files")
    if job["op"] == "download":
        file = await client.files.read(URL(f"{files_url}/{job['key']}"))
        parts = 1 if job["mode"] == "single" else None
        measure.update(start())
        await client.files.download(file, FileSink(job["target"]), parts=parts)
    elif job["op"] == "upload":
        transfer = "L" if job["mode"] == "single" else "M"
        measure.update(start())
        await client.files.upload(
            record, job["key"], {}, FileSource(job["source"]), transfer_type=transfer
        )
    else:
        sources, target = small_files(job)
        with limit_connections(job["limit"]):
            measure.update(start())
            files = await asyncio.gather(
                *(client.files.upload(record, p.name, {}, FileSource(p)) for p in sources)
            )
            measure["upload_seconds"] = time.perf_counter() - measure["start"]
            begin = time.perf_counter()
            await asyncio.gather(
                *(client.files.download(f, FileSink(target / f.key)) for f in files)
            )
            measure["download_seconds"] = time.perf_counter() - begin


def main() -> None:
    job = json.loads(sys.argv[1])
    measure: dict[str, float] = {}
    asyncio.run(run(job, measure))
    report(measure)


if __name__ == "__main__":
    main()
