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
    def __init__(self) -> None:
        self._condition = anyio.Condition()
        self._sharing = 0
        self._alone = False
        self._waiting_alone = 0

    @asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        async with self._condition:
            while self._alone or self._waiting_alone:
                await self._condition.wait()
            self._sharing += 1
        try:
            yield
        finally:
            # A cancelled holder still gives its share back, or the lock is wedged.
            with anyio.CancelScope(shield=True):
                async with self._condition:
                    self._sharing -= 1
                    self._condition.notify_all()

    @asynccontextmanager
    async def alone(self) -> AsyncIterator[None]:
        async with self._condition:
            self._waiting_alone += 1
            try:
                while self._alone or self._sharing:
                    await self._condition.wait()
            finally:
                self._waiting_alone -= 1
                self._condition.notify_all()  # sharers held back by this wait may go
            self._alone = True
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                async with self._condition:
                    self._alone = False
                    self._condition.notify_all()


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
