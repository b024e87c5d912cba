"""One measured nrpfiles transfer, in a fresh process so its memory peak is its own.

    python benchmarks/_worker.py '<json job>'

Prints one JSON line: seconds (wall), cpu (this process), baseline_mib (resident
set just before the transfer, after imports and the client's first call) and
peak_mib (the process's high-water mark after it). ``op`` "md5" times MD5 alone
over the same bytes instead: the limit of a verified transfer.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import httpx
from _measure import report, small_files, start

import nrpfiles
from nrpfiles import limit_connections
from nrpfiles.models import File, Record, structure


def _skip_upload_md5(md5_hex: str) -> None:
    """Verification off for uploads: nothing is hashed, and whatever checksum the repository
    reports (the MD5, or S3's composite of the parts) is taken as what was sent."""
    import nrpfiles._async.upload_steps
    import nrpfiles._sync.upload_steps

    for module in (nrpfiles._async.upload_steps, nrpfiles._sync.upload_steps):
        module.md5_of_source = lambda source, size: md5_hex  # type: ignore[attr-defined]
        module.parted_md5_of_source = lambda source, size, part_size: ""  # type: ignore[attr-defined]

    async def reported(sending: Any, expected: Any) -> str:
        return str(expected.value)

    nrpfiles._async.upload_steps.Sending.digest_like = reported  # type: ignore[method-assign]
    nrpfiles._sync.upload_steps.Sending.digest_like = (  # type: ignore[method-assign]
        lambda sending, expected: str(expected.value)
    )


def _draft(job: dict[str, Any]) -> Record:
    """The draft as a Record, read once here so no transfer call has to look it up."""
    headers = {"Authorization": f"Bearer {job['token']}"}
    return structure(httpx.get(job["record"], headers=headers).raise_for_status().json(), Record)


def _download_options(job: dict[str, Any]) -> dict[str, Any]:
    """single: one stream; parallel: ranges of 32 MiB, 4 at a time; auto: what users get."""
    return {"single": {"parts": 1}, "parallel": {"part_size": 32 << 20}, "auto": {}}[job["mode"]]


def _upload_type(job: dict[str, Any]) -> str:
    return {"single": "local", "parallel": "multipart", "auto": "auto"}[job["mode"]]


def _md5_alone(job: dict[str, Any], measure: dict[str, float]) -> None:
    """MD5 of the file's bytes, timing the hash only (the bytes are read outside the clock)."""
    digest = hashlib.md5(usedforsecurity=False)
    hashing = 0.0
    with open(job["source"], "rb", buffering=0) as stream:
        while chunk := stream.read(8 << 20):
            begin = time.perf_counter()
            digest.update(chunk)
            hashing += time.perf_counter() - begin
    measure.update(start())
    measure["start"] -= hashing  # report() gives the seconds since start: the hashing


def _unverified(file: File, job: dict[str, Any]) -> File:
    return file if job["verify"] else attrs.evolve(file, checksum=None)


def _sync(job: dict[str, Any], measure: dict[str, float]) -> None:
    with nrpfiles.get_sync_client(job["url"], token=job["token"]) as client:
        record = _draft(job)
        if job["op"] == "download":
            file = _unverified(client.files.read(record, job["key"]), job)
            measure.update(start())
            client.files.download(file, job["target"], **_download_options(job))
        elif job["op"] == "upload":
            measure.update(start())
            client.files.upload(
                record,
                job["key"],
                source=job["source"],
                transfer_type=_upload_type(job),
                overwrite=True,
            )
        else:
            _sync_small(client, record, job, measure)


def _sync_small(client: Any, record: Any, job: dict[str, Any], measure: dict[str, float]) -> None:
    sources, target = small_files(job)
    with limit_connections(job["limit"]), ThreadPoolExecutor(job["limit"]) as pool:
        measure.update(start())
        files = client.files.upload_many(record, {path.name: path for path in sources})
        measure["upload_seconds"] = time.perf_counter() - measure["start"]
        begin = time.perf_counter()
        jobs = [
            pool.submit(
                contextvars.copy_context().run, client.files.download, file, target / file.key
            )
            for file in files
        ]
        for future in jobs:
            future.result()
        measure["download_seconds"] = time.perf_counter() - begin


async def _async(job: dict[str, Any], measure: dict[str, float]) -> None:
    async with await nrpfiles.get_async_client(job["url"], token=job["token"]) as client:
        record = _draft(job)
        if job["op"] == "download":
            file = _unverified(await client.files.read(record, job["key"]), job)
            measure.update(start())
            await client.files.download(file, job["target"], **_download_options(job))
        elif job["op"] == "upload":
            measure.update(start())
            await client.files.upload(
                record,
                job["key"],
                source=job["source"],
                transfer_type=_upload_type(job),
                overwrite=True,
            )
        else:
            sources, target = small_files(job)
            with limit_connections(job["limit"]):
                measure.update(start())
                files = await client.files.upload_many(
                    record, {path.name: path for path in sources}
                )
                measure["upload_seconds"] = time.perf_counter() - measure["start"]
                begin = time.perf_counter()
                await asyncio.gather(
                    *(client.files.download(file, target / file.key) for file in files)
                )
                measure["download_seconds"] = time.perf_counter() - begin


def main() -> None:
    job = json.loads(sys.argv[1])
    if not job.get("verify", True):
        _skip_upload_md5(job["md5"])
    measure: dict[str, float] = {}
    if job["op"] == "md5":
        _md5_alone(job, measure)
    elif job["flavour"] == "sync":
        _sync(job, measure)
    else:
        asyncio.run(_async(job, measure))
    report(measure)


if __name__ == "__main__":
    main()
