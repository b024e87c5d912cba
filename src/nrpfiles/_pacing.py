"""Pacing to the rate limit a repository announces, instead of being throttled by it.

Sites such as Zenodo allow so many requests per window and say, on every
answer, how many remain and when the window resets (``X-RateLimit-Limit``,
``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` in epoch seconds). A client
that sends until refused wastes the refused requests and their waits; this one
spreads what remains of the budget evenly up to the reset and, once it is
spent, waits for the next window, so that nothing it sends is refused for rate.

One ``Pacer`` per client, shared by all its threads and tasks: a caller
reserves a moment to send under a lock and then sleeps until it, in whatever
way its flavour sleeps. A server that announces nothing is not paced at all.
"""

from __future__ import annotations

import contextvars
import email.utils
import logging
import threading
import time
from collections.abc import Callable, Mapping

import attrs

logger = logging.getLogger("nrpfiles")

# X-RateLimit-Reset counts whole seconds: the window may end up to a second after it.
RESET_MARGIN = 1.0
# Two answers whose window ends differ by less than this speak of the same window.
_SAME_WINDOW = 0.5
_FIRST_ANSWER_POLL = 0.02
# Beyond this, the local clock and the server's are taken to disagree.
_CLOCK_SKEW = 3.0


@attrs.frozen
class RateLimit:
    """What one answer said: the window's allowance, what is left of it, seconds to reset."""

    limit: int
    remaining: int
    reset_in: float


def announced_rate_limit(headers: Mapping[str, str], *, now: float | None = None) -> RateLimit | None:
    """The ``X-RateLimit-*`` headers of an answer; None when absent or unreadable.

    The reset is an epoch second of the server's clock. It is measured against
    the local clock, which is finer than the answer's whole-second ``Date``;
    only when the two disagree by more than a few seconds (a skewed clock) is
    ``Date`` the reference.
    """
    try:
        limit = int(headers["X-RateLimit-Limit"])
        remaining = int(headers["X-RateLimit-Remaining"])
        reset = float(headers["X-RateLimit-Reset"])
    except (KeyError, ValueError):
        return None
    current = time.time() if now is None else now
    server_now = _date_of(headers.get("Date"))
    if server_now is not None and abs(server_now - current) > _CLOCK_SKEW:
        current = server_now
    if limit <= 0:
        return None
    return RateLimit(limit=limit, remaining=max(0, remaining), reset_in=max(0.0, reset - current))


def _date_of(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


class Pacer:
    """When each request of one client may go, from what the repository announced.

    ``reserve()`` answers 0 when a request may go now, and counts it; otherwise
    the seconds to wait before asking again. Every request counted must be
    followed by ``answered()`` or ``unanswered()``.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._announces: bool | None = None  # unknown until the first answer
        self._limit: int | None = None
        self._period = 0.0  # the longest time to a reset seen: the window's length, near enough
        self._budget = 0  # requests that may still start before the window ends
        self._window_end = 0.0  # on the clock; a new window has surely begun after it
        self._next_slot = 0.0
        self._in_flight = 0

    def reserve(self) -> float:
        with self._lock:
            now = self._clock()
            if self._limit is None:
                if self._announces is None and self._in_flight:
                    # The first answer tells whether this server is paced; a burst of
                    # threads must not spend a window's allowance before it is known.
                    return _FIRST_ANSWER_POLL
                self._in_flight += 1
                return 0.0
            if now >= self._window_end:
                self._new_window(now)
            if self._budget <= 0:
                return self._window_end - now
            if now < self._next_slot:
                return self._next_slot - now
            self._budget -= 1
            self._in_flight += 1
            # What is left of the window, shared evenly by what is left of the budget.
            self._next_slot = now + (self._window_end - now) / (self._budget + 1)
            return 0.0

    def answered(self, announced: RateLimit | None) -> None:
        """A counted request got its answer (with what the answer announced, if anything)."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            if announced is None:
                if self._limit is None:
                    self._announces = False
                return
            self._announces = True
            end = self._clock() + announced.reset_in + RESET_MARGIN
            # Requests already on their way will count against what remains.
            budget = max(0, announced.remaining - self._in_flight)
            if self._limit is None or end > self._window_end + _SAME_WINDOW:
                self._budget = budget
            else:  # answers overtake each other: what remains only goes down in a window
                self._budget = min(self._budget, budget)
            self._window_end = max(self._window_end, end)
            self._limit = announced.limit
            self._period = max(self._period, announced.reset_in)

    def unanswered(self) -> None:
        """A counted request failed without an answer."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def _new_window(self, start: float) -> None:
        assert self._limit is not None
        self._budget = self._limit
        self._window_end = start + max(self._period, RESET_MARGIN)


# What a transfer shows of the waits its requests spent being paced (a progress bar's postfix).
pacing_observer: contextvars.ContextVar[Callable[[float], None] | None] = contextvars.ContextVar(
    "nrpfiles_pacing_observer", default=None
)


def report_pacing(seconds: float) -> None:
    logger.debug("pacing to the repository's rate limit: waiting %.2fs", seconds)
    observer = pacing_observer.get()
    if observer is not None:
        observer(seconds)
