"""Publishing through requests against mocked HTTP, in the shapes oarepo-requests answers.

What each case pins: the records client finds the request flow from discovery
and the record's links; a real NRP's expanded requests may carry no links, so
an open request is read again before its actions are used; a plain InvenioRDM
record has no ``expanded.requests`` and must not trip anything.
"""

from __future__ import annotations

import json

import httpx
import pytest
import pytest_asyncio

from nrpfiles import AsyncClient, Record, Request, RequestNotApplicable, RetryPolicy
from nrpfiles.models import structure

ROOT = "https://nrp.example.org"
API = f"{ROOT}/api"
TOKEN = "mock-token-123"
RECORD = f"{API}/records/abc"
DRAFT = f"{RECORD}/draft"
REQUESTS = f"{API}/requests/"
NO_WAIT = RetryPolicy(attempts=3, initial_wait=0, max_wait=0, jitter=False)


def request_json(status: str, actions: tuple[str, ...], **extra) -> dict:
    """A request as oarepo-requests answers it: invenio-requests' fields, oarepo's links."""
    return {
        "id": "r1",
        "type": "publish_draft",
        "status": status,
        "is_open": status in ("created", "submitted"),
        "is_closed": status not in ("created", "submitted"),
        "is_expired": False,
        "created": "2026-11-30T10:00:00.000000+00:00",
        "updated": "2026-11-30T10:00:00.000000+00:00",
        "created_by": {"user": "1"},
        "receiver": {"user": "1"},
        "topic": {"record": "abc"},
        "payload": extra.pop("payload", {}),
        "links": {
            "self": f"{API}/requests/extended/r1",
            "comments": f"{API}/requests/extended/r1/comments",
            "timeline": f"{API}/requests/extended/r1/timeline",
            "actions": {name: f"{API}/requests/r1/actions/{name}" for name in actions},
            **extra.pop("links", {}),
        },
        **extra,
    }


def draft_json(**extra) -> dict:
    return {
        "id": "abc",
        "is_draft": True,
        "is_published": False,
        "metadata": {"title": "t"},
        "links": {
            "self": DRAFT,
            "publish": f"{DRAFT}/actions/publish",
            "applicable_requests": f"{DRAFT}/requests/applicable",
            "requests": f"{DRAFT}/requests",
        },
        **extra,
    }


PUBLISHED = {"id": "abc", "is_draft": False, "is_published": True, "links": {"self": RECORD}}
APPLICABLE = {
    "hits": {
        "hits": [
            {
                "type_id": "publish_draft",
                "links": {"actions": {"create": f"{DRAFT}/requests/publish_draft"}},
            }
        ],
        "total": 1,
    },
    "links": {"self": f"{DRAFT}/requests/applicable"},
}


@pytest_asyncio.fixture
async def nrp(respx_mock):
    respx_mock.get(f"{ROOT}/.well-known/repository").respond(
        200,
        json={
            "schema": "local://introspection-v1.0.0",
            "transfers": ["L", "M", "F", "R"],
            "links": {
                "self": f"{ROOT}/.well-known/repository/",
                "api": API,
                "models": f"{ROOT}/.well-known/repository/models",
                "requests": REQUESTS,
            },
        },
    )
    async with AsyncClient(ROOT, token=TOKEN, retry=NO_WAIT) as client:
        yield client


async def test_publish_creates_submits_and_accepts(nrp, respx_mock):
    read = respx_mock.get(DRAFT).respond(200, json=draft_json(expanded={"requests": []}))
    respx_mock.get(f"{DRAFT}/requests/applicable").respond(200, json=APPLICABLE)
    create = respx_mock.post(f"{DRAFT}/requests/publish_draft").respond(
        201, json=request_json("created", ("submit",))
    )
    submit = respx_mock.post(f"{API}/requests/r1/actions/submit").respond(
        200, json=request_json("submitted", ("accept", "decline", "cancel"))
    )
    accepted = request_json(
        "accepted",
        (),
        payload={"published_record:links:self": RECORD},
        links={"topic": {"self": RECORD}},
    )
    accept = respx_mock.post(f"{API}/requests/r1/actions/accept").respond(200, json=accepted)
    respx_mock.get(RECORD).respond(200, json=PUBLISHED)
    direct = respx_mock.post(f"{DRAFT}/actions/publish").respond(403, json={"status": 403})

    published = await nrp.records.publish("abc")

    assert isinstance(published, Record) and published.is_published
    assert read.calls.last.request.url.params["expand"] == "true"
    assert json.loads(create.calls.last.request.content) == {}
    assert submit.called and accept.called and not direct.called
    for route in (create, submit, accept):
        assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_a_review_returns_the_submitted_request(nrp, respx_mock):
    respx_mock.get(DRAFT).respond(200, json=draft_json(expanded={"requests": []}))
    respx_mock.get(f"{DRAFT}/requests/applicable").respond(200, json=APPLICABLE)
    respx_mock.post(f"{DRAFT}/requests/publish_draft").respond(
        201, json=request_json("created", ("submit",))
    )
    respx_mock.post(f"{API}/requests/r1/actions/submit").respond(
        200, json=request_json("submitted", ("cancel",), receiver={"group": "reviewers"})
    )
    accept = respx_mock.post(f"{API}/requests/r1/actions/accept")

    waiting = await nrp.records.publish(structure(draft_json(), Record))

    assert isinstance(waiting, Request)
    assert (waiting.id, waiting.type, waiting.status) == ("r1", "publish_draft", "submitted")
    assert waiting.receiver == {"group": "reviewers"} and waiting.waiting
    assert waiting.links.actions == {"cancel": f"{API}/requests/r1/actions/cancel"}
    assert not accept.called


async def test_an_open_request_listed_without_links_is_read_and_continued(nrp, respx_mock):
    """oarepo-requests' expanded requests are the schema's fields: read the request for links."""
    listed = {"id": "r1", "type": "publish_draft", "status": "submitted"}
    respx_mock.get(DRAFT).respond(200, json=draft_json(expanded={"requests": [listed]}))
    applicable = respx_mock.get(f"{DRAFT}/requests/applicable")
    reread = respx_mock.get(f"{API}/requests/r1").respond(
        200, json=request_json("submitted", ("accept", "decline"))
    )
    respx_mock.post(f"{API}/requests/r1/actions/accept").respond(
        200, json=request_json("accepted", (), payload={"published_record:links:self": RECORD})
    )
    respx_mock.get(RECORD).respond(200, json=PUBLISHED)

    published = await nrp.records.publish("abc")

    assert isinstance(published, Record) and published.id == "abc"
    assert reread.called and not applicable.called


async def test_nrp_record_without_expanded_requests_does_not_fail(nrp, respx_mock):
    """A deployment that leaves ``expanded`` out entirely: no open request, so one is made."""
    respx_mock.get(DRAFT).respond(200, json=draft_json())
    respx_mock.get(f"{DRAFT}/requests/applicable").respond(200, json=APPLICABLE)
    respx_mock.post(f"{DRAFT}/requests/publish_draft").respond(
        201, json=request_json("created", ("submit",))
    )
    respx_mock.post(f"{API}/requests/r1/actions/submit").respond(
        200, json=request_json("accepted", (), links={"topic": {"self": RECORD}})
    )
    respx_mock.get(RECORD).respond(200, json=PUBLISHED)

    published = await nrp.records.publish("abc")

    # auto-approved on submit: the topic link names the published record
    assert isinstance(published, Record) and published.is_published


async def test_no_applicable_publish_request_says_so_before_creating(nrp, respx_mock):
    respx_mock.get(DRAFT).respond(200, json=draft_json(expanded={"requests": []}))
    respx_mock.get(f"{DRAFT}/requests/applicable").respond(
        200, json={"hits": {"hits": [], "total": 0}, "links": {}}
    )
    create = respx_mock.post(url__regex=r".*/requests/.*")

    with pytest.raises(RequestNotApplicable, match="publish_draft"):
        await nrp.records.publish("abc")
    assert not create.called


async def test_plain_invenio_publishes_through_the_link(respx_mock):
    """No discovery document, no expanded.requests: the publish link, nothing else."""
    respx_mock.get(f"{ROOT}/.well-known/repository").respond(404, text="not found")
    respx_mock.get(f"{ROOT}/").respond(
        200, text='<meta name="generator" content="InvenioRDM 14.0"/>'
    )
    plain_draft = {
        "id": "abc",
        "is_draft": True,
        "links": {"self": DRAFT, "publish": f"{DRAFT}/actions/publish"},
    }
    read = respx_mock.get(DRAFT).respond(200, json=plain_draft)
    publish = respx_mock.post(f"{DRAFT}/actions/publish").respond(202, json=PUBLISHED)
    async with AsyncClient(ROOT, token=TOKEN, retry=NO_WAIT) as client:
        published = await client.records.publish(structure(plain_draft, Record))
        assert isinstance(published, Record) and published.is_published
        assert publish.called and not read.called
        assert await client.requests.list(structure(plain_draft, Record)) == []


async def test_request_actions_the_caller_lacks_fail_before_sending(nrp, respx_mock):
    respx_mock.get(f"{API}/requests/extended/r1").respond(
        200, json=request_json("submitted", ("cancel",))
    )
    sent = respx_mock.post(url__regex=r".*/actions/accept")
    waiting = structure(request_json("submitted", ("cancel",)), Request)

    with pytest.raises(ValueError, match="offers no accept"):
        await nrp.requests.accept(waiting)
    assert not sent.called
    cancel = respx_mock.post(f"{API}/requests/r1/actions/cancel").respond(
        200, json=request_json("cancelled", ())
    )
    assert (await nrp.requests.cancel(waiting)).status == "cancelled"
    assert json.loads(cancel.calls.last.request.content) == {}


async def test_read_by_id_uses_the_discovered_requests_link(nrp, respx_mock):
    route = respx_mock.get(f"{API}/requests/r1").respond(
        200, json=request_json("accepted", ())
    )
    request = await nrp.requests.read("r1")
    assert request.status == "accepted" and not request.waiting
    assert route.called
    with pytest.raises(ValueError, match="not a request id"):
        await nrp.requests.read("a/b")


def test_request_model_keeps_unknown_fields() -> None:
    data = request_json("created", ("submit",), title="", number="7")
    request = structure(data, Request)
    assert request.extra["number"] == "7"
    assert request.links.extra["comments"].endswith("/comments")
    assert request.links.self_ == f"{API}/requests/extended/r1"


async def test_search_asks_the_discovered_requests_endpoint(nrp, respx_mock):
    route = respx_mock.get(REQUESTS).respond(
        200, json={"hits": {"hits": [request_json("submitted", ("accept",))], "total": 1}}
    )
    found = await nrp.requests.search(status="submitted")
    assert [(r.id, r.status) for r in found] == [("r1", "submitted")]
    assert route.calls.last.request.url.params["status"] == "submitted"


async def test_a_lost_accept_answer_is_checked_not_repeated(nrp, respx_mock):
    """The accept's answer is lost: the draft is gone and the record is there, so it happened."""
    draft_reads = respx_mock.get(DRAFT).mock(
        side_effect=[
            httpx.Response(200, json=draft_json(expanded={"requests": []})),
            httpx.Response(404, json={"status": 404, "message": "Not found."}),
        ]
    )
    respx_mock.get(f"{DRAFT}/requests/applicable").respond(200, json=APPLICABLE)
    respx_mock.post(f"{DRAFT}/requests/publish_draft").respond(
        201, json=request_json("created", ("submit",))
    )
    respx_mock.post(f"{API}/requests/r1/actions/submit").respond(
        200, json=request_json("submitted", ("accept", "decline"))
    )
    accept = respx_mock.post(f"{API}/requests/r1/actions/accept").respond(
        502, text="Bad Gateway"
    )
    respx_mock.get(RECORD).respond(200, json=PUBLISHED)

    published = await nrp.records.publish("abc")

    assert isinstance(published, Record) and published.is_published
    assert accept.call_count == 1 and draft_reads.call_count == 2
