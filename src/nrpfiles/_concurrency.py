"""The few primitives that cannot be generated: each async name maps onto its sync twin.

Code under ``_async/`` uses the ``async_*``/``Async*`` names; scripts/gen_sync.py
rewrites them to the names without the prefix, defined here beside them. The
async side runs on anyio, so it works under asyncio and trio alike; the sync
side uses threads, so multipart parts and ranged downloads run in parallel in
both flavours.
"""

from __future__ import annotations

import contextvars
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Generic, TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread

if sys.version_info < (3, 11):  # pragma: no cover - exercised on 3.10 only
    from exceptiongroup import BaseExceptionGroup

T = TypeVar("T")

# What async_gather and gather run; the names map onto each other like the rest.
AsyncJob = Callable[[], Awaitable[T]]
Job = Callable[[], T]

AsyncLock = anyio.Lock
Lock = threading.Lock


async def async_sleep(seconds: float) -> None:
    await anyio.sleep(seconds)


def sleep(seconds: float) -> None:
    time.sleep(seconds)


async def async_gather(jobs: Sequence[AsyncJob[T]], *, limit: int) -> list[T]:
    """Run jobs concurrently, at most ``limit`` at a time; results in order.

    The first failure cancels the others and is raised as itself, not wrapped
    in an exception group, so callers catch the errors they know.
    """
    finished: list[T | None] = [None] * len(jobs)
    capacity = anyio.CapacityLimiter(max(1, limit))

    async def run(index: int, job: AsyncJob[T]) -> None:
        async with capacity:
            finished[index] = await job()

    try:
        async with anyio.create_task_group() as group:
            for index, job in enumerate(jobs):
                group.start_soon(run, index, job)
    except BaseExceptionGroup as group_error:
        raise _first_cause(group_error) from None
    return finished  # type: ignore[return-value]  # every slot was filled


def gather(jobs: Sequence[Job[T]], *, limit: int) -> list[T]:
    """Run jobs on threads, at most ``limit`` at a time; results in order.

    Each job runs in a copy of the caller's context, so ``limit_connections``
    and other context variables reach the worker threads. On the first
    failure, or when the caller is interrupted (Ctrl-C) while waiting, jobs
    not yet started are cancelled, running ones stop at their next
    ``stop_point()``, and the failure is raised once they have.
    """
    if not jobs:
        return []
    if len(jobs) == 1 or limit <= 1:
        return [job() for job in jobs]
    stop = _StopSignal()

    def run(job: Job[T]) -> T:
        _stop_events.set((*_stop_events.get(), stop))
        return job()

    with ThreadPoolExecutor(
        max_workers=min(limit, len(jobs)), thread_name_prefix="nrpfiles"
    ) as pool:
        futures: list[Future[T]] = [
            pool.submit(contextvars.copy_context().run, run, job) for job in jobs
        ]
        try:
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:
            _stop_all(stop, futures)
            raise
        failed = next((f for f in futures if f in done and f.exception() is not None), None)
        if failed is not None:
            _stop_all(stop, futures)
            error = failed.exception()
            assert error is not None
            raise error
    return [future.result() for future in futures]


class JobStopped(Exception):
    """A job on a thread was told to stop: another one failed or the caller was interrupted."""


class _StopSignal(threading.Event):
    """A gather's signal to stop its jobs; setting it also wakes the waits registered on it."""

    def __init__(self) -> None:
        super().__init__()
        self._wakers: list[Callable[[], None]] = []
        self._wakers_lock = threading.Lock()

    def set(self) -> None:
        super().set()
        with self._wakers_lock:
            wakers = list(self._wakers)
        for wake in wakers:
            wake()

    def add_waker(self, wake: Callable[[], None]) -> None:
        with self._wakers_lock:
            self._wakers.append(wake)

    def remove_waker(self, wake: Callable[[], None]) -> None:
        with self._wakers_lock:
            self._wakers.remove(wake)


# The stop signals of the gathers a thread's job runs under, innermost last.
_stop_events: contextvars.ContextVar[tuple[_StopSignal, ...]] = contextvars.ContextVar(
    "nrpfiles_stop_events", default=()
)


async def async_stop_point() -> None:
    """Tasks are cancelled at any await; this is one more place they may be."""
    await anyio.lowlevel.checkpoint_if_cancelled()


def stop_point() -> None:
    """Threads cannot be cancelled: a job's loop asks here whether to stop."""
    if any(event.is_set() for event in _stop_events.get()):
        raise JobStopped("stopped: a parallel part failed or the transfer was interrupted")


def _stop_all(stop: _StopSignal, futures: Sequence[Future[T]]) -> None:
    stop.set()
    for future in futures:
        future.cancel()


async def async_run_in_thread(function: Callable[[], T]) -> T:
    """Run blocking work (hashing, file I/O) off the event loop."""
    return await anyio.to_thread.run_sync(function)


def run_in_thread(function: Callable[[], T]) -> T:
    return function()


async def async_wait_in_thread(
    wait: Callable[[Callable[[], bool]], None], wake: Callable[[], None]
) -> None:
    """Block in ``wait(stopped)`` off the event loop; a cancelled task stops it at once.

    ``wait`` must return soon after ``wake()`` once ``stopped()`` is true, and
    leave nothing to undo: a cancelled task does not wait for its thread.
    """
    stopped = threading.Event()
    try:
        await anyio.to_thread.run_sync(partial(wait, stopped.is_set), abandon_on_cancel=True)
    except BaseException:
        stopped.set()
        wake()
        raise


def wait_in_thread(wait: Callable[[Callable[[], bool]], None], wake: Callable[[], None]) -> None:
    """Block in ``wait(stopped)`` on this thread; the stop of a gather around it wakes it."""
    signals = _stop_events.get()
    for signal in signals:
        signal.add_waker(wake)
    try:
        wait(lambda: any(signal.is_set() for signal in signals))
    finally:
        for signal in signals:
            signal.remove_waker(wake)


def async_ranges_on_threads() -> bool:
    """Whether the ranges of one transfer arrive on threads of their own (the sync flavour)."""
    return False


def ranges_on_threads() -> bool:
    return True


class BackgroundJob(Generic[T]):
    """Blocking work started on its own thread, awaited later by either flavour.

    Used to hash a source or a written file while the transfer moves bytes, so
    the two costs overlap instead of adding up.
    """

    def __init__(
        self, function: Callable[[], T], name: str = "nrpfiles-background", *, start: bool = True
    ) -> None:
        self._future: Future[T] = Future()
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=self._run, args=(context, function), name=name, daemon=True
        )
        self._start_lock = threading.Lock()
        self.started = False
        if start:
            self.start()

    def start(self) -> None:
        """Start the work (once; asking for the result starts it too)."""
        with self._start_lock:
            if not self.started:
                self.started = True
                self._thread.start()

    def _run(self, context: contextvars.Context, function: Callable[[], T]) -> None:
        try:
            self._future.set_result(context.run(function))
        except BaseException as error:  # handed to whoever waits
            self._future.set_exception(error)

    def result(self) -> T:
        self.start()
        return self._future.result()

    async def async_result(self) -> T:
        self.start()
        if self._future.done():  # no worker thread to wait on what is already there
            return self._future.result()
        return await anyio.to_thread.run_sync(self._future.result)


def _first_cause(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first error of a task group that is not a cancellation caused by it."""
    cancelled = anyio.get_cancelled_exc_class()
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            return _first_cause(error)
        if not isinstance(error, cancelled):
            return error
    return group.exceptions[0]
