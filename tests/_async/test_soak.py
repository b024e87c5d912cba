"""Many small transfers at once, faults on: every byte verified, nothing lost.

Tasks in the async flavour, threads in the sync one. ``NRPFILES_SOAK_SCALE``
multiplies the number of files (default 1: 200 uploads and 200 downloads);
``-m soak`` selects these tests, ``-m "not soak"`` leaves them out.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
from collections import Counter

import pytest
import pytest_asyncio

from nrpfiles import AsyncClient, RetryPolicy
from nrpfiles.streams import MemorySink
from tests.parallel import async_run_all
from tests.transfer_watch import leftovers

pytestmark = pytest.mark.soak

SCALE = float(os.environ.get("NRPFILES_SOAK_SCALE", "1"))
FILES = max(1, round(200 * SCALE))
FILES_PER_RECORD = 50  # a record holds at most 100 files
KIB = 1 << 10
# Many requests each meet faults; enough attempts that none runs out by chance.
PATIENT = RetryPolicy(attempts=12, initial_wait=0.01, max_wait=0.05)


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


@pytest.fixture
def soak_repository(local_repository):
    # As InvenioRDM does, it deletes the entry of a whole-content upload cut short.
    return local_repository


@pytest_asyncio.fixture
async def soak_client(soak_repository):
    async with AsyncClient(
        soak_repository.url, token=soak_repository.token, retry=PATIENT
    ) as client:
        yield client


async def test_many_small_files_up_and_down_at_once_through_faults(
    soak_client, soak_repository, tmp_path, record_property
):
    generator = random.Random(200)
    contents = {
        f"dir{n % 7}/file-{n:05d}.bin": generator.randbytes(generator.randint(0, 192 * KIB))
        for n in range(FILES)
    }
    keys = sorted(contents)
    drafts = []
    for _ in range(math.ceil(FILES / FILES_PER_RECORD)):
        drafts.append(await soak_client.records.create({"metadata": {"title": "Soak"}}))
    draft_of = {key: drafts[index // FILES_PER_RECORD] for index, key in enumerate(keys)}
    faults = soak_repository.faults
    injected: Counter[str] = Counter()

    def upload(key: str):
        return lambda: soak_client.files.upload(draft_of[key], key, {"n": key}, contents[key])

    faults.configure(seed=11, error_rate=0.1, cut_after_bytes=64 * KIB, cut_rate=0.3)
    try:
        uploaded = await async_run_all([upload(key) for key in keys])
    finally:
        injected.update(faults.injected)
        faults.clear()

    for key, file in zip(keys, uploaded, strict=True):
        assert file.key == key and file.status == "completed"
        assert file.checksum == md5(contents[key]) and file.size == len(contents[key])
    listed = {}
    for draft in drafts:
        for file in await soak_client.files.list(draft):
            listed[file.key] = (file.status, file.checksum)
    assert listed == {key: ("completed", md5(data)) for key, data in contents.items()}

    def download(index: int, file):
        # half into memory, half into files under their keys
        target = MemorySink() if index % 2 else tmp_path / "out"
        return lambda: soak_client.files.download(file, target)

    (tmp_path / "out").mkdir()
    faults.configure(
        seed=12,
        error_rate=0.1,
        error_status=429,
        retry_after=0.01,
        cut_after_bytes=64 * KIB,
        cut_rate=0.3,
    )
    try:
        sinks = await async_run_all([download(i, f) for i, f in enumerate(uploaded)])
    finally:
        injected.update(faults.injected)
        faults.clear()

    for index, (key, sink) in enumerate(zip(keys, sinks, strict=True)):
        if index % 2:
            assert sink.data == contents[key], key
        else:
            assert (tmp_path / "out" / key).read_bytes() == contents[key], key
    assert leftovers(tmp_path) == []
    assert injected["503"] > 0 and injected["429"] > 0 and injected["cut"] > 0
    summary = {"files": FILES, "bytes": sum(map(len, contents.values())), **injected}
    record_property("soak", summary)
    print(f"soak: {FILES} uploads and downloads survived {sum(injected.values())} faults {summary}")
