"""The guide's parallel download, word for word: coroutines gathered by asyncio.

The generated sync suite proves the same with threads; this one keeps the
guide's own asyncio.gather shape, which only exists in the async flavour.
"""

from __future__ import annotations

import asyncio

from nrpfiles import AsyncClient, limit_connections
from nrpfiles.models import File
from nrpfiles.streams import FileSink


async def download_files_from_draft_in_parallel(
    client: AsyncClient, files: list[File], output_dir: str
) -> list[object]:
    with limit_connections(5):
        tasks = [
            client.files.download(file_, FileSink(f"{output_dir}/{file_.key}")) for file_ in files
        ]
        results = await asyncio.gather(*tasks)
    for result in results:
        print(f"✓ Downloaded file to: {result}")
    return results


async def test_parallel_download_as_the_guide_writes_it(repository, tmp_path):
    async with AsyncClient(repository.url, token=repository.token) as client:
        draft = await client.records.create({"metadata": {"title": "parallel"}})
        payloads = {f"part-{n}.bin": bytes([n]) * (100_000 + n) for n in range(8)}
        for key, data in payloads.items():
            await client.files.upload(draft, key=key, metadata={}, source=data)
        files = list(await client.files.list(draft))
        results = await download_files_from_draft_in_parallel(client, files, str(tmp_path))
    assert sorted(str(r) for r in results) == sorted(str(tmp_path / key) for key in payloads)
    for key, data in payloads.items():
        assert (tmp_path / key).read_bytes() == data
