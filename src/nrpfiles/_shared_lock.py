"""A lock that many hold together or one holds alone, in each flavour.

Hand-written as a pair, like the primitives of ``nrpfiles._concurrency``:
``AsyncSharedLock`` (anyio) in code under ``_async/`` becomes ``SharedLock``
(threads) in the generated sync code.

One waiting to hold it alone goes before those who come after it to share it,
so a steady stream of sharers cannot keep it waiting for ever.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import anyio


class AsyncSharedLock:
    # Tasks of one event loop change these only between awaits, so no lock guards
    # them, and taking the lock when nobody holds it alone never yields to the loop:
    # hundreds of tasks creating entries at once pay nothing for it.
    def __init__(self) -> None:
        self._sharing = 0
        self._alone = False
        self._waiting_alone = 0
        self._changed: anyio.Event | None = None  # made by the first to wait, in its loop

    @asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        while self._alone or self._waiting_alone:
            await self._next_change()
        self._sharing += 1
        try:
            yield
        finally:
            self._sharing -= 1
            if not self._sharing:
                self._announce_change()

    @asynccontextmanager
    async def alone(self) -> AsyncIterator[None]:
        self._waiting_alone += 1
        try:
            while self._alone or self._sharing:
                await self._next_change()
        except BaseException:
            self._waiting_alone -= 1
            self._announce_change()  # sharers held back by this wait may go
            raise
        self._waiting_alone -= 1
        self._alone = True
        try:
            yield
        finally:
            self._alone = False
            self._announce_change()

    async def _next_change(self) -> None:
        if self._changed is None:
            self._changed = anyio.Event()
        await self._changed.wait()

    def _announce_change(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None


class SharedLock:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._sharing = 0
        self._alone = False
        self._waiting_alone = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._condition:
            while self._alone or self._waiting_alone:
                self._condition.wait()
            self._sharing += 1
        try:
            yield
        finally:
            with self._condition:
                self._sharing -= 1
                self._condition.notify_all()

    @contextmanager
    def alone(self) -> Iterator[None]:
        with self._condition:
            self._waiting_alone += 1
            try:
                while self._alone or self._sharing:
                    self._condition.wait()
            finally:
                self._waiting_alone -= 1
                self._condition.notify_all()
            self._alone = True
        try:
            yield
        finally:
            with self._condition:
                self._alone = False
                self._condition.notify_all()
