"""Every example of the Files API user guide, against the local repository.

Each test follows the guide's code as closely as the test setting allows
(temporary directories instead of /path/to/..., a local URL instead of
repository.org) and checks what the example promises.
"""

from __future__ import annotations

import hashlib
import random
import tempfile
from functools import partial
from pathlib import Path

import pytest
from yarl import URL

from nrpfiles import AsyncClient, RetryPolicy, limit_connections
from nrpfiles._h11_buffer import LeanReceiveBuffer
from nrpfiles.errors import (
    DoesNotExistError,
    RepositoryClientError,
    RepositoryCommunicationError,
)
from nrpfiles.limits import current_limiter
from nrpfiles.streams import FileSink, FileSource, MemorySink, MemorySource
from tests.parallel import async_run_all
from tests.static_server import serve_directory


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    contents = {
        "data.csv": b"a,b\n1,2\n" * 500,
        "analysis.py": b"print('analysis')\n",
        "results.pdf": bytes(range(256)) * 300,
    }
    for name, content in contents.items():
        (folder / name).write_bytes(content)
    return folder


async def upload_three(client, record, data_dir):
    for name in ("data.csv", "analysis.py", "results.pdf"):
        await client.files.upload(
            record, key=name, metadata={"description": name}, source=str(data_dir / name)
        )


# -- Listing files ----------------------------------------------------------------------


async def test_list_files_on_a_record(client, draft, data_dir):
    await upload_three(client, draft, data_dir)
    record = await client.records.draft_records.read(draft.id)
    files = await client.files.list(record)
    seen = {}
    for file in files:
        seen[file.key] = (file.size, file.checksum, file.metadata)
    assert seen == {
        name: (
            (data_dir / name).stat().st_size,
            md5((data_dir / name).read_bytes()),
            {"description": name},
        )
        for name in ("data.csv", "analysis.py", "results.pdf")
    }


async def test_list_by_record_url(client, draft, data_dir):
    await upload_three(client, draft, data_dir)
    record_url = URL(f"{client.url}/api/records/{draft.id}")
    files = await client.files.list(record_url)
    assert sorted(f.key for f in files) == ["analysis.py", "data.csv", "results.pdf"]


async def test_access_file_properties(client, draft, data_dir):
    await upload_three(client, draft, data_dir)
    files = await client.files.list(draft)
    for file in files:
        assert file.key and file.size and file.mimetype
        assert file.checksum.startswith("md5:")
        assert file.metadata.get("description", "N/A") == file.key
        assert file.status == "completed"
        assert file.links.content.endswith(f"/files/{file.key}/content")
        assert file.links.self_.endswith(f"/files/{file.key}")


# -- Uploading --------------------------------------------------------------------------


async def test_basic_upload_from_file_path(client, draft, data_dir):
    file = await client.files.upload(
        draft,
        key="data.csv",
        metadata={"description": "Dataset file"},
        source=str(data_dir / "data.csv"),
    )
    assert (file.key, file.size) == ("data.csv", (data_dir / "data.csv").stat().st_size)
    assert file.metadata == {"description": "Dataset file"}


async def test_upload_with_progress_bar(client, draft, data_dir):
    file = await client.files.upload(
        draft,
        key="large-file.zip",
        metadata={"description": "Large dataset archive"},
        source=str(data_dir / "results.pdf"),
        progress="Uploading large file",
    )
    assert file.checksum == md5((data_dir / "results.pdf").read_bytes())


async def test_upload_from_path_object(client, draft, data_dir):
    data_file = Path(data_dir / "data.csv")
    file = await client.files.upload(
        draft, key=data_file.name, metadata={"description": "Experiment results"}, source=data_file
    )
    assert file.key == "data.csv" and file.status == "completed"


async def test_upload_with_file_source(client, draft, data_dir):
    source = FileSource(data_dir / "results.pdf")
    file = await client.files.upload(
        draft, key="document.pdf", metadata={"description": "Research paper"}, source=source
    )
    assert file.size == (data_dir / "results.pdf").stat().st_size


async def test_upload_from_memory(client, draft):
    data = b"This is my file content"
    source = MemorySource(data)
    file = await client.files.upload(
        draft, key="textfile.txt", metadata={"description": "Text file"}, source=source
    )
    assert (file.size, file.checksum) == (len(data), md5(data))


async def test_upload_multiple_files(client, draft, data_dir):
    files_to_upload = [
        ("data.csv", str(data_dir / "data.csv"), "Raw data"),
        ("analysis.py", str(data_dir / "analysis.py"), "Analysis script"),
        ("results.pdf", str(data_dir / "results.pdf"), "Results report"),
    ]
    uploaded_files = []
    for key, path, description in files_to_upload:
        file = await client.files.upload(
            draft,
            key=key,
            metadata={"description": description},
            source=path,
            progress=f"Uploading {key}",
        )
        uploaded_files.append(file)
    assert [f.metadata["description"] for f in uploaded_files] == [
        "Raw data",
        "Analysis script",
        "Results report",
    ]
    assert len(await client.files.list(draft)) == 3


@pytest.fixture
async def fetching_client(local_repository_factory):
    """A repository that lets its users fetch from URLs (InvenioRDM's default does not)."""
    repository = local_repository_factory(
        transfers=("L", "M", "F", "R"), fetch_allowed_domains=("127.0.0.1", "localhost")
    )
    async with AsyncClient(repository.url, token=repository.token) as client:
        yield client


async def test_url_fetch_is_refused_where_not_allowed(client, draft):
    # InvenioRDM checks the domain against its (empty) allow list first: a 400.
    with pytest.raises(RepositoryClientError, match="Domain not allowed"):
        await client.files.upload(
            draft,
            key="remote-data.csv",
            metadata={},
            source="https://data.example.org/data.csv",
            transfer_type="url-fetch",
        )
    assert await keys(client, draft) == []


async def test_upload_with_transfer_type_url_fetch(fetching_client, tmp_path):
    client = fetching_client
    draft = await client.records.create({"title": "Fetched"})
    served = tmp_path / "served"
    served.mkdir()
    (served / "data.csv").write_bytes(b"x,y\n" * 1000)
    with serve_directory(served) as (base_url, authorization_seen):
        file = await client.files.upload(
            draft,
            key="remote-data.csv",
            metadata={"description": "Data from URL"},
            source=f"{base_url}/data.csv",
            transfer_type="url-fetch",
        )
    assert file.status == "completed"
    assert file.checksum == md5(b"x,y\n" * 1000)
    assert authorization_seen == []  # the repository's token never reaches the source


# -- Downloading ------------------------------------------------------------------------


@pytest.fixture
async def uploaded(client, draft, data_dir):
    await upload_three(client, draft, data_dir)
    return draft


async def test_download_to_file_path(client, uploaded, data_dir, tmp_path):
    file = await client.files.read(uploaded, "data.csv")
    await client.files.download(file, str(tmp_path / "save" / "data.csv"))
    assert (tmp_path / "save" / "data.csv").read_bytes() == (data_dir / "data.csv").read_bytes()


async def test_download_with_progress_bar(client, uploaded, data_dir, tmp_path):
    file = await client.files.read(uploaded, "results.pdf")
    await client.files.download(
        file, str(tmp_path / "large-file.zip"), progress="Downloading large file"
    )
    assert (tmp_path / "large-file.zip").read_bytes() == (data_dir / "results.pdf").read_bytes()


async def test_download_using_file_object(client, uploaded, data_dir, tmp_path):
    files = await client.files.list(uploaded)
    file = files[0]
    await client.files.download(
        file, f"{tmp_path}/downloads/{file.key}", progress=f"Downloading {file.key}"
    )
    assert (tmp_path / "downloads" / file.key).read_bytes() == (data_dir / file.key).read_bytes()


async def test_download_using_file_url(client, uploaded, data_dir, tmp_path):
    file_url = URL(f"{client.url}/api/records/{uploaded.id}/files/data.csv")
    await client.files.download(file_url, str(tmp_path / "data.csv"))
    assert (tmp_path / "data.csv").read_bytes() == (data_dir / "data.csv").read_bytes()


async def test_download_with_file_sink(client, uploaded, data_dir, tmp_path):
    file = await client.files.read(uploaded, "results.pdf")
    sink = FileSink(tmp_path / "output.pdf")
    await client.files.download(file, sink)
    assert (tmp_path / "output.pdf").read_bytes() == (data_dir / "results.pdf").read_bytes()


async def test_download_to_memory(client, uploaded, data_dir):
    file = await client.files.read(uploaded, "analysis.py")
    sink = MemorySink()
    await client.files.download(file, sink)
    data = sink.data
    assert data == (data_dir / "analysis.py").read_bytes()


async def test_download_multiple_files(client, uploaded, data_dir, tmp_path):
    record = await client.records.draft_records.read(uploaded.id)
    files = await client.files.list(record)
    for file in files:
        output_path = f"{tmp_path}/downloads/{record.id}/{file.key}"
        await client.files.download(file, output_path, progress=f"Downloading {file.key}")
    for name in ("data.csv", "analysis.py", "results.pdf"):
        written = tmp_path / "downloads" / record.id / name
        assert written.read_bytes() == (data_dir / name).read_bytes()


async def test_parallel_download_with_connection_limiting(client, uploaded, data_dir, tmp_path):
    for n in range(5):  # more files than the limit, so a limit that does nothing shows
        (data_dir / f"extra-{n}.bin").write_bytes(bytes([n]) * 300_000)
        await client.files.upload(
            uploaded, key=f"extra-{n}.bin", metadata={}, source=data_dir / f"extra-{n}.bin"
        )
    files = list(await client.files.list(uploaded))
    assert len(files) == 8
    output_dir = str(tmp_path)
    with limit_connections(5) as limiter:
        tasks = [
            partial(client.files.download, file_, FileSink(f"{output_dir}/{file_.key}"))
            for file_ in files
        ]
        results = await async_run_all(tasks)
    assert current_limiter() is None
    assert 1 <= limiter.peak <= 5
    assert sorted(str(r) for r in results) == sorted(f"{output_dir}/{f.key}" for f in files)
    for file_ in files:
        assert (tmp_path / file_.key).read_bytes() == (data_dir / file_.key).read_bytes()


async def test_a_limit_bounds_every_request_not_only_the_content(client, draft):
    # Each upload also creates and commits its entry: under the limit, those wait too,
    # so twenty uploads at once never open more than two connections.
    with limit_connections(2) as limiter:
        tasks = [
            partial(client.files.upload, draft, f"part-{n}.bin", source=bytes([n]) * 1000)
            for n in range(20)
        ]
        await async_run_all(tasks)
    assert limiter.peak == 2
    assert len(client._http._client._transport._pool.connections) <= 2
    assert len(list(await client.files.list(draft))) == 20


async def test_bodies_arrive_whole_through_the_lean_receive_buffer(client, draft, tmp_path):
    content = random.Random(8).randbytes(3 << 20)
    await client.files.upload(draft, "lean.bin", source=content)
    file_ = await client.files.read(draft, "lean.bin")
    await client.files.download(file_, tmp_path / "lean.bin", parts=1)
    assert (tmp_path / "lean.bin").read_bytes() == content
    h11_states = [
        guarded._connection._connection._h11_state
        for guarded in client._http._client._transport._pool.connections
        if guarded._connection._connection is not None
    ]
    assert h11_states
    assert all(type(state._receive_buffer) is LeanReceiveBuffer for state in h11_states)


# -- Reading file metadata --------------------------------------------------------------


async def test_read_file_info(client, uploaded, data_dir):
    file = await client.files.read(uploaded, "data.csv")
    assert file.key == "data.csv"
    assert file.size == (data_dir / "data.csv").stat().st_size
    assert file.checksum == md5((data_dir / "data.csv").read_bytes())
    assert file.mimetype == "text/csv"
    assert file.metadata == {"description": "data.csv"}


async def test_read_by_file_url(client, uploaded):
    file_url = URL(f"{client.url}/api/records/{uploaded.id}/files/data.csv")
    file = await client.files.read(file_url)
    assert file.key == "data.csv"


async def test_check_file_existence(client, uploaded):
    try:
        await client.files.read(uploaded, "myfile.pdf")
        exists = True
    except Exception:
        exists = False
    assert exists is False
    with pytest.raises(DoesNotExistError):
        await client.files.read(uploaded, "myfile.pdf")


# -- Updating file metadata -------------------------------------------------------------


async def test_update_file_metadata(client, uploaded):
    file = await client.files.read(uploaded, "data.csv")
    file.metadata["description"] = "Updated description"
    file.metadata["type"] = "dataset"
    file.metadata["processing_date"] = "2024-01-15"
    updated_file = await client.files.update(file)
    assert updated_file.key == "data.csv"
    again = await client.files.read(uploaded, "data.csv")
    assert again.metadata == {
        "description": "Updated description",
        "type": "dataset",
        "processing_date": "2024-01-15",
    }


async def test_add_metadata_fields(client, uploaded):
    file = await client.files.read(uploaded, "results.pdf")
    file.metadata["photographer"] = "John Doe"
    file.metadata["location"] = "Research Site A"
    updated = await client.files.update(file)
    assert updated.metadata["photographer"] == "John Doe"
    assert updated.metadata["description"] == "results.pdf"


async def test_bulk_metadata_update(client, uploaded):
    async def update_all_file_metadata(record, new_metadata):
        files = await client.files.list(record)
        for file in files:
            file.metadata.update(new_metadata)
            await client.files.update(file)

    await update_all_file_metadata(uploaded, {"license": "CC-BY-4.0", "processed": True})
    for file in await client.files.list(uploaded):
        assert file.metadata["license"] == "CC-BY-4.0" and file.metadata["processed"] is True


# -- Deleting ---------------------------------------------------------------------------


async def keys(client, record) -> list[str]:
    return sorted(f.key for f in await client.files.list(record))


async def test_delete_by_record_and_key(client, uploaded):
    await client.files.delete(uploaded, key="analysis.py")
    assert await keys(client, uploaded) == ["data.csv", "results.pdf"]


async def test_delete_using_file_object(client, uploaded):
    file = await client.files.read(uploaded, "data.csv")
    await client.files.delete(file)
    assert await keys(client, uploaded) == ["analysis.py", "results.pdf"]


async def test_delete_by_file_url(client, uploaded):
    file_url = URL(f"{client.url}/api/records/{uploaded.id}/files/results.pdf")
    await client.files.delete(file_url)
    assert await keys(client, uploaded) == ["analysis.py", "data.csv"]


async def test_delete_all_files(client, uploaded):
    files = await client.files.list(uploaded)
    for file in files:
        await client.files.delete(file)
    assert await keys(client, uploaded) == []


async def test_conditional_delete(client, draft):
    for key in ("temp_1.txt", "keep.txt", "temp_2.txt"):
        await client.files.upload(draft, key=key, metadata={}, source=key.encode())
    files = await client.files.list(draft)
    for file in files:
        if file.key.startswith("temp_"):
            await client.files.delete(file)
    assert await keys(client, draft) == ["keep.txt"]


async def test_deleting_by_record_without_key_is_refused(client, uploaded):
    with pytest.raises(ValueError, match="delete_all"):
        await client.files.delete(uploaded)
    assert len(await keys(client, uploaded)) == 3


# -- Workflows that need only files -----------------------------------------------------


async def test_replace_file_with_new_version(client, uploaded, tmp_path):
    async def replace_file(record, key, new_file_path):
        try:
            await client.files.delete(record, key=key)
        except Exception:
            pass
        return await client.files.upload(
            record,
            key=key,
            metadata={"description": "Updated version"},
            source=new_file_path,
            progress=f"Uploading {key}",
        )

    (tmp_path / "new_data.csv").write_bytes(b"new,data\n")
    updated = await replace_file(uploaded, "data.csv", str(tmp_path / "new_data.csv"))
    assert updated.checksum == md5(b"new,data\n")
    assert updated.metadata == {"description": "Updated version"}
    fresh = await replace_file(uploaded, "never-existed.csv", str(tmp_path / "new_data.csv"))
    assert fresh.status == "completed"


async def test_sync_files_from_directory(client, draft, data_dir):
    async def sync_files_to_record(record, directory_path):
        directory = Path(directory_path)
        uploaded = []
        for file_path in directory.iterdir():
            if file_path.is_file():
                file = await client.files.upload(
                    record,
                    key=file_path.name,
                    metadata={
                        "description": f"Synced from {directory.name}",
                        "original_path": str(file_path),
                    },
                    source=str(file_path),
                    progress=f"Uploading {file_path.name}",
                )
                uploaded.append(file)
        return uploaded

    (data_dir / "subdir").mkdir()
    files = await sync_files_to_record(draft, data_dir)
    assert len(files) == 3
    assert {f.metadata["description"] for f in files} == {"Synced from data"}


async def test_validate_file_checksums(client, uploaded):
    async def validate_file_checksums(record):
        files = await client.files.list(record)
        results = []
        with tempfile.TemporaryDirectory() as tmpdir:
            for file in files:
                tmp_path = Path(tmpdir) / file.key
                await client.files.download(file, str(tmp_path))
                hasher = hashlib.md5()
                with open(tmp_path, "rb") as f:
                    for chunk in iter(lambda: f.read(4096), b""):
                        hasher.update(chunk)
                calculated = f"md5:{hasher.hexdigest()}"
                expected = file.checksum
                results.append(
                    {
                        "file": file.key,
                        "valid": calculated == expected,
                        "expected": expected,
                        "calculated": calculated,
                    }
                )
        return results

    validation = await validate_file_checksums(uploaded)
    assert len(validation) == 3
    assert all(result["valid"] for result in validation), validation


# -- Error handling ---------------------------------------------------------------------


async def test_error_handling_missing_source(client, draft):
    with pytest.raises(FileNotFoundError):
        await client.files.upload(draft, key="data.csv", metadata={}, source="/path/to/file.csv")
    assert await keys(client, draft) == []


async def test_error_handling_client_error(client, draft):
    await client.files.upload(draft, key="data.csv", metadata={}, source=b"1")
    with pytest.raises(RepositoryClientError) as caught:
        await client.files.upload(draft, key="data.csv", metadata={}, source=b"2")
    assert "data.csv" in str(caught.value)


async def test_error_handling_network_error(local_repository):
    unreachable = "http://127.0.0.1:9"  # discard port: nothing listens
    async with AsyncClient(unreachable, retry=RetryPolicy(attempts=2, initial_wait=0)) as client:
        with pytest.raises(RepositoryCommunicationError):
            await client.files.list(f"{unreachable}/api/records/abc-123")
