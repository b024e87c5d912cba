"""Nothing lost: transfers survive faults, fail cleanly when they cannot, and stop cleanly.

The large runs print what the local repository injected (shown with ``-rA``) and
record it as a property of the test for reports.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from nrpfiles import AsyncClient, RetryPolicy
from nrpfiles.errors import ConflictError, RepositoryError, ValidationError
from nrpfiles.streams import MemorySink
from tests._async.conftest import PUBLISHABLE
from tests.transfer_watch import (
    AsyncRequestLog,
    async_interrupt_when,
    busy_connections,
    leftovers,
)

MIB = 1 << 20
LARGE = 200 * MIB
# Enough attempts that a part or range meeting faults several times in a row still
# gets through: the faults are random, the outcome must not be.
PATIENT = RetryPolicy(attempts=15, initial_wait=0.01, max_wait=0.05)
QUICK_TO_GIVE_UP = RetryPolicy(attempts=3, initial_wait=0.0, max_wait=0.0, jitter=False)


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def composite_of(path: Path, part_size: int) -> str:
    """The checksum S3 storage reports for ``path`` uploaded in parts of ``part_size``."""
    digests = []
    with path.open("rb") as stream:
        while part := stream.read(part_size):
            digests.append(hashlib.md5(part).digest())
    return f"multipart:{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}-{part_size}"


@pytest.fixture(scope="module")
def large_file(tmp_path_factory) -> tuple[Path, str]:
    """200 MiB that never repeat (a part sent to the wrong place would show), and its MD5."""
    path = tmp_path_factory.mktemp("large") / "large.bin"
    digest = hashlib.md5()
    generator = random.Random(20240115)
    with path.open("wb") as stream:
        for _ in range(LARGE // (8 * MIB)):
            block = generator.randbytes(8 * MIB)
            digest.update(block)
            stream.write(block)
    return path, "md5:" + digest.hexdigest()


@pytest_asyncio.fixture
async def patient_client(local_repository):
    async with AsyncClient(
        local_repository.url, token=local_repository.token, retry=PATIENT
    ) as client:
        yield client


@pytest_asyncio.fixture
async def local_draft(patient_client):
    """A draft on the local repository, whose fault switches these cases turn."""
    return await patient_client.records.create(PUBLISHABLE)


def _seed_erring_first(start: int, rate: float) -> int:
    """A seed whose first request draws an error: every fault phase shows its status."""
    return next(s for s in itertools.count(start) if random.Random(s).random() < rate)


class FaultyServer:
    """Switches the repository between answering 503s and 429s with Retry-After as
    bytes move, cuts on throughout; a progress callback that also counts the bytes.

    ``moved`` sums every chunk sent or received, including those of attempts that
    broke and were taken back, so it shows how much went over the wire.
    """

    def __init__(
        self,
        repo: Any,
        *,
        every: int,
        cut_after_bytes: int,
        cut_rate: float,
        error_rate: float = 0.1,
        retry_after: float = 0.05,
    ) -> None:
        self._repo = repo
        self._every = every
        self._settings = {
            "error_rate": error_rate,
            "cut_after_bytes": cut_after_bytes,
            "cut_rate": cut_rate,
        }
        self._retry_after = retry_after
        self._phase = 0
        self._last = 0
        self._furthest = 0
        self.moved = 0
        self.injected: Counter[str] = Counter()
        self._switch_to(0)

    def _switch_to(self, phase: int) -> None:
        self.injected.update(self._repo.faults.injected)
        rate_limited = phase % 2 == 1
        self._repo.faults.configure(
            seed=_seed_erring_first(phase * 1000, float(self._settings["error_rate"])),
            error_status=429 if rate_limited else 503,
            retry_after=self._retry_after if rate_limited else None,
            **self._settings,
        )
        self._phase = phase

    def __call__(self, done: int, total: int | None) -> None:
        self.moved += max(0, done - self._last)
        self._last = done
        self._furthest = max(self._furthest, done)
        phase = self._furthest // self._every
        if phase > self._phase:
            self._switch_to(phase)

    def stop(self) -> Counter[str]:
        self.injected.update(self._repo.faults.injected)
        self._repo.faults.clear()
        return self.injected


def report(record_property, what: str, injected: Counter[str], **numbers: object) -> None:
    summary = {"faults": dict(injected), **numbers}
    record_property(what, summary)
    print(f"{what}: survived {sum(injected.values())} injected faults {summary}")


# -- surviving faults -----------------------------------------------------------------


async def test_a_large_multipart_upload_survives_faults_and_resends_only_failed_parts(
    patient_client, local_repository, local_draft, large_file, record_property
):
    path, checksum = large_file
    part_size = 8 * MIB
    log = AsyncRequestLog(patient_client)
    faults = FaultyServer(local_repository, every=25 * MIB, cut_after_bytes=6 * MIB, cut_rate=0.3)
    try:
        file = await patient_client.files.upload(
            local_draft,
            "large.bin",
            {},
            str(path),
            transfer_metadata={"part_size": part_size},
            progress=faults,
        )
    finally:
        injected = faults.stop()

    assert file.status == "completed"
    assert file.checksum == checksum and file.size == LARGE
    assert file.transfer is None or file.transfer.type == "L"
    attempts = log.part_attempts()
    parts = LARGE // part_size
    assert sorted(attempts) == list(range(1, parts + 1))
    for part in attempts:
        answers = log.part_answers(part)
        # One success per part, and it is the part's last attempt: a part that got
        # through is never sent again, a part that failed is sent until it does.
        assert answers.count(200) == 1 and answers[-1] == 200, (part, answers)
    resent = sum(attempts.values()) - parts
    assert injected["cut"] > 0 and injected["503"] > 0 and injected["429"] > 0
    assert resent > 0
    # Nothing but the failed parts went again.
    assert faults.moved <= LARGE + resent * part_size
    report(
        record_property,
        "multipart upload",
        injected,
        parts=parts,
        part_attempts=sum(attempts.values()),
        parts_resent=resent,
        mib_sent=round(faults.moved / MIB, 1),
    )


@pytest_asyncio.fixture
async def ranged(local_repository_factory):
    """Resuming needs Range, which InvenioRDM's file store leaves off: a repository with it."""
    repository = local_repository_factory(ranges=True)
    async with AsyncClient(repository.url, token=repository.token, retry=PATIENT) as client:
        yield client, repository


@pytest.mark.parametrize(("parts", "label"), [(None, "parallel ranges"), (1, "one stream")])
async def test_a_large_download_survives_faults_and_resumes_where_it_broke(
    ranged, large_file, tmp_path, record_property, parts, label
):
    client, repository = ranged
    local_draft = await client.records.create({"metadata": {"title": "Ranges"}})
    path, checksum = large_file
    file = await client.files.upload(local_draft, "large.bin", {}, str(path))
    log = AsyncRequestLog(client)
    faults = FaultyServer(repository, every=25 * MIB, cut_after_bytes=20 * MIB, cut_rate=1)
    target = tmp_path / "out" / "large.bin"
    try:
        await client.files.download(file, target, parts=parts, progress=faults)
    finally:
        injected = faults.stop()

    assert target.stat().st_size == LARGE
    assert "md5:" + _md5_of_file(target) == checksum
    assert leftovers(tmp_path) == []
    assert injected["cut"] > 0 and injected["503"] > 0 and injected["429"] > 0
    # Every response was cut after 20 MiB, yet no byte came twice: each break was
    # resumed with a Range from where it stopped, never from the start.
    assert faults.moved == LARGE
    ranges = log.content_ranges()
    resumed = [r for r in ranges if r is not None and not r.startswith("bytes=0-")]
    assert len(resumed) >= injected["cut"]
    report(
        record_property,
        f"download in {label}",
        injected,
        requests=len(ranges),
        mib_received=round(faults.moved / MIB, 1),
    )


async def test_without_ranges_a_broken_download_starts_over_and_still_verifies(
    local_repository_factory,
):
    repo = local_repository_factory()  # InvenioRDM's file store: no ranges
    data = random.Random(7).randbytes(6 * MIB)
    received = []
    async with AsyncClient(repo.url, token=repo.token, retry=PATIENT) as client:
        local_draft = await client.records.create({"metadata": {"title": "No ranges"}})
        file = await client.files.upload(local_draft, "a.bin", {}, data)
        # seed 4 cuts the first two answers
        repo.faults.configure(seed=4, cut_after_bytes=2 * MIB, cut_rate=0.5)
        try:
            sink = await client.files.download(
                file, MemorySink(), progress=lambda done, total: received.append(done)
            )
        finally:
            injected = repo.faults.injected
            repo.faults.clear()
    assert sink.data == data
    assert injected["cut"] >= 2
    # the progress went back to zero for every restart
    assert sum(1 for before, after in itertools.pairwise(received) if after < before) >= 2


def _md5_of_file(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as stream:
        while block := stream.read(8 * MIB):
            digest.update(block)
    return digest.hexdigest()


# -- when retries run out -------------------------------------------------------------


@pytest_asyncio.fixture
async def impatient_client(local_repository):
    async with AsyncClient(
        local_repository.url, token=local_repository.token, retry=QUICK_TO_GIVE_UP
    ) as client:
        yield client


async def keys_and_statuses(client, draft) -> dict[str, str | None]:
    return {f.key: f.status for f in await client.files.list(draft)}


async def test_a_local_upload_that_keeps_failing_says_why_and_leaves_nothing(
    impatient_client, local_repository, local_draft
):
    data = b"precious" * 1000
    local_repository.faults.configure(error_rate=1.0, paths=r"/files/a\.bin/content$")
    with pytest.raises(RepositoryError) as caught:
        await impatient_client.files.upload(local_draft, "a.bin", {}, data, "local-file")
    local_repository.faults.clear()
    text = str(caught.value)
    assert "503" in text and "PUT" in text and "a.bin" in text
    assert "was removed from the draft" in text
    assert await keys_and_statuses(impatient_client, local_draft) == {}

    again = await impatient_client.files.upload(local_draft, "a.bin", {}, data, "local-file")
    assert again.status == "completed" and again.checksum == md5(data)
    sink = await impatient_client.files.download(local_draft, "a.bin", MemorySink())
    assert sink.data == data


async def test_a_multipart_upload_whose_parts_keep_breaking_leaves_nothing(
    impatient_client, local_repository, local_draft
):
    data = random.Random(1).randbytes(15 * MIB)
    options = {"part_size": 5 * MIB}
    local_repository.faults.configure(cut_after_bytes=MIB, paths=r"/content/\d+$")
    with pytest.raises(RepositoryError) as caught:
        await impatient_client.files.upload(local_draft, "m.bin", {}, data, "multipart", options)
    local_repository.faults.clear()
    text = str(caught.value)
    assert "m.bin" in text and "gave up after 3 attempt(s)" in text
    assert "was removed from the draft" in text
    assert await keys_and_statuses(impatient_client, local_draft) == {}

    again = await impatient_client.files.upload(local_draft, "m.bin", {}, data, "multipart", options)
    assert again.status == "completed" and again.checksum == md5(data)


async def test_an_unfinished_file_that_cannot_be_removed_stays_pending_and_is_replaced(
    impatient_client, local_repository, local_draft
):
    data = b"second try works"
    # The content upload fails, and so does the clean-up after it.
    local_repository.faults.configure(error_rate=1.0, paths=r"/files/a\.bin(/content)?$")
    with pytest.raises(RepositoryError) as caught:
        await impatient_client.files.upload(local_draft, "a.bin", {}, data, "local-file")
    local_repository.faults.clear()
    assert "could not be removed" in str(caught.value)
    # Left behind, but never passed off as complete: publishing refuses it.
    assert await keys_and_statuses(impatient_client, local_draft) == {"a.bin": "pending"}
    with pytest.raises(ValidationError):
        await impatient_client.records.publish(local_draft)

    again = await impatient_client.files.upload(local_draft, "a.bin", {}, data)
    assert again.status == "completed" and again.checksum == md5(data)
    assert await keys_and_statuses(impatient_client, local_draft) == {"a.bin": "completed"}


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        ({"cut_after_bytes": 0}, "kept breaking"),
        ({"error_rate": 1.0}, "503"),
    ],
)
@pytest.mark.parametrize("parts", [None, 2])
async def test_a_download_that_keeps_failing_leaves_the_target_untouched(
    impatient_client, local_repository, local_draft, tmp_path, faults, expected, parts
):
    data = random.Random(2).randbytes(3 * MIB)
    file = await impatient_client.files.upload(local_draft, "d.bin", {}, data)
    fresh = tmp_path / "fresh" / "d.bin"
    existing = tmp_path / "existing.bin"
    existing.write_bytes(b"the previous version")
    local_repository.faults.configure(paths=r"/content$", **faults)
    for target in (fresh, existing):
        with pytest.raises(RepositoryError) as caught:
            await impatient_client.files.download(file, target, parts=parts)
        assert expected in str(caught.value) and "d.bin" in str(caught.value)
    local_repository.faults.clear()
    assert not fresh.exists()
    assert existing.read_bytes() == b"the previous version"
    assert leftovers(tmp_path) == []

    await impatient_client.files.download(file, existing, parts=parts)
    assert existing.read_bytes() == data


async def test_an_existing_key_is_kept_unless_overwrite_is_asked_for(client, draft):
    await client.files.upload(draft, "a.txt", {}, b"first")
    with pytest.raises(ConflictError, match="overwrite=True"):
        await client.files.upload(draft, "a.txt", {}, b"second")
    assert (await client.files.download(draft, "a.txt", MemorySink())).data == b"first"

    replaced = await client.files.upload(draft, "a.txt", {}, b"second", overwrite=True)
    assert replaced.checksum == md5(b"second")
    assert (await client.files.download(draft, "a.txt", MemorySink())).data == b"second"


# -- cancelled and interrupted transfers ----------------------------------------------


@pytest.mark.parametrize("parts", [None, 1])
async def test_an_interrupted_download_leaves_no_temporary_file_and_no_open_connection(
    client, draft, large_file, tmp_path, parts
):
    path, checksum = large_file
    file = await client.files.upload(draft, "large.bin", {}, str(path))
    target = tmp_path / "large.bin"

    await async_interrupt_when(
        lambda progress: client.files.download(file, target, parts=parts, progress=progress),
        after_bytes=16 * MIB,
    )
    assert not target.exists()
    assert leftovers(tmp_path) == []
    assert busy_connections(client) == []

    await client.files.download(file, target, parts=parts)
    assert "md5:" + _md5_of_file(target) == checksum


@pytest.mark.parametrize("transfer_type", ["local-file", "multipart"])
async def test_an_interrupted_upload_leaves_nothing_complete_and_no_open_connection(
    client, draft, large_file, transfer_type, tmp_path
):
    path, checksum = large_file
    options = {"part_size": 16 * MIB} if transfer_type == "multipart" else {}
    if transfer_type == "local-file":
        # InvenioRDM refuses a single-request upload above 100 MiB (413).
        path = tmp_path / "medium.bin"
        path.write_bytes(large_file[0].read_bytes()[: 64 * MIB])
        checksum = "md5:" + _md5_of_file(path)

    await async_interrupt_when(
        lambda progress: client.files.upload(
            draft, "large.bin", {}, str(path), transfer_type, options, progress=progress
        ),
        after_bytes=16 * MIB,
    )
    assert busy_connections(client) == []
    assert (await keys_and_statuses(client, draft)).get("large.bin") in (None, "pending")

    again = await client.files.upload(draft, "large.bin", {}, str(path), transfer_type, options)
    # On S3 with a busy worker a multipart upload's checksum is still the composite one.
    assert again.status == "completed"
    assert again.checksum in (checksum, composite_of(path, 16 * MIB))
