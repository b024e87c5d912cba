# Generated from src/nrpfiles/_async/upload.py by scripts/gen_sync.py: do not edit.
# body-sha256: 9a374e8000bfeac93e1779c23b11e927cf6b333d62603ba0485912777a496567
"""Uploads: local (L), multipart (M), url-fetch (F) and remote (R), verified and cleaned up."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import httpx

from nrpfiles._sync.draft_entries import DraftEntries
from nrpfiles._sync.http import Http
from nrpfiles._sync.multipart import upload_multipart
from nrpfiles._sync.resume_upload import resume_point, upload_journal
from nrpfiles._sync.upload_steps import (
    Body,
    CleanupOnFailure,
    Sending,
    entry_of,
    entry_url,
    raise_for_failed_transfer,
)
from nrpfiles._checksums import (
    expected_checksum,
    md5_checksum,
)
from nrpfiles._concurrency import (
    sleep,
)
from nrpfiles._limits_answers import limit_refusal
from nrpfiles._retry import RetryPolicy
from nrpfiles._transfer_plan import (
    AUTO,
    FETCH,
    MULTIPART,
    REMOTE,
    choose_upload_transfer,
    upload_parts,
)
from nrpfiles._urls import join, quote_key
from nrpfiles.errors import (
    ChecksumMismatchError,
    ConflictError,
    DoesNotExistError,
    LimitExceededError,
    RepositoryClientError,
    RepositoryError,
    TransferError,
)
from nrpfiles.limits import slot
from nrpfiles.models import File, FilesList, structure
from nrpfiles.progress import Progress, ProgressSpec, open_progress
from nrpfiles.streams import DataSource, FileSource

logger = logging.getLogger("nrpfiles")

OCTET_STREAM = "application/octet-stream"
_FETCH_TIMEOUT = 600.0
_FETCH_POLL_FIRST, _FETCH_POLL_MAX = 0.2, 5.0
# Some storages leave a new file's checksum to a background task: how long to wait for it.
_CHECKSUM_WAIT = 15.0


class Uploader:
    def __init__(self, http: Http, *, max_file_size: int | None = None) -> None:
        self._http = http
        self._max_file_size = max_file_size
        self.entries_of_drafts = DraftEntries(http)
        # Zenodo takes multipart at init, then refuses parts and commit: learnt once per client.
        self.multipart_refused = False

    def refuse_multipart(self, key: str) -> None:
        if not self.multipart_refused:
            logger.info(
                "the repository refuses multipart uploads (first seen with %r); "
                "files go as local uploads from now on",
                key,
            )
        self.multipart_refused = True

    @property
    def policy(self) -> RetryPolicy:
        return self._http.policy

    @property
    def repository_url(self) -> httpx.URL:
        return self._http.repository_url

    def upload(
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
        resume: bool = True,
    ) -> File:
        if source is None:
            assert source_url is not None
            if wire_type == FETCH:
                return self._fetch(files_url, key, metadata, source_url, transfer_metadata)
            return self._remote(files_url, key, metadata, source_url, transfer_metadata)
        size = source.size
        self.check_size(key, size)
        adaptive = wire_type == AUTO
        wire_type = choose_upload_transfer(wire_type, size, offered)
        resumable = resume and isinstance(source, FileSource)
        parts = (
            upload_parts(size, transfer_metadata, resumable=resumable)
            if wire_type == MULTIPART
            else None
        )
        if self.multipart_refused:
            parts = None  # this repository took multipart at init and then refused it
        with upload_journal(self, files_url, key, source, parts) as journal:
            resumed = None
            if journal is not None and parts is not None:
                resumed = resume_point(
                    self, journal, files_url, size, parts, resume=resume
                )
            sending = Sending.start(source, size, None if parts is None else parts[1])
            start = 0 if resumed is None else resumed.confirmed_bytes
            with open_progress(progress, total=size, description=key, start=start) as bar:
                entry = None
                if parts is not None:
                    entry = upload_multipart(
                        self, files_url, key, metadata, sending, parts, bar, overwrite, adaptive,
                        journal=journal, resumed=resumed,
                    )
                    if entry is None:  # part uploads refused: the repository takes local only
                        bar.reset_to(0)
                if entry is None:
                    sending = sending.hashing_whole()
                    entry = self.send_local(
                        files_url, key, metadata, sending, bar, overwrite=overwrite
                    )
        return entry

    def check_size(self, key: str, size: int) -> None:
        if self._max_file_size is not None and size > self._max_file_size:
            raise LimitExceededError(
                f"{key!r} ({size:,} bytes) is larger than the {self._max_file_size:,} bytes "
                "the configuration allows for one file of this repository; nothing was sent",
                limit="file size",
                key=key,
            )

    # -- the transfer types ----------------------------------------------------------

    def send_local(
        self,
        files_url: str,
        key: str,
        metadata: dict[str, Any],
        sending: Sending,
        bar: Progress,
        *,
        overwrite: bool,
        created: File | None = None,
    ) -> File:
        """Send the whole source in one request, to ``created`` or to an entry made now."""
        rounds = self._http.policy.attempts
        for round_ in range(1, rounds + 1):
            entry = created or self.init(
                files_url, {"key": key, "metadata": metadata}, overwrite
            )
            created = None  # a later round makes its own
            with CleanupOnFailure(self, entry):
                content_url = entry.links.content or f"{entry_url(entry)}/content"
                try:
                    response = self.put_bytes(
                        content_url, sending.source, 0, sending.size, bar
                    )
                except RepositoryClientError as refused:
                    limit = limit_refusal(refused, key, sending.size)
                    if limit is not None:
                        raise limit from None
                    if refused.status == 413:
                        refused.message += (
                            "; the repository takes no single request this large: "
                            "transfer_type='multipart' (or 'auto') sends it in parts"
                        )
                    if not isinstance(refused, DoesNotExistError):
                        raise
                    # InvenioRDM deletes the entry of a content upload that broke off,
                    # so the retried PUT finds it gone: a new entry, and send again.
                    if round_ == rounds:
                        raise
                    logger.warning("the repository dropped %r after a broken upload; again", key)
                    bar.reset_to(0)
                    overwrite = False  # whatever stood under the key is gone
                    continue
                # InvenioRDM deletes the entry when it answers a content PUT this way.
                raise_for_failed_transfer(response.content, key)
                return self.commit_verified(entry, sending)
        raise AssertionError("unreachable: the last round returns or raises")

    def _fetch(
        self,
        files_url: str,
        key: str,
        metadata: dict[str, Any],
        url: str,
        transfer_metadata: dict[str, Any],
    ) -> File:
        timeout = float(transfer_metadata.get("timeout", _FETCH_TIMEOUT))
        init = {"key": key, "metadata": metadata, "transfer": {"type": FETCH, "url": url}}
        entry = self.init(files_url, init, overwrite=False)
        waited, pause = 0.0, _FETCH_POLL_FIRST
        with CleanupOnFailure(self, entry):
            while entry.status not in ("completed", "failed"):
                if waited >= timeout:
                    raise TransferError(
                        f"the repository did not finish fetching {key!r} within {timeout:g}s",
                        key=key,
                    )
                sleep(pause)
                waited += pause
                pause = min(pause * 2, _FETCH_POLL_MAX)
                entry = self.reread(entry)
            if entry.status == "failed":
                reason = entry.transfer.error if entry.transfer else None
                raise TransferError(
                    f"the repository could not fetch {key!r}: {reason or 'no reason given'}",
                    key=key,
                )
            return entry

    def _remote(
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
        return self.init(files_url, init, overwrite=False)

    # -- steps shared by the types ---------------------------------------------------

    def put_bytes(
        self, url: str, source: DataSource, offset: int, length: int, bar: Progress
    ) -> httpx.Response:
        """PUT one range of the source; a retry sends the range again from its start."""
        with slot():
            return self._http.request(
                "PUT",
                url,
                content=Body(source, offset, length, bar),
                # Chunked bodies are refused by some servers and S3 gateways: always a length.
                headers={"Content-Type": OCTET_STREAM, "Content-Length": str(length)},
            )

    def init(self, files_url: str, entry: dict[str, Any], overwrite: bool) -> File:
        """Create the file entry; an unfinished or (with overwrite) existing one is replaced.

        A creation whose answer was lost and retried finds the key taken by its
        own unfinished entry: that is replaced too, as often as the retry
        policy allows attempts.
        """
        key = entry["key"]
        rounds = self._http.policy.attempts
        for _ in range(rounds):
            try:
                body, _ = self.create_entries(files_url, [entry])
                break
            except RepositoryClientError as error:
                limit = limit_refusal(error, key, entry.get("size"))
                if limit is not None:
                    raise limit from None
                if error.status != 400 or "already exists" not in (error.server_message or ""):
                    raise
                existing = self._existing(files_url, key)
                if existing is not None and existing.status == "completed" and not overwrite:
                    raise ConflictError(
                        f"file {key!r} already exists on this record; delete it first "
                        "or pass overwrite=True",
                        status=error.status,
                        method=error.method,
                        url=error.url,
                    ) from None
                if existing is not None:
                    self._delete_replaced(existing)
                overwrite = False  # what stood there is gone; anything new is ours
        else:
            raise TransferError(
                f"could not create {key!r}: the key stayed taken after {rounds} tries",
                key=key,
            )
        created = entry_of(body, key)
        if created is None:
            raise TransferError(f"the repository did not list {key!r} after creating it", key=key)
        return created

    def create_entries(
        self, files_url: str, entries: list[dict[str, Any]]
    ) -> tuple[Any, httpx.Response]:
        return self.entries_of_drafts.create(files_url, entries)

    def read_entry(self, files_url: str, key: str) -> File | None:
        """The entry under ``key`` with all its links (part links too); None when absent."""
        try:
            body, _ = self._http.request_json("GET", join(files_url, quote_key(key)))
        except DoesNotExistError:
            return None
        return structure(body, File)

    def _existing(self, files_url: str, key: str) -> File | None:
        body, _ = self._http.request_json("GET", files_url)
        return entry_of(body, key)

    def entries(self, files_url: str) -> dict[str, File]:
        """Every entry of the draft, by key."""
        body, _ = self._http.request_json("GET", files_url)
        return {file.key: file for file in structure(body, FilesList)}

    def commit_verified(self, entry: File, sending: Sending) -> File:
        """Commit once the source's checksums are known, then compare: all while cleanup guards.

        A hash that fails (the source changed or could not be read) or an
        interruption while waiting for it leaves no committed, unverified file.
        """
        sending.hashed()
        committed = self.commit(entry)
        return self.verify(committed, sending)

    def commit(self, entry: File) -> File:
        commit_url = entry.links.commit or f"{entry_url(entry)}/commit"
        # Committing twice is harmless, so a lost answer may be retried.
        body, _ = self._http.request_json("POST", commit_url, idempotent=True)
        committed = structure(body, File)
        raise_for_failed_transfer(body, committed.key)
        return committed

    def reread(self, entry: File) -> File:
        body, _ = self._http.request_json("GET", entry_url(entry))
        return structure(body, File)

    def verify(self, entry: File, sending: Sending) -> File:
        key, size = entry.key, sending.size
        if entry.size is not None and entry.size != size:
            self.remove(entry)
            raise ChecksumMismatchError(
                f"the repository stored {entry.size} bytes of {key!r}, {size} were sent; "
                "the file was deleted from the draft",
                key=key,
                expected=md5_checksum(sending.md5.result()),
                actual=entry.checksum or "none",
            )
        if entry.checksum is None:
            entry = self._with_checksum(entry)
        expected = expected_checksum(entry.checksum)
        if expected is None:
            logger.warning(
                "the repository reported %s for %r: not verified",
                entry.checksum or "no checksum",
                key,
            )
            return entry
        sent = sending.digest_like(expected)
        if sent != expected.value:
            self.remove(entry)
            raise ChecksumMismatchError(
                f"the repository reports {entry.checksum} for {key!r} but "
                f"{expected.written(sent)} was sent; the file was deleted from the draft",
                key=key,
                expected=expected.written(sent),
                actual=entry.checksum or "none",
            )
        return entry

    def _with_checksum(self, entry: File) -> File:
        """The entry once its checksum is in: a background task may compute it after commit."""
        waited, pause = 0.0, _FETCH_POLL_FIRST
        while entry.checksum is None and waited < _CHECKSUM_WAIT:
            sleep(pause)
            waited += pause
            pause = min(pause * 2, _FETCH_POLL_MAX)
            entry = self.reread(entry)
        return entry

    def _delete_replaced(self, entry: File) -> None:
        # Not remove(): a file that stays would make the next try look like a conflict.
        # One that someone else removed meanwhile leaves the key free all the same.
        with contextlib.suppress(DoesNotExistError):
            self.entries_of_drafts.delete(entry_url(entry))

    def remove(self, entry: File) -> bool:
        try:
            self.entries_of_drafts.delete(entry_url(entry))
        except DoesNotExistError:
            return True  # the repository removed it itself, as after a failed content PUT
        except RepositoryError as error:
            logger.warning("could not remove unfinished file %r: %s", entry.key, error)
            return False
        return True
