"""Rate limits in fixed windows, announced on every answer as Flask-Limiter announces them.

A window opens with the first request that finds none open and ends ``seconds``
later; until then at most ``requests`` are answered and the rest get 429. Every
answer says ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` (what is left of the
window after this request) and ``X-RateLimit-Reset``: the window's end in epoch
seconds, cut down to an integer (``int(end)``) as Flask-Limiter writes it. A 429
may also say ``Retry-After``: the seconds to the window's end, rounded up. A
refused request does not count against the window.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

_UNITS = ((86_400, "day"), (3_600, "hour"), (60, "minute"))


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` in a fixed window of ``seconds``; written ``N/SECONDS``."""

    requests: int
    seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or not self.seconds > 0:
            raise ValueError("a rate limit allows 1 or more requests in a window of over 0 s")

    @classmethod
    def of(cls, value: RateLimit | tuple[int, float] | str) -> RateLimit:
        """``RateLimit(30, 5.0)``, ``(30, 5.0)`` or ``"30/5"`` alike."""
        if isinstance(value, RateLimit):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        requests, seconds = value
        return cls(int(requests), float(seconds))

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        requests, slash, seconds = text.partition("/")
        try:
            if not slash:
                raise ValueError
            return cls(int(requests), float(seconds))
        except ValueError:
            raise ValueError(
                f"{text!r} is no rate limit: write N/SECONDS, e.g. 100/60 for 100 a minute"
            ) from None

    def __str__(self) -> str:
        seconds = int(self.seconds) if self.seconds.is_integer() else self.seconds
        return f"{self.requests}/{seconds}"

    def describe(self) -> str:
        """As Flask-Limiter names a limit in its 429: ``100 per 1 minute``, ``5 per 2 second``."""
        for size, unit in _UNITS:
            if self.seconds >= size and self.seconds % size == 0:
                return f"{self.requests} per {int(self.seconds // size)} {unit}"
        seconds = int(self.seconds) if self.seconds.is_integer() else self.seconds
        return f"{self.requests} per {seconds} second"


@dataclass(frozen=True)
class Verdict:
    """What the limiter decided for one request, and what the answer announces."""

    allowed: bool
    limit: RateLimit
    remaining: int
    window_end: float
    now: float

    def headers(self) -> list[tuple[str, str]]:
        return [
            ("X-RateLimit-Limit", str(self.limit.requests)),
            ("X-RateLimit-Remaining", str(self.remaining)),
            ("X-RateLimit-Reset", str(int(self.window_end))),
        ]

    @property
    def retry_after(self) -> int:
        """Seconds until the window ends, rounded up (at least 1)."""
        return max(1, math.ceil(self.window_end - self.now))


@dataclass
class _Window:
    end: float
    used: int


class RateLimiter:
    """Fixed windows per key (a user, an address); safe to share between threads."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._next_sweep = 0.0

    def hit(self, key: str, limit: RateLimit) -> Verdict:
        """Count one request of ``key`` against ``limit`` unless the window is spent."""
        with self._lock:
            now = self._clock()
            self._sweep(now)
            window = self._windows.get(key)
            if window is None or window.end <= now:
                window = self._windows[key] = _Window(end=now + limit.seconds, used=0)
            allowed = window.used < limit.requests
            if allowed:
                window.used += 1
            return Verdict(
                allowed=allowed,
                limit=limit,
                remaining=max(0, limit.requests - window.used),
                window_end=window.end,
                now=now,
            )

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def _sweep(self, now: float) -> None:
        """Forget ended windows now and then, so a long run with many keys stays small."""
        if now < self._next_sweep:
            return
        self._windows = {key: w for key, w in self._windows.items() if w.end > now}
        self._next_sweep = now + 60.0
