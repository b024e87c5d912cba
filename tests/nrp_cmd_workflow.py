"""The guide's workflow with nrp-cmd 1.0.1's async client, run inside its own environment.

    <nrp-cmd venv>/bin/python tests/nrp_cmd_workflow.py API_URL TOKEN WORK_DIR

Creates a draft, uploads one file whole (L) and one in parts (M), lists,
downloads, updates the record, deletes a file and publishes; prints one JSON
line saying what it saw. Standard library and nrp-cmd only.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from pathlib import Path

from nrp_cmd.async_client import get_async_client
from nrp_cmd.async_client.streams import FileSink, FileSource
from nrp_cmd.config import RepositoryConfig
from nrp_cmd.types.records import Record
from yarl import URL

METADATA = {
    "title": "A dataset of measurements",
    "resource_type": {"id": "dataset"},
    "publication_date": "2024-01-15",
    "creators": [
        {"person_or_org": {"type": "personal", "family_name": "Doe", "given_name": "Jane"}}
    ],
}


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


async def run(api: str, token: str, work: Path) -> dict[str, object]:
    config = RepositoryConfig(
        alias="local", url=URL(api), token=token, verify_tls=False, retry_count=2
    )
    client = await get_async_client(config)
    record = await client.records.create(dict(METADATA))
    small, large = work / "small.bin", work / "large.bin"
    await client.files.upload(record, "small.bin", {}, FileSource(small))
    await client.files.upload(record, "large.bin", {}, FileSource(large), transfer_type="M")
    listed = await client.files.list(record)
    downloads = work / "downloads"
    downloads.mkdir()
    for file in listed:
        await client.files.download(file, FileSink(downloads / file.key))
    record = await client.records.draft_records.read(record.id)
    record.metadata["title"] = "Updated title"
    record = await client.records.update(record)
    await client.files.delete(record, "small.bin")
    # publish what a read answers: only a read with ?expand (nrp-cmd's) lists the requests
    published = await client.records.publish(await client.records.draft_records.read(record.id))
    # the guide's create_record_with_files: publish the draft create() returned
    draft = await client.records.create(dict(METADATA))
    await client.files.upload(draft, "small.bin", {}, str(small))
    second = await client.records.publish(draft)
    return {
        "record": str(record.id),
        "second_published": isinstance(second, Record) and str(second.id) == str(draft.id),
        "listed": sorted(file.key for file in listed),
        "downloaded": {p.name: md5(p) for p in sorted(downloads.iterdir())},
        "updated_title": record.metadata["title"],
        "left": sorted(file.key for file in await client.files.list(published)),
        "published": isinstance(published, Record),
        "published_id": str(published.id),
    }


if __name__ == "__main__":
    summary = asyncio.run(run(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
    print(json.dumps(summary))
