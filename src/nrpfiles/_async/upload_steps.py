"""What every upload type shares: the source being sent, its body, its checksums, cleanup."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import attrs

from nrpfiles._checksums import ExpectedChecksum, md5_of_source, parted_md5_of_source
from nrpfiles._concurrency import BackgroundJob, async_run_in_thread, async_stop_point
from nrpfiles.errors import ChecksumMismatchError, RepositoryError, TransferError
from nrpfiles.models import File, FilesList, structure
from nrpfiles.progress import Progress
from nrpfiles.streams import DataSource

if TYPE_CHECKING:
    from nrpfiles._async.upload import AsyncUploader

logger = logging.getLogger("nrpfiles")

_SEND_CHUNK = 4 << 20


@attrs.frozen
class Sending:
    """What is being uploaded: the source, its size when planned, and its checksums in the making.

    Each checksum is computed from its own reader on its own thread, beside the
    sending: the MD5, and for parts that go to S3 storage the composite S3
    computes over them instead, so a ``multipart:`` checksum can be verified.
    There the MD5 waits until it is asked for: S3 reports the composite, and
    until a background task replaces it with the MD5 (then the MD5 is computed
    after the commit) a second hash of every byte would only take a core from
    the sending and from the storage.
    """

    source: DataSource
    size: int
    md5: BackgroundJob[str]
    part_size: int | None = None
    parted: BackgroundJob[str] | None = None

    @classmethod
    def start(cls, source: DataSource, size: int, part_size: int | None) -> Sending:
        """Parts (a ``part_size``) may go to storage: their MD5 starts once that is known."""
        md5 = BackgroundJob(
            lambda: md5_of_source(source, size), name="nrpfiles-md5", start=part_size is None
        )
        return cls(source, size, md5, part_size)

    def hashing_whole(self) -> Sending:
        """Hash the whole source beside the sending (the repository reports its MD5)."""
        self.md5.start()
        return self

    def hashing_parts(self) -> Sending:
        """Also hash the parts as S3 does, beside the sending, for parts that go to storage.

        A repository that takes the parts itself assembles the file and reports its
        MD5: a second hash of every byte would only take a core from the first.
        """
        source, size, part_size = self.source, self.size, self.part_size
        assert part_size is not None
        parted = BackgroundJob(
            lambda: parted_md5_of_source(source, size, part_size), name="nrpfiles-md5-parts"
        )
        return attrs.evolve(self, parted=parted)

    async def hashed(self) -> None:
        if self.parted is None or self.md5.started:
            await self.md5.async_result()
        if self.parted is not None:
            await self.parted.async_result()

    async def digest_like(self, expected: ExpectedChecksum) -> str:
        """What the sent bytes give under the algorithm that made ``expected``."""
        if expected.part_size is None:
            return await self.md5.async_result()
        if self.parted is not None and expected.part_size == self.part_size:
            return await self.parted.async_result()
        part_size = expected.part_size
        return await async_run_in_thread(
            lambda: parted_md5_of_source(self.source, self.size, part_size)
        )


class CleanupOnFailure:
    """On failure, delete the unfinished entry and say so in the error."""

    def __init__(
        self, uploader: AsyncUploader, entry: File, *, keep_when_interrupted: bool = False
    ) -> None:
        self._uploader = uploader
        self._entry = entry
        # A journaled upload stopped by Ctrl-C or cancellation is resumed, not removed.
        self._keep_when_interrupted = keep_when_interrupted

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, exc_type: Any, error: BaseException | None, tb: Any) -> None:
        if error is None or isinstance(error, ChecksumMismatchError):
            return
        if self._keep_when_interrupted and not isinstance(error, Exception):
            logger.warning(
                "the upload of %r was interrupted; its unfinished entry stays pending on "
                "the draft, and uploading the same file again resumes it",
                self._entry.key,
            )
            return
        removed = await self._uploader.remove(self._entry)
        if isinstance(error, RepositoryError):
            error.message += (
                f"; the unfinished file {self._entry.key!r} was removed from the draft"
                if removed
                else f"; the unfinished file {self._entry.key!r} could not be removed"
            )


class AsyncBody:
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
        left = self._length
        while left > 0:  # not one more hand-off only to learn the source has ended
            # A read from a slow disk must not stall the event loop of an asyncio service.
            chunk = await async_run_in_thread(lambda: next(chunks, None))
            if chunk is None:
                return
            left -= len(chunk)
            await async_stop_point()
            yield chunk
            self._sent += len(chunk)
            self._bar.advance(len(chunk))


def raise_for_failed_transfer(body: Any, key: str) -> None:
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


def entry_of(files_list: Any, key: str) -> File | None:
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


def entry_url(entry: File) -> str:
    if not entry.links.self_:
        raise TransferError(f"the repository gave no link for {entry.key!r}", key=entry.key)
    return entry.links.self_
