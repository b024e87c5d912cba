"""Running several library transfers at once under one progress bar, and stopping them on Ctrl-C.

The transfers themselves are ``client.files`` calls (``upload``, ``upload_many``,
``download``); this module only schedules them on threads (each in a copy of the
caller's context, so ``limit_connections`` reaches it) and adds their progress
up. On Ctrl-C the progress callbacks raise, which the library treats as an
interruption: a download's target is left as it was and its bytes kept beside
it, and a multipart upload's pending entry stays, for the next run to resume.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any

import attrs
from tqdm import tqdm

from nrpfiles.limits import limit_connections
from nrpfiles.progress import ProgressCallback, progress_disabled

DEFAULT_PARALLEL = 4


class Stopped(KeyboardInterrupt):
    """Raised inside a transfer's progress callback once Ctrl-C was pressed.

    An interruption to the library, as Ctrl-C is: a download keeps its bytes
    and a journaled multipart upload its pending entry, for the next run to
    resume.
    """


@attrs.frozen
class Job:
    """One transfer: a name for messages, its size for the bar, and the call that runs it."""

    name: str
    size: int
    run: Callable[[ProgressCallback], object]


@attrs.frozen
class Outcome:
    job: Job
    error: BaseException | None


def run_jobs(
    jobs: Sequence[Job],
    *,
    parallel: int,
    label: str,
    show_progress: bool,
    notice: Callable[[str], None] | None = None,
) -> list[Outcome]:
    """Run every job, ``parallel`` at a time; returns each job's outcome in order.

    ``notice`` is told when a transfer resumes what an earlier run left (its
    progress starts above zero).

    Raises ``KeyboardInterrupt`` after the running transfers stopped when
    Ctrl-C arrives; jobs not started by then are not started.
    """
    if not jobs:
        return []
    stop = threading.Event()
    bar = _Bar(sum(job.size for job in jobs), label, enabled=show_progress)
    futures: list[Future[object]] = []
    try:
        with limit_connections(parallel), ThreadPoolExecutor(max_workers=parallel) as pool:
            context = contextvars.copy_context()
            for job in jobs:
                callback = bar.callback_for(stop, job.name, notice)
                futures.append(pool.submit(context.copy().run, _guarded(job, stop), callback))
            try:
                _wait_all(futures)
            except KeyboardInterrupt:
                stop.set()
                for future in futures:
                    future.cancel()
                wait(futures)
                raise
    finally:
        bar.close()
    return [Outcome(job, _error_of(future)) for job, future in zip(jobs, futures, strict=True)]


def _wait_all(futures: list[Future[object]]) -> None:
    # Short waits keep the main thread where Ctrl-C can reach it on every platform.
    pending = set(futures)
    while pending:
        _, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)


def _guarded(job: Job, stop: threading.Event) -> Callable[[ProgressCallback], object]:
    def run(callback: ProgressCallback) -> object:
        if stop.is_set():
            raise Stopped("stopped before it began")
        return job.run(callback)

    return run


def _error_of(future: Future[object]) -> BaseException | None:
    if future.cancelled():
        return Stopped("not started")
    return future.exception()


class _Bar:
    """One bar for all the jobs' bytes, on stderr, only when stderr is a terminal."""

    def __init__(self, total: int, label: str, *, enabled: bool) -> None:
        self._lock = threading.Lock()
        self._bar: tqdm[Any] | None = None
        if enabled and not progress_disabled():
            self._bar = tqdm(
                total=total,
                desc=label,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                leave=False,
                mininterval=0.1,
            )

    def callback_for(
        self, stop: threading.Event, name: str, notice: Callable[[str], None] | None
    ) -> ProgressCallback:
        seen = 0
        first = True

        def report(done: int, total: int | None) -> None:
            nonlocal seen, first
            if stop.is_set():
                raise Stopped("interrupted")
            if first and done > 0 and notice is not None:
                of = "" if total is None else f" of {total:,}"
                self._say(notice, f"resuming {name}: {done:,}{of} bytes are already there")
            first = False
            if self._bar is not None:
                with self._lock:
                    self._bar.update(done - seen)
            seen = done

        return report

    def _say(self, notice: Callable[[str], None], text: str) -> None:
        if self._bar is None:
            notice(text)
            return
        with self._lock, tqdm.external_write_mode():
            notice(text)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
