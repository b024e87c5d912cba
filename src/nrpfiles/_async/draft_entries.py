"""Creating and deleting a draft's file entries without tripping over each other.

InvenioRDM 14 saves the draft, under a version check, whenever it deletes one of
its entries (one, or all of them). A request that changes the same draft's
entries meanwhile fails: another delete answers 500 (the check) or 400 "Not a
valid value." (the draft's vocabulary terms fail to resolve mid-save), an entry
creation answers 500, and a retry can meet the next delete the same way.
Parallel replacements, the clean-ups of several failed uploads and callers' own
``gather`` of deletes overlap like that. So a draft's deletes go one at a time,
and its entry creations, which overlap each other fine, wait while one runs.
Content and commits never wait.
"""

from __future__ import annotations

from typing import Any

import httpx

from nrpfiles._async.http import AsyncHttp
from nrpfiles._shared_lock import AsyncSharedLock

# Drafts share a lock only when their files URLs fall on the same one of these: a
# fixed set, so a long-lived client keeps no lock for every draft it ever met.
_LOCKS = 64
# where every draft's files list is, InvenioRDM's, NRP's models' and Zenodo's alike
_DRAFT_FILES = "/draft/files/"


class AsyncDraftEntries:
    """The requests that add entries to a draft's files list or take them away."""

    def __init__(self, http: AsyncHttp) -> None:
        self._http = http
        self._locks = [AsyncSharedLock() for _ in range(_LOCKS)]

    async def create(
        self, files_url: str, entries: list[dict[str, Any]]
    ) -> tuple[Any, httpx.Response]:
        async with self._lock(files_url).shared():
            # Safe to repeat: if a lost answer hid a success, the retry finds the keys
            # taken by unfinished entries, which the uploader replaces.
            return await self._http.request_json("POST", files_url, json=entries, idempotent=True)

    async def delete(self, entry_url: str | httpx.URL) -> None:
        """Delete one entry, ``{files URL}/{quoted key}``."""
        async with self._lock(_files_url_of(entry_url)).alone():
            await self._http.request("DELETE", entry_url)

    async def delete_all(self, files_url: str) -> None:
        async with self._lock(files_url).alone():
            await self._http.request("DELETE", files_url)

    def _lock(self, files_url: str) -> AsyncSharedLock:
        return self._locks[hash(_without_query(files_url)) % _LOCKS]


def _without_query(url: str | httpx.URL) -> str:
    return str(url).partition("?")[0].rstrip("/")


def _files_url_of(entry_url: str | httpx.URL) -> str:
    # A key keeps its "/" in the URL, and may itself hold a "files" segment.
    url = _without_query(entry_url)
    draft, marker, _ = url.partition(_DRAFT_FILES)
    return draft + _DRAFT_FILES.rstrip("/") if marker else url.rpartition("/")[0]
