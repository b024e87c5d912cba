"""``client.files.open()``: a repository file read as a stream, verified as its bytes pass.

Nothing touches the disk: bytes go from the response to the caller. The
checksum the repository reports (``md5:``, or S3's ``multipart:`` composite,
whose part size it names) is recomputed as the bytes pass and compared when
the stream ends, so a mismatch is raised after the caller has had every byte:
whoever serves them on must treat what they sent as suspect. A body that
breaks off is asked for again from the byte where it stopped.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING

import httpx

from nrpfiles._async.http import AsyncHttp
from nrpfiles._checksums import ExpectedChecksum, expected_checksum
from nrpfiles._concurrency import AsyncJob, async_run_in_thread, async_sleep
from nrpfiles._reader_base import AsyncReaderBase
from nrpfiles._stream_hasher import StreamHasher
from nrpfiles.errors import ChecksumMismatchError, TransferError
from nrpfiles.limits import async_slot
from nrpfiles.models import File

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from typing_extensions import Self

logger = logging.getLogger("nrpfiles")

# A body that stops early: asked for again from the last byte handed out.
_BROKEN_BODY = (httpx.TransportError, httpx.StreamError)


class AsyncFileReader(AsyncReaderBase):
    """A repository file as a readable binary stream; get one from ``client.files.open()``.

    The request goes out on entering its ``with`` block (or on :meth:`start`,
    or the first read); leaving the block, or closing the reader, releases
    the connection. :attr:`file` is the file's entry, :attr:`size` its length.
    When the last byte has been read, the checksum is compared and a
    mismatch raises :class:`~nrpfiles.errors.ChecksumMismatchError`: the
    bytes already read are then not the repository's file. A stream closed
    before its end is not verified.
    """

    def __init__(self, http: AsyncHttp, resolve: AsyncJob[File], file: File | None = None) -> None:
        self._http = http
        self._resolve = resolve
        self._file = file
        self._stack: AsyncExitStack | None = None
        self._chunks: AsyncIterator[bytes] | None = None
        self._pending = memoryview(b"")
        self._position = 0
        self._expected: ExpectedChecksum | None = None
        self._hasher: StreamHasher | None = None
        self._etag: str | None = None
        self._ended = False
        self._mismatch: ChecksumMismatchError | None = None
        self._closed = False

    @property
    def file(self) -> File:
        """The file's entry, as read when the stream started."""
        if self._file is None:
            raise ValueError("the file is not known until the stream starts (enter its block)")
        return self._file

    @property
    def size(self) -> int | None:
        """The file's length in bytes, as the repository reports it."""
        return self.file.size

    @property
    def closed(self) -> bool:
        return self._closed

    async def start(self) -> AsyncFileReader:
        """Send the request now, so that a missing file raises here rather than on a read."""
        if self._closed:
            raise ValueError("I/O operation on a closed file reader")
        # once the end was read the stream is done: asking again for a range from the
        # end would get 416 where ranges are honoured (S3)
        if self._stack is None and not self._ended:
            if self._file is None:
                self._file = await self._resolve()
            self._prepare(self._file)
            self._stack = AsyncExitStack()
            try:
                await self._stack.enter_async_context(async_slot())
                await self._request()
            except BaseException:
                await self.aclose()
                raise
        return self

    async def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when negative); fewer only at the end."""
        await self.start()
        if size is None or size < 0:
            pieces = [bytes(piece) async for piece in self._pieces(None)]
            return b"".join(pieces)
        pieces, wanted = [], size
        while wanted > 0:
            try:
                piece = await self._next_piece(wanted)
            except ChecksumMismatchError:
                if not pieces:
                    raise
                break  # the bytes before the end go out first; the next read raises
            if not piece:
                break
            pieces.append(bytes(piece))
            wanted -= len(piece)
        return b"".join(pieces)

    async def readinto(self, buffer: WriteableBuffer) -> int:
        """Fill ``buffer`` with the next bytes (one network chunk at most); 0 at the end."""
        await self.start()
        view = memoryview(buffer).cast("B")
        piece = await self._next_piece(len(view))
        view[: len(piece)] = piece
        return len(piece)

    async def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """The rest of the file in chunks: as they arrive, or of ``chunk_size`` bytes each."""
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        await self.start()
        if chunk_size is None:
            async for piece in self._pieces(None):
                yield bytes(piece)
            return
        while True:
            chunk = await self.read(chunk_size)
            if not chunk:
                return
            yield chunk

    async def aclose(self) -> None:
        """Release the connection; reading afterwards raises ``ValueError``."""
        self._closed = True
        if self._hasher is not None and not self._ended:
            self._hasher.cancel()  # not read to its end: nothing to verify
        stack, self._stack, self._chunks = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        key = self._file.key if self._file is not None else "?"
        state = "closed" if self._closed else f"at byte {self._position}"
        return f"<{type(self).__name__} {key!r} {state}>"

    # -- the stream ------------------------------------------------------------------

    def _prepare(self, file: File) -> None:
        if file.status not in (None, "completed"):
            raise TransferError(
                f"file {file.key!r} is {file.status}, not completed: it has no content "
                "to read yet",
                key=file.key,
            )
        self._expected = expected_checksum(file.checksum)
        if self._expected is None:
            logger.warning(
                "%r has no checksum the client can recompute in the repository (%s): "
                "not verified",
                file.key,
                file.checksum or "none",
            )
        else:
            # On its own thread, so hashing overlaps reading; stopped if the reader is dropped.
            self._hasher = StreamHasher(self._expected.new_digest())
            weakref.finalize(self, self._hasher.cancel)

    def _content_url(self) -> str:
        file = self.file
        url = file.links.content or (f"{file.links.self_}/content" if file.links.self_ else None)
        if url is None:
            raise ValueError(f"file {file.key!r} has no content link; read it from the repository")
        return url

    async def _request(self) -> None:
        """Open the response that carries the bytes from the current position on."""
        assert self._stack is not None
        headers = {"Accept": "*/*"}
        if self._position:
            headers["Range"] = f"bytes={self._position}-"
            if self._etag and not self._etag.startswith("W/"):
                headers["If-Match"] = self._etag  # the rest must come from the same version
        response = await self._stack.enter_async_context(
            self._http.stream("GET", self._content_url(), headers=headers)
        )
        self._etag = self._etag or response.headers.get("ETag")
        encoded = response.headers.get("Content-Encoding", "identity") != "identity"
        chunks = response.aiter_bytes() if encoded else response.aiter_raw()
        skip = self._position if response.status_code != 206 else 0
        if response.status_code == 206:
            expected_start = f"bytes {self._position}-"
            if not response.headers.get("Content-Range", "").startswith(expected_start):
                raise TransferError(
                    f"the repository answered {response.headers.get('Content-Range')!r} "
                    f"when asked for the rest of {self.file.key!r} from byte {self._position}",
                    key=self.file.key,
                )
        self._chunks = _skipping(chunks, skip) if skip else chunks

    async def _pieces(self, limit: int | None) -> AsyncIterator[memoryview]:
        while True:
            piece = await self._next_piece(limit)
            if not piece:
                return
            yield piece

    async def _next_piece(self, limit: int | None) -> memoryview:
        """The next bytes, at most ``limit``; empty at the verified end."""
        if self._closed:
            raise ValueError("I/O operation on a closed file reader")
        if not self._pending:
            chunk = None if self._ended else await self._next_chunk()
            if chunk is None:
                if not self._ended:
                    await self._finish()
                if self._mismatch is not None:
                    raise self._mismatch  # on every read after the end, not only the first
                return memoryview(b"")
            if self._hasher is not None and not self._hasher.offer(chunk):
                hasher = self._hasher
                await async_run_in_thread(lambda: hasher.put(chunk))
            self._position += len(chunk)
            self._pending = memoryview(chunk)
        cut = len(self._pending) if limit is None else min(limit, len(self._pending))
        piece, self._pending = self._pending[:cut], self._pending[cut:]
        return piece

    async def _next_chunk(self) -> bytes | None:
        """The next chunk off the wire, None at the end; a broken body is resumed."""
        failures, furthest = 0, self._position
        while True:
            try:
                return await self._chunk_or_end()
            except _BROKEN_BODY as error:
                failures = 1 if self._position > furthest else failures + 1
                furthest = max(furthest, self._position)
                attempts = self._http.policy.attempts
                if failures >= attempts:
                    raise TransferError(
                        f"reading {self.file.key!r} kept breaking ({error!r}); gave up after "
                        f"{failures} attempts at byte {self._position}",
                        key=self.file.key,
                    ) from None
                logger.warning(
                    "reading %r broke at byte %d (%s); resuming",
                    self.file.key,
                    self._position,
                    type(error).__name__,
                )
                await async_sleep(self._http.policy.backoff(failures))
                await self._reopen()

    async def _chunk_or_end(self) -> bytes | None:
        assert self._chunks is not None
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            size = self.file.size
            if size is not None and self._position < size:
                raise httpx.RemoteProtocolError(
                    f"response ended at byte {self._position} of {size}"
                ) from None
            return None
        size = self.file.size
        if size is not None and self._position + len(chunk) > size:
            raise TransferError(
                f"the repository sent more bytes of {self.file.key!r} than its {size}",
                key=self.file.key,
            )
        return chunk

    async def _reopen(self) -> None:
        stack, self._stack, self._chunks = self._stack, AsyncExitStack(), None
        if stack is not None:
            await stack.aclose()
        await self._stack.enter_async_context(async_slot())
        await self._request()

    async def _finish(self) -> None:
        """The stream ended: compare checksums, release the connection."""
        self._ended = True
        stack, self._stack, self._chunks = self._stack, None, None
        if stack is not None:
            await stack.aclose()
        if self._hasher is None or self._expected is None:
            return
        actual = await async_run_in_thread(self._hasher.hexdigest)
        if actual != self._expected.value:
            file = self.file
            self._mismatch = ChecksumMismatchError(
                f"{file.key!r} was read with checksum {self._expected.written(actual)}, the "
                f"repository reports {file.checksum}: the bytes already read are not its file",
                key=file.key,
                expected=self._expected.written(self._expected.value),
                actual=self._expected.written(actual),
            )


async def _skipping(chunks: AsyncIterator[bytes], skip: int) -> AsyncIterator[bytes]:
    """The chunks after the first ``skip`` bytes: a server that ignored Range resends them."""
    async for chunk in chunks:
        if skip >= len(chunk):
            skip -= len(chunk)
            continue
        yield chunk[skip:] if skip else chunk
        skip = 0
