from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from nrpfiles.errors import FieldError, RepositoryError, UnexpectedResponseError
from nrpfiles.models import (
    File,
    FileLinks,
    FilesList,
    FileTransfer,
    ModelInfo,
    PartLink,
    Record,
    RecordFiles,
    RecordLinks,
    RepositoryInfo,
    SearchPage,
    structure,
    unstructure,
)
from nrpfiles.models._converter import make_converter

API = "https://repo.example.org/api"


def file_entry(key: str = "data.csv", **changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "key": key,
        "created": "2024-01-15T10:00:00.123456+00:00",
        "updated": "2024-01-15T10:00:05.654321+00:00",
        "metadata": {"description": "raw data"},
        "access": {"hidden": False},
        "mimetype": "text/csv",
        "checksum": "md5:0cc175b9c0f1b6a831c399e269772661",
        "size": 1234,
        "storage_class": "L",
        "file_id": "f-1",
        "version_id": "v-1",
        "bucket_id": "b-1",
        "status": "completed",
        "transfer": {"type": "L", "server_note": "kept"},
        "links": {
            "self": f"{API}/records/abc/draft/files/{key}",
            "content": f"{API}/records/abc/draft/files/{key}/content",
            "commit": f"{API}/records/abc/draft/files/{key}/commit",
            "iiif_info": "https://repo.example.org/iiif/x",
        },
        "ext": "csv",
        "object_version_id": "ov-1",
    }
    entry.update(changes)
    return entry


def draft_record() -> dict[str, Any]:
    return {
        "id": "abc-123",
        "created": "2024-01-15T10:00:00+00:00",
        "updated": "2024-01-15T11:00:00+00:00",
        "revision_id": 4,
        "metadata": {
            "title": "A dataset",
            "resource_type": {"id": "dataset"},
            "creators": [{"person_or_org": {"type": "personal", "family_name": "Doe"}}],
        },
        "access": {"record": "public", "files": "public"},
        "files": {
            "enabled": True,
            "count": 1,
            "total_bytes": 1234,
            "entries": {"data.csv": file_entry()},
            "order": ["data.csv"],
            "default_preview": "data.csv",
            "mystery": {"kept": True},
        },
        "parent": {"id": "par-1", "access": {"owned_by": {"user": "1"}}},
        "versions": {"index": 1, "is_latest": False, "is_latest_draft": True},
        "is_published": False,
        "is_draft": True,
        "status": "draft",
        "links": {
            "self": f"{API}/records/abc-123/draft",
            "self_html": "https://repo.example.org/uploads/abc-123",
            "files": f"{API}/records/abc-123/draft/files",
            "publish": f"{API}/records/abc-123/draft/actions/publish",
            "record": f"{API}/records/abc-123",
            "versions": f"{API}/records/abc-123/versions",
            "access_links": f"{API}/records/abc-123/access/links",
        },
        "pids": {},
        "custom_fields": {"nr:thing": 1},
        "expires_at": "2024-02-15T10:00:00",
    }


def search_page() -> dict[str, Any]:
    return {
        "hits": {
            "hits": [draft_record(), {"id": "def-456", "metadata": {"title": "Other"}}],
            "total": 27,
            "max_score": 1.5,
        },
        "aggregations": {"resource_type": {"buckets": []}},
        "sortBy": "newest",
        "links": {
            "self": f"{API}/records?page=1&size=2",
            "next": f"{API}/records?page=2&size=2",
            "extra_link": "x",
        },
        "took": 5,
    }


def test_file_round_trip_keeps_unknown_fields_at_every_level() -> None:
    data = file_entry()
    data["links"]["parts"] = [
        {
            "part": 1,
            "url": "https://s3.example.org/p1",
            "expiration": "2024-01-15T10:01:00+00:00",
            "x": 1,
        }
    ]
    original = copy.deepcopy(data)
    model = structure(data, File)

    assert model.key == "data.csv"
    assert model.size == 1234
    assert model.links.self_ == f"{API}/records/abc/draft/files/data.csv"
    assert model.links.commit.endswith("/commit")  # type: ignore[union-attr]
    assert model.links.parts == [
        PartLink(
            part=1,
            url="https://s3.example.org/p1",
            expiration=datetime(2024, 1, 15, 10, 1, tzinfo=timezone.utc),
            extra={"x": 1},
        )
    ]
    assert model.transfer == FileTransfer(type="L", extra={"server_note": "kept"})
    assert model.extra == {"ext": "csv", "object_version_id": "ov-1"}
    assert model.links.extra == {"iiif_info": "https://repo.example.org/iiif/x"}
    assert unstructure(model) == original
    assert data == original, "structuring must not change its input"


def test_datetimes_are_aware_and_written_back_in_iso_format() -> None:
    model = structure(file_entry(), File)
    assert model.created == datetime(2024, 1, 15, 10, 0, 0, 123456, tzinfo=timezone.utc)
    assert unstructure(model)["created"] == "2024-01-15T10:00:00.123456+00:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-15T10:00:00+00:00", datetime(2024, 1, 15, 10, tzinfo=timezone.utc)),
        ("2024-01-15T10:00:00Z", datetime(2024, 1, 15, 10, tzinfo=timezone.utc)),
        (
            "2024-01-15T10:00:00.5+00:00",
            datetime(2024, 1, 15, 10, 0, 0, 500000, tzinfo=timezone.utc),
        ),
        (
            "2024-01-15T10:00:00.1234567+00:00",
            datetime(2024, 1, 15, 10, 0, 0, 123456, tzinfo=timezone.utc),
        ),
        ("2024-01-15T10:00:00", datetime(2024, 1, 15, 10, tzinfo=timezone.utc)),
        (
            "2024-01-15T12:00:00+02:00",
            datetime(2024, 1, 15, 12, tzinfo=timezone(timedelta(hours=2))),
        ),
    ],
)
def test_datetime_forms(text: str, expected: datetime) -> None:
    parsed = structure({"key": "k", "created": text}, File).created
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is not None


def test_null_metadata_reads_as_empty_and_absent_fields_default() -> None:
    model = structure({"key": "new.bin", "metadata": None, "status": "pending"}, File)
    assert model.metadata == {}
    assert model.links == FileLinks()
    assert model.transfer is None
    assert model.errors == []
    assert unstructure(model) == {"key": "new.bin", "status": "pending"}


def test_failed_transfer_string_is_a_file_error() -> None:
    model = structure({"key": "k", "errors": "File upload transfer failed."}, File)
    assert model.errors == [FieldError("", ("File upload transfer failed.",))]


def test_multipart_transfer_fields() -> None:
    data = file_entry(
        transfer={"type": "M", "parts": 3, "part_size": 5242880},
        links={
            "self": "s",
            "commit": "c",
            "parts": [{"part": n, "url": f"u{n}"} for n in (1, 2, 3)],
        },
    )
    model = structure(data, File)
    assert model.transfer == FileTransfer(type="M", parts=3, part_size=5242880)
    assert [part.part for part in model.links.parts] == [1, 2, 3]
    assert model.links.parts[0].expiration is None


def test_files_list_behaves_like_a_read_only_sequence() -> None:
    data = {
        "enabled": True,
        "entries": [file_entry("a.txt"), file_entry("dir/b.txt")],
        "default_preview": None,
        "order": [],
        "links": {"self": f"{API}/records/abc/draft/files", "archive": "z", "other": "kept"},
        "server_added": [1, 2],
    }
    files = structure(data, FilesList)
    assert len(files) == 2
    assert [f.key for f in files] == ["a.txt", "dir/b.txt"]
    assert files[1].key == "dir/b.txt"
    assert files[-1] is files[1]
    assert [f.key for f in files[0:1]] == ["a.txt"]
    assert "a.txt" in files
    assert files[0] in files
    assert "missing" not in files
    assert files.get("dir/b.txt") is files[1]
    assert files.get("missing") is None
    assert list(files.keys()) == ["a.txt", "dir/b.txt"]
    assert files.links.self_ == f"{API}/records/abc/draft/files"
    assert files.links.extra == {"other": "kept"}
    assert files.extra == {"server_added": [1, 2]}
    expected = copy.deepcopy(data)
    del expected["default_preview"]  # null and absent are the same to the server
    del expected["order"]
    assert unstructure(files) == expected


def test_files_disabled_list() -> None:
    files = structure({"enabled": False, "links": {"self": "s"}}, FilesList)
    assert not files.enabled
    assert len(files) == 0
    assert not files


def test_files_list_is_a_sequence_at_run_time() -> None:
    from collections.abc import Sequence

    files = structure({"entries": [file_entry("a"), file_entry("b")]}, FilesList)
    assert isinstance(files, Sequence)
    assert [f.key for f in reversed(files)] == ["b", "a"]


def test_record_round_trip_keeps_unknown_fields() -> None:
    data = draft_record()
    model = structure(data, Record)
    assert model.id == "abc-123"
    assert model.revision_id == 4
    assert model.metadata["title"] == "A dataset"
    assert model.is_draft is True
    assert model.links.self_ == f"{API}/records/abc-123/draft"
    assert model.links.self_html == "https://repo.example.org/uploads/abc-123"
    assert model.links.extra == {"access_links": f"{API}/records/abc-123/access/links"}
    assert model.files.entries["data.csv"].size == 1234
    assert model.files.entries["data.csv"].extra == {"ext": "csv", "object_version_id": "ov-1"}
    assert model.files.extra == {"mystery": {"kept": True}}
    assert model.extra == {
        "pids": {},
        "custom_fields": {"nr:thing": 1},
        "expires_at": "2024-02-15T10:00:00",
    }
    assert model.etag is None
    assert unstructure(model) == data


def test_edited_record_sends_back_what_it_read() -> None:
    model = structure(draft_record(), Record)
    model.metadata["title"] = "A better title"
    model.etag = '"4"'
    sent = unstructure(model)
    assert sent["metadata"]["title"] == "A better title"
    assert sent["custom_fields"] == {"nr:thing": 1}
    assert sent["files"]["mystery"] == {"kept": True}
    assert "etag" not in sent
    assert "extra" not in sent


def test_record_lenient_errors() -> None:
    data = {
        "id": "x",
        "metadata": {"title": "ab"},
        "errors": [{"field": "metadata.title", "messages": ["Shorter than minimum length 3."]}],
    }
    model = structure(data, Record)
    assert model.errors == [FieldError("metadata.title", ("Shorter than minimum length 3.",))]
    assert unstructure(model)["errors"] == data["errors"]


def test_record_file_entries_without_key_or_as_a_list() -> None:
    keyed = structure({"entries": {"a.txt": {"size": 1}}}, RecordFiles)
    assert keyed.entries["a.txt"].key == "a.txt"
    listed = structure({"enabled": True, "entries": [{"key": "b.txt", "size": 2}]}, RecordFiles)
    assert listed.entries["b.txt"].size == 2


def test_record_files_may_be_missing_entries() -> None:
    model = structure({"id": "x", "files": {"enabled": False}}, Record)
    assert model.files == RecordFiles(enabled=False)
    assert unstructure(model)["files"] == {"enabled": False}


def test_search_page_round_trip() -> None:
    data = search_page()
    page = structure(data, SearchPage)
    assert page.total == 27
    assert page.total_relation is None
    assert [record.id for record in page] == ["abc-123", "def-456"]
    assert page.sort_by == "newest"
    assert page.links.next == f"{API}/records?page=2&size=2"
    assert page.links.prev is None
    assert page.links.extra == {"extra_link": "x"}
    assert page.hits_extra == {"max_score": 1.5}
    assert page.extra == {"took": 5}
    assert page.hits[0].files.entries["data.csv"].transfer == FileTransfer(
        extra={"server_note": "kept"}
    )
    assert unstructure(page) == data


def test_search_total_as_value_and_relation() -> None:
    data = {"hits": {"hits": [], "total": {"value": 10000, "relation": "gte"}}, "links": {}}
    page = structure(data, SearchPage)
    assert (page.total, page.total_relation) == (10000, "gte")
    assert unstructure(page)["hits"] == data["hits"]


@pytest.mark.parametrize(
    ("cls", "data", "path", "text"),
    [
        (
            FilesList,
            {"entries": [{"key": "a"}, {"key": "b", "size": "big"}]},
            "entries[1].size",
            "expected an integer, got 'big'",
        ),
        (FilesList, {"entries": [{"size": 3}]}, "entries[0].key", "missing required field"),
        (File, {"key": "k", "links": {"self": 5}}, "links.self", "expected a string, got 5"),
        (
            File,
            {"key": "k", "links": {"parts": [{"part": 1}]}},
            "links.parts[0].url",
            "missing required field",
        ),
        (
            File,
            {"key": "k", "created": "yesterday"},
            "created",
            "expected an ISO 8601 date-time, got 'yesterday'",
        ),
        (File, {"key": "k", "metadata": []}, "metadata", "expected an object, got a list"),
        (File, {"key": ["k"]}, "key", "expected a string, got a list"),
        (FilesList, {"enabled": "yes"}, "enabled", "expected true or false, got 'yes'"),
        (FilesList, {"entries": "a.txt"}, "entries", "expected a list, got 'a.txt'"),
        (
            Record,
            {"files": {"entries": {"a.txt": {"size": -1.5}}}},
            'files.entries["a.txt"].size',
            "expected an integer, got -1.5",
        ),
        (Record, {"revision_id": True}, "revision_id", "expected an integer, got true"),
        (Record, {"links": None}, "links", "expected an object, got null"),
        (
            SearchPage,
            {"hits": {"hits": [{"id": 7}], "total": 1}},
            "hits.hits[0].id",
            "expected a string, got 7",
        ),
        (
            SearchPage,
            {"hits": {"hits": [], "total": "many"}},
            "hits.total",
            "expected an integer, got 'many'",
        ),
        (Record, "not an object", "", "expected an object, got 'not an object'"),
    ],
)
def test_malformed_json_names_the_field(cls: type, data: Any, path: str, text: str) -> None:
    with pytest.raises(UnexpectedResponseError) as caught:
        structure(data, cls)
    error = caught.value
    assert isinstance(error, RepositoryError)
    assert error.path == path
    assert error.errors[0] == FieldError(path, (text,))
    assert path in str(error)
    assert "\n" not in str(error)
    assert caught.value.__cause__ is None


def test_every_problem_is_reported() -> None:
    data = {"entries": [{"key": 1}, {"size": "x"}]}
    with pytest.raises(UnexpectedResponseError) as caught:
        structure(data, FilesList)
    assert [e.field for e in caught.value.errors] == [
        "entries[0].key",
        "entries[1].key",
        "entries[1].size",
    ]


def test_integral_floats_are_accepted_as_integers() -> None:
    assert structure({"key": "k", "size": 10.0}, File).size == 10


def test_repository_info_from_a_discovery_document() -> None:
    document = {
        "schema": "local://introspection-v1.0.0",
        "name": "Test repository",
        "description": "For tests",
        "version": "1.2.3",
        "invenio_version": "13.0.1",
        "transfers": ["L", "M", "F"],
        "features": ["drafts", "requests"],
        "default_model": "datasets",
        "links": {
            "self": "https://repo.example.org/.well-known/repository/",
            "api": f"{API}/",
            "records": f"{API}/records",
            "drafts": f"{API}/user/records",
            "models": f"{API}/models",
            "communities": None,
        },
    }
    info = structure(document, RepositoryInfo)
    assert info.root_url == "https://repo.example.org"
    assert info.api_url == API
    assert info.kind == "nrp"
    assert info.transfers == ("L", "M", "F")
    assert info.invenio_version == "13.0.1"
    assert info.default_model == "datasets"
    assert info.links["records"] == f"{API}/records"
    assert "communities" not in info.links
    assert info.extra == {
        "schema": "local://introspection-v1.0.0",
        "features": ["drafts", "requests"],
    }
    assert info.models is None
    again = structure(unstructure(info), RepositoryInfo)
    assert again == info


def test_repository_info_built_by_hand() -> None:
    info = RepositoryInfo(
        root_url="https://zenodo.org",
        api_url="https://zenodo.org/api",
        kind="invenio-rdm",
        name=None,
        version=None,
        invenio_version="13.0",
        transfers=("L", "M"),
        links={},
    )
    assert unstructure(info)["kind"] == "invenio-rdm"


def test_repository_info_without_api_link_names_the_field() -> None:
    with pytest.raises(UnexpectedResponseError) as caught:
        structure({"name": "x", "links": {}}, RepositoryInfo)
    assert {e.field for e in caught.value.errors} == {"root_url", "api_url"}


def test_model_list() -> None:
    models = structure(
        [
            {
                "type": "datasets",
                "name": "Datasets",
                "metadata": True,
                "links": {"records": f"{API}/datasets", "html": None},
                "content_types": [
                    {
                        "content_type": "application/json",
                        "name": "JSON",
                        "can_export": True,
                        "can_deposit": True,
                    }
                ],
                "features": ["files"],
            }
        ],
        list[ModelInfo],
    )
    assert models[0].type == "datasets"
    assert models[0].links == {"records": f"{API}/datasets"}
    assert models[0].content_types[0].can_deposit
    assert models[0].extra == {"features": ["files"]}


def test_models_are_mutable_keyword_only_and_compare_with_extra() -> None:
    model = File(key="a")
    model.metadata["k"] = "v"
    model.size = 3
    assert model != File(key="a", metadata={"k": "v"}, size=3, extra={"x": 1})
    with pytest.raises(TypeError):
        File("a")  # type: ignore[call-arg]
    assert "extra" not in repr(File(key="a", extra={"x": 1}))


def test_model_built_in_code_unstructures_to_an_init_body() -> None:
    entry = File(key="big.bin", size=100, transfer=FileTransfer(type="M", parts=2, part_size=50))
    assert unstructure(entry) == {
        "key": "big.bin",
        "size": 100,
        "transfer": {"type": "M", "parts": 2, "part_size": 50},
    }


def test_converter_is_built_by_a_function() -> None:
    first, second = make_converter(), make_converter()
    assert first is not second
    record = first.structure(draft_record(), Record)
    assert second.unstructure(record) == draft_record()


def test_every_model_keeps_unknown_fields() -> None:
    from nrpfiles import models

    for name in models.__all__:
        cls = getattr(models, name)
        if isinstance(cls, type) and attrs.has(cls) and cls is not FieldError:
            assert "extra" in attrs.fields_dict(cls), name


def test_record_links_all_optional() -> None:
    assert structure({}, RecordLinks) == RecordLinks()
