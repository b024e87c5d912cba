"""Parts run as wide as it pays: in waves, each measured (see nrpfiles._widening)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from nrpfiles._concurrency import AsyncJob, async_gather
from nrpfiles._widening import Widening


async def async_in_waves(
    jobs: Sequence[AsyncJob[None]], size_of: Callable[[slice], int], widening: Widening
) -> None:
    """Run ``jobs`` (parts, in order) in waves as wide as ``widening`` says.

    ``size_of(wave)`` gives the bytes the parts of ``jobs[wave]`` moved.
    """
    done = 0
    while done < len(jobs):
        count = len(jobs) - done if widening.settled else widening.wave()
        wave = slice(done, done + count)
        began = time.monotonic()
        await async_gather(jobs[wave], limit=widening.width)
        widening.measured(size_of(wave), time.monotonic() - began)
        done += count
