"""Calls at once, or within a time limit, in tests.

Tasks in the async flavour, threads in the sync one.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio


async def async_run_all(calls: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    return await asyncio.gather(*(call() for call in calls))


def run_all(calls: list[Callable[[], Any]]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=max(1, len(calls))) as pool:
        futures = [pool.submit(contextvars.copy_context().run, call) for call in calls]
        return [future.result() for future in futures]


async def async_within(seconds: float, call: Callable[[], Awaitable[Any]]) -> Any:
    """``call()``, or TimeoutError after ``seconds``: a test that would hang fails instead."""
    with anyio.fail_after(seconds):
        return await call()


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """``call()`` on a thread of its own; TimeoutError if it has not returned after ``seconds``."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as error:  # handed to the test
            outcome.append((False, error))

    thread = threading.Thread(target=contextvars.copy_context().run, args=(run,), daemon=True)
    thread.start()
    thread.join(seconds)
    if not outcome:
        raise TimeoutError(f"still running after {seconds} s")
    returned, value = outcome[0]
    if not returned:
        raise value
    return value
