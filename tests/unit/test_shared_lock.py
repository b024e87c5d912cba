"""The shared lock of each flavour: shared together, alone exclusively, the one alone first."""

from __future__ import annotations

import asyncio
import threading
import time

import anyio

from nrpfiles._shared_lock import AsyncSharedLock, SharedLock

WAIT = 10.0  # only ever reached when the lock is broken


def in_thread(target) -> threading.Thread:  # type: ignore[no-untyped-def]
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_sharers_hold_it_together_and_one_alone_waits_for_them():
    lock, order = SharedLock(), []
    both_in, leave = threading.Barrier(3, timeout=WAIT), threading.Event()

    def share(name: str) -> None:
        with lock.shared():
            order.append(f"{name} in")
            both_in.wait()
            leave.wait(WAIT)
            order.append(f"{name} out")

    def alone() -> None:
        with lock.alone():
            order.append("alone in")

    sharers = [in_thread(lambda n=n: share(n)) for n in ("a", "b")]
    both_in.wait()  # both hold it at once, or this barrier times out
    waiting_alone = in_thread(alone)
    waiting_alone.join(0.2)
    assert waiting_alone.is_alive() and "alone in" not in order
    leave.set()
    for thread in [*sharers, waiting_alone]:
        thread.join(WAIT)
    assert order[-1] == "alone in"


def test_one_waiting_alone_goes_before_sharers_that_come_after_it():
    lock, order = SharedLock(), []
    first_in, leave = threading.Event(), threading.Event()

    def first() -> None:
        with lock.shared():
            first_in.set()
            leave.wait(WAIT)
        order.append("first out")

    def alone() -> None:
        with lock.alone():
            order.append("alone in")

    def late() -> None:
        with lock.shared():
            order.append("late in")

    threads = [in_thread(first)]
    first_in.wait(WAIT)
    threads.append(in_thread(alone))
    deadline = time.monotonic() + WAIT
    while not lock._waiting_alone and time.monotonic() < deadline:
        time.sleep(0.001)  # the one alone is queued before the late sharer comes
    assert lock._waiting_alone == 1
    threads.append(in_thread(late))
    threads[-1].join(0.2)
    assert order == []
    leave.set()
    for thread in threads:
        thread.join(WAIT)
    assert order.index("alone in") < order.index("late in")


async def test_async_sharers_together_one_alone_after_them_and_before_late_sharers():
    lock, order = AsyncSharedLock(), []
    leave = asyncio.Event()

    async def share(name: str) -> None:
        async with lock.shared():
            order.append(f"{name} in")
            await leave.wait()
        order.append(f"{name} out")

    async def alone() -> None:
        async with lock.alone():
            order.append("alone in")

    async def late() -> None:
        async with lock.shared():
            order.append("late in")

    sharers = [asyncio.create_task(share(n)) for n in ("a", "b")]
    await asyncio.sleep(0.05)
    assert order == ["a in", "b in"]
    waiting = asyncio.create_task(alone())
    await asyncio.sleep(0.05)
    coming_late = asyncio.create_task(late())
    await asyncio.sleep(0.05)
    assert order == ["a in", "b in"]
    leave.set()
    await asyncio.wait_for(asyncio.gather(*sharers, waiting, coming_late), WAIT)
    assert order[2:] == ["a out", "b out", "alone in", "late in"]


async def test_async_cancelled_waiters_and_holders_leave_the_lock_usable():
    # A task group's cancellation, as when a parallel job fails, stays in force through
    # the holders' clean-up, where a plain task's cancel() is spent at the first await.
    lock = AsyncSharedLock()
    held = asyncio.Event()

    async def hold_shared() -> None:
        async with lock.shared():
            held.set()
            await anyio.sleep_forever()

    async def wait_alone() -> None:
        async with lock.alone():
            pass

    async with anyio.create_task_group() as group:
        group.start_soon(hold_shared)
        await held.wait()
        group.start_soon(wait_alone)
        await anyio.sleep(0.05)
        group.cancel_scope.cancel()  # the one waiting alone, and the one holding a share

    async def both() -> None:
        async with lock.shared():
            pass
        async with lock.alone():
            pass

    await asyncio.wait_for(both(), WAIT)
