# Generated from tests/_async/test_reliability.py by scripts/gen_sync.py: do not edit.
# body-sha256: f35e1216727c52f452b48116ad280e9851142647bc54a2d556cd76beb9e5cf32
"""Nothing lost: transfers survive faults, fail cleanly when they cannot, and stop cleanly.

The fault cases run on every server: the local repository injects its own
faults, the real InvenioRDM meets them in a reverse proxy in front of it
(``tests/fault_proxy.py``), switched alike through ``repository.faults``. On
S3 storage the bytes of parts and downloads go to storage on presigned URLs,
past the proxy: there only the API's own requests meet faults, and the cases
say what that leaves to prove. The large runs print what was injected (shown
with ``-rA``) and record it as a property of the test for reports.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import pytest

from nrpfiles import Client, RetryPolicy
from nrpfiles.errors import ConflictError, RepositoryError, ValidationError
from nrpfiles.streams import MemorySink
from tests.checksums import composite_of_file
from tests.fault_proxy import proxying
from tests.servers import local_server
from tests.transfer_watch import (
    RequestLog,
    interrupt_when,
    busy_connections,
    leftovers,
)

MIB = 1 << 20
LARGE = 200 * MIB
# InvenioRDM refuses a single-request upload above 100 MiB (413).
MEDIUM = 64 * MIB
# Enough attempts that a part or range meeting faults several times in a row still
# gets through: the faults are random, the outcome must not be.
PATIENT = RetryPolicy(attempts=15, initial_wait=0.01, max_wait=0.05)
QUICK_TO_GIVE_UP = RetryPolicy(attempts=3, initial_wait=0.0, max_wait=0.0, jitter=False)


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


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


@pytest.fixture(scope="module")
def medium_file(large_file) -> tuple[Path, str]:
    """The first 64 MiB of the large file, small enough for a single request, and its MD5."""
    path = large_file[0].with_name("medium.bin")
    with large_file[0].open("rb") as stream:
        data = stream.read(MEDIUM)
    path.write_bytes(data)
    return path, md5(data)


@pytest.fixture
def patient_client(repository):
    with Client(repository.url, token=repository.token, retry=PATIENT) as client:
        yield client


def parts_sent_to_storage(log: Any) -> Counter[int]:
    """How often each part went to storage on its presigned URL (``partNumber=N``)."""
    return Counter(
        int(number)
        for request in log.sent
        if request.method == "PUT" and (number := request.url.params.get("partNumber"))
    )


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
        # One phase at a time, and only once the current one has shown its status:
        # parallel streams can carry the bytes past several thresholds between two
        # requests, and a phase no request met would test nothing.
        if self._furthest // self._every > self._phase and self._phase_has_erred():
            self._switch_to(self._phase + 1)

    def _phase_has_erred(self) -> bool:
        status = "429" if self._phase % 2 == 1 else "503"
        return self._repo.faults.injected.get(status, 0) > 0

    def stop(self) -> Counter[str]:
        self.injected.update(self._repo.faults.injected)
        self._repo.faults.clear()
        return self.injected


def report(
    record_property, server: str, what: str, injected: Counter[str], **numbers: object
) -> None:
    summary = {"faults": dict(injected), **numbers}
    record_property(what, summary)
    print(f"{server}, {what}: survived {sum(injected.values())} injected faults {summary}")


# -- surviving faults -----------------------------------------------------------------


def test_a_large_multipart_upload_survives_faults_and_resends_only_failed_parts(
    patient_client, repository, draft, large_file, record_property
):
    path, checksum = large_file
    part_size = 8 * MIB
    parts = LARGE // part_size
    log = RequestLog(patient_client)
    # Five phases: 503s, 429s, 503s, 429s, 503s. On S3 the parts go to storage, past
    # the proxy: the init and the commit meet the faults, and an odd last phase makes
    # the commit meet a 429 after the init's 503.
    every = 50 * MIB if repository.storage_faults else 40 * MIB
    faults = FaultyServer(repository, every=every, cut_after_bytes=6 * MIB, cut_rate=0.3)
    try:
        file = patient_client.files.upload(
            draft,
            "large.bin",
            {},
            str(path),
            transfer_metadata={"part_size": part_size},
            progress=faults,
        )
    finally:
        injected = faults.stop()

    assert file.status == "completed" and file.size == LARGE
    # S3 storage with a busy worker keeps the checksum S3 computed over the parts.
    assert file.checksum == (
        composite_of_file(path, part_size) if repository.storage == "s3" else checksum
    )
    assert file.transfer is None or file.transfer.type == "L"
    assert injected["503"] > 0 and injected["429"] > 0
    if not repository.storage_faults:
        # Nothing broke on the way to storage: each part went once, and the
        # repository's own requests got through their 503s and 429s.
        assert parts_sent_to_storage(log) == Counter(range(1, parts + 1))
        assert injected["cut"] == 0 and faults.moved == LARGE
        report(record_property, repository.name, "multipart upload", injected, parts=parts)
        return
    attempts = log.part_attempts()
    assert sorted(attempts) == list(range(1, parts + 1))
    for part in attempts:
        answers = log.part_answers(part)
        # One success per part, and it is the part's last attempt: a part that got
        # through is never sent again, a part that failed is sent until it does.
        assert answers.count(200) == 1 and answers[-1] == 200, (part, answers)
    resent = sum(attempts.values()) - parts
    assert injected["cut"] > 0
    assert resent > 0
    # Nothing but the failed parts went again.
    assert faults.moved <= LARGE + resent * part_size
    report(
        record_property,
        repository.name,
        "multipart upload",
        injected,
        parts=parts,
        part_attempts=sum(attempts.values()),
        parts_resent=resent,
        mib_sent=round(faults.moved / MIB, 1),
    )


def test_a_single_request_upload_survives_faults_and_starts_over_when_cut(
    patient_client, repository, draft, medium_file, record_property
):
    """A content upload that broke off loses its entry (InvenioRDM deletes it): the
    client finds it gone, creates it again and sends the whole file once more.

    503s, and every content upload cut after 24 MiB until one is; from there on,
    429s with Retry-After and no more cuts.
    """
    path, checksum = medium_file
    log = RequestLog(patient_client)
    injected: Counter[str] = Counter()
    repository.faults.configure(
        seed=_seed_erring_first(0, 0.3), error_rate=0.3, cut_after_bytes=24 * MIB, cut_rate=1.0
    )
    switched = False
    last = 0

    def progress(done: int, total: int | None) -> None:
        nonlocal switched, last
        # The progress goes back as the next attempt starts, before it is sent.
        went_back, last = done < last, done
        if went_back and not switched and repository.faults.injected.get("cut"):
            switched = True
            injected.update(repository.faults.injected)
            repository.faults.configure(
                seed=_seed_erring_first(1000, 0.3),
                error_rate=0.3,
                error_status=429,
                retry_after=0.05,
            )

    try:
        file = patient_client.files.upload(
            draft, "medium.bin", {}, str(path), "local-file", progress=progress
        )
    finally:
        injected.update(repository.faults.injected)
        repository.faults.clear()

    assert file.status == "completed"
    assert file.checksum == checksum and file.size == MEDIUM
    assert injected["cut"] == 1 and injected["503"] > 0 and injected["429"] > 0
    content_puts = [
        status
        for request, status in log.answers
        if request.method == "PUT" and request.url.path.endswith("/medium.bin/content")
    ]
    created = [
        request
        for request, status in log.answers
        if request.method == "POST" and request.url.path.endswith("/files") and status == 201
    ]
    # The retried upload found the entry gone, and a new one was made for the next.
    # One that came while InvenioRDM was still removing it may have been taken in
    # full and then answered 500 (seen on S3): it is sent again, and finds it gone.
    answered = [status for status in content_puts if status not in (429, 503)]
    assert answered[-2:] == [404, 200] and set(answered[:-2]) <= {500}
    assert len(created) == 2
    report(record_property, repository.name, "single-request upload", injected)


@pytest.fixture
def ranged(repository, request):
    """A server whose downloads honour Range, and a patient client of it.

    Resuming needs Range, which InvenioRDM's file store leaves off: the local
    repository, which answers as that store does, stands in with ranges switched on.
    """
    if repository.is_local:
        factory = request.getfixturevalue("local_repository_factory")
        repository = local_server(factory(ranges=True))
    elif not repository.ranges:
        pytest.skip("InvenioRDM's file store serves no ranges: nothing resumes, all starts over")
    with Client(repository.url, token=repository.token, retry=PATIENT) as client:
        yield client, repository


# Ranges of 32 MiB, so that every response is long enough to be cut after 20 MiB.
@pytest.mark.parametrize(
    ("parts", "label"), [(LARGE // (32 * MIB), "parallel ranges"), (1, "one stream")]
)
def test_a_large_download_survives_faults_and_resumes_where_it_broke(
    ranged, large_file, tmp_path, record_property, parts, label
):
    client, repository = ranged
    draft = client.records.create({"metadata": {"title": "Ranges"}})
    path, checksum = large_file
    file = client.files.upload(draft, "large.bin", {}, str(path))
    log = RequestLog(client)
    faults = FaultyServer(repository, every=25 * MIB, cut_after_bytes=20 * MIB, cut_rate=1)
    target = tmp_path / "out" / "large.bin"
    try:
        client.files.download(file, target, parts=parts, progress=faults)
    finally:
        injected = faults.stop()

    assert target.stat().st_size == LARGE
    assert "md5:" + _md5_of_file(target) == checksum
    assert leftovers(tmp_path) == []
    # The first request meets a 503 whatever the server.
    assert injected["503"] > 0
    if repository.storage_faults:
        assert injected["cut"] > 0 and injected["429"] > 0
    else:
        # S3: the repository's redirects met the errors; storage sent the bytes.
        assert injected["cut"] == 0
    # Every response was cut after 20 MiB, yet no byte came twice: each break was
    # resumed with a Range from where it stopped, never from the start.
    assert faults.moved == LARGE
    ranges = log.content_ranges()
    resumed = [r for r in ranges if r is not None and not r.startswith("bytes=0-")]
    assert len(resumed) >= injected["cut"]
    report(
        record_property,
        repository.name,
        f"download in {label}",
        injected,
        requests=len(ranges),
        mib_received=round(faults.moved / MIB, 1),
    )


def test_without_ranges_a_broken_download_starts_over_and_still_verifies(
    patient_client, repository, draft, record_property
):
    if repository.ranges or not repository.storage_faults:
        pytest.skip("S3 storage serves the bytes, past the proxy, and honours ranges")
    data = random.Random(7).randbytes(6 * MIB)
    received = []
    file = patient_client.files.upload(draft, "a.bin", {}, data)
    # seed 4 cuts the first three answers
    repository.faults.configure(seed=4, cut_after_bytes=2 * MIB, cut_rate=0.5)
    try:
        sink = patient_client.files.download(
            file, MemorySink(), progress=lambda done, total: received.append(done)
        )
    finally:
        injected = Counter(repository.faults.injected)
        repository.faults.clear()
    assert sink.data == data
    assert injected["cut"] == 3
    report(record_property, repository.name, "download without ranges", injected)
    # the progress went back to zero for every restart
    assert sum(1 for before, after in itertools.pairwise(received) if after < before) == 3


def test_the_proxy_real_servers_sit_behind_injects_as_the_local_repository_does(
    local_repository,
):
    """The fault proxy, here in front of the local repository: the links name it, bodies
    pass whole both ways, and its faults are drawn and counted as the repository's own."""
    data = random.Random(3).randbytes(24 * MIB)
    with proxying(local_repository.url) as proxy:
        with Client(proxy.url, token=local_repository.token, retry=PATIENT) as client:
            draft = client.records.create({"metadata": {"title": "Behind a proxy"}})
            proxy.faults.configure(
                seed=_seed_erring_first(0, 0.2),
                error_rate=0.2,
                cut_after_bytes=3 * MIB,
                cut_rate=0.5,
            )
            file = client.files.upload(
                draft, "p.bin", {}, data, "multipart", {"part_size": 6 * MIB}
            )
            sink = client.files.download(file, MemorySink())
            injected = proxy.faults.injected
    assert file.links.content is not None and file.links.content.startswith(proxy.url + "/")
    assert file.checksum == md5(data) and sink.data == data
    assert injected["503"] > 0 and injected["cut"] > 0
    assert local_repository.faults.injected == {}


def _md5_of_file(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as stream:
        while block := stream.read(8 * MIB):
            digest.update(block)
    return digest.hexdigest()


# -- when retries run out -------------------------------------------------------------


@pytest.fixture
def impatient_client(repository):
    with Client(
        repository.url, token=repository.token, retry=QUICK_TO_GIVE_UP
    ) as client:
        yield client


def keys_and_statuses(client, draft) -> dict[str, str | None]:
    return {f.key: f.status for f in client.files.list(draft)}


def test_a_local_upload_that_keeps_failing_says_why_and_leaves_nothing(
    impatient_client, repository, draft
):
    data = b"precious" * 1000
    repository.faults.configure(error_rate=1.0, paths=r"/files/a\.bin/content$")
    with pytest.raises(RepositoryError) as caught:
        impatient_client.files.upload(draft, "a.bin", {}, data, "local-file")
    injected = repository.faults.injected
    repository.faults.clear()
    assert injected == {"503": 3}
    text = str(caught.value)
    assert "503" in text and "PUT" in text and "a.bin" in text
    assert "was removed from the draft" in text
    assert keys_and_statuses(impatient_client, draft) == {}

    again = impatient_client.files.upload(draft, "a.bin", {}, data, "local-file")
    assert again.status == "completed" and again.checksum == md5(data)
    sink = impatient_client.files.download(draft, "a.bin", MemorySink())
    assert sink.data == data


def test_a_multipart_upload_whose_parts_keep_breaking_leaves_nothing(
    impatient_client, repository, draft
):
    if not repository.storage_faults:
        pytest.skip("S3: parts go to storage on presigned URLs, past the proxy")
    data = random.Random(1).randbytes(15 * MIB)
    options = {"part_size": 5 * MIB}
    repository.faults.configure(cut_after_bytes=MIB, paths=r"/content/\d+$")
    with pytest.raises(RepositoryError) as caught:
        impatient_client.files.upload(draft, "m.bin", {}, data, "multipart", options)
    injected = repository.faults.injected
    repository.faults.clear()
    assert injected["cut"] >= 3
    text = str(caught.value)
    assert "m.bin" in text and "gave up after 3 attempt(s)" in text
    assert "was removed from the draft" in text
    assert keys_and_statuses(impatient_client, draft) == {}

    again = impatient_client.files.upload(draft, "m.bin", {}, data, "multipart", options)
    assert again.status == "completed" and again.checksum == md5(data)


def test_an_unfinished_file_that_cannot_be_removed_stays_pending_and_is_replaced(
    impatient_client, repository, draft
):
    data = b"second try works"
    # The content upload fails, and so does the clean-up after it.
    repository.faults.configure(error_rate=1.0, paths=r"/files/a\.bin(/content)?$")
    with pytest.raises(RepositoryError) as caught:
        impatient_client.files.upload(draft, "a.bin", {}, data, "local-file")
    injected = repository.faults.injected
    repository.faults.clear()
    assert injected == {"503": 6}  # three PUTs of the content, three DELETEs of the entry
    assert "could not be removed" in str(caught.value)
    # Left behind, but never passed off as complete: publishing refuses it.
    assert keys_and_statuses(impatient_client, draft) == {"a.bin": "pending"}
    with pytest.raises(ValidationError):
        impatient_client.records.publish(draft)

    again = impatient_client.files.upload(draft, "a.bin", {}, data)
    assert again.status == "completed" and again.checksum == md5(data)
    assert keys_and_statuses(impatient_client, draft) == {"a.bin": "completed"}


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        ({"cut_after_bytes": 0}, "kept breaking"),
        ({"error_rate": 1.0}, "503"),
    ],
)
@pytest.mark.parametrize("parts", [None, 2])
def test_a_download_that_keeps_failing_leaves_the_target_untouched(
    impatient_client, repository, draft, tmp_path, faults, expected, parts
):
    if "cut_after_bytes" in faults and not repository.storage_faults:
        pytest.skip("S3: the repository's redirect is never cut, storage sends the bytes")
    data = random.Random(2).randbytes(3 * MIB)
    file = impatient_client.files.upload(draft, "d.bin", {}, data)
    fresh = tmp_path / "fresh" / "d.bin"
    existing = tmp_path / "existing.bin"
    existing.write_bytes(b"the previous version")
    repository.faults.configure(paths=r"/content$", **faults)
    for target in (fresh, existing):
        with pytest.raises(RepositoryError) as caught:
            impatient_client.files.download(file, target, parts=parts)
        assert expected in str(caught.value) and "d.bin" in str(caught.value)
    injected = repository.faults.injected
    repository.faults.clear()
    assert injected.get("cut" if "cut_after_bytes" in faults else "503", 0) >= 6
    assert not fresh.exists()
    assert existing.read_bytes() == b"the previous version"
    # What arrived stays beside each target, with its sidecar, for the next download.
    assert [p.name for p in leftovers(tmp_path)] == [
        "existing.bin.nrpfiles-partial",
        "d.bin.nrpfiles-partial",
    ]
    assert all(p.with_name(p.name + ".json").exists() for p in leftovers(tmp_path))

    impatient_client.files.download(file, existing, parts=parts)
    assert existing.read_bytes() == data
    impatient_client.files.download(file, fresh, parts=parts, resume=False)
    assert fresh.read_bytes() == data
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["d.bin", "existing.bin"]


def test_an_existing_key_is_kept_unless_overwrite_is_asked_for(client, draft):
    client.files.upload(draft, "a.txt", {}, b"first")
    with pytest.raises(ConflictError, match="overwrite=True"):
        client.files.upload(draft, "a.txt", {}, b"second")
    assert (client.files.download(draft, "a.txt", MemorySink())).data == b"first"

    replaced = client.files.upload(draft, "a.txt", {}, b"second", overwrite=True)
    assert replaced.checksum == md5(b"second")
    assert (client.files.download(draft, "a.txt", MemorySink())).data == b"second"


# -- cancelled and interrupted transfers ----------------------------------------------


@pytest.mark.parametrize("parts", [None, 1])
def test_an_interrupted_download_keeps_its_bytes_to_resume_and_no_open_connection(
    client, repository, draft, large_file, tmp_path, parts
):
    path, checksum = large_file
    file = client.files.upload(draft, "large.bin", {}, str(path))
    target = tmp_path / "large.bin"

    interrupt_when(
        lambda progress: client.files.download(file, target, parts=parts, progress=progress),
        after_bytes=16 * MIB,
    )
    assert not target.exists()
    assert [p.name for p in leftovers(tmp_path)] == ["large.bin.nrpfiles-partial"]
    assert busy_connections(client) == []

    starts: list[int] = []
    client.files.download(
        file, target, parts=parts, progress=lambda done, total: starts.append(done)
    )
    assert "md5:" + _md5_of_file(target) == checksum
    assert sorted(p.name for p in tmp_path.iterdir()) == ["large.bin"]
    # Resumed where the sidecar says; without ranges the server sends all again.
    assert starts[0] >= 8 * MIB
    assert (min(starts) > 0) is repository.ranges


@pytest.mark.parametrize("transfer_type", ["local-file", "multipart"])
def test_an_interrupted_upload_leaves_nothing_complete_and_no_open_connection(
    client, draft, large_file, transfer_type, tmp_path
):
    path, checksum = large_file
    options = {"part_size": 16 * MIB} if transfer_type == "multipart" else {}
    if transfer_type == "local-file":
        # InvenioRDM refuses a single-request upload above 100 MiB (413).
        path = tmp_path / "medium.bin"
        path.write_bytes(large_file[0].read_bytes()[: 64 * MIB])
        checksum = "md5:" + _md5_of_file(path)

    interrupt_when(
        lambda progress: client.files.upload(
            draft, "large.bin", {}, str(path), transfer_type, options, progress=progress
        ),
        after_bytes=16 * MIB,
    )
    assert busy_connections(client) == []
    assert (keys_and_statuses(client, draft)).get("large.bin") in (None, "pending")

    again = client.files.upload(draft, "large.bin", {}, str(path), transfer_type, options)
    # On S3 with a busy worker a multipart upload's checksum is still the composite one.
    assert again.status == "completed"
    assert again.checksum in (checksum, composite_of_file(path, 16 * MIB))
