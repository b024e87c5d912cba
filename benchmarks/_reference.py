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
from pathlib import Path
from typing import Any

from nrp_cmd.async_client import get_async_client, limit_connections
from nrp_cmd.async_client.streams import FileSink, FileSource
from nrp_cmd.config import RepositoryConfig
from yarl import URL


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _small_files(job: dict[str, Any]) -> tuple[list[Path], Path]:
    return sorted(Path(job["source"]).iterdir()), Path(job["target"])


def start() -> dict[str, float]:
    return {
        "baseline_mib": _status_mib("VmRSS"),
        "start": time.perf_counter(),
        "cpu_start": time.process_time(),
    }


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
        sources, target = _small_files(job)
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
    result = {
        "seconds": time.perf_counter() - measure["start"],
        "cpu": time.process_time() - measure["cpu_start"],
        "baseline_mib": measure["baseline_mib"],
        "peak_mib": _status_mib("VmHWM"),
    }
    for name in ("upload_seconds", "download_seconds"):
        if name in measure:
            result[name] = measure[name]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
