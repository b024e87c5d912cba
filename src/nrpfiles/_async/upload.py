"""Uploads: local (L), multipart (M), url-fetch (F) and remote (R), verified and cleaned up."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import attrs
import httpx

from nrpfiles._async.http import AsyncHttp
from nrpfiles._checksums import md5_checksum, md5_of_source, verifiable_md5
from nrpfiles._concurrency import (
    AsyncJob,
    BackgroundJob,
    async_gather,
    async_run_in_thread,
    async_sleep,
    async_stop_point,
)
from nrpfiles._transfer_plan import (
    DEFAULT_PARALLEL_PARTS,
    FETCH,
    MULTIPART,
    REMOTE,
    choose_upload_transfer,
    upload_parts,
)
from nrpfiles.errors import (
    ChecksumMismatchError,
    ConflictError,
    PermissionDeniedError,
    RepositoryClientError,
    RepositoryError,
    TransferError,
)
from nrpfiles.limits import async_slot
from nrpfiles.models import File, FilesList, structure
from nrpfiles.progress import Progress, ProgressSpec, open_progress
from nrpfiles.streams import DataSource

logger = logging.getLogger("nrpfiles")

OCTET_STREAM = "application/octet-stream"
_SEND_CHUNK = 4 << 20
_FETCH_TIMEOUT = 600.0
_FETCH_POLL_FIRST, _FETCH_POLL_MAX = 0.2, 5.0


class AsyncUploader:
    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def upload(
        self,
        files_url: str,
        key: str,
        *,
        metadata: dict[str, Any],
        source: DataSource | None,
        source_url: str | None,
        wire_type: str,
        offered: tuple[str, ...],
        transfer_metadata: dict[str, Any],
        progress: ProgressSpec,
        overwrite: bool,
    ) -> File:
        if source is None:
            assert source_url is not None
            if wire_type == FETCH:
                return await self._fetch(files_url, key, metadata, source_url, transfer_metadata)
            return await self._remote(files_url, key, metadata, source_url, transfer_metadata)
        size = source.size
        wire_type = choose_upload_transfer(wire_type, size, offered)
        parts = upload_parts(size, transfer_metadata) if wire_type == MULTIPART else None
        # The MD5 is computed from its own reader on its own thread, beside the sending.
        md5 = BackgroundJob(lambda: md5_of_source(source, size), name="nrpfiles-md5")
        sending = _Sending(source, size, md5)
        with open_progress(progress, total=size, description=key) as bar:
            entry = None
            if parts is not None:
                entry = await self._multipart(
                    files_url, key, metadata, sending, parts, bar, overwrite
                )
                if entry is None:  # part uploads refused: the repository takes local only
                    bar.reset_to(0)
            if entry is None:
                entry = await self._local(files_url, key, metadata, sending, bar, overwrite)
        return entry

    # -- the transfer types ----------------------------------------------------------

    async def _local(
        self,
        files_url: str,
        key: str,
        metadata: dict[str, Any],
        sending: _Sending,
        bar: Progress,
        overwrite: bool,
    ) -> File:
        entry = await self._init(files_url, {"key": key, "metadata": metadata}, overwrite)
        async with _CleanupOnFailure(self, entry):
            content_url = entry.links.content or f"{_self(entry)}/content"
            response = await self._put_bytes(content_url, sending.source, 0, sending.size, bar)
            _raise_for_failed_transfer(response.content, key)
            return await self._commit_verified(entry, sending)

    async def _multipart(
        self,
        files_url: str,
        key: str,
        metadata: dict[str, Any],
        sending: _Sending,
        plan: tuple[int, int],
        bar: Progress,
        overwrite: bool,
    ) -> File | None:
        """Upload in parallel parts; None when the repository refuses part uploads."""
        count, part_size = plan
        source, size = sending.source, sending.size
        init = {
            "key": key,
            "metadata": metadata,
            "size": size,
            "transfer": {"type": MULTIPART, "parts": count, "part_size": part_size},
        }
        entry = await self._init(files_url, init, overwrite)
        links = sorted(entry.links.parts, key=lambda link: link.part)
        if len(links) != count:
            await self._remove(entry)
            raise TransferError(
                f"the repository offered {len(links)} part URLs for {count} parts",
                key=key,
            )

        def job(number: int, url: str) -> AsyncJob[None]:
            offset = (number - 1) * part_size
            length = min(part_size, size - offset)

            async def send() -> None:
                response = await self._put_bytes(url, source, offset, length, bar)
                _raise_for_failed_transfer(response.content, key)

            return send

        async with _CleanupOnFailure(self, entry):
            try:
                await async_gather(
                    [job(link.part, link.url) for link in links], limit=DEFAULT_PARALLEL_PARTS
                )
            except PermissionDeniedError:
                # Zenodo accepts multipart at init and refuses every part: go local.
                logger.info("part uploads of %r refused; falling back to a local upload", key)
                await self._remove(entry)
                return None
            return await self._commit_verified(entry, sending)

    async def _fetch(
        self,
        files_url: str,
        key: str,
        metadata: dict[str, Any],
        url: str,
        transfer_metadata: dict[str, Any],
    ) -> File:
        timeout = float(transfer_metadata.get("timeout", _FETCH_TIMEOUT))
        init = {"key": key, "metadata": metadata, "transfer": {"type": FETCH, "url": url}}
        entry = await self._init(files_url, init, overwrite=False)
        waited, pause = 0.0, _FETCH_POLL_FIRST
        async with _CleanupOnFailure(self, entry):
            while entry.status not in ("completed", "failed"):
                if waited >= timeout:
                    raise TransferError(
                        f"the repository did not finish fetching {key!r} within {timeout:g}s",
                        key=key,
                    )
                await async_sleep(pause)
                waited += pause
                pause = min(pause * 2, _FETCH_POLL_MAX)
                body, _ = await self._http.request_json("GET", _self(entry))
                entry = structure(body, File)
            if entry.status == "failed":
                reason = entry.transfer.error if entry.transfer else None
                raise TransferError(
                    f"the repository could not fetch {key!r}: {reason or 'no reason given'}",
                    key=key,
                )
            return entry

    async def _remote(
        self,
        files_url: str,
        key: str,
        metadata: dict[str, Any],
        url: str,
        transfer_metadata: dict[str, Any],
    ) -> File:
        init: dict[str, Any] = {
            "key": key,
            "metadata": metadata,
            "transfer": {"type": REMOTE, "url": url},
        }
        for name in ("size", "checksum"):
            if name in transfer_metadata:
                init[name] = transfer_metadata[name]
        return await self._init(files_url, init, overwrite=False)

    # -- steps shared by the types ---------------------------------------------------

    async def _put_bytes(
        self, url: str, source: DataSource, offset: int, length: int, bar: Progress
    ) -> httpx.Response:
        """PUT one range of the source; a retry sends the range again from its start."""
        async with async_slot():
            return await self._http.request(
                "PUT",
                url,
                content=_Body(source, offset, length, bar),
                # Chunked bodies are refused by some servers and S3 gateways: always a length.
                headers={"Content-Type": OCTET_STREAM, "Content-Length": str(length)},
            )

    async def _init(self, files_url: str, entry: dict[str, Any], overwrite: bool) -> File:
        """Create the file entry; an unfinished or (with overwrite) existing one is replaced.

        A creation whose answer was lost and retried finds the key taken by its
        own unfinished entry: that is replaced too, as often as the retry
        policy allows attempts.
        """
        key = entry["key"]
        rounds = self._http.policy.attempts
        for _ in range(rounds):
            try:
                body, _ = await self._create_entry(files_url, entry)
                break
            except RepositoryClientError as error:
                if error.status != 400 or "already exists" not in (error.server_message or ""):
                    raise
                existing = await self._existing(files_url, key)
                if existing is not None and existing.status == "completed" and not overwrite:
                    raise ConflictError(
                        f"file {key!r} already exists on this record; delete it first "
                        "or pass overwrite=True",
                        status=error.status,
                        method=error.method,
                        url=error.url,
                    ) from None
                if existing is not None:
                    await self._remove(existing)
                overwrite = False  # what stood there is gone; anything new is ours
        else:
            raise TransferError(
                f"could not create {key!r}: the key stayed taken after {rounds} tries",
                key=key,
            )
        created = _entry_of(body, key)
        if created is None:
            raise TransferError(f"the repository did not list {key!r} after creating it", key=key)
        return created

    async def _create_entry(
        self, files_url: str, entry: dict[str, Any]
    ) -> tuple[Any, httpx.Response]:
        # Safe to repeat: if a lost answer hid a success, the retry finds the key
        # taken by an unfinished entry, which _init replaces.
        return await self._http.request_json("POST", files_url, json=[entry], idempotent=True)

    async def _existing(self, files_url: str, key: str) -> File | None:
        body, _ = await self._http.request_json("GET", files_url)
        return _entry_of(body, key)

    async def _commit_verified(self, entry: File, sending: _Sending) -> File:
        """Commit once the source's MD5 is known, then compare: all while cleanup guards.

        A hash that fails (the source changed or could not be read) or an
        interruption while waiting for it leaves no committed, unverified file.
        """
        md5_hex = await sending.md5.async_result()
        committed = await self._commit(entry)
        return await self._verified(committed, entry.key, sending.size, md5_hex)

    async def _commit(self, entry: File) -> File:
        commit_url = entry.links.commit or f"{_self(entry)}/commit"
        # Committing twice is harmless, so a lost answer may be retried.
        body, _ = await self._http.request_json("POST", commit_url, idempotent=True)
        committed = structure(body, File)
        _raise_for_failed_transfer(body, committed.key)
        return committed

    async def _verified(self, entry: File, key: str, size: int, md5_hex: str) -> File:
        expected = md5_checksum(md5_hex)
        reported = verifiable_md5(entry.checksum)
        if entry.size is not None and entry.size != size:
            await self._remove(entry)
            raise ChecksumMismatchError(
                f"the repository stored {entry.size} bytes of {key!r}, {size} were sent; "
                "the file was deleted from the draft",
                key=key,
                expected=expected,
                actual=entry.checksum or "none",
            )
        if reported is None:
            if entry.checksum is None:
                logger.warning("the repository reported no checksum for %r: not verified", key)
            else:
                # S3 multipart checksums read "multipart:..." until recomputed later.
                logger.info("%r: checksum %s not verifiable yet", key, entry.checksum)
            return entry
        if reported != md5_hex:
            await self._remove(entry)
            raise ChecksumMismatchError(
                f"the repository reports {entry.checksum} for {key!r} but {expected} was sent; "
                "the file was deleted from the draft",
                key=key,
                expected=expected,
                actual=entry.checksum or "none",
            )
        return entry

    async def _remove(self, entry: File) -> bool:
        try:
            await self._http.request("DELETE", _self(entry))
        except RepositoryError as error:
            logger.warning("could not remove unfinished file %r: %s", entry.key, error)
            return False
        return True


@attrs.frozen
class _Sending:
    """What is being uploaded: the source, its size when planned, and its MD5 in the making."""

    source: DataSource
    size: int
    md5: BackgroundJob[str]


class _CleanupOnFailure:
    """On failure, delete the unfinished entry and say so in the error."""

    def __init__(self, uploader: AsyncUploader, entry: File) -> None:
        self._uploader = uploader
        self._entry = entry

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, exc_type: Any, error: BaseException | None, tb: Any) -> None:
        if error is None or isinstance(error, ChecksumMismatchError):
            return
        removed = await self._uploader._remove(self._entry)
        if isinstance(error, RepositoryError):
            error.message += (
                f"; the unfinished file {self._entry.key!r} was removed from the draft"
                if removed
                else f"; the unfinished file {self._entry.key!r} could not be removed"
            )


class _Body:
    """The bytes of one request, as a factory: a retry calls it again and starts over."""

    def __init__(self, source: DataSource, offset: int, length: int, bar: Progress) -> None:
        self._source, self._offset, self._length, self._bar = source, offset, length, bar
        self._sent = 0

    def __call__(self) -> AsyncIterator[bytes]:
        if self._sent:
            self._bar.advance(-self._sent)  # the failed attempt's bytes go again
            self._sent = 0
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        chunks = self._source.iter_chunks(self._offset, self._length, chunk_size=_SEND_CHUNK)
        while True:
            # A read from a slow disk must not stall the event loop of an asyncio service.
            chunk = await async_run_in_thread(lambda: next(chunks, None))
            if chunk is None:
                return
            await async_stop_point()
            yield chunk
            self._sent += len(chunk)
            self._bar.advance(len(chunk))


def _raise_for_failed_transfer(body: Any, key: str) -> None:
    """InvenioRDM can answer 200 with ``"errors": "File upload transfer failed."``."""
    if isinstance(body, (bytes, bytearray)):
        if b'"errors"' not in body:
            return
        try:
            body = json.loads(body)
        except ValueError:
            return
    if isinstance(body, dict) and isinstance(body.get("errors"), str):
        raise TransferError(f"the repository reports for {key!r}: {body['errors']}", key=key)


def _entry_of(files_list: Any, key: str) -> File | None:
    """One entry of a files list, structured alone.

    The repository answers a file's creation with the list of all the record's
    files; turning every entry into a model would make each of a thousand
    small uploads slower than the one before.
    """
    entries = files_list.get("entries") if isinstance(files_list, dict) else None
    if not isinstance(entries, list):
        return structure(files_list, FilesList).get(key)  # let the model report the shape
    for entry in entries:
        if isinstance(entry, dict) and entry.get("key") == key:
            return structure(entry, File)
    return None


def _self(entry: File) -> str:
    if not entry.links.self_:
        raise TransferError(f"the repository gave no link for {entry.key!r}", key=entry.key)
    return entry.links.self_
