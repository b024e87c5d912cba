"""Faults on demand: errors, rate limits, cut connections, delays, refused parts.

Every decision is drawn from one seeded random generator, so a sequential client sees
the same faults on every run with the same seed.
"""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class FaultConfig:
    seed: int = 0
    error_rate: float = 0.0
    error_status: int = 503
    retry_after: float | None = None
    cut_after_bytes: int | None = None
    cut_rate: float = 1.0
    delay: float = 0.0
    refuse_multipart_parts: bool = False
    paths: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FaultDecision:
    """What happens to one request; drawn when the request arrives."""

    delay: float = 0.0
    error_status: int | None = None
    retry_after: float | None = None
    cut_after_bytes: int | None = None
    refuse_multipart_parts: bool = False


NO_FAULT = FaultDecision()


@dataclass
class _Counters:
    values: dict[str, int] = field(default_factory=dict)

    def add(self, name: str) -> None:
        self.values[name] = self.values.get(name, 0) + 1


class Faults:
    """Switchable while the repository runs; shared by its API and storage servers.

    ``cut_after_bytes=K`` cuts the connection after K bytes of any request or response
    body longer than K, with probability ``cut_rate``. A client that resumes from where
    it was cut therefore meets a cut about every K bytes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._config = FaultConfig()
        self._random = random.Random(0)  # noqa: S311  (reproducible faults, not secrets)
        self._paths: re.Pattern[str] | None = None
        self._counters = _Counters()

    def configure(
        self,
        seed: int = 0,
        error_rate: float = 0.0,
        error_status: int = 503,
        retry_after: float | None = None,
        cut_after_bytes: int | None = None,
        cut_rate: float = 1.0,
        delay: float = 0.0,
        refuse_multipart_parts: bool = False,
        paths: str | None = None,
    ) -> None:
        if not 0.0 <= error_rate <= 1.0 or not 0.0 <= cut_rate <= 1.0:
            raise ValueError("error_rate and cut_rate are probabilities between 0 and 1")
        if error_status < 400 or error_status > 599:
            raise ValueError("error_status must be an HTTP error status")
        if cut_after_bytes is not None and cut_after_bytes < 0:
            raise ValueError("cut_after_bytes must not be negative")
        config = FaultConfig(
            seed=int(seed),
            error_rate=float(error_rate),
            error_status=int(error_status),
            retry_after=None if retry_after is None else float(retry_after),
            cut_after_bytes=None if cut_after_bytes is None else int(cut_after_bytes),
            cut_rate=float(cut_rate),
            delay=float(delay),
            refuse_multipart_parts=bool(refuse_multipart_parts),
            paths=paths,
        )
        compiled = re.compile(paths) if paths else None
        with self._lock:
            self._config = config
            self._paths = compiled
            self._random = random.Random(config.seed)  # noqa: S311
            self._counters = _Counters()

    def clear(self) -> None:
        self.configure()

    @property
    def config(self) -> FaultConfig:
        with self._lock:
            return self._config

    @property
    def injected(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counters.values)

    def count(self, name: str) -> None:
        with self._lock:
            self._counters.add(name)

    def decide(self, path: str) -> FaultDecision:
        with self._lock:
            config = self._config
            if self._paths is not None and not self._paths.search(path):
                return NO_FAULT
            # draw both numbers every time so one switch does not shift the other's sequence
            error_draw = self._random.random()
            cut_draw = self._random.random()
            error_status = None
            if error_draw < config.error_rate:
                error_status = config.error_status
                self._counters.add(str(error_status))
            if config.delay > 0:
                self._counters.add("delay")
        cut = config.cut_after_bytes if cut_draw < config.cut_rate else None
        return FaultDecision(
            delay=config.delay,
            error_status=error_status,
            retry_after=config.retry_after,
            cut_after_bytes=cut,
            refuse_multipart_parts=config.refuse_multipart_parts,
        )


def injected_error(decision: FaultDecision) -> tuple[int, str, dict[str, str]]:
    """The answer to a request drawn to fail: status, message and headers.

    A 429 carries a Retry-After (one second unless configured) and rate-limit
    headers saying nothing remains until then; a 503 a Retry-After only when
    one is configured.
    """
    status = decision.error_status or 503
    headers: dict[str, str] = {}
    if status == 429:
        retry_after = decision.retry_after if decision.retry_after is not None else 1
        headers["Retry-After"] = _seconds(retry_after)
        headers["X-RateLimit-Limit"] = "5000"
        headers["X-RateLimit-Remaining"] = "0"
        headers["X-RateLimit-Reset"] = str(int(time.time() + float(retry_after)))
        return status, "Too many requests. Please try again later.", headers
    if decision.retry_after is not None:
        headers["Retry-After"] = _seconds(decision.retry_after)
    return status, "The server is temporarily unavailable. Please try again later.", headers


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
