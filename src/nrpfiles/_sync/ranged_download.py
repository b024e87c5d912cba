# Generated from src/nrpfiles/_async/ranged_download.py by scripts/gen_sync.py: do not edit.
# body-sha256: 5267158ecabb5f1c53c6ab3bc247551b67b8c74316e6f9e18da6d83379dff1df
"""One download in flight: its byte ranges, the ETag that pins them, the writer and the hasher."""

from __future__ import annotations

import logging
import re
import threading
from contextlib import ExitStack
from functools import partial

import httpx

from nrpfiles._sync.http import Http
from nrpfiles._sync.waves import in_waves
from nrpfiles._concurrency import (
    Job,
    gather,
    ranges_on_threads,
    run_in_thread,
    sleep,
    stop_point,
    wait_in_thread,
)
from nrpfiles._download_range import DownloadRange
from nrpfiles._partial_download import ResumableFileWriter, ResumePoint
from nrpfiles._trailing_hasher import TrailingHasher
from nrpfiles._transfer_plan import DEFAULT_PARALLEL_PARTS
from nrpfiles._urls import same_origin
from nrpfiles._widening import Widening
from nrpfiles._write_behind import WriteBehind
from nrpfiles.errors import PermissionDeniedError, RepositoryClientError, TransferError
from nrpfiles.limits import slot
from nrpfiles.models import File
from nrpfiles.progress import Progress
from nrpfiles.streams import SinkWriter

logger = logging.getLogger("nrpfiles")

_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
# A body that stops early: the next request resumes from the last byte written.
_BROKEN_BODY = (httpx.TransportError, httpx.StreamError)
# How long a range waits for its turn before it looks again whether the jobs before it have
# taken their places; a stop (cancel, a failure) ends the wait at once.
_TURN_WAIT = 0.25


class RangedDownload:
    """Fetches a download's ranges into its writer; the downloader verifies and commits."""

    def __init__(
        self,
        http: Http,
        url: str,
        file: File,
        writer: SinkWriter,
        spans: list[tuple[int, int]],
        hasher: TrailingHasher | None,
        bar: Progress,
        resumed: ResumePoint | None = None,
    ) -> None:
        self._http = http
        self._url = url
        self._key = file.key
        self._size = file.size
        self._writer = writer
        self._hasher = hasher
        self._bar = bar
        self._ranges = [
            DownloadRange(start, end if file.size is not None else None) for start, end in spans
        ]
        self._etag: str | None = None
        # Where the repository redirected the first request (a presigned storage URL):
        # the other ranges go there at once, not through the repository each time.
        self._storage_url: str | None = None
        if resumed is not None:
            # The ranges of the download continued, and the version its bytes are of.
            self._ranges = [DownloadRange.resumed(*state) for state in resumed.ranges]
            self._etag = resumed.etag
        self._front = 0  # index of the first range not yet complete
        self._front_lock = threading.Lock()
        self.widening: Widening | None = None  # None: DEFAULT_PARALLEL_PARTS at once
        self._checkpoint = writer if isinstance(writer, ResumableFileWriter) else None
        # Ranges sharing an event loop write on a thread; ranges on threads write themselves.
        # A hash has the other core already: a writing thread would only compete with it
        # (parallel verified downloads 0.48 against 0.52 GB/s on two cores).
        self._write_behind = (
            None
            if ranges_on_threads() or hasher is not None
            else WriteBehind(writer.write_at)
        )
        self._streaming: set[DownloadRange] = set()  # ranges whose response is being read
        # Ranges whose job took its place, began fetching, or another job took in (_begin).
        self._started: set[DownloadRange] = set()
        self._begun: set[DownloadRange] = set()
        self._taken_in: set[DownloadRange] = set()
        if self._checkpoint is not None:
            self._checkpoint.follow(self._progress_state)

    @property
    def total_written(self) -> int:
        return sum(r.written for r in self._ranges)

    def _progress_state(self) -> tuple[list[tuple[int, int | None, int]], str | None]:
        # Saved from the threads that write; the ranges left may be merged meanwhile.
        with self._front_lock:
            ranges = list(self._ranges)
        return [(r.start, r.end, r.written) for r in ranges], self._etag

    def run(self) -> None:
        """Fetch every range not yet on disk; all of it is written when this returns."""
        behind = self._write_behind
        try:
            self._run_ranges()
            if behind is not None:
                run_in_thread(behind.drain)
        finally:
            if behind is not None:
                behind.close()

    def _run_ranges(self) -> None:
        pending = [part for part in self._ranges if not part.done]
        if len(self._ranges) == 1 or not pending:
            for part in pending:
                self._fetch(part, ranged=False)
            return
        stack = ExitStack()
        try:
            stack.enter_context(slot())
            first = pending[0]
            response = stack.enter_context(
                self._http.stream("GET", self._url, headers=self._headers(first, ranged=True))
            )
            self._remember_storage(response)
            if response.status_code != 206:
                # The server ignores ranges: this response carries the whole file.
                if self.total_written:
                    self._log_no_ranges()
                self._bar.reset_to(0)
                self._ranges = [DownloadRange(0, self._size)]
                self._continue(response, self._ranges[0], stack, ranged=False)
                return
            self._check_partial(response, first)
            self._etag = response.headers.get("ETag")

            def first_range() -> None:
                with self._front_lock:
                    self._started.add(first)
                    self._begun.add(first)
                self._continue(response, first, stack, ranged=True)

            jobs: list[Job[None]] = [first_range]
            jobs += [self._job(part) for part in pending[1:]]
            if self.widening is None:
                gather(jobs, limit=DEFAULT_PARALLEL_PARTS)
            else:
                in_waves(
                    jobs,
                    lambda wave: sum(r.moved for r in pending[wave]),
                    self.widening,
                    in_turn=lambda done: self._in_turn(pending[done:]),
                )
        finally:
            stack.close()

    def _in_turn(self, rest: list[DownloadRange]) -> list[Job[None]]:
        """Jobs for the ``rest`` of the ranges, one at a time: untouched, they are one request.

        A range costs a request of its own (a millisecond on loopback, tens on a
        real repository); when parts go one at a time anyway, the ranges not begun
        at the end of the file are fetched as one.
        """
        begun = any(part.arrived for part in rest)
        # (DownloadRange compares by identity: the rest must be the last ranges themselves)
        if len(rest) < 2 or begun or self._ranges[-len(rest) :] != rest:
            return [self._job(part) for part in rest]
        with self._front_lock:
            whole = self._joined(len(self._ranges) - len(rest), len(self._ranges))
        return [self._job(whole)]

    def _joined(self, first: int, stop: int) -> DownloadRange:
        """The untouched ranges ``[first, stop)`` replaced by one, fetched in one request.

        The caller holds the front lock. The sidecar records the joined range as
        it records any other.
        """
        whole = DownloadRange(self._ranges[first].start, self._ranges[stop - 1].end)
        self._ranges[first:stop] = [whole]
        return whole

    def _job(self, part: DownloadRange) -> Job[None]:
        def fetch() -> None:
            begun = self._begin(part)
            if begun is not None:
                self._fetch(begun, ranged=True)

        return fetch

    def _begin(self, part: DownloadRange) -> DownloadRange | None:
        """What the job of ``part`` fetches once the hash lets it begin.

        A verified download begins a range only as the hash nears it until the
        hash has shown it keeps up (see ``nrpfiles._trailing_hasher``). A range
        that had to wait for a hash that fell behind takes in the untouched ranges
        after it, up to as many as would have run at once: one request does the
        work of several (each costs the server a request; on two cores a
        gigabyte in ranges of 32 MiB, one after another, came at 0.49 GB/s against
        0.55 in one stream). None: an earlier job took ``part`` in.
        """
        hasher = self._hasher
        with self._front_lock:
            self._started.add(part)
        waited = False
        patience_spent = False  # a job before it had no place: it waited once for it
        while True:
            # Also before the first look: on threads, a job may take its place
            # after another range failed, and the end of a wait may be the end of
            # the download.
            stop_point()
            if hasher is None or not hasher.ahead_of_its_turn(part.position):
                break
            with self._front_lock:
                if part in self._taken_in:
                    break
                placed = self._jobs_before_it_started(part)
            if not placed:
                if patience_spent:
                    break
                patience_spent = True
            waited = True
            wait_in_thread(
                partial(hasher.wait_for_turn, part.position, _TURN_WAIT),
                hasher.wake_turn_waiters,
            )
        with self._front_lock:
            if part in self._taken_in:
                return None
            self._begun.add(part)
            if waited and self.widening is None and hasher is not None and hasher.is_the_limit:
                return self._take_in_after(part)
        return part

    def _jobs_before_it_started(self, part: DownloadRange) -> bool:
        """Whether the job of every range before ``part`` has taken its place.

        Only then may ``part`` wait for its turn for as long as it takes: the
        range the hash waits for is being fetched (that one never waits). Jobs
        may take their places out of order: trio starts tasks in an order of its
        own, and a job waiting for a range whose own job has no place would wait
        for ever. A thread, though, may start a moment after the one behind it
        in the queue, so a job whose earlier jobs have no place yet still waits
        one slice for them, then begins. The caller holds the front lock.
        """
        before = self._ranges[self._front : self._ranges.index(part)]
        return all(earlier in self._started or earlier.done for earlier in before)

    def _take_in_after(self, part: DownloadRange) -> DownloadRange:
        if part.arrived:
            return part
        ranges = self._ranges
        first = ranges.index(part)
        stop = first + 1
        while (
            stop < len(ranges)
            and stop - first < DEFAULT_PARALLEL_PARTS
            and not ranges[stop].arrived
            and ranges[stop] not in self._begun
        ):
            stop += 1
        if stop == first + 1:
            return part
        self._taken_in.update(ranges[first:stop])
        whole = self._joined(first, stop)
        self._started.add(whole)
        self._begun.add(whole)
        return whole

    def _continue(
        self, response: httpx.Response, part: DownloadRange, stack: ExitStack, *, ranged: bool
    ) -> None:
        """Read an already open response; if it breaks, fetch the rest of its range."""
        try:
            self._consume(response, part)
        except _BROKEN_BODY as error:
            self._log_break(part, error)
        finally:
            stack.close()
        self._fetch(part, ranged=ranged)

    def _fetch(self, part: DownloadRange, *, ranged: bool) -> None:
        failures = 0
        furthest = part.position
        policy = self._http.policy
        while not part.done:
            url = self._storage_url or self._url
            try:
                with slot():
                    headers = self._headers(part, ranged=ranged or part.arrived > 0)
                    with self._http.stream("GET", url, headers=headers) as response:
                        self._remember_storage(response)
                        self._etag = self._etag or response.headers.get("ETag")
                        if response.status_code == 206:
                            self._check_partial(response, part)
                        elif part.arrived or part.start:
                            self._restart_whole(part)
                        self._consume(response, part)
                        if part.end is None:
                            part.end = part.position  # size unknown: the stream ended it
            except (*_BROKEN_BODY, PermissionDeniedError) as error:
                if isinstance(error, PermissionDeniedError) and self._from_repository(error):
                    raise
                if isinstance(error, PermissionDeniedError):
                    self._storage_url = None
                # A storage link refused (a presigned URL that expired): the next request
                # asks the repository's link again, which redirects to a fresh one.
                # Only breaks that gain nothing use up attempts: a long download over a
                # flaky link may break many times and still get there.
                failures = 1 if part.position > furthest else failures + 1
                furthest = max(furthest, part.position)
                if failures >= policy.attempts:
                    raise TransferError(
                        f"download of {self._key!r} kept breaking ({error!r}); gave up after "
                        f"{failures} attempts without progress at byte {part.position}",
                        key=self._key,
                        url=self._url,
                    ) from None
                self._log_break(part, error)
                sleep(policy.backoff(failures))
            except RepositoryClientError:
                if url == self._url:
                    raise
                # A storage link refused in another way (a storage that answers an
                # expired link with 400, say): the repository's link again. A storage
                # that fails (5xx, unreachable) would fail through the redirect too.
                self._storage_url = None

    def _remember_storage(self, response: httpx.Response) -> None:
        if not same_origin(response.request.url, httpx.URL(self._url)):
            self._storage_url = str(response.request.url)

    def _consume(self, response: httpx.Response, part: DownloadRange) -> None:
        encoded = response.headers.get("Content-Encoding", "identity") != "identity"
        chunks = response.iter_bytes() if encoded else response.iter_raw()
        self._streaming.add(part)
        try:
            for chunk in chunks:
                stop_point()
                if part.end is not None and part.position + len(chunk) > part.end:
                    raise TransferError(
                        f"the repository sent more bytes of {self._key!r} than asked for",
                        key=self._key,
                        url=self._url,
                    )
                self._write(part, chunk)
                self._bar.advance(len(chunk))
        finally:
            self._streaming.discard(part)
        if part.end is not None and not part.done:
            raise httpx.RemoteProtocolError(
                f"response ended at byte {part.position} of range ending at {part.end}"
            )

    def _write(self, part: DownloadRange, chunk: bytes) -> None:
        offset, behind = part.position, self._write_behind
        part.arrived += len(chunk)
        hasher = self._hasher
        if hasher is not None and not hasher.offer(offset, chunk):
            # The network outruns the hash: wait for the hasher, off the event loop.
            run_in_thread(partial(hasher.put, offset, chunk))
        if behind is not None and (len(self._streaming) > 1 or not behind.idle):
            if not behind.submit(offset, chunk, partial(self._wrote, part, len(chunk))):
                run_in_thread(behind.wait_for_room)
        else:
            self._writer.write_at(offset, chunk)
            self._wrote(part, len(chunk))

    def _wrote(self, part: DownloadRange, count: int) -> None:
        part.written += count
        self._advance_hasher()
        if self._checkpoint is not None:
            self._checkpoint.wrote(count)

    def _headers(self, part: DownloadRange, *, ranged: bool) -> dict[str, str]:
        headers = {"Accept": "*/*"}
        if ranged:
            headers["Range"] = part.header()
        if self._etag and not self._etag.startswith("W/"):
            # Every range from the same version of the file, or a 412. A weak ETag
            # (a proxy's) never matches If-Match on a strict server: not sent.
            headers["If-Match"] = self._etag
        return headers

    def _check_partial(self, response: httpx.Response, part: DownloadRange) -> None:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if not match:
            raise TransferError(
                f"206 without a usable Content-Range for {self._key!r}", key=self._key
            )
        start, total = int(match[1]), match[3]
        if start != part.position or (
            total != "*" and self._size is not None and int(total) != self._size
        ):
            raise TransferError(
                f"the repository answered range {match[0]!r} for {self._key!r}, "
                f"asked for {part.header()!r} of {self._size} bytes",
                key=self._key,
            )

    def _restart_whole(self, part: DownloadRange) -> None:
        """The server ignored a Range: the whole file comes again, from byte 0."""
        if len(self._ranges) > 1:
            raise TransferError(
                f"the repository stopped honouring byte ranges for {self._key!r}", key=self._key
            )
        if self._write_behind is not None:
            # Its queued writes would count into the range after the reset (a
            # rare path: a server that answered ranges before; a short wait).
            self._write_behind.drain()
        if part.arrived:
            self._log_no_ranges()
        self._bar.advance(-part.arrived)
        part.written = part.arrived = part.resumed_at = 0

    def _log_no_ranges(self) -> None:
        logger.warning(
            "the repository does not honour byte ranges: %r comes again from the first byte",
            self._key,
        )

    def _advance_hasher(self) -> None:
        if self._hasher is None:
            return
        # Ranges run on threads in the sync flavour: finding the front must not race,
        # or the hasher could be told bytes are final before they are written.
        with self._front_lock:
            self._advance_front(self._hasher)

    def _advance_front(self, hasher: TrailingHasher) -> None:
        ranges = self._ranges
        while self._front < len(ranges) and ranges[self._front].on_disk:
            self._front += 1
        if self._front < len(ranges):
            hasher.advance(ranges[self._front].written_to)
        else:
            hasher.advance(ranges[-1].written_to)

    def _from_repository(self, error: PermissionDeniedError) -> bool:
        return error.url is None or same_origin(httpx.URL(error.url), httpx.URL(self._url))

    def _log_break(self, part: DownloadRange, error: BaseException) -> None:
        reason = str(error) if isinstance(error, PermissionDeniedError) else type(error).__name__
        logger.warning(
            "download of %r broke at byte %d (%s); resuming", self._key, part.position, reason
        )
