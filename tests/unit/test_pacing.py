"""The pacer against a simulated fixed-window rate limit, on a clock of its own."""

from __future__ import annotations

import heapq
import math
import random

import httpx
import pytest

from nrpfiles._pacing import RESET_MARGIN, Pacer, RateLimit, announced_rate_limit
from nrpfiles._retry import RetryableStatus

EPOCH = 1_800_000_000.25  # a window boundary that is not a whole second


class Clock:
    def __init__(self) -> None:
        self.now = EPOCH

    def __call__(self) -> float:
        return self.now


class WindowedServer:
    """A fixed window of ``limit`` requests per ``window`` seconds, as Flask-Limiter keeps:
    the first request that finds no window open opens one."""

    def __init__(self, limit: int, window: float, *, reset_rounding=math.floor) -> None:
        self.limit, self.window, self.rounding = limit, window, reset_rounding
        self.end = -math.inf
        self.used = 0
        self.refused = 0

    def handle(self, at: float) -> dict[str, str]:
        if at >= self.end:
            self.end, self.used = at + self.window, 0
        self.used += 1
        if self.used > self.limit:
            self.refused += 1
        used, end = self.used, self.end
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - used)),
            "X-RateLimit-Reset": str(self.rounding(end)),
        }


def run(requests: int, server: WindowedServer, *, workers: int = 1, seed: int = 0) -> float:
    """``workers`` callers sharing one pacer; each request takes 5-30 ms to answer."""
    clock = Clock()
    pacer, rng = Pacer(clock), random.Random(seed)
    # (when, order, kind, worker, headers): workers ready to ask, and answers arriving.
    events: list[tuple[float, int, str, int, dict[str, str]]] = []
    order = iter(range(10**9))
    for worker in range(workers):
        heapq.heappush(events, (EPOCH, next(order), "ready", worker, {}))
    sent = 0
    while events:
        at, _, kind, worker, headers = heapq.heappop(events)
        clock.now = max(clock.now, at)
        if kind == "answer":
            pacer.answered(announced_rate_limit(headers, now=clock.now))
            kind = "ready"
        if sent >= requests:
            continue
        wait = pacer.reserve()
        if wait > 0:
            heapq.heappush(events, (clock.now + wait, next(order), "ready", worker, {}))
            continue
        answer = server.handle(clock.now)
        sent += 1
        done = clock.now + rng.uniform(0.005, 0.03)
        heapq.heappush(events, (done, next(order), "answer", worker, answer))
    return clock.now - EPOCH


def shortest(requests: int, limit: int, window: float) -> float:
    return (math.ceil(requests / limit) - 1) * window


@pytest.mark.parametrize("workers", [1, 4, 32])
def test_a_burst_through_a_window_is_never_refused_and_nearly_as_fast_as_allowed(workers) -> None:
    # The reset in whole seconds, cut down as Flask-Limiter writes it.
    server = WindowedServer(30, 5.0, reset_rounding=math.floor)
    took = run(1200, server, workers=workers)
    assert server.refused == 0
    assert took <= 1.15 * shortest(1200, 30, 5.0)


def test_a_server_that_announces_nothing_is_not_paced() -> None:
    pacer = Pacer(Clock())
    assert pacer.reserve() == 0
    assert pacer.reserve() > 0  # the others wait for the first answer, briefly
    pacer.answered(None)
    assert all(pacer.reserve() == 0 for _ in range(1000))


def test_the_remaining_budget_is_spread_evenly_up_to_the_reset() -> None:
    clock = Clock()
    pacer = Pacer(clock)
    pacer.reserve()
    pacer.answered(RateLimit(limit=10, remaining=4, reset_in=3.0))
    sent_at = []
    for _ in range(4):
        while (wait := pacer.reserve()) > 0:
            clock.now += wait
        sent_at.append(clock.now - EPOCH)
        pacer.answered(None)
    window = 3.0 + RESET_MARGIN  # the reset counts whole seconds: one is added
    assert sent_at == pytest.approx([0, window / 4, 2 * window / 4, 3 * window / 4])
    # The budget is spent: the next request waits for the window to end.
    assert pacer.reserve() == pytest.approx(window / 4)


def test_answers_that_overtake_each_other_only_lower_what_remains() -> None:
    clock = Clock()
    pacer = Pacer(clock)
    pacer.reserve()
    pacer.answered(RateLimit(limit=10, remaining=2, reset_in=5.0))
    pacer.answered(RateLimit(limit=10, remaining=7, reset_in=5.0))  # an older answer, late
    for _ in range(2):
        while (wait := pacer.reserve()) > 0:
            clock.now += wait
    assert pacer.reserve() > 1.0  # only two were left: the rest waits for the next window


def test_rate_limit_headers_are_read_against_the_answers_own_date() -> None:
    headers = {
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Remaining": "42",
        "X-RateLimit-Reset": "1800000060",
        "Date": "Fri, 15 Jan 2027 08:00:00 GMT",  # 1800000000
    }
    assert announced_rate_limit(headers, now=0) == RateLimit(100, 42, 60.0)
    assert announced_rate_limit({"X-RateLimit-Limit": "x"}) is None
    assert announced_rate_limit({}) is None


def test_a_429_without_retry_after_waits_for_the_reset() -> None:
    response = httpx.Response(
        429,
        headers={
            "X-RateLimit-Limit": "100",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": "1800000030",
            "Date": "Fri, 15 Jan 2027 08:00:00 GMT",
        },
    )
    assert RetryableStatus(response, b"").retry_after == 30 + RESET_MARGIN
    with_hint = httpx.Response(429, headers={**response.headers, "Retry-After": "7"})
    assert RetryableStatus(with_hint, b"").retry_after == 7
