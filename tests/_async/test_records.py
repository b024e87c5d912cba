"""Records API against mocked HTTP: odd server answers and how records are named."""

from __future__ import annotations

import json

import httpx
import pytest
import pytest_asyncio

from nrpfiles import AsyncClient, RetryPolicy
from nrpfiles.errors import (
    ConflictError,
    DoesNotExistError,
    RepositoryCommunicationError,
    RepositoryServerError,
    ValidationError,
)
from nrpfiles.models import Record, structure

ROOT = "https://repo.example.org"
API = f"{ROOT}/api"
RECORDS = f"{API}/records"
USER_RECORDS = f"{API}/user/records"
NO_WAIT = RetryPolicy(attempts=3, initial_wait=0, max_wait=0, jitter=False)


def draft_json(record_id: str = "abc", **fields) -> dict:
    base = f"{RECORDS}/{record_id}"
    return {
        "id": record_id,
        "revision_id": 3,
        "metadata": {"title": "A title"},
        "is_draft": True,
        "is_published": False,
        "status": "draft",
        "files": {"enabled": True},
        "links": {
            "self": f"{base}/draft",
            "files": f"{base}/draft/files",
            "publish": f"{base}/draft/actions/publish",
            "record": base,
            "versions": f"{base}/versions",
        },
        **fields,
    }


def published_json(record_id: str = "abc", **fields) -> dict:
    base = f"{RECORDS}/{record_id}"
    return {
        "id": record_id,
        "revision_id": 5,
        "metadata": {"title": "A title"},
        "is_draft": False,
        "is_published": True,
        "status": "published",
        "links": {
            "self": base,
            "files": f"{base}/files",
            "draft": f"{base}/draft",
            "versions": f"{base}/versions",
        },
        **fields,
    }


def page_json(hits: list[dict], total, next_url: str | None = None) -> dict:
    links = {"self": f"{RECORDS}?page=1"}
    if next_url:
        links["next"] = next_url
    return {"hits": {"hits": hits, "total": total}, "aggregations": {}, "links": links}


def sent_json(route) -> dict:
    return json.loads(route.calls.last.request.content)


@pytest_asyncio.fixture
async def client(respx_mock):
    respx_mock.get(f"{ROOT}/.well-known/repository").respond(
        200,
        json={
            "transfers": ["L"],
            "links": {"api": API, "records": RECORDS, "drafts": USER_RECORDS},
        },
    )
    async with AsyncClient(ROOT, token="t", retry=NO_WAIT) as client:
        yield client


# -- create -------------------------------------------------------------------------------


async def test_create_wraps_bare_metadata_and_enables_files(client, respx_mock):
    route = respx_mock.post(RECORDS).respond(201, json=draft_json(), headers={"ETag": '"3"'})
    record = await client.records.create({"title": "A title"})
    assert sent_json(route) == {"metadata": {"title": "A title"}, "files": {"enabled": True}}
    assert record.id == "abc" and record.is_draft
    assert record.etag == '"3"'


async def test_create_takes_a_whole_body_when_metadata_is_given(client, respx_mock):
    route = respx_mock.post(RECORDS).respond(201, json=draft_json())
    await client.records.create(
        {"metadata": {"title": "T"}, "access": {"record": "public"}}, files_enabled=False
    )
    assert sent_json(route) == {
        "metadata": {"title": "T"},
        "access": {"record": "public"},
        "files": {"enabled": False},
    }


async def test_create_keeps_files_settings_the_data_gives(client, respx_mock):
    route = respx_mock.post(RECORDS).respond(201, json=draft_json())
    await client.records.create({"metadata": {}, "files": {"enabled": False}})
    assert sent_json(route)["files"] == {"enabled": False}


async def test_lenient_create_keeps_field_errors_on_the_record(client, respx_mock):
    errors = [
        {"field": "metadata.creators", "messages": ["Missing data for required field."]},
        {"field": "metadata.title", "messages": ["Shorter than minimum length 3."]},
    ]
    respx_mock.post(RECORDS).respond(201, json=draft_json(errors=errors))
    record = await client.records.create({"title": "x"})
    assert [e.field for e in record.errors] == ["metadata.creators", "metadata.title"]
    assert record.errors[1].messages == ("Shorter than minimum length 3.",)


# -- naming records: Record, URL, id ------------------------------------------------------


class UrlLike:
    def __init__(self, url: str) -> None:
        self.url = url

    def __str__(self) -> str:
        return self.url


@pytest.mark.parametrize(
    "ref",
    [
        "abc",
        f"{RECORDS}/abc",
        f"{RECORDS}/abc/draft",
        httpx.URL(f"{RECORDS}/abc"),
        UrlLike(f"{RECORDS}/abc/"),
        structure(draft_json(), Record),
        structure(published_json(), Record),
    ],
    ids=["id", "url", "draft-url", "httpx-url", "str-able", "draft", "published"],
)
async def test_every_way_of_naming_a_record_reads_the_same_one(client, respx_mock, ref):
    published = respx_mock.get(f"{RECORDS}/abc").respond(200, json=published_json())
    draft = respx_mock.get(f"{RECORDS}/abc/draft").respond(200, json=draft_json())
    assert (await client.records.read(ref)).is_published
    assert (await client.records.draft_records.read(ref)).is_draft
    assert published.call_count == 1 and draft.call_count == 1


async def test_draft_read_falls_back_to_the_published_record(client, respx_mock):
    respx_mock.get(f"{RECORDS}/abc/draft").respond(
        404, json={"status": 404, "message": "The persistent identifier does not exist."}
    )
    respx_mock.get(f"{RECORDS}/abc").respond(200, json=published_json(), headers={"ETag": '"5"'})
    record = await client.records.draft_records.read("abc")
    assert record.is_draft is False and record.etag == '"5"'


async def test_reading_a_missing_record_raises_does_not_exist(client, respx_mock):
    respx_mock.get(f"{RECORDS}/nope/draft").respond(404, json={"status": 404, "message": "gone"})
    respx_mock.get(f"{RECORDS}/nope").respond(404, json={"status": 404, "message": "gone"})
    with pytest.raises(DoesNotExistError):
        await client.records.draft_records.read("nope")


@pytest.mark.parametrize("bad", ["", "a/b", b"abc", 42])
async def test_things_that_name_no_record_are_refused(client, bad):
    with pytest.raises((ValueError, TypeError)):
        await client.records.read(bad)


# -- update -------------------------------------------------------------------------------


async def test_update_sends_what_was_read_with_if_match(client, respx_mock):
    read_body = draft_json(
        custom_fields={"x:y": 1},
        pids={},
        unknown_field={"kept": True},
        errors=[{"field": "metadata.title", "messages": ["bad"]}],
    )
    respx_mock.get(f"{RECORDS}/abc/draft").respond(200, json=read_body, headers={"ETag": '"3"'})
    route = respx_mock.put(f"{RECORDS}/abc/draft").respond(
        200, json=draft_json(revision_id=4), headers={"ETag": '"4"'}
    )
    record = await client.records.draft_records.read("abc")
    record.metadata["title"] = "New title"
    updated = await client.records.update(record)
    request = route.calls.last.request
    # InvenioRDM answers ETag "3" but parses If-Match as a bare integer.
    assert request.headers["If-Match"] == "3"
    body = json.loads(request.content)
    assert body["metadata"]["title"] == "New title"
    assert body["unknown_field"] == {"kept": True}
    assert body["custom_fields"] == {"x:y": 1}
    assert "errors" not in body and "etag" not in body
    assert updated.etag == '"4"' and updated.revision_id == 4


async def test_lenient_update_keeps_field_errors(client, respx_mock):
    errors = [{"field": "metadata.publication_date", "messages": ["Invalid date."]}]
    respx_mock.put(f"{RECORDS}/abc/draft").respond(200, json=draft_json(errors=errors))
    updated = await client.records.update(structure(draft_json(), Record))
    assert [str(e) for e in updated.errors] == ["metadata.publication_date: Invalid date."]


@pytest.mark.parametrize(
    ("etag", "sent"),
    [('W/"3"', "3"), ('"abc-1"', '"abc-1"'), ('W/"x"', 'W/"x"'), ("7", "7")],
)
async def test_if_match_is_bare_only_for_revision_numbers(client, respx_mock, etag, sent):
    route = respx_mock.put(f"{RECORDS}/abc/draft").respond(200, json=draft_json())
    record = structure(draft_json(), Record)
    record.etag = etag
    await client.records.update(record)
    assert route.calls.last.request.headers["If-Match"] == sent


async def test_delete_of_a_record_read_with_an_etag_is_conditional(client, respx_mock):
    route = respx_mock.delete(f"{RECORDS}/abc/draft").respond(204)
    record = structure(draft_json(), Record)
    record.etag = '"3"'
    await client.records.delete(record)
    assert route.calls.last.request.headers["If-Match"] == "3"
    await client.records.delete("abc")
    assert "If-Match" not in route.calls.last.request.headers


async def test_delete_of_a_changed_draft_raises_conflict(client, respx_mock):
    respx_mock.delete(f"{RECORDS}/abc/draft").respond(
        412, json={"status": 412, "message": "Revision id provided(3) doesn't match record's one(5)"}
    )
    record = structure(draft_json(), Record)
    record.etag = '"3"'
    with pytest.raises(ConflictError, match="doesn't match"):
        await client.records.delete(record)


async def test_update_without_an_etag_sends_no_if_match(client, respx_mock):
    route = respx_mock.put(f"{RECORDS}/abc/draft").respond(200, json=draft_json())
    await client.records.update(structure(draft_json(), Record))
    assert "If-Match" not in route.calls.last.request.headers


async def test_stale_update_raises_conflict(client, respx_mock):
    respx_mock.put(f"{RECORDS}/abc/draft").respond(
        412, json={"status": 412, "message": "Revision mismatch."}
    )
    respx_mock.get(f"{RECORDS}/abc/draft").respond(
        200, json=draft_json(metadata={"title": "Someone else's"}), headers={"ETag": '"9"'}
    )
    record = structure(draft_json(), Record)
    record.etag = '"3"'
    record.metadata["title"] = "Mine"
    with pytest.raises(ConflictError) as caught:
        await client.records.update(record)
    assert caught.value.status == 412


async def test_a_revision_the_repository_moved_itself_is_not_a_conflict(client, respx_mock):
    """Removing a file from a draft bumps its revision; the caller's edit still goes in."""
    respx_mock.get(f"{RECORDS}/abc/draft").mock(
        side_effect=[
            httpx.Response(200, json=draft_json(), headers={"ETag": '"3"'}),
            httpx.Response(200, json=draft_json(revision_id=5), headers={"ETag": '"5"'}),
        ]
    )
    put = respx_mock.put(f"{RECORDS}/abc/draft").mock(
        side_effect=[
            httpx.Response(412, json={"status": 412, "message": "Revision id provided(3) ..."}),
            httpx.Response(200, json=draft_json(metadata={"title": "Mine"}, revision_id=6)),
        ]
    )
    record = await client.records.draft_records.read("abc")
    record.metadata["title"] = "Mine"
    updated = await client.records.update(record)
    assert updated.metadata["title"] == "Mine"
    assert [call.request.headers["If-Match"] for call in put.calls] == ["3", "5"]


async def test_a_draft_someone_else_edited_is_a_conflict(client, respx_mock):
    respx_mock.get(f"{RECORDS}/abc/draft").mock(
        side_effect=[
            httpx.Response(200, json=draft_json(), headers={"ETag": '"3"'}),
            httpx.Response(
                200, json=draft_json(metadata={"title": "Theirs"}, revision_id=5),
                headers={"ETag": '"5"'},
            ),
        ]
    )
    put = respx_mock.put(f"{RECORDS}/abc/draft").respond(
        412, json={"status": 412, "message": "Revision id provided(3) ..."}
    )
    record = await client.records.draft_records.read("abc")
    record.metadata["title"] = "Mine"
    with pytest.raises(ConflictError):
        await client.records.update(record)
    assert put.call_count == 1


async def test_update_whose_answer_was_lost_is_recognised_on_the_retry(client, respx_mock):
    stored = draft_json(metadata={"title": "Mine"}, revision_id=4)
    respx_mock.put(f"{RECORDS}/abc/draft").mock(
        side_effect=[
            httpx.ReadError("connection reset"),
            httpx.Response(412, json={"status": 412, "message": "Revision mismatch."}),
        ]
    )
    respx_mock.get(f"{RECORDS}/abc/draft").respond(200, json=stored, headers={"ETag": '"4"'})
    record = structure(draft_json(), Record)
    record.etag = '"3"'
    record.metadata["title"] = "Mine"
    updated = await client.records.update(record)
    assert updated.metadata["title"] == "Mine" and updated.etag == '"4"'


async def test_updating_a_published_record_asks_for_edit_first(client):
    with pytest.raises(ValueError, match="edit"):
        await client.records.update(structure(published_json(), Record))


# -- publish ------------------------------------------------------------------------------


async def test_refused_publish_raises_validation_error_with_fields(client, respx_mock):
    respx_mock.post(f"{RECORDS}/abc/draft/actions/publish").respond(
        400,
        json={
            "status": 400,
            "message": "A validation error occurred.",
            "errors": [
                {"field": "files.enabled", "messages": ["Missing uploaded files."]},
                {
                    "field": "metadata.creators.0.person_or_org.family_name",
                    "messages": ["Missing data for required field."],
                },
            ],
        },
    )
    with pytest.raises(ValidationError) as caught:
        await client.records.publish(structure(draft_json(), Record))
    fields = [error.field for error in caught.value.errors]
    assert fields == ["files.enabled", "metadata.creators.0.person_or_org.family_name"]
    assert "files.enabled: Missing uploaded files." in str(caught.value)


async def test_publish_by_id_uses_the_draft_action(client, respx_mock):
    route = respx_mock.post(f"{RECORDS}/abc/draft/actions/publish").respond(
        202, json=published_json(), headers={"ETag": '"5"'}
    )
    record = await client.records.publish("abc")
    assert route.called and record.is_published and record.etag == '"5"'


async def test_publish_is_not_replayed_but_a_lost_answer_is_settled(client, respx_mock):
    publish = respx_mock.post(f"{RECORDS}/abc/draft/actions/publish").mock(
        side_effect=httpx.ReadTimeout("no answer")
    )
    respx_mock.get(f"{RECORDS}/abc/draft").respond(404, json={"status": 404, "message": "gone"})
    respx_mock.get(f"{RECORDS}/abc").respond(200, json=published_json())
    record = await client.records.publish(structure(draft_json(), Record))
    assert publish.call_count == 1
    assert record.is_published


async def test_publish_that_did_not_happen_raises_the_original_error(client, respx_mock):
    publish = respx_mock.post(f"{RECORDS}/abc/draft/actions/publish").respond(
        502, text="Bad Gateway"
    )
    respx_mock.get(f"{RECORDS}/abc/draft").respond(200, json=draft_json())
    with pytest.raises(RepositoryServerError):
        await client.records.publish("abc")
    assert publish.call_count == 1


async def test_publish_with_no_way_to_check_raises_the_original_error(client, respx_mock):
    respx_mock.post(f"{RECORDS}/abc/draft/actions/publish").mock(
        side_effect=httpx.ConnectError("down")
    )
    respx_mock.get(f"{RECORDS}/abc/draft").mock(side_effect=httpx.ConnectError("down"))
    with pytest.raises(RepositoryCommunicationError):
        await client.records.publish("abc")


# -- edit, new version, delete -------------------------------------------------------------


async def test_edit_posts_to_the_draft_link(client, respx_mock):
    route = respx_mock.post(f"{RECORDS}/abc/draft").respond(
        201, json=draft_json(status="published")
    )
    draft = await client.records.edit(structure(published_json(), Record))
    assert route.called and draft.is_draft


async def test_new_version_with_import_files_imports_and_rereads(client, respx_mock):
    new = draft_json("v2", status="new_version_draft")
    new["links"]["files_import"] = f"{RECORDS}/v2/draft/actions/files-import"
    versions = respx_mock.post(f"{RECORDS}/abc/versions").respond(201, json=new)
    imported = respx_mock.post(f"{RECORDS}/v2/draft/actions/files-import").respond(
        201, json={"enabled": True, "entries": []}
    )
    with_files = draft_json("v2", files={"enabled": True, "count": 2})
    respx_mock.get(f"{RECORDS}/v2/draft").respond(200, json=with_files)
    draft = await client.records.new_version("abc", import_files=True)
    assert versions.called and imported.called
    assert draft.id == "v2" and draft.files.count == 2


async def test_new_version_without_import_makes_one_call(client, respx_mock):
    respx_mock.post(f"{RECORDS}/abc/versions").respond(201, json=draft_json("v2"))
    draft = await client.records.new_version(f"{RECORDS}/abc")
    assert draft.id == "v2"
    # discovery says whether versions are asked for by request; no requests link: the POST
    paths = [call.request.url.path for call in respx_mock.calls]
    assert paths == ["/.well-known/repository", "/api/records/abc/versions"]


async def test_delete_removes_the_draft(client, respx_mock):
    route = respx_mock.delete(f"{RECORDS}/abc/draft").respond(204)
    await client.records.delete(f"{RECORDS}/abc")
    assert route.called


# -- search -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "expected", "relation"),
    [(7, 7, None), ({"value": 10000, "relation": "gte"}, 10000, "gte")],
    ids=["number", "object"],
)
async def test_search_total_in_both_shapes(client, respx_mock, total, expected, relation):
    respx_mock.get(RECORDS).respond(200, json=page_json([published_json()], total))
    page = await client.records.search()
    assert page.total == expected and page.total_relation == relation
    assert [record.id for record in page] == ["abc"]


async def test_search_sends_only_the_parameters_given(client, respx_mock):
    route = respx_mock.get(RECORDS).respond(200, json=page_json([], 0))
    await client.records.search("title:x", size=5, sort="newest", page=2, allversions=True)
    params = dict(route.calls.last.request.url.params)
    assert params == {
        "q": "title:x",
        "size": "5",
        "sort": "newest",
        "page": "2",
        "allversions": "true",
    }
    await client.records.search()
    assert route.calls.last.request.url.params.multi_items() == []


async def test_scan_follows_next_links_lazily(client, respx_mock):
    second = f"{RECORDS}?page=2&size=2"
    third = f"{RECORDS}?page=3&size=2"
    route = respx_mock.get(RECORDS).mock(
        side_effect=lambda request: httpx.Response(
            200,
            json={
                None: page_json([published_json("r1"), published_json("r2")], 5, second),
                "2": page_json([published_json("r3"), published_json("r4")], 5, third),
                "3": page_json([published_json("r5")], 5),
            }[request.url.params.get("page")],
        )
    )
    seen = []
    async for record in client.records.scan(size=2):
        seen.append(record.id)
        if record.id == "r2":
            assert route.call_count == 1  # the next page is fetched only when needed
    assert seen == ["r1", "r2", "r3", "r4", "r5"]
    assert route.call_count == 3


async def test_scan_stops_when_a_server_repeats_its_next_link(client, respx_mock):
    again = f"{RECORDS}?page=2"
    route = respx_mock.get(RECORDS).respond(200, json=page_json([published_json("r1")], 99, again))
    seen = [record.id async for record in client.records.scan()]
    assert seen == ["r1", "r1"]
    assert route.call_count == 2


async def test_draft_search_covers_the_callers_records(client, respx_mock):
    route = respx_mock.get(USER_RECORDS).respond(
        200, json=page_json([draft_json("d1"), published_json("p1")], 2)
    )
    page = await client.records.draft_records.search(q="x")
    assert route.calls.last.request.url.params["q"] == "x"
    assert [(r.id, r.is_draft) for r in page.hits] == [("d1", True), ("p1", False)]
    assert [r.id async for r in client.records.draft_records.scan()] == ["d1", "p1"]
