"""Memory of an upload from a pipe, and speed of files.open() against download().

    python benchmarks/file_objects.py            # 1 GiB
    python benchmarks/file_objects.py --size-mib 256

The repository runs in a process of its own (_repository.py); every
measurement runs in a fresh process. ``pipe-upload`` feeds the bytes through
a pipe into ``sys.stdin.buffer`` (an object that cannot seek, so it is spooled
to a temporary file first) and reports the peak resident set above the
process's resident set before the upload. ``open``/``download`` read one
file back, sync and async: through files.open() with the bytes thrown away,
and through download() into a file on disk, both verified.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MIB = 1 << 20


def _vm(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def _client(info: dict[str, str]):
    from nrpfiles import Client

    return Client(info["url"], token=info["token"])


def worker_pipe_upload(info: dict[str, str], record_id: str, size: str) -> dict[str, float]:
    with _client(info) as client:
        client.files.list(record_id)  # imports done, connection open: the baseline
        before = _vm("VmRSS")
        started = time.perf_counter()
        file = client.files.upload(
            record_id,
            "piped.bin",
            {},
            sys.stdin.buffer,
            overwrite=True,
            size=int(size) if size != "-" else None,
        )
    seconds = time.perf_counter() - started
    return {
        "bytes": file.size or 0,
        "seconds": seconds,
        "rss_before_mib": before / MIB,
        "peak_above_mib": (_vm("VmHWM") - before) / MIB,
    }


def worker_read(info: dict[str, str], record_id: str, how: str, target: str) -> dict[str, float]:
    flavour, kind = how.split("-")
    started = time.perf_counter()
    if flavour == "sync":
        with _client(info) as client:
            if kind == "open":
                total = 0
                with client.files.open(record_id, "piped.bin") as stream:
                    for chunk in stream.iter_bytes():
                        total += len(chunk)
            else:
                client.files.download(record_id, "piped.bin", target)
                total = os.path.getsize(target)
    else:
        total = asyncio.run(_async_read(info, record_id, kind, target))
        if kind == "download":
            total = os.path.getsize(target)
    return {"bytes": total, "seconds": time.perf_counter() - started}


async def _async_read(info: dict[str, str], record_id: str, kind: str, target: str) -> int:
    from nrpfiles import AsyncClient

    async with AsyncClient(info["url"], token=info["token"]) as client:
        if kind == "open":
            total = 0
            async with client.files.open(record_id, "piped.bin") as stream:
                async for chunk in stream.aiter_bytes():
                    total += len(chunk)
            return total
        await client.files.download(record_id, "piped.bin", target)
        return -1  # measured on the file once the loop is done


def _run_worker(args: list[str], stdin=None) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--worker", *args],
        stdin=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--worker", nargs="+")
    args = parser.parse_args()
    if args.worker:
        info = json.loads(args.worker[1])
        if args.worker[0] == "pipe-upload":
            result = worker_pipe_upload(info, args.worker[2], args.worker[3])
        else:
            result = worker_read(info, args.worker[2], args.worker[0], args.worker[3])
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="nrpfiles-bench-") as scratch:
        server = subprocess.Popen(
            [sys.executable, str(HERE / "_repository.py"), scratch + "/repo"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            info = json.loads(server.stdout.readline())
            with _client(info) as client:
                record_id = client.records.create({"metadata": {"title": "bench"}}).id
            size = args.size_mib * MIB
            for given in ("-", str(size)):
                feeder = subprocess.Popen(
                    ["head", "-c", str(size), "/dev/urandom"], stdout=subprocess.PIPE
                )
                upload = _run_worker(
                    ["pipe-upload", json.dumps(info), record_id, given], stdin=feeder.stdout
                )
                feeder.wait()
                how = "spooled first" if given == "-" else "size= given"
                print(
                    f"pipe upload ({how}) of {upload['bytes'] / MIB:.0f} MiB from "
                    f"sys.stdin.buffer: {upload['seconds']:.1f} s, RSS before "
                    f"{upload['rss_before_mib']:.0f} MiB, peak above that "
                    f"{upload['peak_above_mib']:.0f} MiB"
                )
            target = scratch + "/back.bin"
            for how in ("sync-open", "sync-download", "async-open", "async-download"):
                best = min(
                    _run_worker([how, json.dumps(info), record_id, target])["seconds"]
                    for _ in range(args.rounds)
                )
                rate = args.size_mib * MIB / best / 1e9
                print(f"{how:15s} {best:6.2f} s  {rate:.2f} GB/s (best of {args.rounds})")
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
