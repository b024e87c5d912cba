"""Downloads: one stream or parallel ranges, resumed where they break, verified before publishing."""

from __future__ import annotations

import logging

from nrpfiles._async.http import AsyncHttp
from nrpfiles._async.ranged_download import AsyncRangedDownload
from nrpfiles._checksums import ExpectedChecksum, expected_checksum
from nrpfiles._concurrency import async_ranges_on_threads, async_run_in_thread
from nrpfiles._partial_download import ResumableFileWriter, ResumePoint, open_download_writer
from nrpfiles._trailing_hasher import TrailingHasher
from nrpfiles._transfer_plan import DEFAULT_PARALLEL_PARTS, download_ranges
from nrpfiles._widening import Widening
from nrpfiles.errors import ChecksumMismatchError, ConflictError, TransferError
from nrpfiles.models import File
from nrpfiles.progress import ProgressSpec, open_progress
from nrpfiles.streams import DataSink, FileSink, SinkWriter

logger = logging.getLogger("nrpfiles")


class AsyncDownloader:
    def __init__(self, http: AsyncHttp) -> None:
        self._http = http

    async def download(
        self,
        file: File,
        sink: DataSink,
        *,
        parts: int | None,
        part_size: int | None,
        progress: ProgressSpec,
        resume: bool = True,
    ) -> None:
        """Fill ``sink`` with the file's content; the sink is committed only when verified.

        A file target continues what an earlier, interrupted download of the same
        remote file left beside it (see ``nrpfiles._partial_download``); when the
        remote file turns out to have changed, the download starts over once.
        """
        if file.status not in (None, "completed"):
            # InvenioRDM answers the content of an unfinished file with 403 or a bare 500.
            raise TransferError(
                f"file {file.key!r} is {file.status}, not completed: it has no content "
                "to download yet",
                key=file.key,
            )
        spans = download_ranges(
            file.size, parts, part_size, resumable=resume and isinstance(sink, FileSink)
        )
        url = file.links.content or (f"{file.links.self_}/content" if file.links.self_ else None)
        if url is None:
            raise ValueError(f"file {file.key!r} has no content link; read it from the repository")
        expected = expected_checksum(file.checksum)
        if expected is None:
            logger.warning(
                "%r has no checksum the client can recompute in the repository (%s): not verified",
                file.key,
                file.checksum or "none",
            )
        auto = parts is None and part_size is None  # as many ranges at once as pay, measured
        writer, resumed = open_download_writer(sink, file, url, resume=resume)
        if resumed is not None:
            try:
                await self._into(file, url, writer, spans, expected, progress, auto, resumed)
                return
            except _ResumedAnotherVersion as changed:
                logger.warning("%s; downloading %r from the start", changed, file.key)
            # The leftovers are gone: this writer starts empty, and resumable again.
            writer, _ = open_download_writer(sink, file, url, resume=True)
        await self._into(file, url, writer, spans, expected, progress, auto, None)

    async def _into(
        self,
        file: File,
        url: str,
        writer: SinkWriter,
        spans: list[tuple[int, int]],
        expected: ExpectedChecksum | None,
        progress: ProgressSpec,
        auto: bool,
        resumed: ResumePoint | None,
    ) -> None:
        hasher = (
            None
            if expected is None
            else TrailingHasher(
                writer.read_back,
                expected.new_digest(),
                copy_chunks=async_ranges_on_threads() and len(spans) > 1,
            )
        )
        start = 0 if resumed is None else resumed.bytes_on_disk
        if resumed is not None:
            logger.info("resuming the download of %r at byte %d", file.key, start)
        try:
            with open_progress(progress, total=file.size, description=file.key, start=start) as bar:
                transfer = AsyncRangedDownload(
                    self._http, url, file, writer, spans, hasher, bar, resumed
                )
                if auto:
                    transfer.widening = Widening(DEFAULT_PARALLEL_PARTS)
                await transfer.run()
            if hasher is not None and expected is not None:
                total = transfer.total_written
                if hasher.inline:  # a small file: hashing it costs less than a hand-off
                    actual = hasher.hexdigest(total)
                else:
                    actual = await async_run_in_thread(lambda: hasher.hexdigest(total))
                if actual != expected.value:
                    if resumed is not None:
                        raise _ResumedAnotherVersion(
                            f"the resumed download of {file.key!r} did not verify"
                        )
                    raise ChecksumMismatchError(
                        f"{file.key!r} arrived with checksum {expected.written(actual)}, the "
                        f"repository reports {file.checksum}; nothing was written to the target",
                        key=file.key,
                        expected=expected.written(expected.value),
                        actual=expected.written(actual),
                    )
            writer.commit()
        except BaseException as error:
            if hasher is not None:
                hasher.cancel()
            if isinstance(writer, ResumableFileWriter) and _spoilt(error):
                writer.discard()
                if resumed is not None and isinstance(error, ConflictError):
                    raise _ResumedAnotherVersion(
                        f"the remote file {file.key!r} changed since the partial download"
                    ) from None
            else:
                writer.abort()
            raise


class _ResumedAnotherVersion(Exception):
    """The bytes a resumed download continued were of another version of the file."""


def _spoilt(error: BaseException) -> bool:
    """Whether a partial download is worth nothing after ``error``.

    A 412 means the ETag pinned (by this download or the one it continues) no
    longer names the file; a mismatch means the bytes cannot be trusted.
    Anything else (a break, a kill, Ctrl-C) leaves bytes worth continuing.
    """
    if isinstance(error, (ChecksumMismatchError, _ResumedAnotherVersion)):
        return True
    return isinstance(error, ConflictError) and error.status == 412
