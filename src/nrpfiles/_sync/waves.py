# Generated from src/nrpfiles/_async/waves.py by scripts/gen_sync.py: do not edit.
# body-sha256: 4ec9d5a1ddf1993b5dd7c318696be6ab1de36f58bc5c6f4c990fe27e787640ad
"""Parts run as wide as it pays: in waves, each measured (see nrpfiles._widening)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from nrpfiles._concurrency import Job, gather
from nrpfiles._widening import Widening


def in_waves(
    jobs: Sequence[Job[None]], size_of: Callable[[slice], int], widening: Widening
) -> None:
    """Run ``jobs`` (parts, in order) in waves as wide as ``widening`` says.

    ``size_of(wave)`` gives the bytes the parts of ``jobs[wave]`` moved.
    """
    done = 0
    while done < len(jobs):
        count = len(jobs) - done if widening.settled else widening.wave()
        wave = slice(done, done + count)
        began = time.monotonic()
        gather(jobs[wave], limit=widening.width)
        widening.measured(size_of(wave), time.monotonic() - began)
        done += count
