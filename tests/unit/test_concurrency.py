"""The concurrency shim: gather on threads stops its other jobs when one fails."""

from __future__ import annotations

import threading
import time

import pytest

from nrpfiles._concurrency import JobStopped, async_gather, gather, stop_point

ROUNDS = 400


def looping_job(counts: dict[int, int], index: int, fail_after: int | None = None):
    def job() -> int:
        for round_number in range(ROUNDS):
            if fail_after is not None and round_number == fail_after:
                raise ValueError(f"job {index} failed")
            counts[index] = round_number + 1
            time.sleep(0.002)
            stop_point()
        return index

    return job


def test_gather_returns_results_in_order_and_runs_in_parallel():
    seen_threads = set()

    def job(value: int):
        def run() -> int:
            seen_threads.add(threading.get_ident())
            time.sleep(0.02)
            return value

        return run

    assert gather([job(n) for n in range(6)], limit=3) == list(range(6))
    assert len(seen_threads) > 1


@pytest.mark.parametrize("failure", [ValueError, KeyboardInterrupt])
def test_a_failing_job_stops_the_running_ones_at_their_next_stop_point(failure):
    counts: dict[int, int] = {}
    jobs = [looping_job(counts, n) for n in range(3)]

    def failing() -> int:
        time.sleep(0.02)
        raise failure("boom")

    with pytest.raises(failure):
        gather([*jobs, failing], limit=4)
    # Without the stop signal each job would run all its rounds (about a second).
    assert all(count < ROUNDS for count in counts.values()), counts


def test_stop_point_outside_gather_never_stops():
    stop_point()


async def test_async_gather_raises_the_first_error_itself():
    async def ok() -> int:
        return 1

    async def bad() -> int:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        await async_gather([ok, bad, ok], limit=2)
    assert await async_gather([ok, ok], limit=1) == [1, 1]


def test_job_stopped_is_not_a_repository_error():
    from nrpfiles.errors import RepositoryError

    assert not issubclass(JobStopped, RepositoryError)
