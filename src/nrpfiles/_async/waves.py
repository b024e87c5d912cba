"""Parts run as wide as it pays: in waves, each measured (see nrpfiles._widening)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from nrpfiles._concurrency import AsyncJob, async_gather
from nrpfiles._widening import Widening


async def async_in_waves(
    jobs: Sequence[AsyncJob[None]],
    size_of: Callable[[slice], int],
    widening: Widening,
    *,
    in_turn: Callable[[int], Sequence[AsyncJob[None]]] | None = None,
) -> None:
    """Run ``jobs`` (parts, in order) in waves as wide as ``widening`` says.

    ``size_of(wave)`` gives the bytes the parts of ``jobs[wave]`` moved. Once
    the width settles at one part at a time, ``in_turn(done)`` (when given)
    gives what replaces the jobs from ``done`` on, run one after another: the
    parts left, in fewer requests than a request each. The first wave always
    runs as given: its first job may go on with a response already open.
    """
    done = 0
    while done < len(jobs):
        if in_turn is not None and done and widening.settled and widening.width == 1:
            await async_gather(in_turn(done), limit=1)
            return
        count = len(jobs) - done if widening.settled else widening.wave()
        wave = slice(done, done + count)
        began = time.monotonic()
        await async_gather(jobs[wave], limit=widening.width)
        widening.measured(size_of(wave), time.monotonic() - began)
        done += count
