"""``nrpfiles demo``: a whole file workflow against a local repository, offline.

It starts a local repository in this process, creates a draft, uploads files
of several sizes (the largest goes multipart), lists them, updates metadata,
publishes, downloads everything back in parallel, verifies every checksum and
prints what it measured.
"""

from __future__ import annotations

import contextvars
import hashlib
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nrpfiles import Client, limit_connections
from nrpfiles._transfer_plan import AUTO, choose_upload_transfer
from nrpfiles.models import File
from nrpfiles.streams import FileSink
from nrpfiles.testing import LocalRepository

MIB = 1 << 20
DEMO_FILES = {
    "README.txt": 2_000,
    "measurements.csv": 6 * MIB,
    "images.tar": 24 * MIB,
    "raw-signal.bin": 96 * MIB,  # above the multipart threshold
}
PUBLISHABLE = {
    "metadata": {
        "title": "nrpfiles demo dataset",
        "resource_type": {"id": "dataset"},
        "publication_date": "2024-01-15",
        "creators": [
            {"person_or_org": {"type": "personal", "family_name": "Doe", "given_name": "Jane"}}
        ],
    }
}


def run(
    sizes: dict[str, int] | None = None, *, show_progress: bool = True
) -> list[dict[str, object]]:
    """Run the workflow; returns one row per file (also printed as a table)."""
    sizes = sizes or DEMO_FILES
    # ranges on (InvenioRDM's default has them off): the demo shows parallel ranged downloads
    with (
        tempfile.TemporaryDirectory(prefix="nrpfiles-demo-") as workdir,
        LocalRepository(ranges=True) as repo,
    ):
        folder = Path(workdir)
        originals = _make_files(folder / "originals", sizes)
        print(f"local repository at {repo.url}\n")
        with Client(repo.url, token=repo.token) as client:
            draft = client.records.create(PUBLISHABLE)
            print(f"draft {draft.id} created; uploading {len(originals)} files")
            offered = client.info().transfers
            upload_seconds = {}
            for key, path in originals.items():
                started = time.perf_counter()
                client.files.upload(
                    draft,
                    key=key,
                    metadata={"description": f"demo file {key}"},
                    source=path,
                    progress=f"up   {key}" if show_progress else None,
                )
                upload_seconds[key] = time.perf_counter() - started

            listed = client.files.list(draft)
            print(f"\n{len(listed)} files on the draft:")
            for file in listed:
                print(f"  {file.key:<20} {file.size:>12,} B  {file.checksum}")
                file.metadata["checked"] = True
                client.files.update(file)

            published = client.records.publish(draft)
            print(f"\npublished as {published.id}; downloading everything back in parallel")
            files = list(client.files.list(published))
            download_seconds = _download_all(
                client, files, folder / "downloads", show_progress=show_progress
            )

        rows = []
        for key, path in originals.items():
            copy = folder / "downloads" / key
            size = path.stat().st_size
            rows.append(
                {
                    "file": key,
                    "size": size,
                    "transfer": choose_upload_transfer(AUTO, size, offered),
                    "upload MB/s": size / upload_seconds[key] / 1e6,
                    "download MB/s": size / download_seconds[key] / 1e6,
                    "verified": _md5(copy) == _md5(path),
                }
            )
    _print_table(rows)
    return rows


def _make_files(folder: Path, sizes: dict[str, int]) -> dict[str, Path]:
    folder.mkdir(parents=True)
    paths = {}
    for key, size in sizes.items():
        path = folder / key
        with path.open("wb") as out:
            remaining = size
            while remaining:
                block = os.urandom(min(remaining, 4 * MIB))
                out.write(block)
                remaining -= len(block)
        paths[key] = path
    return paths


def _download_all(
    client: Client, files: list[File], folder: Path, *, show_progress: bool
) -> dict[str, float]:
    seconds: dict[str, float] = {}

    def fetch(file: File) -> None:
        started = time.perf_counter()
        client.files.download(
            file,
            FileSink(folder / file.key),
            progress=f"down {file.key}" if show_progress else None,
        )
        seconds[file.key] = time.perf_counter() - started

    with limit_connections(4), ThreadPoolExecutor(max_workers=4) as pool:
        # Threads do not inherit context variables: each runs in a copy of ours,
        # so the limit set above reaches them.
        futures = [pool.submit(contextvars.copy_context().run, fetch, file) for file in files]
        for future in futures:
            future.result()
    return seconds


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(8 * MIB):
            digest.update(chunk)
    return digest.hexdigest()


def _print_table(rows: list[dict[str, object]]) -> None:
    names = {"L": "local", "M": "multipart"}
    print("\n| file | size | upload as | upload MB/s | download MB/s | checksum |")
    print("|---|---:|---|---:|---:|---|")
    for row in rows:
        print(
            f"| {row['file']} | {row['size']:,} | {names.get(str(row['transfer']), row['transfer'])} "
            f"| {row['upload MB/s']:.1f} | {row['download MB/s']:.1f} "
            f"| {'verified' if row['verified'] else 'MISMATCH'} |"
        )
    verified = all(row["verified"] for row in rows)
    print(f"\n{'all checksums verified' if verified else 'CHECKSUM MISMATCH'}")
