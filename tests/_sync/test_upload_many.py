# Generated from tests/_async/test_upload_many.py by scripts/gen_sync.py: do not edit.
# body-sha256: bb58c0034645d9e17fbce42fe3b5d4bab641411f72bdc66f9d168ab55a18997e
"""Many files in one call: entries made together, every file verified, nothing half-made left.

The same cases run on every server: the real InvenioRDM takes a list of
entries in one request as the local repository does.
"""

from __future__ import annotations

import hashlib
import random

import pytest

from nrpfiles.errors import ConflictError, PermissionDeniedError
from nrpfiles.streams import MemorySink
from tests.transfer_watch import RequestLog

MIB = 1 << 20


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def small_files(count: int, seed: int = 1) -> dict[str, bytes]:
    generator = random.Random(seed)
    return {f"data/f{i:03}.bin": generator.randbytes(generator.randrange(1, 40_000)) for i in range(count)}


def entry_creations(log: RequestLog, files_url: str) -> list[int]:
    """How many entries each POST to the files list asked for, in the order sent."""
    return [
        len(request.read().decode().split('"key"')) - 1
        for request in log.sent
        if request.method == "POST" and str(request.url).rstrip("/") == files_url.rstrip("/")
    ]


def test_many_files_go_up_verified_with_their_entries_made_in_one_request(
    client, draft, tmp_path
):
    data = small_files(30)
    sources: dict[str, object] = dict(data)
    on_disk = tmp_path / "on-disk.csv"
    on_disk.write_bytes(b"a,b\n1,2\n")
    sources["on-disk.csv"] = str(on_disk)
    data["on-disk.csv"] = on_disk.read_bytes()
    reported: list[tuple[int, int | None]] = []
    log = RequestLog(client)

    files = client.files.upload_many(
        draft,
        sources,
        {"on-disk.csv": {"description": "a table"}},
        progress=lambda done, total: reported.append((done, total)),
    )

    assert [file.key for file in files] == list(sources)
    for file in files:
        assert file.status == "completed"
        assert (file.size, file.checksum) == (len(data[file.key]), md5(data[file.key]))
    assert entry_creations(log, draft.links.files) == [len(sources)]
    total = sum(len(content) for content in data.values())
    assert reported[-1] == (total, total)
    listed = {file.key: file for file in client.files.list(draft)}
    assert set(listed) == set(sources)
    assert listed["on-disk.csv"].metadata.get("description") == "a table"
    sink = client.files.download(listed["data/f007.bin"], MemorySink())
    assert sink.data == data["data/f007.bin"]


def test_a_large_file_among_small_ones_goes_in_parts(client, draft):
    large = random.Random(2).randbytes(64 * MIB + 5)
    data = {"large.bin": large, **small_files(3)}
    log = RequestLog(client)

    files = client.files.upload_many(draft, data)

    by_key = {file.key: file for file in files}
    assert [file.key for file in files] == list(data)
    assert all(file.status == "completed" for file in files)
    assert all(by_key[key].size == len(content) for key, content in data.items())
    creations = entry_creations(log, draft.links.files)
    if "M" in (client.info()).transfers:
        # The small files' entries went together, the large one's with its parts.
        assert sorted(creations) == [1, 3]
    else:
        assert creations == [4]


def test_taken_keys_are_refused_before_anything_is_sent_unless_overwritten(client, draft):
    client.files.upload(draft, "a.txt", {}, b"first")
    log = RequestLog(client)

    with pytest.raises(ConflictError, match=r"'a\.txt'.*overwrite=True; nothing was sent"):
        client.files.upload_many(draft, {"b.txt": b"b", "a.txt": b"second"})

    assert [r.method for r in log.sent] == ["GET"]
    assert [file.key for file in client.files.list(draft)] == ["a.txt"]

    files = client.files.upload_many(
        draft, {"b.txt": b"b", "a.txt": b"second"}, overwrite=True
    )
    assert [file.checksum for file in files] == [md5(b"b"), md5(b"second")]
    sink = client.files.download(client.files.read(draft, "a.txt"), MemorySink())
    assert sink.data == b"second"


def test_an_unfinished_entry_under_a_key_is_replaced(client, draft):
    # A pending entry, as a broken earlier upload leaves one.
    client._http.request_json("POST", draft.links.files, json=[{"key": "pending.txt"}])

    files = client.files.upload_many(draft, {"pending.txt": b"new", "other.txt": b"o"})

    assert [file.checksum for file in files] == [md5(b"new"), md5(b"o")]
    assert {file.status for file in client.files.list(draft)} == {"completed"}


def test_a_key_taken_after_the_listing_makes_each_file_its_own_entry(
    client, draft, monkeypatch
):
    def nothing_listed(files_url):
        return {}

    # Another writer's entry appears between the listing and the creation.
    monkeypatch.setattr(client.files._uploader, "entries", nothing_listed)
    client._http.request_json("POST", draft.links.files, json=[{"key": "b.txt"}])
    log = RequestLog(client)

    files = client.files.upload_many(draft, {"a.txt": b"a", "b.txt": b"b", "c.txt": b"c"})

    assert [file.checksum for file in files] == [md5(b"a"), md5(b"b"), md5(b"c")]
    assert entry_creations(log, draft.links.files)[0] == 3
    assert {file.status for file in client.files.list(draft)} == {"completed"}


def test_a_file_refused_for_good_stops_the_rest_and_leaves_no_unfinished_entry(
    client, draft, repository
):
    data = small_files(12, seed=3)
    data["data/f005.bin"] = b"refused"
    repository.faults.configure(
        paths=r"/files/data%2Ff005\.bin/content$|/files/data/f005\.bin/content$",
        error_rate=1.0,
        error_status=403,
    )
    try:
        with pytest.raises(PermissionDeniedError) as raised:
            client.files.upload_many(draft, data)
    finally:
        repository.faults.clear()

    listed = list(client.files.list(draft))
    assert {file.status for file in listed} <= {"completed"}
    assert "data/f005.bin" not in {file.key for file in listed}
    for file in listed:
        assert file.checksum == md5(data[file.key])
    assert f"{len(listed)} of {len(data)} files were uploaded and stay on the draft" in str(
        raised.value
    )
    assert "unfinished entries were removed" in str(raised.value)


def test_nothing_to_upload_sends_nothing(client, draft):
    log = RequestLog(client)
    assert client.files.upload_many(draft, {}) == []
    assert log.sent == []
