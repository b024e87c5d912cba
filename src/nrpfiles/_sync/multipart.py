# Generated from src/nrpfiles/_async/multipart.py by scripts/gen_sync.py: do not edit.
# body-sha256: eeb293fed433c35e433dc6223fbfbddf6ecd2c54748137a57173c119b851a026
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

from nrpfiles._sync.upload_steps import (
    CleanupOnFailure,
    Sending,
    raise_for_failed_transfer,
)
from nrpfiles._sync.waves import in_waves
from nrpfiles._concurrency import Job, gather
from nrpfiles._transfer_plan import (
    DEFAULT_PARALLEL_PARTS,
    MULTIPART,
    S3_MIN_PART_SIZE,
)
from nrpfiles._urls import same_origin
from nrpfiles._widening import Widening
from nrpfiles.errors import (
    PermissionDeniedError,
    RepositoryError,
    RepositoryServerError,
    TransferError,
)
from nrpfiles.models import File
from nrpfiles.progress import Progress

if TYPE_CHECKING:
    from nrpfiles._sync.upload import Uploader

logger = logging.getLogger("nrpfiles")


def upload_multipart(
    uploader: Uploader,
    files_url: str,
    key: str,
    metadata: dict[str, Any],
    sending: Sending,
    plan: tuple[int, int],
    bar: Progress,
    overwrite: bool,
    adaptive: bool = False,
) -> File | None:
    """Upload in parallel parts; None when the repository refuses part uploads.

    ``adaptive`` (auto): as many parts at once as measured to pay.
    """
    count, part_size = plan
    init = {
        "key": key,
        "metadata": metadata,
        "size": sending.size,
        # Always the part size: without it S3 storage commits a checksum ending in
        # "-None" that can never be verified, and local storage refuses the init.
        "transfer": {"type": MULTIPART, "parts": count, "part_size": part_size},
    }
    entry = uploader.init(files_url, init, overwrite)
    if any(
        not same_origin(httpx.URL(link.url), uploader.repository_url) for link in entry.links.parts
    ):
        sending = sending.hashing_parts()  # storage will report S3's checksum of the parts
    upload = _PartsUpload(uploader, entry, sending, plan, bar)
    if sorted(upload.links) != list(range(1, count + 1)):
        uploader.remove(entry)
        raise TransferError(
            f"the repository offered part URLs {sorted(upload.links)} for {count} parts",
            key=key,
        )
    with CleanupOnFailure(uploader, entry):
        try:
            jobs = [upload.job(number) for number in range(1, count + 1)]
            if adaptive:
                size = sending.size
                in_waves(
                    jobs,
                    lambda wave: min(wave.stop * part_size, size) - wave.start * part_size,
                    Widening(DEFAULT_PARALLEL_PARTS),
                )
            else:
                gather(jobs, limit=DEFAULT_PARALLEL_PARTS)
        except PermissionDeniedError as refused:
            if not upload.refused_by_repository(refused):
                raise
            _give_up_multipart(uploader, entry)
            return None
        try:
            return uploader.commit_verified(entry, sending)
        except PermissionDeniedError as refused:
            if not upload.refused_by_repository(refused):
                raise
            _give_up_multipart(uploader, entry)
            return None
        except RepositoryServerError as error:
            committed = upload.completed_after_all(error)
            if committed is None:
                raise
            return committed


def _give_up_multipart(uploader: Uploader, entry: File) -> None:
    """The repository refused multipart after taking it at init: the caller goes local."""
    uploader.refuse_multipart(entry.key)
    uploader.remove(entry)
    return None


class _PartsUpload:
    """The parts of one multipart upload, their current URLs, and what went wrong with them."""

    def __init__(
        self,
        uploader: Uploader,
        entry: File,
        sending: Sending,
        plan: tuple[int, int],
        bar: Progress,
    ) -> None:
        self._uploader = uploader
        self._entry = entry
        self._sending = sending
        self._count, self._part_size = plan
        self._bar = bar
        self.links = {link.part: link.url for link in entry.links.parts}

    def job(self, number: int) -> Job[None]:
        def send() -> None:
            self._send(number)

        return send

    def refused_by_repository(self, error: PermissionDeniedError) -> bool:
        """A 403 from the repository's own API, not from storage on a presigned URL."""
        return error.url is None or self._on_repository(error.url)

    def completed_after_all(self, error: RepositoryServerError) -> File | None:
        """After a failed commit: the file if it did complete, else the error explained.

        InvenioRDM on S3 answers a bare 500 when storage refuses to complete
        the upload (a part missing, or under S3's 5 MiB minimum); the entry stays
        pending. A commit whose answer was lost also lands here on its retry.
        """
        key = self._entry.key
        try:
            entry = self._uploader.reread(self._entry)
        except RepositoryError:
            entry = None
        if entry is not None and entry.status == "completed":
            return self._uploader.verify(entry, self._sending)
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

    def _send(self, number: int) -> None:
        offset = (number - 1) * self._part_size
        length = min(self._part_size, self._sending.size - offset)
        attempts = self._uploader.policy.attempts
        for attempt in range(1, attempts + 1):
            url = self.links[number]
            try:
                response = self._uploader.put_bytes(
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
                self._refresh_links()
                continue
            raise_for_failed_transfer(response.content, self._entry.key)
            return

    def _refresh_links(self) -> None:
        # Reading the entry again re-signs its part URLs (invenio-s3 does so on every read).
        fresh = self._uploader.reread(self._entry)
        self.links.update({link.part: link.url for link in fresh.links.parts})

    def _on_repository(self, url: str) -> bool:
        return same_origin(httpx.URL(url), self._uploader.repository_url)

