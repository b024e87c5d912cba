"""Turning what callers pass for a record (a Record, its URL, its id) into API URLs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import httpx

from nrpfiles._urls import api_url_of_web_page, join, to_url
from nrpfiles.models import Record
from nrpfiles.streams import is_url

if TYPE_CHECKING:
    from nrpfiles._async.client import AsyncClient

_DRAFT_SUFFIX = "/draft"
# A cheap test before discovery is asked where the API lives.
_MAYBE_WEB_PAGE = re.compile(r"/(?:records|uploads|deposit)/")


class AsyncRecordRefs:
    """Where a record, its draft and the search endpoints live.

    A :class:`Record` is resolved through its links, a URL (``str``,
    ``httpx.URL`` or anything whose ``str()`` is one) as given, an id through
    the repository's records endpoint. A web page of the repository
    (``{site}/records/ID``, ``{site}/uploads/ID``) stands for its API URL. A
    URL ending in ``/draft`` names the draft; without it, the published
    record; each is turned into the other when the other is wanted.
    """

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def records_url(self) -> str:
        """Where records are created and published records searched."""
        info = await self._client.info()
        return info.links.get("records") or join(info.api_url, "records")

    async def user_records_url(self) -> str:
        """The caller's own drafts and records."""
        info = await self._client.info()
        return info.links.get("drafts") or join(info.api_url, "user", "records")

    async def published(self, ref: Any) -> str:
        if isinstance(ref, Record):
            if ref.links.record:
                return ref.links.record
            if ref.links.self_ and not _names_draft(ref.links.self_):
                return ref.links.self_
            return await self._by_id(_record_id(ref))
        url = await self._url(ref)
        return url[: -len(_DRAFT_SUFFIX)] if _names_draft(url) else url

    async def draft(self, ref: Any) -> str:
        if isinstance(ref, Record):
            if ref.links.self_ and _names_draft(ref.links.self_):
                return ref.links.self_
            if ref.links.draft:
                return ref.links.draft
            return join(await self._by_id(_record_id(ref)), "draft")
        url = await self._url(ref)
        return url if _names_draft(url) else join(url, "draft")

    async def versions(self, ref: Any) -> str:
        if isinstance(ref, Record) and ref.links.versions:
            return ref.links.versions
        return join(await self.published(ref), "versions")

    async def _url(self, ref: Any) -> str:
        if isinstance(ref, str) and not is_url(ref):
            return await self._by_id(ref)
        if isinstance(ref, (bytes, bytearray)):
            raise TypeError(f"expected a record, its URL or its id, got {type(ref).__name__}")
        return (await self.api_form(str(to_url(ref)))).rstrip("/")

    async def api_form(self, url: str) -> str:
        """The API URL of a record's or file's web page on this repository; any other URL as given."""
        # API URLs (the usual case) are passed on without asking discovery where the API is.
        path = to_url(url).path
        if "/api/" in path or not _MAYBE_WEB_PAGE.search(path):
            return url
        info = await self._client.info()
        return api_url_of_web_page(url, info.api_url) or url

    async def _by_id(self, record_id: str) -> str:
        if not record_id.strip() or "/" in record_id:
            raise ValueError(f"not a record id or URL: {record_id!r}")
        return join(await self.records_url(), record_id)


def draft_link(record: Record, name: str, action: str) -> str:
    """A link of a draft by name, or the action URL InvenioRDM builds it from."""
    link = record.links.extra.get(name) or record.links.extra.get(name.replace("-", "_"))
    if isinstance(link, str):
        return link
    if not record.links.self_:
        raise ValueError(f"record {record.id!r} has no self link; read it from the repository")
    return join(record.links.self_, "actions", action)


def _names_draft(url: str | httpx.URL) -> bool:
    return str(url).rstrip("/").endswith(_DRAFT_SUFFIX)


def _record_id(record: Record) -> str:
    if not record.id:
        raise ValueError("the record has neither links nor an id; read it from the repository")
    return record.id
