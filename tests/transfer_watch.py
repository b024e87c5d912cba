"""Watching a client from tests: its requests, its connections, and interrupting it.

Names come in pairs for the two flavours (``AsyncRequestLog``/``RequestLog``,
``async_interrupt_when``/``interrupt_when``), so tests written once in
``tests/_async`` use the right one after generation.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from nrpfiles.progress import ProgressCallback
from nrpfiles.streams import PARTIAL_SUFFIX

_PART = re.compile(r"/content/(\d+)$")


class _RequestLogBase:
    """What a client sent, as seen by httpx event hooks on its one connection pool.

    A request hook runs for every attempt, the retried and the cut ones too; a
    response hook only when an answer's headers arrived.
    """

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []
        self.answers: list[tuple[httpx.Request, int]] = []

    def _record_request(self, request: httpx.Request) -> None:
        self.sent.append(request)

    def _record_response(self, response: httpx.Response) -> None:
        self.answers.append((response.request, response.status_code))

    def part_attempts(self) -> Counter[int]:
        """How often each multipart part was sent, by part number."""
        return Counter(
            int(match[1])
            for request in self.sent
            if request.method == "PUT" and (match := _PART.search(request.url.path))
        )

    def part_answers(self, part: int) -> list[int]:
        return [
            status
            for request, status in self.answers
            if request.method == "PUT"
            and (match := _PART.search(request.url.path))
            and int(match[1]) == part
        ]

    def content_ranges(self) -> list[str | None]:
        """The Range header of every GET of file content, in the order sent."""
        return [
            request.headers.get("Range")
            for request in self.sent
            if request.method == "GET" and request.url.path.endswith("/content")
        ]


class AsyncRequestLog(_RequestLogBase):
    def __init__(self, client: Any) -> None:
        super().__init__()
        hooks = client._http._client.event_hooks
        hooks["request"].append(self._on_request)
        hooks["response"].append(self._on_response)

    async def _on_request(self, request: httpx.Request) -> None:
        self._record_request(request)

    async def _on_response(self, response: httpx.Response) -> None:
        self._record_response(response)


class RequestLog(_RequestLogBase):
    def __init__(self, client: Any) -> None:
        super().__init__()
        hooks = client._http._client.event_hooks
        hooks["request"].append(self._record_request)
        hooks["response"].append(self._record_response)


def busy_connections(client: Any) -> list[Any]:
    """Connections of the client's pool that are neither idle nor closed."""
    pool = client._http._client._transport._pool
    return [c for c in pool.connections if not (c.is_idle() or c.is_closed())]


def leftovers(directory: Path) -> list[Path]:
    """Temporary download files anywhere under ``directory``."""
    return sorted(p for p in directory.rglob("*") if p.name.endswith(PARTIAL_SUFFIX))


def _moved_at_least(threshold: int, reached: Callable[[], None]) -> ProgressCallback:
    def progress(done: int, total: int | None) -> None:
        if done >= threshold:
            reached()

    return progress


async def async_interrupt_when(
    transfer: Callable[[ProgressCallback], Awaitable[Any]], after_bytes: int
) -> None:
    """Run ``transfer(progress)`` as a task and cancel it from outside mid-transfer."""
    moved = asyncio.Event()
    task = asyncio.ensure_future(transfer(_moved_at_least(after_bytes, moved.set)))
    waiter = asyncio.ensure_future(moved.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task.done():
        task.result()
        pytest.fail("the transfer finished before it could be cancelled")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def interrupt_when(transfer: Callable[[ProgressCallback], Any], after_bytes: int) -> None:
    """Run ``transfer(progress)`` and interrupt it mid-transfer, as Ctrl-C would."""

    def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        transfer(_moved_at_least(after_bytes, interrupt))
