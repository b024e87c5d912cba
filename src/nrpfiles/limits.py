"""``limit_connections``: one bound on concurrent transfers, for threads and tasks alike.

::

    with limit_connections(5):
        await asyncio.gather(*(client.files.download(f, ...) for f in files))

The block sets a context variable, so everything started inside it sees the
bound: asyncio tasks copy the context when they are created, and the sync
flavour runs its worker threads in a copy of the caller's context. Transfer
code takes one slot per HTTP request in flight (``with slot():`` or
``async with async_slot():``); every request to a repository does, so a block
never has more connections open than its bound, and a thread or task holding
a slot takes no second one.

Nested blocks all apply: a request takes a slot from every enclosing limiter,
outermost first, so no block's bound is ever exceeded (an inner
``limit_connections(10)`` cannot lift an outer ``limit_connections(2)``).

One :class:`ConnectionLimiter` may be shared by plain threads and by tasks
on several event loops in several threads at once. Waiters are served first
come, first served; a waiting task sleeps on its own loop, is woken through
that loop's thread-safe scheduling, and gives its slot back when it is
cancelled, also when the cancellation races with the wake-up.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any

__all__ = [
    "ConnectionLimiter",
    "async_slot",
    "current_limiter",
    "limit_connections",
    "slot",
]


class _Waiter:
    __slots__ = ("granted",)

    def __init__(self) -> None:
        self.granted = False

    def wake(self) -> bool:
        """Schedule the wake-up without blocking; False when the waiter can no longer run."""
        raise NotImplementedError


class _ThreadWaiter(_Waiter):
    __slots__ = ("event",)

    def __init__(self) -> None:
        super().__init__()
        self.event = threading.Event()

    def wake(self) -> bool:
        self.event.set()
        return True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _AsyncioWaiter(_Waiter):
    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()

    def wake(self) -> bool:
        try:
            self.loop.call_soon_threadsafe(_resolve, self.future)
        except RuntimeError:  # the loop is closed: its task will never come back
            return False
        return True

    async def wait(self) -> None:
        await self.future


class _TrioWaiter(_Waiter):
    """Same idea under trio (the async flavour runs on anyio, so trio is possible)."""

    __slots__ = ("event", "token", "trio")

    def __init__(self, trio: Any) -> None:
        super().__init__()
        self.trio = trio
        self.token = trio.lowlevel.current_trio_token()
        self.event = trio.Event()

    def wake(self) -> bool:
        try:
            self.token.run_sync_soon(self.event.set)
        except self.trio.RunFinishedError:
            return False
        return True

    async def wait(self) -> None:
        await self.event.wait()


def _async_waiter() -> _AsyncioWaiter | _TrioWaiter:
    try:
        return _AsyncioWaiter(asyncio.get_running_loop())
    except RuntimeError:
        trio = sys.modules.get("trio")
        if trio is None:
            raise RuntimeError("acquire_async needs a running asyncio or trio event loop") from None
        return _TrioWaiter(trio)


class ConnectionLimiter:
    """A counting semaphore usable from threads and from tasks on any event loop.

    ``in_use`` and ``peak`` (the most slots ever held at once) let tests and
    callers see the bound at work.
    """

    def __init__(self, limit: int) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError(f"the connection limit is an int, not {type(limit).__name__}")
        if limit < 1:
            raise ValueError(f"the connection limit must be at least 1, got {limit}")
        self._limit = limit
        self._lock = threading.Lock()
        self._in_use = 0
        self._peak = 0
        self._waiters: deque[_Waiter] = deque()
        # Tasks and threads holding a slot, and how deeply: a request made while its
        # transfer holds a slot is already counted and must not wait for a second one.
        self._holders: dict[object, int] = {}

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def in_use(self) -> int:
        return self._in_use

    @property
    def peak(self) -> int:
        return self._peak

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def _try_take_locked(self) -> bool:
        # Never jump the queue: a free slot with waiters present is already on its way to one.
        if self._waiters or self._in_use >= self._limit:
            return False
        self._in_use += 1
        self._peak = max(self._peak, self._in_use)
        return True

    def _release_locked(self) -> None:
        if self._in_use <= 0:
            raise RuntimeError("ConnectionLimiter released more often than acquired")
        while self._waiters:
            waiter = self._waiters.popleft()
            waiter.granted = True
            if waiter.wake():
                return  # the slot passes straight to the waiter; in_use is unchanged
            waiter.granted = False
        self._in_use -= 1

    def _withdraw_locked(self, waiter: _Waiter) -> None:
        """A waiter gives up: hand on a slot it was granted meanwhile, or leave the queue."""
        if waiter.granted:
            self._release_locked()
        else:
            self._waiters.remove(waiter)

    def acquire(self, timeout: float | None = None) -> bool:
        """Take a slot, blocking the calling thread; False only when ``timeout`` ran out."""
        with self._lock:
            if self._try_take_locked():
                return True
            waiter = _ThreadWaiter()
            self._waiters.append(waiter)
        try:
            woken = waiter.event.wait(timeout)
        except BaseException:  # KeyboardInterrupt in the middle of the wait
            with self._lock:
                self._withdraw_locked(waiter)
            raise
        if woken:
            return True
        with self._lock:
            if waiter.granted:
                return True
            self._waiters.remove(waiter)
            return False

    async def acquire_async(self) -> None:
        """Take a slot, suspending the current task (never the event loop) until one is free."""
        with self._lock:
            if self._try_take_locked():
                return
            waiter = _async_waiter()
            self._waiters.append(waiter)
        try:
            await waiter.wait()
        except BaseException:  # cancelled, perhaps just after being granted the slot
            with self._lock:
                self._withdraw_locked(waiter)
            raise

    def release(self) -> None:
        with self._lock:
            self._release_locked()

    def _enter_again(self, holder: object) -> bool:
        """Count one more use by ``holder`` if it already holds a slot."""
        with self._lock:
            if holder not in self._holders:
                return False
            self._holders[holder] += 1
            return True

    def _held(self, holder: object) -> None:
        with self._lock:
            self._holders[holder] = 1

    def _leave(self, holder: object) -> bool:
        """One use by ``holder`` ends; True when it was the last and the slot goes back."""
        with self._lock:
            self._holders[holder] -= 1
            if self._holders[holder]:
                return False
            del self._holders[holder]
            return True

    def __repr__(self) -> str:
        return (
            f"<ConnectionLimiter limit={self._limit} in_use={self._in_use} "
            f"waiting={len(self._waiters)} peak={self._peak}>"
        )


_active_limiters: ContextVar[tuple[ConnectionLimiter, ...]] = ContextVar(
    "nrpfiles_connection_limiters", default=()
)


class _LimitBlock:
    def __init__(self, limiter: ConnectionLimiter) -> None:
        self.limiter = limiter
        self._tokens: list[Token[tuple[ConnectionLimiter, ...]]] = []

    def __enter__(self) -> ConnectionLimiter:
        enclosing = _active_limiters.get()
        if self.limiter not in enclosing:  # re-entering the same limiter must not count twice
            enclosing = (*enclosing, self.limiter)
        self._tokens.append(_active_limiters.set(enclosing))
        return self.limiter

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _active_limiters.reset(self._tokens.pop())

    async def __aenter__(self) -> ConnectionLimiter:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def limit_connections(limit: int | ConnectionLimiter) -> _LimitBlock:
    """Bound the transfer connections open at once by code run inside the block.

    A plain ``with`` in sync and async code alike (``async with`` works too);
    the block yields its :class:`ConnectionLimiter`. Pass an existing limiter
    to share one bound between blocks in unrelated threads or tasks.
    Raises ``ValueError`` for a limit below 1.
    """
    limiter = limit if isinstance(limit, ConnectionLimiter) else ConnectionLimiter(limit)
    return _LimitBlock(limiter)


def current_limiter() -> ConnectionLimiter | None:
    """The innermost limiter in effect here, if any."""
    active = _active_limiters.get()
    return active[-1] if active else None


def _holder() -> object:
    """Who takes a slot: the running task, else the thread."""
    try:
        task: object = asyncio.current_task()
    except RuntimeError:  # no event loop in this thread
        task = None
    if task is None and "trio" in sys.modules:
        try:
            task = sys.modules["trio"].lowlevel.current_task()
        except RuntimeError:
            task = None
    return threading.get_ident() if task is None else task


@contextmanager
def slot() -> Iterator[None]:
    """Hold one connection slot from every limiter in effect (none: no waiting).

    Within a slot the same thread or task takes no second one: a request made
    by a transfer that holds a slot already counts.
    """
    holder = _holder()
    held: list[ConnectionLimiter] = []
    try:
        for limiter in _active_limiters.get():
            if not limiter._enter_again(holder):
                limiter.acquire()
                limiter._held(holder)
            held.append(limiter)
        yield
    finally:
        for limiter in reversed(held):
            if limiter._leave(holder):
                limiter.release()


@asynccontextmanager
async def async_slot() -> AsyncIterator[None]:
    """The async twin of :func:`slot`: waits without blocking the event loop."""
    holder = _holder()
    held: list[ConnectionLimiter] = []
    try:
        for limiter in _active_limiters.get():
            if not limiter._enter_again(holder):
                await limiter.acquire_async()
                limiter._held(holder)
            held.append(limiter)
        yield
    finally:
        for limiter in reversed(held):
            if limiter._leave(holder):
                limiter.release()
