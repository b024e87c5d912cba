"""The one retry policy: what is retried, how often, how long, and Retry-After.

Shared by both flavours; the HTTP layer of each wraps every request with it.
"""

from __future__ import annotations

import email.utils
import random
from datetime import datetime, timezone

import attrs
import httpx
from tenacity import RetryCallState, stop_after_attempt, stop_any
from tenacity.stop import stop_base

from nrpfiles._pacing import RESET_MARGIN, announced_rate_limit

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})

# The server said it did not process the request: safe to replay any method.
_NOT_PROCESSED_STATUSES = frozenset({429, 503})
# The request may have been processed: replay only when repeating it is harmless.
_MAYBE_PROCESSED_STATUSES = frozenset({500, 502, 504})

# Failures before the request left the machine: safe to replay any method.
_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How a client retries.

    ``attempts`` counts every try, the first included. Waits grow from
    ``initial_wait`` by ``multiplier`` up to ``max_wait``, with full jitter.
    A ``Retry-After`` the server sends is honoured exactly while it is at most
    ``max_retry_after`` seconds; a longer one ends the retries at once, so a
    script does not hang for an hour on a rate limit.
    """

    attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    initial_wait: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    max_wait: float = attrs.field(default=30.0, validator=attrs.validators.ge(0))
    multiplier: float = attrs.field(default=2.0, validator=attrs.validators.ge(1))
    jitter: bool = True
    max_retry_after: float = attrs.field(default=120.0, validator=attrs.validators.ge(0))

    def backoff(self, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number`` (1 for the first retry)."""
        ceiling = min(self.max_wait, self.initial_wait * self.multiplier ** (retry_number - 1))
        if not self.jitter:
            return ceiling
        # Half fixed, half random: spreads clients apart without ever waiting ~0.
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - not cryptographic

    def wait_before(self, retry_number: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return self.backoff(retry_number)

    def stop(self) -> stop_base:
        """When tenacity gives up: out of attempts, or asked to wait longer than allowed."""
        return stop_any(stop_after_attempt(self.attempts), _RetryAfterTooLong(self.max_retry_after))

    def wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        retry_after = error.retry_after if isinstance(error, RetryableStatus) else None
        return self.wait_before(state.attempt_number, retry_after)


class _RetryAfterTooLong(stop_base):
    def __init__(self, limit: float) -> None:
        self._limit = limit

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome else None
        return (
            isinstance(error, RetryableStatus)
            and error.retry_after is not None
            and error.retry_after > self._limit
        )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None if absent or bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = datetime.now(timezone.utc).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


class RetryableStatus(Exception):
    """A response whose status asks for a retry; carries what the final error needs."""

    def __init__(self, response: httpx.Response, body: bytes) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.body = body
        self.retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if self.retry_after is None and response.status_code == 429:
            # Refused for rate with no hint: the window's reset says when to try again.
            announced = announced_rate_limit(response.headers)
            if announced is not None:
                self.retry_after = announced.reset_in + RESET_MARGIN


def status_is_retryable(status: int, *, idempotent: bool) -> bool:
    if status in _NOT_PROCESSED_STATUSES:
        return True
    return idempotent and status in _MAYBE_PROCESSED_STATUSES


def error_is_retryable(error: BaseException, *, idempotent: bool) -> bool:
    if isinstance(error, RetryableStatus):
        return True
    if isinstance(error, _NOT_SENT_ERRORS):
        return True
    # Read errors, timeouts after sending, dropped connections: the server may
    # have acted, so only requests that are safe to repeat go again.
    return idempotent and isinstance(error, httpx.TransportError)


def describe(error: BaseException) -> str:
    """A short reason for log lines: never request headers."""
    if isinstance(error, RetryableStatus):
        reason = f"HTTP {error.response.status_code}"
        if error.retry_after is not None:
            reason += f", Retry-After {error.retry_after:g}s"
        return reason
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
