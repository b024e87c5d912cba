# Generated from tests/_async/test_resume_s3_mocked.py by scripts/gen_sync.py: do not edit.
# body-sha256: d840d90af3343820e862780d413f83e679c651e029ac115e21762c8f7c245078
"""A multipart upload to S3 storage resumed from its journal, against mocked HTTP.

The second upload reads the pending entry (whose part links invenio-s3 signs
afresh on every read), sends only the part the journal lacks, to its fresh
link, and verifies the composite checksum S3 reports over all the parts.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from nrpfiles._upload_journal import SourceIdentity, UploadJournal, journal_directory
from nrpfiles.models import File, structure
from nrpfiles.streams import FileSource
from tests._sync.test_files_mocked import (  # noqa: F401 (fixtures)
    FILES,
    ROOT,
    client,
    draft,
    entry,
)
from tests._sync.test_s3_multipart import DATA, PART, STORAGE, pending
from tests.checksums import composite_of as composite


def pending_entry(generation: int) -> dict:
    return {**pending("big.bin", generation), "file_id": "4f1c0a3e", "size": len(DATA)}


def interrupted_upload(folder: Path, confirmed: tuple[int, ...]) -> tuple[Path, UploadJournal]:
    """The source and the journal a process killed after the ``confirmed`` parts leaves."""
    source = folder / "big.bin"
    source.write_bytes(DATA)
    identity = SourceIdentity.of(FileSource(source))
    assert identity is not None
    with UploadJournal(
        repository=ROOT, files_url=FILES, key="big.bin", source=identity, parts=3, part_size=PART
    ) as journal:
        journal.begin(structure(pending_entry(1), File))
        for number in confirmed:
            journal.confirm(number)
    return source, journal


def test_a_resumed_s3_upload_sends_the_missing_part_to_a_fresh_link(
    client, respx_mock, draft, tmp_path
):
    options = {"part_size": PART}
    # What a process killed after parts 1 and 2 leaves: their journal, the entry pending.
    source, journal = interrupted_upload(tmp_path, confirmed=(1, 2))
    assert "X-Amz-Signature" not in journal.path.read_text()
    init = respx_mock.post(FILES).respond(201, json={"entries": [pending_entry(1)]})

    reread = respx_mock.get(f"{FILES}/big.bin").respond(200, json=pending_entry(2))
    fresh = respx_mock.put(url__startswith=f"{STORAGE}/big.bin").respond(200)
    committed = entry("big.bin", status="completed", size=len(DATA), checksum=composite(DATA, PART))
    commit = respx_mock.post(f"{FILES}/big.bin/commit").respond(200, json=committed)
    reports: list[int] = []
    file = client.files.upload(
        draft,
        "big.bin",
        {},
        source,
        "multipart",
        options,
        progress=lambda done, total: reports.append(done),
    )
    assert file.checksum == composite(DATA, PART)
    assert reread.called and commit.call_count == 1 and not init.called
    assert [str(call.request.url) for call in fresh.calls] == [
        f"{STORAGE}/big.bin?partNumber=3&uploadId=u1&X-Amz-Signature=g2"
    ]
    assert reports[0] == 2 * PART and reports[-1] == len(DATA)
    assert list(journal_directory().glob("*.json")) == []


def test_a_resumed_upload_whose_commit_is_refused_starts_over_once(
    client, respx_mock, draft, tmp_path
):
    """SeaweedFS keeps both uploads of a part sent again after a kill; invenio-s3 then
    counts too many parts and answers the commit with a bare 500."""
    options = {"part_size": PART}
    source, _ = interrupted_upload(tmp_path, confirmed=(1,))
    init = respx_mock.post(FILES).respond(201, json={"entries": [pending_entry(3)]})
    respx_mock.get(f"{FILES}/big.bin").respond(200, json=pending_entry(2))
    removed = respx_mock.delete(f"{FILES}/big.bin").respond(204)
    parts = respx_mock.put(url__startswith=f"{STORAGE}/big.bin").respond(200)
    committed = entry("big.bin", status="completed", size=len(DATA), checksum=composite(DATA, PART))

    def commit_answer(request):
        if not init.called:
            return httpx.Response(500, text="Internal Server Error")
        return httpx.Response(200, json=committed)

    respx_mock.post(f"{FILES}/big.bin/commit").mock(side_effect=commit_answer)
    reports: list[int] = []
    file = client.files.upload(
        draft,
        "big.bin",
        {},
        source,
        "multipart",
        options,
        progress=lambda done, total: reports.append(done),
    )
    assert file.checksum == composite(DATA, PART)
    assert removed.called and init.call_count == 1
    signatures = [call.request.url.params["X-Amz-Signature"] for call in parts.calls]
    # parts 2 and 3 to the re-read links, then all three to the new entry's
    assert sorted(signatures) == ["g2", "g2", "g3", "g3", "g3"]
    assert reports[0] == PART and 0 in reports[1:] and reports[-1] == len(DATA)
    assert list(journal_directory().glob("*.json")) == []
