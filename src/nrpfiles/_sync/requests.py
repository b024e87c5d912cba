# Generated from src/nrpfiles/_async/requests.py by scripts/gen_sync.py: do not edit.
# body-sha256: 5ebce03fcd558102cb6d74cba3925072b486739fd232f67e3000c3332927cea6
"""``client.requests``: the requests through which NRP repositories publish, edit and version.

NRP repositories (oarepo-requests) do not publish a draft when asked to: the
owner creates a ``publish_draft`` request on it, submits it, and whoever
receives it accepts it (the owner, or a reviewer where the repository wants
one). Editing a published record (``edit_published_record``) and making its
new version (``new_version``) work the same way. ``client.records`` goes
through them by itself where a repository works this way; this client lists a
record's requests and takes the actions a caller may take on one.

Plain InvenioRDM has none of this: there a record lists no requests.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nrpfiles._urls import join
from nrpfiles.errors import RequestNotApplicable
from nrpfiles.models import Record, Request, structure
from nrpfiles.models.requests import OPEN_STATUSES
from nrpfiles.streams import is_url

if TYPE_CHECKING:
    from nrpfiles._sync.client import Client

PUBLISH_TYPES = ("publish_draft", "publish_new_version", "publish_changed_metadata")
EDIT_TYPES = ("edit_published_record",)
NEW_VERSION_TYPES = ("new_version",)
ACTIONS = ("submit", "accept", "decline", "cancel")
_EXPAND = {"expand": "true"}


class RequestsClient:
    """Requests on records (``client.requests``), where the repository has them."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._http = client._http

    def list(self, record: Any) -> builtins.list[Request]:
        """The requests on a record (draft or published), oldest first; none on plain InvenioRDM.

        ``record`` is a :class:`~nrpfiles.models.Record`, its URL or its id;
        an id or URL names the draft when there is one.
        """
        if not isinstance(record, Record):
            record = self._client.records.draft_records.read(record)
        url = record.links.extra.get("requests")
        if not isinstance(url, str):
            return []
        body, _ = self._http.request_json("GET", url)
        return _hits(body)

    def search(self, *, status: str | None = None) -> builtins.list[Request]:
        """The requests the caller made or receives (a reviewer's), newest first; one page.

        ``status`` narrows them (``"submitted"``: those waiting for a decision).
        Empty on a repository without requests.
        """
        info = self._client.info()
        url = info.links.get("requests")
        if url is None:
            return []
        body, _ = self._http.request_json(
            "GET", url, params={"status": status} if status else None
        )
        return _hits(body)

    def read(self, request: Request | str) -> Request:
        """The request as it is now: a :class:`Request`, its URL or its id."""
        if isinstance(request, Request):
            url = request.links.self_ or self._url_of(request.id)
        elif is_url(request):
            url = str(request)
        else:
            url = self._url_of(request)
        return self._call("GET", url)

    def applicable(self, record: Any) -> builtins.list[str]:
        """The request types the caller may create on the record now (``publish_draft``...)."""
        return sorted(self._applicable(self._expanded(record)))

    def create(
        self, record: Any, type_id: str, payload: Mapping[str, str] | None = None
    ) -> Request:
        """Create a request of ``type_id`` on the record; it starts ``created``."""
        types = self._applicable(self._expanded(record))
        if type_id not in types:
            raise RequestNotApplicable(
                f"the record offers no {type_id} request now; it offers: "
                f"{', '.join(sorted(types)) or 'none'}"
            )
        body = {"payload": dict(payload)} if payload else {}
        return self._call("POST", types[type_id], json=body)

    def submit(self, request: Request, payload: Mapping[str, Any] | None = None) -> Request:
        """Send a created request to whoever decides it."""
        return self._act(request, "submit", payload)

    def accept(self, request: Request, payload: Mapping[str, Any] | None = None) -> Request:
        """Accept a submitted request: what it asks for is done (the draft is published...)."""
        return self._act(request, "accept", payload)

    def decline(self, request: Request, payload: Mapping[str, Any] | None = None) -> Request:
        """Decline a submitted request; its record stays as it was."""
        return self._act(request, "decline", payload)

    def cancel(self, request: Request, payload: Mapping[str, Any] | None = None) -> Request:
        """Withdraw one's own submitted request."""
        return self._act(request, "cancel", payload)

    def record(self, request: Request) -> Record:
        """What an accepted request made: the published record, or the new draft."""
        if request.status != "accepted":
            raise ValueError(
                f"request {request.id} is {request.status}, not accepted: it made no record yet"
            )
        url = _made_by(request)
        if url is None:
            raise ValueError(f"request {request.id} links no record")
        return self._client.records._call("GET", url)

    # -- what client.records uses -----------------------------------------------------

    def read_with_requests(self, url: str) -> Record | None:
        """The record at ``url`` with its requests, where the repository publishes through them.

        None where it does not (no requests in discovery, or no
        ``applicable_requests`` link on the record): the plain links apply there.
        """
        info = self._client.info()
        if "requests" not in info.links:
            return None
        record = self._client.records._call("GET", url, params=_EXPAND)
        return record if isinstance(record.links.extra.get("applicable_requests"), str) else None

    def carry_out(self, record: Record, types: tuple[str, ...]) -> Request:
        """Continue the record's open request of one of ``types`` or create one, then see it through.

        It is submitted and, where the caller may, accepted; what comes back
        is accepted, or waiting for someone else (submitted).
        """
        request = self._open_request(record, types)
        if request is None:
            offered = self._applicable(record)
            type_id = next((t for t in types if t in offered), None)
            if type_id is None:
                raise RequestNotApplicable(
                    f"record {record.id} offers none of {', '.join(types)} now; "
                    f"it offers: {', '.join(sorted(offered)) or 'none'}"
                )
            request = self._call("POST", offered[type_id], json={})
        if request.status == "created" and "submit" in request.links.actions:
            request = self.submit(request)
        if request.status == "submitted" and "accept" in request.links.actions:
            request = self.accept(request)
        return request

    # -- internals --------------------------------------------------------------------

    def _expanded(self, record: Any) -> Record:
        if isinstance(record, Record) and record.links.self_:
            url = record.links.self_
        else:
            url = (self._client.records.draft_records.read(record)).links.self_ or ""
        return self._client.records._call("GET", url, params=_EXPAND)

    def _applicable(self, record: Record) -> dict[str, str]:
        """Request type -> the URL that creates one, as the record offers them to the caller."""
        url = record.links.extra.get("applicable_requests")
        if not isinstance(url, str):
            return {}
        body, _ = self._http.request_json("GET", url)
        hits = (body.get("hits") or {}).get("hits") if isinstance(body, Mapping) else None
        offered: dict[str, str] = {}
        for hit in hits or []:
            create = ((hit.get("links") or {}).get("actions") or {}).get("create")
            if isinstance(hit.get("type_id"), str) and isinstance(create, str):
                offered[hit["type_id"]] = create
        return offered

    def _open_request(self, record: Record, types: tuple[str, ...]) -> Request | None:
        """An open request of one of ``types`` among the record's expanded requests, read afresh."""
        expanded = record.extra.get("expanded")
        listed = expanded.get("requests") if isinstance(expanded, Mapping) else None
        for item in listed or []:
            if (
                isinstance(item, Mapping)
                and item.get("type") in types
                and item.get("status") in OPEN_STATUSES
                and isinstance(item.get("id"), str)
            ):
                # the expanded form may lack links: the request itself has them
                return self.read(item["id"])
        return None

    def _act(self, request: Request, action: str, payload: Mapping[str, Any] | None) -> Request:
        url = request.links.actions.get(action)
        if url is None:
            request = self.read(request)
            url = request.links.actions.get(action)
        if url is None:
            raise ValueError(
                f"request {request.id} ({request.status}) offers no {action} to this caller; "
                f"it offers: {', '.join(sorted(request.links.actions)) or 'nothing'}"
            )
        return self._call("POST", url, json=dict(payload or {}))

    def _url_of(self, request_id: str | None) -> str:
        if not request_id or "/" in request_id:
            raise ValueError(f"not a request id: {request_id!r}")
        info = self._client.info()
        base = info.links.get("requests") or join(info.api_url, "requests")
        return join(base, request_id)

    def _call(self, method: str, url: str, *, json: Any = None) -> Request:
        body, _ = self._http.request_json(method, url, json=json)
        return structure(body, Request)


def _hits(body: Any) -> list[Request]:
    hits = (body.get("hits") or {}).get("hits") if isinstance(body, Mapping) else None
    return [structure(hit, Request) for hit in hits or []]


def _made_by(request: Request) -> str | None:
    """The link of what an accepted request made, as oarepo-requests writes it in the payload."""
    for name in ("draft_record:links:self", "published_record:links:self"):
        link = request.payload.get(name)
        if isinstance(link, str):
            return link
    topic = request.links.topic.get("self") if isinstance(request.links.topic, Mapping) else None
    return topic if isinstance(topic, str) else None
