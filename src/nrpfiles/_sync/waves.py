# Generated from src/nrpfiles/_async/waves.py by scripts/gen_sync.py: do not edit.
# body-sha256: 539ae96d710913c892caaac8ce5b6ce3152259235fc72765d716a59887f5e70a
"""Parts run as wide as it pays: in waves, each measured (see nrpfiles._widening)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from nrpfiles._concurrency import Job, gather
from nrpfiles._widening import Widening


def in_waves(
    jobs: Sequence[Job[None]],
    size_of: Callable[[slice], int],
    widening: Widening,
    *,
    in_turn: Callable[[int], Sequence[Job[None]]] | None = None,
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
            gather(in_turn(done), limit=1)
            return
        count = len(jobs) - done if widening.settled else widening.wave()
        wave = slice(done, done + count)
        began = time.monotonic()
        gather(jobs[wave], limit=widening.width)
        widening.measured(size_of(wave), time.monotonic() - began)
        done += count
