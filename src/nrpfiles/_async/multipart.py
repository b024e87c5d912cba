"""Multipart uploads (M): parts in parallel, straight to storage where the repository presigns them.

Two kinds of refusal look alike and mean different things. A 403 from the
repository's own part endpoint (Zenodo takes multipart at init and then
refuses every part) means "upload this file locally instead". A 403 from
storage on a presigned part URL (expired, or a bad signature) means "ask the
repository for fresh part links and send the part again".
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import httpx

from nrpfiles._async.resume_upload import ResumedUpload
from nrpfiles._async.upload_steps import (
    CleanupOnFailure,
    Sending,
    raise_for_failed_transfer,
)
from nrpfiles._async.waves import async_in_waves
from nrpfiles._concurrency import AsyncJob, async_gather
from nrpfiles._transfer_plan import (
    DEFAULT_PARALLEL_PARTS,
    MULTIPART,
    S3_MIN_PART_SIZE,
)
from nrpfiles._upload_journal import UploadJournal
from nrpfiles._urls import same_origin
from nrpfiles._widening import Widening
from nrpfiles.errors import (
    PermissionDeniedError,
    RepositoryClientError,
    RepositoryError,
    RepositoryServerError,
    TransferError,
)
from nrpfiles.models import File
from nrpfiles.progress import Progress

if TYPE_CHECKING:
    from nrpfiles._async.upload import AsyncUploader

logger = logging.getLogger("nrpfiles")


async def async_upload_multipart(
    uploader: AsyncUploader,
    files_url: str,
    key: str,
    metadata: dict[str, Any],
    sending: Sending,
    plan: tuple[int, int],
    bar: Progress,
    overwrite: bool,
    adaptive: bool = False,
    *,
    journal: UploadJournal | None = None,
    resumed: ResumedUpload | None = None,
) -> File | None:
    """Upload in parallel parts; None when the repository refuses part uploads.

    ``adaptive`` (auto): as many parts at once as measured to pay.
    With a ``journal`` every confirmed part is recorded, and an interrupted
    upload leaves its entry pending for the next one to continue; ``resumed``
    is such an entry, of which only the parts not confirmed are sent.
    """
    if resumed is not None:
        hashed = _hashing_parts_for_storage(uploader, resumed.entry, sending)
        upload = _PartsUpload(uploader, resumed.entry, hashed, plan, bar, journal)
        try:
            return await _send_and_commit(uploader, upload, resumed.confirmed, journal, adaptive)
        except RepositoryServerError as refused:
            # A part in flight when the last run died may have reached storage after
            # all, and is sent again. S3 replaces it; SeaweedFS keeps both, and
            # invenio-s3 then counts more parts than the file has and refuses the
            # commit. The entry is gone by now: once more, from the first byte.
            logger.warning(
                "the repository refused to complete the resumed upload of %r (HTTP %s); "
                "starting over",
                key,
                refused.status,
            )
            bar.reset_to(0)
            overwrite = True  # a pending entry left under the key is this upload's own
    count, part_size = plan
    init = {
        "key": key,
        "metadata": metadata,
        "size": sending.size,
        # Always the part size: without it S3 storage commits a checksum ending in
        # "-None" that can never be verified, and local storage refuses the init.
        "transfer": {"type": MULTIPART, "parts": count, "part_size": part_size},
    }
    entry = await uploader.init(files_url, init, overwrite)
    sending = _hashing_parts_for_storage(uploader, entry, sending)
    upload = _PartsUpload(uploader, entry, sending, plan, bar, journal)
    if sorted(upload.links) != list(range(1, count + 1)):
        await uploader.remove(entry)
        raise TransferError(
            f"the repository offered part URLs {sorted(upload.links)} for {count} parts",
            key=key,
        )
    if journal is not None:
        journal.begin(entry)
    return await _send_and_commit(uploader, upload, frozenset(), journal, adaptive)


def _hashing_parts_for_storage(uploader: AsyncUploader, entry: File, sending: Sending) -> Sending:
    """Parts that go to storage: S3 will report the checksum of the parts, hash them."""
    if any(
        not same_origin(httpx.URL(link.url), uploader.repository_url) for link in entry.links.parts
    ):
        return sending.hashing_parts()
    return sending.hashing_whole()


async def _send_and_commit(
    uploader: AsyncUploader,
    upload: _PartsUpload,
    confirmed: frozenset[int],
    journal: UploadJournal | None,
    adaptive: bool,
) -> File | None:
    """Send the parts not yet confirmed, then commit and verify, all under cleanup.

    A journaled upload that is interrupted (Ctrl-C, a cancelled task) keeps its
    pending entry and journal for the next upload to continue; any other end
    forgets the journal.
    """
    entry = upload.entry
    missing = [number for number in range(1, upload.count + 1) if number not in confirmed]
    try:
        async with CleanupOnFailure(uploader, entry, keep_when_interrupted=journal is not None):
            committed = await _parts_then_commit(uploader, upload, missing, adaptive)
    except Exception:
        if journal is not None:
            journal.forget()
        raise
    if journal is not None:
        journal.forget()
    return committed


async def _parts_then_commit(
    uploader: AsyncUploader, upload: _PartsUpload, missing: list[int], adaptive: bool
) -> File | None:
    entry = upload.entry
    try:
        jobs = [upload.job(number) for number in missing]
        if adaptive:
            size, part_size = upload.sending.size, upload.part_size

            def moved(wave: slice) -> int:
                return sum(min(part_size, size - (n - 1) * part_size) for n in missing[wave])

            await async_in_waves(jobs, moved, Widening(DEFAULT_PARALLEL_PARTS))
        else:
            await async_gather(jobs, limit=DEFAULT_PARALLEL_PARTS)
    except PermissionDeniedError as refused:
        if not upload.refused_by_repository(refused):
            raise
        await _give_up_multipart(uploader, entry)
        return None
    try:
        return await uploader.commit_verified(entry, upload.sending)
    except PermissionDeniedError as refused:
        if not upload.refused_by_repository(refused):
            raise
        await _give_up_multipart(uploader, entry)
        return None
    except RepositoryServerError as error:
        committed = await upload.completed_after_all(error)
        if committed is None:
            raise
        return committed


async def _give_up_multipart(uploader: AsyncUploader, entry: File) -> None:
    """The repository refused multipart after taking it at init: the caller goes local."""
    uploader.refuse_multipart(entry.key)
    await uploader.remove(entry)
    return None


class _PartsUpload:
    """The parts of one multipart upload, their current URLs, and what went wrong with them."""

    def __init__(
        self,
        uploader: AsyncUploader,
        entry: File,
        sending: Sending,
        plan: tuple[int, int],
        bar: Progress,
        journal: UploadJournal | None = None,
    ) -> None:
        self._uploader = uploader
        self._entry = entry
        self._sending = sending
        self._count, self._part_size = plan
        self._bar = bar
        self._journal = journal
        self.links = {link.part: link.url for link in entry.links.parts}

    @property
    def entry(self) -> File:
        return self._entry

    @property
    def sending(self) -> Sending:
        return self._sending

    @property
    def count(self) -> int:
        return self._count

    @property
    def part_size(self) -> int:
        return self._part_size

    def job(self, number: int) -> AsyncJob[None]:
        async def send() -> None:
            await self._send(number)

        return send

    def refused_by_repository(self, error: PermissionDeniedError) -> bool:
        """A 403 from the repository's own API, not from storage on a presigned URL."""
        return error.url is None or self._on_repository(error.url)

    async def completed_after_all(self, error: RepositoryServerError) -> File | None:
        """After a failed commit: the file if it did complete, else the error explained.

        InvenioRDM on S3 answers a bare 500 when storage refuses to complete
        the upload (a part missing, or under S3's 5 MiB minimum); the entry stays
        pending. A commit whose answer was lost also lands here on its retry.
        """
        key = self._entry.key
        try:
            entry = await self._uploader.reread(self._entry)
        except RepositoryError:
            entry = None
        if entry is not None and entry.status == "completed":
            return await self._uploader.verify(entry, self._sending)
        if self._count > 1 and self._part_size < S3_MIN_PART_SIZE:
            cause = (
                f"storage refuses parts under {S3_MIN_PART_SIZE} bytes but the last, "
                f"and these were {self._part_size} bytes"
            )
        else:
            cause = "storage did not confirm every part in full"
        state = entry.status if entry is not None else "unknown"
        error.message = (
            f"the repository could not complete the multipart upload of {key!r} "
            f"({error.server_message or 'no reason given'}); the file is {state}: {cause}"
        )
        return None

    async def _send(self, number: int) -> None:
        offset = (number - 1) * self._part_size
        length = min(self._part_size, self._sending.size - offset)
        attempts = self._uploader.policy.attempts
        for attempt in range(1, attempts + 1):
            url = self.links[number]
            try:
                response = await self._uploader.put_bytes(
                    url, self._sending.source, offset, length, self._bar
                )
            except PermissionDeniedError as error:
                if self._on_repository(url) or attempt == attempts:
                    raise
                logger.warning(
                    "storage refused part %d of %r (%s); asking for fresh part links",
                    number,
                    self._entry.key,
                    error.server_message or error.status,
                )
                await self._refresh_links()
                continue
            except RepositoryClientError as refused:
                if refused.status == 413:
                    refused.message += (
                        f"; the repository takes no single request of {length} bytes "
                        "(InvenioRDM: none above 100 MiB): send smaller parts "
                        "(a smaller part_size, or more parts)"
                    )
                raise
            raise_for_failed_transfer(response.content, self._entry.key)
            if self._journal is not None:
                self._journal.confirm(number)
            return

    async def _refresh_links(self) -> None:
        # Reading the entry again re-signs its part URLs (invenio-s3 does so on every read).
        fresh = await self._uploader.reread(self._entry)
        self.links.update({link.part: link.url for link in fresh.links.parts})

    def _on_repository(self, url: str) -> bool:
        return same_origin(httpx.URL(url), self._uploader.repository_url)

