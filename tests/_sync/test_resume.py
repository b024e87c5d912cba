# Generated from tests/_async/test_resume.py by scripts/gen_sync.py: do not edit.
# body-sha256: 32f10a11f831a0bacc97510ec0992cc6b096bec6fe1bcc19e93cdbb77713ac6b
"""Transfers that survive their process: killed with SIGKILL at about half way, then run again.

A child process downloads or uploads and kills itself once its progress
callback has seen half of the file move (bytes, never time); the test then
runs the same transfer again and counts, through the progress callback, where
it starts and how many bytes it moves. Against every server that honours byte
ranges; for the local repository one with ranges on is started.

``NRPFILES_RESUME_PROOF_MIB`` sets the file size (256 MiB by default; the
proof run is ``NRPFILES_RESUME_PROOF_MIB=1024``).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import threading
import time
from pathlib import Path

import attrs
import pytest

from nrpfiles import Client
from nrpfiles._partial_download import (
    SIDECAR_FORMAT,
    ResumableFileWriter,
    partial_path,
    sidecar_path,
)
from nrpfiles._transfer_plan import (
    DEFAULT_PARALLEL_PARTS,
    RESUMABLE_MIN_RANGE_SIZE,
    upload_parts,
)
from nrpfiles._upload_journal import journal_directory
from nrpfiles._write_behind import WRITE_BEHIND_ROOM
from nrpfiles.errors import TransferError
from tests.checksums import composite_of_file
from tests.killed_child import child, run_child, wait_until_stopped
from tests.servers import RepositoryUnderTest, local_server
from tests.transfer_watch import interrupt_when, leftovers

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")

MIB = 1 << 20
PROOF_SIZE = int(os.environ.get("NRPFILES_RESUME_PROOF_MIB", "256")) * MIB
# The part size a journaled upload of the proof file gets by default.
PROOF_PART = upload_parts(PROOF_SIZE, None, resumable=True)[1]
CLIENT = Client.__name__
PUBLISHABLE = {"metadata": {"title": "Resumed transfers"}}


class Moves:
    """A progress callback that remembers where a transfer started and what it moved."""

    def __init__(self) -> None:
        self.reports: list[int] = []

    def __call__(self, done: int, total: int | None) -> None:
        self.reports.append(done)

    @property
    def start(self) -> int:
        return self.reports[0]

    @property
    def restarted(self) -> bool:
        """Whether the transfer went back to its first byte after it had begun."""
        steps = zip(self.reports, self.reports[1:], strict=False)
        return any(after < before for before, after in steps)

    def resumed_to_the_end(self, size: int, repository: RepositoryUnderTest) -> bool:
        """Continued from where it started to ``size``; or, where a server may refuse to
        complete a resumed upload (``resent_parts_listed_twice``), started over once."""
        if self.restarted:
            assert repository.resent_parts_listed_twice, "started over where it should resume"
            return self.reports[-1] == size
        return self.start + self.moved == size

    @property
    def moved(self) -> int:
        """Bytes moved: every step forward from the start (a restart moves them again)."""
        steps = zip(self.reports, self.reports[1:], strict=False)
        return sum(max(0, after - before) for before, after in steps)


def allowed(size: int, in_flight: int) -> float:
    """At most 55% of the file; for a small file, half of it and what a kill can lose."""
    return max(0.55 * size, size / 2 + in_flight)


def write_random(path: Path, size: int, seed: int) -> str:
    """Write ``size`` pseudo-random bytes (cheap to make, 8 MiB at a time); their md5."""
    digest = hashlib.md5()
    block = hashlib.sha256(str(seed).encode()).digest() * (8 * MIB // 32)
    with path.open("wb") as out:
        written = 0
        while written < size:
            # Each block differs: a counter in front keeps parts from repeating.
            chunk = (written.to_bytes(8, "big") + block)[: min(8 * MIB, size - written)]
            out.write(chunk)
            digest.update(chunk)
            written += len(chunk)
    return "md5:" + digest.hexdigest()


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as stream:
        while chunk := stream.read(8 * MIB):
            digest.update(chunk)
    return "md5:" + digest.hexdigest()


def journals() -> list[Path]:
    folder = journal_directory()
    return sorted(folder.glob("*.json")) if folder.exists() else []


@pytest.fixture
def storage_redirect() -> bool:
    """Whether a local repository started for a case sends downloads to a storage origin."""
    return False


@pytest.fixture
def ranged(repository, local_repository_factory, storage_redirect):
    """The server under test when it honours ranges; a local one with ranges on for local.

    With ``storage_redirect`` that local one answers ``/content`` with a 302 to
    presigned URLs on another origin, as S3 storage does.
    """
    if repository.ranges:
        if storage_redirect:
            pytest.skip("the server under test is taken as it is")
        return repository
    if repository.is_local:
        repository = local_repository_factory(ranges=True, storage_redirect=storage_redirect)
        return local_server(repository)
    pytest.skip("this server does not honour byte ranges")


@pytest.fixture
def ranged_client(ranged):
    with Client(ranged.url, token=ranged.token) as client:
        yield client


@pytest.fixture(scope="module")
def proof_file(tmp_path_factory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("proof") / "proof.bin"
    return path, write_random(path, PROOF_SIZE, seed=1)


@pytest.mark.killed
@pytest.mark.parametrize("storage_redirect", [False, True], ids=["direct", "redirect"])
@pytest.mark.parametrize("changed", [False, True], ids=["same", "changed"])
def test_a_killed_download_resumes_in_the_next_process(
    ranged, ranged_client, proof_file, tmp_path, changed
):
    source, checksum = proof_file
    client = ranged_client
    draft = client.records.create(PUBLISHABLE)
    file = client.files.upload(draft, "proof.bin", {}, source)
    target = tmp_path / "out" / "proof.bin"

    run_child(
        CLIENT,
        "download",
        PROOF_SIZE // 2,
        "KILL",
        ranged.url,
        ranged.token,
        file.links.self_,
        target,
    )
    assert not target.exists()
    [partial] = leftovers(tmp_path)
    assert partial.name == "proof.bin.nrpfiles-partial"
    # Its size follows the bytes that arrived, ahead by the ranges in flight at most and
    # behind by the writes queued at most: judged by bytes on disk or by progress, the
    # kill came at about half way.
    in_flight = DEFAULT_PARALLEL_PARTS * max(RESUMABLE_MIN_RANGE_SIZE, PROOF_SIZE // 128)
    size = partial.stat().st_size
    assert PROOF_SIZE // 2 - WRITE_BEHIND_ROOM <= size <= PROOF_SIZE // 2 + in_flight
    assert ranged.token not in sidecar_path(target).read_text()

    if changed:
        other = tmp_path / "other.bin"
        checksum = write_random(other, PROOF_SIZE, seed=2)
        client.files.delete(draft, "proof.bin")
        file = client.files.upload(draft, "proof.bin", {}, other)

    moves = Moves()
    client.files.download(file, target, progress=moves)
    assert md5_of(target) == checksum
    assert sorted(p.name for p in target.parent.iterdir()) == ["proof.bin"]
    print(
        f"second download: started at {moves.start}, moved {moves.moved} of {PROOF_SIZE} "
        f"bytes ({100 * moves.moved / PROOF_SIZE:.1f}%)"
    )
    if changed:
        assert moves.start == 0 and moves.moved == PROOF_SIZE
    else:
        assert moves.start >= PROOF_SIZE // 2 - 8 * MIB - WRITE_BEHIND_ROOM
        assert moves.moved <= allowed(PROOF_SIZE, 8 * MIB + WRITE_BEHIND_ROOM)
        assert moves.start + moves.moved == PROOF_SIZE


@pytest.mark.killed
@pytest.mark.parametrize("changed", [False, True], ids=["same", "changed"])
def test_a_killed_multipart_upload_resumes_in_the_next_process(
    ranged, ranged_client, proof_file, tmp_path, changed
):
    source = tmp_path / "proof.bin"
    if changed:
        checksum = write_random(source, PROOF_SIZE, seed=3)
    else:
        os.link(proof_file[0], source)  # the same bytes, no copy
        checksum = proof_file[1]
    client = ranged_client
    draft = client.records.create(PUBLISHABLE)

    run_child(
        CLIENT,
        "upload",
        PROOF_SIZE // 2,
        "KILL",
        ranged.url,
        ranged.token,
        draft.links.self_,
        "proof.bin",
        source,
        0,
    )
    assert [f.status for f in client.files.list(draft)] == ["pending"]
    [journal] = journals()
    assert ranged.token not in journal.read_text()
    assert oct(journal.stat().st_mode & 0o777) == "0o600"

    if changed:
        checksum = write_random(source, PROOF_SIZE, seed=4)

    moves = Moves()
    uploaded = client.files.upload(draft, "proof.bin", {}, source, progress=moves)
    assert uploaded.status == "completed"
    assert uploaded.checksum in (checksum, composite_of_file(source, PROOF_PART))
    assert journals() == []
    print(
        f"second upload: started at {moves.start}, moved {moves.moved} of {PROOF_SIZE} "
        f"bytes ({100 * moves.moved / PROOF_SIZE:.1f}%)"
    )
    if changed:
        assert moves.start == 0 and moves.moved == PROOF_SIZE
    else:
        assert moves.start >= PROOF_SIZE // 2 - DEFAULT_PARALLEL_PARTS * PROOF_PART
        assert moves.resumed_to_the_end(PROOF_SIZE, ranged)
        if not moves.restarted:
            assert moves.moved <= allowed(PROOF_SIZE, DEFAULT_PARALLEL_PARTS * PROOF_PART)
    target = tmp_path / "back.bin"
    client.files.download(uploaded, target)
    assert md5_of(target) == checksum


# -- the journal's edge cases and cleaning up ------------------------------------------

SMALL = 24 * MIB
SMALL_PART = 5 * MIB
# Past the first parts in flight: a part starts only once one before it was confirmed.
PAST_FIRST_PARTS = DEFAULT_PARALLEL_PARTS * SMALL_PART + MIB


@pytest.fixture
def small_file(tmp_path) -> tuple[Path, str]:
    path = tmp_path / "small.bin"
    return path, write_random(path, SMALL, seed=5)


def test_a_second_process_uploading_the_same_file_fails_clearly(
    client, draft, repository, small_file
):
    source, checksum = small_file
    with child(
        CLIENT,
        "upload",
        SMALL // 2,
        "STOP",
        repository.url,
        repository.token,
        draft.links.self_,
        "small.bin",
        source,
        SMALL_PART,
    ) as paused:
        wait_until_stopped(paused)  # mid-upload, holding its journal's lock
        with pytest.raises(TransferError, match=r"another upload of 'small\.bin'"):
            client.files.upload(draft, "small.bin", {}, source, "multipart")
        assert [f.status for f in client.files.list(draft)] == ["pending"]
        paused.kill()
    # Its owner gone, the lock is free: the upload goes through (resumed or not).
    uploaded = client.files.upload(
        draft, "small.bin", {}, source, "multipart", {"part_size": SMALL_PART}
    )
    assert uploaded.checksum in (checksum, composite_of_file(source, SMALL_PART))
    assert journals() == []


def test_a_second_process_downloading_into_the_same_target_fails_clearly(
    ranged, ranged_client, small_file, tmp_path
):
    source, checksum = small_file
    client = ranged_client
    draft = client.records.create(PUBLISHABLE)
    file = client.files.upload(draft, "small.bin", {}, source)
    target = tmp_path / "out" / "small.bin"
    with child(
        CLIENT, "download", SMALL // 2, "STOP", ranged.url, ranged.token, file.links.self_, target
    ) as paused:
        wait_until_stopped(paused)  # mid-download, holding the partial file's lock
        with pytest.raises(TransferError, match="another download into the same target"):
            client.files.download(file, target)
        paused.kill()
    moves = Moves()
    client.files.download(file, target, progress=moves)
    assert md5_of(target) == checksum and moves.start > 0
    assert sorted(p.name for p in target.parent.iterdir()) == ["small.bin"]


@pytest.mark.unverified
@pytest.mark.parametrize("verified", [True, False], ids=["verified", "unverified"])
def test_a_disk_that_fills_up_stops_the_download_and_the_sidecar_claims_no_more(
    ranged, ranged_client, small_file, tmp_path, monkeypatch, caplog, verified
):
    """Writes may lag the bytes received (an unverified download writes behind, on a
    thread): what the sidecar counts must be on disk, so the next download continues
    without a hole."""
    source, checksum = small_file
    client = ranged_client
    draft = client.records.create(PUBLISHABLE)
    file = client.files.upload(draft, "small.bin", {}, source)
    if not verified:
        file = attrs.evolve(file, checksum=None)
    target = tmp_path / "out" / "small.bin"
    write_at, lock, landed = ResumableFileWriter.write_at, threading.Lock(), [0]

    def until_full(writer: ResumableFileWriter, offset: int, data: bytes) -> None:
        with lock:
            if landed[0] >= SMALL // 2:
                raise OSError(errno.ENOSPC, "No space left on device")
            landed[0] += len(data)
        write_at(writer, offset, data)

    monkeypatch.setattr(ResumableFileWriter, "write_at", until_full)
    with pytest.raises(OSError) as full:
        client.files.download(file, target, parts=4)
    assert full.value.errno == errno.ENOSPC
    assert not target.exists()
    monkeypatch.undo()

    ranges = [json.loads(line) for line in sidecar_path(target).read_text().splitlines()][-1]
    claimed = 0
    with source.open("rb") as original, partial_path(target).open("rb") as partial:
        for start, _end, written in ranges["ranges"]:
            original.seek(start)
            partial.seek(start)
            assert partial.read(written) == original.read(written), f"range at {start}"
            claimed += written
    assert 0 < claimed <= landed[0]
    moves = Moves()
    client.files.download(file, target, progress=moves)
    assert md5_of(target) == checksum
    assert moves.start == claimed and not moves.restarted
    assert ("not verified" in caplog.text) is not verified


@pytest.mark.parametrize("meanwhile", ["removed", "replaced", "another pending"])
def test_a_stale_journal_entry_starts_over(client, draft, small_file, meanwhile):
    source, checksum = small_file
    options = {"part_size": SMALL_PART}
    interrupt_when(
        lambda progress: client.files.upload(
            draft, "small.bin", {}, source, "multipart", options, progress=progress
        ),
        after_bytes=PAST_FIRST_PARTS,
    )
    assert len(journals()) == 1
    # The pending entry the journal names is not there any more: someone else
    # removed it, put a completed file there, or began another upload of the key.
    client.files.delete(draft, "small.bin")
    if meanwhile == "replaced":
        client.files.upload(draft, "small.bin", {}, b"another file")
    if meanwhile == "another pending":
        # A new entry as an upload elsewhere makes it: same key, size and parts.
        parts = {"type": "M", "parts": -(-SMALL // SMALL_PART), "part_size": SMALL_PART}
        init = {"key": "small.bin", "size": SMALL, "transfer": parts}
        other = client.files._uploader.init(draft.links.files, init, False)
        assert other.status == "pending"

    moves = Moves()
    uploaded = client.files.upload(
        draft, "small.bin", {}, source, "multipart", options, progress=moves, overwrite=True
    )
    assert uploaded.checksum in (checksum, composite_of_file(source, SMALL_PART))
    assert moves.start == 0 and moves.moved == SMALL
    assert journals() == []


def test_an_interrupted_upload_resumes_and_resume_false_starts_over(
    client, draft, small_file, repository
):
    source, checksum = small_file
    options = {"part_size": SMALL_PART}

    def interrupted(overwrite: bool) -> None:
        interrupt_when(
            lambda progress: client.files.upload(
                draft,
                "small.bin",
                {},
                source,
                "multipart",
                options,
                progress=progress,
                overwrite=overwrite,
            ),
            after_bytes=PAST_FIRST_PARTS,
        )
        assert [f.status for f in client.files.list(draft)] == ["pending"]
        assert len(journals()) == 1

    interrupted(overwrite=False)
    moves = Moves()
    client.files.upload(draft, "small.bin", {}, source, "multipart", options, progress=moves)
    assert moves.start > 0 and moves.resumed_to_the_end(SMALL, repository)

    interrupted(overwrite=True)  # the completed file goes
    moves = Moves()
    uploaded = client.files.upload(
        draft,
        "small.bin",
        {},
        source,
        "multipart",
        options,
        progress=moves,
        overwrite=True,
        resume=False,
    )
    assert moves.start == 0 and moves.moved == SMALL
    assert uploaded.checksum in (checksum, composite_of_file(source, SMALL_PART))
    assert journals() == [] and [f.key for f in client.files.list(draft)] == ["small.bin"]


def test_journals_untouched_for_30_days_are_removed(client, draft, small_file):
    folder = journal_directory()
    folder.mkdir(parents=True)
    abandoned, recent = folder / "abandoned.json", folder / "recent.json"
    for journal in (abandoned, recent):
        journal.write_text("{}")
    month_ago = time.time() - 31 * 24 * 3600
    os.utime(abandoned, (month_ago, month_ago))
    client.files.upload(draft, "small.bin", {}, small_file[0], "multipart")
    assert journals() == [recent]


def test_memory_sources_and_refused_multipart_leave_no_journal(
    client, draft, local_repository_factory, small_file
):
    client.files.upload(draft, "memory.bin", {}, small_file[0].read_bytes(), "multipart")
    zenodo = local_repository_factory(profile="zenodo")
    with Client(zenodo.url, token=zenodo.token) as zenodo_client:
        deposit = zenodo_client.records.create(PUBLISHABLE)
        uploaded = zenodo_client.files.upload(
            deposit, "small.bin", {}, small_file[0], "multipart"
        )
    assert uploaded.checksum == small_file[1]
    assert journals() == []
    assert not journal_directory().exists() or list(journal_directory().iterdir()) == []


def test_a_download_whose_sidecar_is_unreadable_starts_over(
    client, draft, small_file, tmp_path
):
    source, checksum = small_file
    file = client.files.upload(draft, "small.bin", {}, source)
    target = tmp_path / "out" / "small.bin"
    target.parent.mkdir()
    target.with_name("small.bin.nrpfiles-partial").write_bytes(b"x" * SMALL)
    sidecar_path(target).write_text("{not json")
    moves = Moves()
    client.files.download(file, target, progress=moves)
    assert md5_of(target) == checksum
    assert moves.start == 0
    assert sorted(p.name for p in target.parent.iterdir()) == ["small.bin"]


def test_a_partial_download_of_another_version_starts_over(
    ranged_client, small_file, tmp_path, caplog
):
    """Checksums of different kinds decide nothing: the old ETag, refused (412), does."""
    source, checksum = small_file
    client = ranged_client
    draft = client.records.create(PUBLISHABLE)
    file = client.files.upload(draft, "small.bin", {}, source)
    target = tmp_path / "out" / "small.bin"
    target.parent.mkdir()
    target.with_name("small.bin.nrpfiles-partial").write_bytes(b"x" * SMALL)
    sidecar = {
        "format": SIDECAR_FORMAT,
        "url": file.links.content or f"{file.links.self_}/content",
        "key": "small.bin",
        "size": SMALL,
        # what S3 reports before its worker computes the md5
        "checksum": f"multipart:{'0' * 32}-5-{SMALL_PART}",
        "etag": f'"md5:{"f" * 32}"',
        "ranges": [[0, SMALL, SMALL // 2]],
    }
    sidecar_path(target).write_text(json.dumps(sidecar))
    moves = Moves()
    client.files.download(file, target, progress=moves)
    assert md5_of(target) == checksum
    assert moves.start == SMALL // 2 and 0 in moves.reports  # tried, refused, started over
    assert "'small.bin' changed since the partial download" in caplog.text
    assert sorted(p.name for p in target.parent.iterdir()) == ["small.bin"]
