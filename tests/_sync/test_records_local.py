# Generated from tests/_async/test_records_local.py by scripts/gen_sync.py: do not edit.
# body-sha256: 28f9880d8609588a916b652ebf05f775816218a835d78f88b3beca65b78aa77e
"""Records API against the local repository, and the guide's record-and-files workflows."""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import tempfile
import uuid
from pathlib import Path

import pytest

from nrpfiles import Client
from nrpfiles.errors import ConflictError, DoesNotExistError, PermissionDeniedError, ValidationError
from nrpfiles.streams import MemorySink
from tests._sync.conftest import FAST_RETRIES

METADATA = {
    "title": "Records test",
    "resource_type": {"id": "dataset"},
    "publication_date": "2024-01-15",
    "publisher": "nrpfiles",
    "creators": [
        {"person_or_org": {"type": "personal", "family_name": "Doe", "given_name": "Jane"}}
    ],
}


def holds(stored, sent) -> bool:
    """Whether ``stored`` has everything ``sent`` had.

    InvenioRDM adds to what it stores: a vocabulary entry's title next to its
    id, a creator's display name next to the given and family names.
    """
    if isinstance(sent, dict):
        return isinstance(stored, dict) and all(
            key in stored and holds(stored[key], value) for key, value in sent.items()
        )
    if isinstance(sent, list):
        return (
            isinstance(stored, list)
            and len(stored) == len(sent)
            and all(holds(a, b) for a, b in zip(stored, sent, strict=True))
        )
    return stored == sent


def unique(word: str) -> str:
    """A word no other test's record holds: a real repository keeps them all."""
    return f"{word}{uuid.uuid4().hex[:10]}"


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def metadata(**changes) -> dict:
    return {**copy.deepcopy(METADATA), **changes}


def publish_new(client, title="Records test", data=b"hello"):
    draft = client.records.create(metadata(title=title))
    client.files.upload(draft, key="a.txt", source=data)
    return client.records.publish(draft)


# -- create ---------------------------------------------------------------------------------


def test_create_with_the_metadata_wrapper(client):
    draft = client.records.create(
        {"metadata": METADATA, "access": {"record": "public", "files": "public"}}
    )
    assert draft.is_draft is True and draft.is_published is False
    assert holds(draft.metadata, METADATA)
    assert draft.files.enabled is True
    assert draft.etag == f'"{draft.revision_id}"'
    assert draft.links.self_.endswith(f"/records/{draft.id}/draft")


def test_create_without_the_wrapper_takes_the_data_as_metadata(client):
    draft = client.records.create(METADATA, files_enabled=False)
    assert holds(draft.metadata, METADATA)
    assert draft.files.enabled is False
    assert draft.errors == []  # metadata-only and complete: nothing to report


def test_lenient_create_saves_the_draft_and_reports_field_errors(client):
    draft = client.records.create({"title": "x", "resource_type": {"id": "dataset"}})
    fields = {error.field for error in draft.errors}
    assert {"metadata.title", "metadata.creators", "metadata.publication_date"} <= fields
    # Files enabled and none uploaded yet is reported by updates and publish, not here.
    assert "files.enabled" not in fields
    stored = client.records.draft_records.read(draft.id)
    # What is invalid is reported and left out; the rest is saved.
    assert "title" not in stored.metadata
    assert stored.metadata["resource_type"]["id"] == "dataset"


# -- read -----------------------------------------------------------------------------------


def test_read_draft_and_published_by_id_url_and_record(client):
    draft = client.records.create(METADATA)
    with pytest.raises(DoesNotExistError):
        client.records.read(draft.id)  # not published yet
    for ref in (draft.id, draft.links.self_, draft):
        assert (client.records.draft_records.read(ref)).id == draft.id
    client.files.upload(draft, key="a.txt", source=b"hello")
    published = client.records.publish(draft)
    for ref in (draft.id, published.links.self_, published, draft):
        record = client.records.read(ref)
        assert record.is_published and not record.is_draft and record.id == draft.id


def test_draft_read_of_a_published_record_without_a_draft_gives_the_record(client):
    published = publish_new(client)
    record = client.records.draft_records.read(published.id)
    assert record.is_draft is False and record.status == "published"
    edited = client.records.edit(published)
    assert (client.records.draft_records.read(published.id)).is_draft is True
    assert edited.id == published.id


def test_reading_an_unknown_record_raises_does_not_exist(client):
    with pytest.raises(DoesNotExistError):
        client.records.draft_records.read("no-such-id")


# -- update and delete ----------------------------------------------------------------------


def test_update_saves_changes_and_keeps_fields_the_model_does_not_name(client):
    draft = client.records.create(METADATA)
    assert draft.extra  # pids, custom_fields and more that the model does not name
    draft.metadata["title"] = "Changed title"
    updated = client.records.update(draft)
    assert updated.metadata["title"] == "Changed title"
    assert updated.revision_id > draft.revision_id
    assert updated.etag == f'"{updated.revision_id}"' != draft.etag
    reread = client.records.draft_records.read(draft.id)
    assert set(draft.extra) <= set(reread.extra)
    assert reread.metadata["title"] == "Changed title"


def test_lenient_update_reports_field_errors(client):
    draft = client.records.create(METADATA, files_enabled=False)
    draft.metadata["publication_date"] = "15. 1. 2024"
    updated = client.records.update(draft)
    assert [e.field for e in updated.errors] == ["metadata.publication_date"]
    assert "publication_date" not in updated.metadata  # reported, not stored


def test_stale_update_raises_conflict(client):
    draft = client.records.create(METADATA)
    fresh = client.records.draft_records.read(draft.id)
    fresh.metadata["title"] = "First writer"
    client.records.update(fresh)
    draft.metadata["title"] = "Second writer"
    with pytest.raises(ConflictError) as caught:
        client.records.update(draft)
    assert caught.value.status == 412
    assert (client.records.draft_records.read(draft.id)).metadata["title"] == "First writer"


def test_update_after_uploading_files_keeps_the_edit(client):
    draft = client.records.create(METADATA)
    client.files.upload(draft, key="a.txt", source=b"hello")
    draft.metadata["title"] = "Edited after the upload"
    updated = client.records.update(draft)
    assert updated.metadata["title"] == "Edited after the upload"
    assert updated.files.enabled is True


def test_delete_of_a_changed_draft_raises_conflict_and_keeps_it(client):
    draft = client.records.create(METADATA)
    fresh = client.records.draft_records.read(draft.id)
    fresh.metadata["title"] = "Changed meanwhile"
    client.records.update(fresh)
    with pytest.raises(ConflictError):
        client.records.delete(draft)
    assert (client.records.draft_records.read(draft.id)).metadata["title"] == (
        "Changed meanwhile"
    )


def test_delete_removes_a_new_draft(client):
    draft = client.records.create(METADATA)
    client.records.delete(draft)
    with pytest.raises(DoesNotExistError):
        client.records.draft_records.read(draft.id)


def test_deleting_an_edit_draft_keeps_the_published_record(client):
    published = publish_new(client)
    edited = client.records.edit(published.id)
    client.records.delete(edited.links.self_)
    record = client.records.draft_records.read(published.id)
    assert record.is_published and record.is_draft is False


# -- publish --------------------------------------------------------------------------------


def test_publish_a_draft_with_a_file(client):
    draft = client.records.create(METADATA)
    client.files.upload(draft, key="a.txt", source=b"hello")
    published = client.records.publish(draft)
    assert published.is_published and published.status == "published"
    assert published.files.count == 1 and published.files.total_bytes == 5
    assert published.files.entries["a.txt"].checksum == md5(b"hello")
    assert holds(published.metadata, METADATA)
    files = client.files.list(published)
    assert [(f.key, f.size) for f in files] == [("a.txt", 5)]


def test_publish_without_files_is_refused_on_files_enabled(client):
    draft = client.records.create(METADATA)
    with pytest.raises(ValidationError) as caught:
        client.records.publish(draft)
    assert [e.field for e in caught.value.errors] == ["files.enabled"]
    assert caught.value.status == 400
    assert (client.records.draft_records.read(draft.id)).is_draft  # still a draft


def test_publish_with_incomplete_metadata_names_the_fields(client):
    draft = client.records.create(metadata(title="x", creators=[{"person_or_org": {}}]))
    client.files.upload(draft, key="a.txt", source=b"hello")
    with pytest.raises(ValidationError) as caught:
        client.records.publish(draft.id)
    fields = {e.field for e in caught.value.errors}
    assert fields == {"metadata.title", "metadata.creators"}


def test_metadata_only_record_publishes_without_files(client):
    draft = client.records.create(METADATA, files_enabled=False)
    published = client.records.publish(draft)
    assert published.files.enabled is False and published.is_published


# -- edit and new versions ------------------------------------------------------------------


def test_edit_changes_metadata_but_not_files(client):
    published = publish_new(client)
    draft = client.records.edit(published)
    assert draft.is_draft and draft.id == published.id
    assert list(draft.files.entries) == ["a.txt"]
    with pytest.raises(PermissionDeniedError):
        client.files.upload(draft, key="b.txt", source=b"more")
    draft.metadata["title"] = "Edited title"
    client.records.update(draft)
    republished = client.records.publish(draft)
    assert republished.metadata["title"] == "Edited title"
    assert republished.revision_id > published.revision_id
    assert list(republished.files.entries) == ["a.txt"]


def test_new_version_starts_without_files(client):
    published = publish_new(client)
    draft = client.records.new_version(published)
    assert draft.id != published.id and draft.is_draft
    assert draft.status == "new_version_draft"
    assert draft.files.entries == {}
    assert draft.parent["id"] == published.parent["id"]
    # The metadata is carried over, dated today; the files are not.
    carried = {key: value for key, value in METADATA.items() if key != "publication_date"}
    assert holds(draft.metadata, carried)
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    assert draft.metadata["publication_date"] == today


def test_new_version_with_import_files_and_publish(client):
    published = publish_new(client, data=b"version one")
    draft = client.records.new_version(published.links.self_, import_files=True)
    assert list(draft.files.entries) == ["a.txt"]
    client.files.upload(draft, key="b.txt", source=b"version two")
    draft.metadata["publication_date"] = "2025-02-01"
    draft = client.records.update(draft)
    second = client.records.publish(draft)
    assert second.versions["index"] == 2
    assert sorted(second.files.entries) == ["a.txt", "b.txt"]
    sink = MemorySink()
    client.files.download(second, "a.txt", sink)
    assert sink.data == b"version one"
    first = client.records.read(published.id)
    assert list(first.files.entries) == ["a.txt"]  # the old version is untouched


# -- search ---------------------------------------------------------------------------------


def test_search_with_query_size_sort_and_page(client):
    quokka = unique("quokka")
    ids = [(publish_new(client, title=f"Searchable {quokka} {n}")).id for n in range(3)]
    publish_new(client, title="Something else")
    first = client.records.search(quokka, size=2, sort="oldest", page=1)
    assert first.total == 3
    assert [r.id for r in first.hits] == ids[:2]
    assert first.links.next is not None
    second = client.records.search(q=quokka, size=2, sort="oldest", page=2)
    assert [r.id for r in second] == ids[2:]
    assert second.links.next is None
    newest = client.records.search(quokka, sort="newest")
    assert [r.id for r in newest] == ids[::-1]
    assert (client.records.search()).total >= 4


def test_scan_iterates_across_pages(client):
    wombat = unique("wombat")
    ids = [(publish_new(client, title=f"Scanned {wombat} {n}")).id for n in range(5)]
    seen = [r.id for r in client.records.scan(q=wombat, size=2, sort="oldest")]
    assert seen == ids


def test_search_does_not_show_drafts(client):
    numbat = unique("numbat")
    client.records.create(metadata(title=f"Unpublished {numbat}"))
    assert (client.records.search(numbat)).total == 0


def test_draft_records_search_covers_the_callers_own_records(client, repository):
    mark = unique("mine")
    draft = client.records.create(metadata(title=f"{mark} a draft"))
    published = publish_new(client, title=f"{mark} published")
    other_token = repository.another_user()
    with Client(repository.url, token=other_token, retry=FAST_RETRIES) as other_client:
        theirs = other_client.records.create(metadata(title=f"{mark} theirs"))
        their_page = other_client.records.draft_records.search(q=mark)
    page = client.records.draft_records.search(q=mark, size=10)
    found = {r.id: r.is_draft for r in page}
    assert found == {draft.id: True, published.id: False}
    assert page.total == 2
    assert [r.id for r in their_page] == [theirs.id]
    mine = [r.id for r in client.records.draft_records.scan(q=mark, size=1)]
    assert sorted(mine) == sorted([draft.id, published.id])


# -- the guide's workflows ------------------------------------------------------------------


@pytest.fixture
def data_files(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    contents = {
        "experiment1.csv": b"t,value\n" + b"1,0.5\n" * 2000,
        "experiment2.csv": bytes(range(256)) * 100,
        "README.txt": b"Read me first.\n",
    }
    for name, content in contents.items():
        (folder / name).write_bytes(content)
    return {str(folder / name): content for name, content in contents.items()}


def test_guide_upload_multiple_files_and_publish(client, data_files):
    def create_record_with_files(title, file_paths):
        """Create record and upload multiple files."""
        # Create draft record (with what a real InvenioRDM needs to publish it)
        draft = client.records.create(
            {
                "metadata": {
                    "title": title,
                    "creators": [
                        {"person_or_org": {"type": "organizational", "name": "Researcher"}}
                    ],
                    "resource_type": {"id": "dataset"},
                    "publication_date": "2024-01-15",
                }
            }
        )

        # Upload each file
        for path in file_paths:
            filename = Path(path).name
            client.files.upload(
                draft,
                key=filename,
                metadata={"description": f"Data file: {filename}"},
                source=path,
                progress=f"Uploading {filename}",
            )

        # Publish the record
        published = client.records.publish(draft)
        return published

    published = create_record_with_files("Research Dataset 2024", list(data_files))

    assert published.is_published and published.metadata["title"] == "Research Dataset 2024"
    assert published.files.count == 3
    assert published.files.total_bytes == sum(len(c) for c in data_files.values())
    files = client.files.list(client.records.read(published.id))
    by_key = {file.key: file for file in files}
    for path, content in data_files.items():
        file = by_key[Path(path).name]
        assert file.size == len(content) and file.checksum == md5(content)
        assert file.metadata == {"description": f"Data file: {file.key}"}
        sink = MemorySink()
        client.files.download(file, sink)
        assert sink.data == content


def test_guide_metadata_as_written_is_refused_with_the_missing_fields(client, data_files):
    # The guide's metadata lacks what InvenioRDM requires to publish.
    draft = client.records.create(
        {
            "metadata": {
                "title": "Research Dataset 2024",
                "creators": [{"person_or_org": {"name": "Researcher"}}],
                "resource_type": {"id": "dataset"},
            }
        }
    )
    client.files.upload(draft, key="README.txt", source=next(iter(data_files)))
    with pytest.raises(ValidationError) as caught:
        client.records.publish(draft)
    assert {e.field for e in caught.value.errors} == {
        "metadata.publication_date",
        "metadata.creators.0.person_or_org.type",
    }


@pytest.mark.parametrize("state", ["draft", "published"])
def test_guide_download_complete_record_with_files(client, data_files, tmp_path, state):
    draft = client.records.create(metadata(title="To back up"))
    for path in data_files:
        client.files.upload(
            draft, key=Path(path).name, metadata={"origin": path}, source=path
        )
    if state == "published":
        client.records.publish(draft)

    def download_record_with_files(record_id, output_dir):
        """Download record metadata and all files."""
        # Create output directory
        output_path = Path(output_dir) / record_id
        output_path.mkdir(parents=True, exist_ok=True)

        # Get record (can be draft or published)
        record = client.records.draft_records.read(record_id)

        # Save metadata
        metadata_file = output_path / "metadata.json"
        with open(metadata_file, "w") as f:
            json.dump(record.metadata, f, indent=2)

        # Download files
        files = client.files.list(record)
        files_dir = output_path / "files"
        files_dir.mkdir(exist_ok=True)

        for file in files:
            file_path = files_dir / file.key
            client.files.download(file, str(file_path), progress=f"Downloading {file.key}")

            # Also save file metadata
            file_meta_path = files_dir / f"{file.key}.metadata.json"
            with open(file_meta_path, "w") as f:
                json.dump(
                    {
                        "key": file.key,
                        "size": file.size,
                        "checksum": file.checksum,
                        "mimetype": file.mimetype,
                        "metadata": file.metadata,
                    },
                    f,
                    indent=2,
                )

        return output_path

    saved_to = download_record_with_files(draft.id, tmp_path / "backups")

    assert saved_to == tmp_path / "backups" / draft.id
    assert holds(json.loads((saved_to / "metadata.json").read_text()), metadata(title="To back up"))
    saved = sorted(p.name for p in (saved_to / "files").iterdir())
    keys = sorted(Path(path).name for path in data_files)
    assert saved == sorted(keys + [f"{key}.metadata.json" for key in keys])
    for path, content in data_files.items():
        key = Path(path).name
        assert (saved_to / "files" / key).read_bytes() == content
        described = json.loads((saved_to / "files" / f"{key}.metadata.json").read_text())
        assert described["size"] == len(content)
        assert described["checksum"] == md5(content)
        assert described["metadata"] == {"origin": path}
        assert described["mimetype"]


def test_guide_copy_files_between_records(client, data_files):
    source = client.records.create(metadata(title="Copy source"))
    for path in data_files:
        client.files.upload(
            source, key=Path(path).name, metadata={"description": Path(path).stem}, source=path
        )
    source = client.records.publish(source)
    destination = client.records.create(metadata(title="Copy destination"))

    def copy_files_between_records(source_record_id, dest_record_id):
        """Copy all files from one record to another."""
        # Can copy from/to draft or published records
        source_record = client.records.draft_records.read(source_record_id)
        dest_record = client.records.draft_records.read(dest_record_id)

        source_files = client.files.list(source_record)

        # Use temporary directory for intermediate storage
        with tempfile.TemporaryDirectory() as tmpdir:
            for file in source_files:
                # Download from source
                tmp_path = Path(tmpdir) / file.key
                client.files.download(file, str(tmp_path))

                # Upload to destination
                client.files.upload(
                    dest_record,
                    key=file.key,
                    metadata=file.metadata.copy(),
                    source=str(tmp_path),
                    progress=f"Copying {file.key}",
                )

        return len(source_files)

    copied = copy_files_between_records(source.id, destination.id)

    assert copied == 3
    source_files = client.files.list(source)
    copied_files = client.files.list(destination)
    assert len(copied_files) == 3
    assert {(f.key, f.size, f.checksum, json.dumps(f.metadata)) for f in copied_files} == {
        (f.key, f.size, f.checksum, json.dumps(f.metadata)) for f in source_files
    }
    for path, content in data_files.items():
        sink = MemorySink()
        client.files.download(destination, Path(path).name, sink)
        assert sink.data == content
    published = client.records.publish(destination)
    assert published.files.count == 3
