from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from nrpfiles.limits import (
    ConnectionLimiter,
    async_slot,
    current_limiter,
    limit_connections,
    slot,
)

# Waiting for a state to be reached, never asserting on how long it took.
PATIENCE_SECONDS = 30


class Occupancy:
    """Counts who is inside a slot right now, and the most ever at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current = 0
        self.peak = 0
        self.visits = 0

    def enter(self) -> None:
        with self._lock:
            self.current += 1
            self.visits += 1
            self.peak = max(self.peak, self.current)

    def leave(self) -> None:
        with self._lock:
            self.current -= 1


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "state never reached"
        time.sleep(0.001)


async def async_wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "state never reached"
        await asyncio.sleep(0.001)


def join_all(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(PATIENCE_SECONDS)
        assert not thread.is_alive()


@pytest.mark.parametrize("limit", [0, -1])
def test_limit_below_one_is_refused(limit: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        limit_connections(limit)
    with pytest.raises(ValueError):
        ConnectionLimiter(limit)


@pytest.mark.parametrize("limit", [2.5, "3", True])
def test_limit_must_be_an_int(limit: object) -> None:
    with pytest.raises(TypeError):
        limit_connections(limit)  # type: ignore[arg-type]


def test_no_limit_means_no_waiting() -> None:
    assert current_limiter() is None
    with slot(), slot():
        pass


async def test_no_limit_means_no_waiting_async() -> None:
    async with async_slot(), async_slot():
        pass


def test_block_yields_its_limiter_and_restores_the_previous_one() -> None:
    with limit_connections(3) as limiter:
        assert isinstance(limiter, ConnectionLimiter)
        assert limiter.limit == 3
        assert current_limiter() is limiter
    assert current_limiter() is None


def test_sixteen_threads_never_exceed_the_limit() -> None:
    occupancy = Occupancy()
    gate = threading.Event()

    def transfer() -> None:
        with slot():
            occupancy.enter()
            gate.wait(PATIENCE_SECONDS)
            occupancy.leave()

    with limit_connections(3) as limiter, ThreadPoolExecutor(16) as pool:
        # How the sync flavour runs parts: each in a copy of the caller's context.
        futures = [pool.submit(contextvars.copy_context().run, transfer) for _ in range(16)]
        wait_until(lambda: limiter.in_use == 3 and limiter.waiting == 13)
        assert occupancy.current == 3
        gate.set()
        for future in futures:
            future.result(PATIENCE_SECONDS)
    assert occupancy.visits == 16
    assert occupancy.peak == 3
    assert limiter.peak == 3
    assert limiter.in_use == 0


async def test_twenty_tasks_never_exceed_the_limit() -> None:
    occupancy = Occupancy()
    gate = asyncio.Event()

    async def transfer() -> None:
        async with async_slot():
            occupancy.enter()
            await gate.wait()
            occupancy.leave()

    with limit_connections(4) as limiter:
        everything = asyncio.gather(*(transfer() for _ in range(20)))
        await async_wait_until(lambda: limiter.in_use == 4 and limiter.waiting == 16)
        assert occupancy.current == 4
        gate.set()
        await everything
    assert occupancy.visits == 20
    assert occupancy.peak == 4
    assert limiter.peak == 4
    assert limiter.in_use == 0


async def test_tasks_churning_stay_within_the_limit() -> None:
    occupancy = Occupancy()

    async def transfer() -> None:
        for _ in range(25):
            async with async_slot():
                occupancy.enter()
                await asyncio.sleep(0)
                occupancy.leave()

    with limit_connections(3) as limiter:
        await asyncio.gather(*(transfer() for _ in range(20)))
    assert occupancy.visits == 500
    assert occupancy.peak <= 3
    assert limiter.peak <= 3
    assert limiter.in_use == 0 and limiter.waiting == 0


def test_two_event_loops_and_plain_threads_share_one_limiter() -> None:
    limiter = ConnectionLimiter(3)
    occupancy = Occupancy()
    gate = threading.Event()
    loops_alive = [threading.Event(), threading.Event()]
    failures: list[BaseException] = []

    def gated_holder() -> None:
        with limit_connections(limiter), slot():
            occupancy.enter()
            gate.wait(PATIENCE_SECONDS)
            occupancy.leave()

    def churning_thread() -> None:
        with limit_connections(limiter):
            for _ in range(30):
                with slot():
                    occupancy.enter()
                    time.sleep(0)
                    occupancy.leave()

    async def churning_task() -> None:
        for _ in range(30):
            async with async_slot():
                occupancy.enter()
                await asyncio.sleep(0)
                occupancy.leave()

    async def heartbeat(alive: threading.Event) -> None:
        # Runs only if waiting tasks leave the event loop free.
        for _ in range(50):
            await asyncio.sleep(0)
        alive.set()

    def loop_thread(alive: threading.Event) -> None:
        async def main() -> None:
            with limit_connections(limiter):
                await asyncio.gather(heartbeat(alive), *(churning_task() for _ in range(6)))

        try:
            asyncio.run(main())
        except BaseException as error:
            failures.append(error)

    holders = [threading.Thread(target=gated_holder) for _ in range(3)]
    for thread in holders:
        thread.start()
    wait_until(lambda: limiter.in_use == 3)

    loops = [threading.Thread(target=loop_thread, args=(alive,)) for alive in loops_alive]
    churners = [threading.Thread(target=churning_thread) for _ in range(4)]
    for thread in loops + churners:
        thread.start()
    wait_until(lambda: limiter.waiting == 12 + 4)
    for alive in loops_alive:
        assert alive.wait(PATIENCE_SECONDS), "an event loop was blocked while its tasks waited"
    assert occupancy.current == 3

    gate.set()
    join_all(holders + loops + churners)
    assert failures == []
    assert occupancy.visits == 3 + 2 * 6 * 30 + 4 * 30
    assert occupancy.peak == 3
    assert limiter.peak == 3
    assert limiter.in_use == 0 and limiter.waiting == 0


async def test_cancelled_waiter_leaves_no_trace() -> None:
    with limit_connections(1) as limiter:
        async with async_slot():
            waiter = asyncio.ensure_future(async_slot().__aenter__())
            await async_wait_until(lambda: limiter.waiting == 1)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            assert limiter.waiting == 0
        assert limiter.in_use == 0
        async with async_slot():  # the only slot is free again
            assert limiter.in_use == 1


async def test_cancellation_racing_with_the_wake_up_gives_the_slot_back() -> None:
    limiter = ConnectionLimiter(1)
    await limiter.acquire_async()
    waiter = asyncio.ensure_future(limiter.acquire_async())
    await async_wait_until(lambda: limiter.waiting == 1)
    limiter.release()  # hands the slot to the waiter...
    waiter.cancel()  # ...which is cancelled before it could run
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limiter.in_use == 0
    assert limiter.waiting == 0
    assert limiter.acquire(timeout=0)


async def test_timed_out_waiters_do_not_leak() -> None:
    with limit_connections(2) as limiter:
        await limiter.acquire_async()
        await limiter.acquire_async()
        for _ in range(5):
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(limiter.acquire_async(), 0.001)
        assert limiter.waiting == 0
        limiter.release()
        limiter.release()
        assert limiter.in_use == 0


async def test_a_task_holding_a_slot_takes_no_second_one() -> None:
    with limit_connections(1) as limiter:
        async with async_slot(), async_slot():  # a request made inside a transfer's slot
            assert limiter.in_use == 1
        assert limiter.in_use == 0


async def test_tasks_started_inside_a_slot_take_their_own() -> None:
    with limit_connections(2) as limiter:
        async with async_slot():

            async def part() -> int:
                async with async_slot():
                    await asyncio.sleep(0.01)
                    return limiter.in_use

            seen = await asyncio.gather(part(), part())
        assert max(seen) == 2  # the parent's slot and one part's; the other part waited
        assert limiter.peak == 2
        assert limiter.in_use == 0


def test_threads_take_a_slot_each_and_none_twice() -> None:
    with limit_connections(3) as limiter:
        with slot(), slot():
            assert limiter.in_use == 1
            with ThreadPoolExecutor(2) as pool:
                context = contextvars.copy_context()

                def hold() -> int:
                    with slot():
                        return limiter.in_use

                assert pool.submit(context.run, hold).result() == 2
        assert limiter.in_use == 0


async def test_cancelled_while_waiting_for_an_inner_limit_releases_the_outer() -> None:
    with limit_connections(5) as outer, limit_connections(1) as inner:
        async with async_slot():
            waiter = asyncio.ensure_future(async_slot().__aenter__())
            await async_wait_until(lambda: inner.waiting == 1)
            assert outer.in_use == 2
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            assert outer.in_use == 1
        assert outer.in_use == 0 and inner.in_use == 0


def test_thread_acquire_with_timeout() -> None:
    limiter = ConnectionLimiter(1)
    assert limiter.acquire()
    assert limiter.acquire(timeout=0.001) is False
    assert limiter.waiting == 0
    limiter.release()
    assert limiter.in_use == 0


def test_release_without_acquire_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        ConnectionLimiter(1).release()


def test_waiters_are_served_in_arrival_order() -> None:
    limiter = ConnectionLimiter(1)
    limiter.acquire()
    order: list[int] = []

    def waiter(number: int) -> None:
        limiter.acquire()
        order.append(number)
        limiter.release()

    threads = []
    for number in range(5):
        thread = threading.Thread(target=waiter, args=(number,))
        thread.start()
        threads.append(thread)
        wait_until(lambda n=number: limiter.waiting == n + 1)  # type: ignore[misc]
    limiter.release()
    join_all(threads)
    assert order == [0, 1, 2, 3, 4]


def test_nested_blocks_all_apply() -> None:
    occupancy = Occupancy()
    gate = threading.Event()

    def transfer() -> None:
        with slot():
            occupancy.enter()
            gate.wait(PATIENCE_SECONDS)
            occupancy.leave()

    with limit_connections(2) as outer:
        with limit_connections(5) as inner, ThreadPoolExecutor(6) as pool:
            assert current_limiter() is inner
            futures = [pool.submit(contextvars.copy_context().run, transfer) for _ in range(6)]
            wait_until(lambda: outer.in_use == 2 and outer.waiting == 4)
            assert inner.in_use == 2
            gate.set()
            for future in futures:
                future.result(PATIENCE_SECONDS)
        assert current_limiter() is outer
        assert outer.peak == 2 and inner.peak == 2
    assert current_limiter() is None


def test_re_entering_the_same_limiter_counts_once() -> None:
    limiter = ConnectionLimiter(1)
    with limit_connections(limiter), limit_connections(limiter), slot():
        assert limiter.in_use == 1
    assert limiter.in_use == 0


def test_block_set_in_a_thread_does_not_leak_into_others() -> None:
    seen: list[ConnectionLimiter | None] = []
    with limit_connections(2):
        thread = threading.Thread(target=lambda: seen.append(current_limiter()))
        thread.start()
        join_all([thread])
    assert seen == [None]


async def test_async_with_works_as_well() -> None:
    async with limit_connections(2) as limiter:
        assert current_limiter() is limiter
    assert current_limiter() is None


def test_limiter_under_trio() -> None:
    trio = pytest.importorskip("trio")
    occupancy = Occupancy()

    async def transfer() -> None:
        async with async_slot():
            occupancy.enter()
            await trio.sleep(0)
            occupancy.leave()

    async def main() -> None:
        with limit_connections(2):
            async with trio.open_nursery() as nursery:
                for _ in range(10):
                    nursery.start_soon(transfer)

    trio.run(main)
    assert occupancy.visits == 10
    assert occupancy.peak <= 2
