# Generated from src/nrpfiles/_async/records.py by scripts/gen_sync.py: do not edit.
# body-sha256: a0911f07fcf8f9d1bb38054d6ecf2f4eb562b589d3b222bf245c21d383715827
"""``client.records``: create, read, update, publish, edit and version records; search them.

Records are given as :class:`~nrpfiles.models.Record` objects, as record URLs
(``str``, ``httpx.URL`` or anything whose ``str()`` is the URL) or as ids.
Lenient writes (create, update) keep the server's field problems on the
returned record's ``errors``; a strict one (publish) raises ``ValidationError``.

Publishing, editing and new versions go through requests where the repository
works that way (NRP: its discovery document links requests and the record
links ``applicable_requests``), and through the record's plain links elsewhere.
Where a request waits for someone else, the :class:`~nrpfiles.models.Request`
comes back instead of a record.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from nrpfiles._sync.record_refs import RecordRefs, draft_link
from nrpfiles._sync.requests import EDIT_TYPES, NEW_VERSION_TYPES, PUBLISH_TYPES
from nrpfiles._urls import join
from nrpfiles.errors import (
    ConflictError,
    DoesNotExistError,
    RepositoryCommunicationError,
    RepositoryError,
    RepositoryServerError,
    RequestNotApplicable,
)
from nrpfiles.models import Record, Request, SearchPage, structure, unstructure

if TYPE_CHECKING:
    from nrpfiles._sync.client import Client

# Sent back by the server, never accepted from a client.
_READ_ONLY_ON_UPDATE = ("errors",)
_REVISION_ETAG = re.compile(r'(?:W/)?"(\d+)"')


class RecordsClient:
    """Drafts and published records (``client.records``); ``draft_records`` reads drafts."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._http = client._http
        self._refs = RecordRefs(client)
        self.draft_records = DraftRecordsClient(self)

    def create(self, data: Mapping[str, Any], *, files_enabled: bool = True) -> Record:
        """Create a draft and return it.

        ``data`` is the whole record body when it has a ``metadata`` key
        (``{"metadata": {...}, "access": {...}}``), else it is the metadata
        itself. ``files.enabled`` is set from ``files_enabled`` unless ``data``
        sets it. Field problems do not stop the draft from being saved: they
        are on the returned record's ``errors``.
        """
        body = dict(data) if "metadata" in data else {"metadata": dict(data)}
        files = body.get("files")
        body["files"] = {"enabled": files_enabled, **(files if isinstance(files, Mapping) else {})}
        url = self._refs.records_url()
        return self._call("POST", url, json=body)

    def read(self, id_or_url: Any) -> Record:
        """The published record; a draft's URL or Record reads the record it belongs to."""
        return self._call("GET", self._refs.published(id_or_url))

    def update(self, record: Record) -> Record:
        """Save an edited draft and return it as stored.

        Everything read is sent back, fields this library does not know
        included. ``If-Match`` carries the ETag the record was read with, so a
        draft changed meanwhile raises ``ConflictError`` rather than being
        overwritten. A conflict is checked on a fresh read: when the draft
        already holds what was sent (the answer to this update was lost), it
        is returned; when only the repository itself moved the revision on
        (a file was removed meanwhile), the update is sent again. Field
        problems are on the returned record's ``errors``.
        """
        if record.is_draft is False:
            raise ValueError(
                f"record {record.id} is published; edit() it and update the draft it returns"
            )
        url = self._refs.draft(record)
        body = unstructure(record)
        for name in _READ_ONLY_ON_UPDATE:
            body.pop(name, None)
        try:
            return self._call("PUT", url, json=body, headers=if_match(record.etag))
        except ConflictError as conflict:
            if not record.etag:
                raise
            try:
                current = self._call("GET", url)
            except RepositoryError:
                raise conflict from None
            stored = editable(unstructure(current))
            if stored == editable(body):
                return current  # the lost answer of this very update
            if record.read_as is None or stored != record.read_as:
                raise
            # Nobody changed what a caller edits: the repository bumped the revision
            # itself (removing a file does), so this update overwrites nothing.
            return self._call("PUT", url, json=body, headers=if_match(current.etag))

    def delete(self, draft: Any) -> None:
        """Delete a draft: an unpublished record goes away, an edit is abandoned.

        A ``Record`` read with an ETag is deleted only if unchanged since:
        ``ConflictError`` otherwise. An id or URL deletes whatever is there.
        """
        etag = draft.etag if isinstance(draft, Record) else None
        self._http.request("DELETE", self._refs.draft(draft), headers=if_match(etag))

    def publish(self, draft: Any) -> Record | Request:
        """Publish a draft and return the published record, or the request awaiting review.

        Where the repository publishes through requests, the draft's open
        publish request is taken up (or one is created), submitted and, where
        the caller may, accepted; a request that waits for a reviewer is
        returned as it is (``status == "submitted"``): see
        ``client.requests`` to check on it. A refused publish raises
        ``ValidationError`` whose ``errors`` name the fields (``files.enabled``
        when files are enabled and none uploaded). Publishing is never retried
        blindly: when the answer is lost (network failure, 5xx), the draft is
        looked up; if it is gone and the record is readable, the publish
        happened and that record is returned; otherwise the original error is
        raised (the draft is still there, or its state could not be checked)
        and publishing again is the caller's decision.
        """
        try:
            expanded = self._client.requests.read_with_requests(
                self._refs.draft(draft)
            )
            if expanded is not None:
                return self._through_request(expanded, PUBLISH_TYPES)
            if isinstance(draft, Record) and draft.links.publish:
                url = draft.links.publish
            else:
                url = self._draft_action(draft, "publish")
            return self._call("POST", url)
        except (RepositoryCommunicationError, RepositoryServerError) as error:
            published = self._published_instead_of_draft(draft)
            if published is None:
                raise error from None
            return published

    def edit(self, published: Any) -> Record | Request:
        """A draft of a published record (the existing one if there is one).

        Where the repository edits through requests and the request waits for
        someone else, the :class:`~nrpfiles.models.Request` comes back.
        """
        url = self._refs.draft(published)
        expanded = self._client.requests.read_with_requests(
            self._refs.published(published)
        )
        if expanded is not None:
            try:
                return self._through_request(expanded, EDIT_TYPES)
            except RequestNotApplicable:
                # not offered while a draft is open: that draft is the edit
                return self._call("GET", url)
        # InvenioRDM answers with the same draft when one exists: safe to retry.
        return self._call("POST", url, idempotent=True)

    def new_version(self, published: Any, *, import_files: bool = False) -> Record | Request:
        """A draft of the record's next version; with ``import_files`` it starts with its files.

        Without ``import_files`` the new draft has no files (InvenioRDM's
        default). A published record's files never change; a new version is
        where changed files go. Where the repository makes new versions
        through requests and the request waits for someone else, the
        :class:`~nrpfiles.models.Request` comes back.
        """
        expanded = self._client.requests.read_with_requests(
            self._refs.published(published)
        )
        if expanded is None:
            made: Record | Request = self._call("POST", self._refs.versions(published))
        else:
            made = self._through_request(expanded, NEW_VERSION_TYPES)
        if not import_files or isinstance(made, Request):
            return made
        self._http.request_json("POST", draft_link(made, "files-import", "files-import"))
        # The import answers with the files only; the draft now lists them.
        return self._call("GET", self._refs.draft(made))

    def search(
        self,
        q: str | None = None,
        *,
        size: int | None = None,
        sort: str | None = None,
        page: int | None = None,
        **params: Any,
    ) -> SearchPage:
        """One page of published records: ``.total`` counts all matches, ``.hits`` this page.

        Extra keyword arguments become query parameters (``allversions=True``).
        """
        url = self._refs.records_url()
        return self._search_page(url, _query(q, size, sort, page, params))

    def scan(
        self,
        q: str | None = None,
        *,
        size: int | None = None,
        sort: str | None = None,
        **params: Any,
    ) -> Iterator[Record]:
        """Every matching published record, page after page, fetched as iterated.

        Large servers stop paginating after 10,000 hits; narrow ``q`` for more.
        """
        url = self._refs.records_url()
        for record in self._scan(url, _query(q, size, sort, None, params)):
            yield record

    # -- shared with draft_records ------------------------------------------------------

    def _call(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> Record:
        body, response = self._http.request_json(
            method, url, json=json, headers=headers, params=params, idempotent=idempotent
        )
        return record_from(body, response)

    def _through_request(self, record: Record, types: tuple[str, ...]) -> Record | Request:
        """The record an accepted request made, or the request still waiting."""
        request = self._client.requests.carry_out(record, types)
        if request.status == "accepted":
            return self._client.requests.record(request)
        return request

    def _search_page(self, url: str, params: Mapping[str, Any] | None) -> SearchPage:
        body, _ = self._http.request_json("GET", url, params=params)
        return structure(body, SearchPage)

    def _scan(self, url: str, params: Mapping[str, Any]) -> Iterator[Record]:
        seen = {str(httpx.URL(url, params=params))}
        page = self._search_page(url, params)
        while True:
            for record in page.hits:
                yield record
            next_url = page.links.next
            # A server repeating a page would otherwise loop for ever.
            if not page.hits or not next_url or next_url in seen:
                return
            seen.add(next_url)
            page = self._search_page(next_url, None)

    def _draft_action(self, draft: Any, action: str) -> str:
        draft_url = self._refs.draft(draft)
        return join(draft_url, "actions", action)

    def _published_instead_of_draft(self, draft: Any) -> Record | None:
        """The published record if the draft was published after all, else None."""
        try:
            self._call("GET", self._refs.draft(draft))
        except DoesNotExistError:
            pass
        except RepositoryError:
            return None
        else:
            return None
        try:
            return self.read(draft)
        except RepositoryError:
            return None


class DraftRecordsClient:
    """Drafts, and the caller's own records (``client.records.draft_records``)."""

    def __init__(self, records: RecordsClient) -> None:
        self._records = records
        self._refs = records._refs

    def read(self, id_or_url: Any) -> Record:
        """The record's draft; the published record when it has no draft.

        So this reads a record that "can be draft or published", as file
        workflows need: check ``is_draft`` to tell which came back.
        """
        try:
            return self._records._call("GET", self._refs.draft(id_or_url))
        except DoesNotExistError:
            return self._records.read(id_or_url)

    def search(
        self,
        q: str | None = None,
        *,
        size: int | None = None,
        sort: str | None = None,
        page: int | None = None,
        **params: Any,
    ) -> SearchPage:
        """One page of the caller's own drafts and records (the latest version of each)."""
        url = self._refs.user_records_url()
        return self._records._search_page(url, _query(q, size, sort, page, params))

    def scan(
        self,
        q: str | None = None,
        *,
        size: int | None = None,
        sort: str | None = None,
        **params: Any,
    ) -> Iterator[Record]:
        """Every one of the caller's own drafts and records, page after page."""
        url = self._refs.user_records_url()
        for record in self._records._scan(url, _query(q, size, sort, None, params)):
            yield record


def if_match(etag: str | None) -> dict[str, str] | None:
    """``If-Match`` for a record read with ``etag``, as the repository parses it.

    InvenioRDM sends ``ETag: "4"`` but reads ``If-Match`` as a bare integer
    and refuses the quoted form with 400; an ETag that is not a quoted
    revision number is sent back untouched, as HTTP says.
    """
    if not etag:
        return None
    revision = _REVISION_ETAG.fullmatch(etag.strip())
    return {"If-Match": revision[1] if revision else etag}


def record_from(body: Any, response: httpx.Response) -> Record:
    record = structure(body, Record)
    record.etag = response.headers.get("ETag")
    record.read_as = copy.deepcopy(editable(unstructure(record)))
    return record


def _query(
    q: str | None, size: int | None, sort: str | None, page: int | None, extra: Mapping[str, Any]
) -> dict[str, Any]:
    named = {"q": q, "size": size, "sort": sort, "page": page, **extra}
    return {key: _param(value) for key, value in named.items() if value is not None}


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def editable(body: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a record's JSON a client edits, to compare two versions of a draft."""
    files = body.get("files")
    return {
        "metadata": body.get("metadata"),
        "access": body.get("access"),
        "custom_fields": body.get("custom_fields"),
        "files.enabled": files.get("enabled") if isinstance(files, Mapping) else None,
    }
