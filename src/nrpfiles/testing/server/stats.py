"""Counters of what the API answered, for tests that check how a client behaved.

``rate_limited`` counts the 429s the rate limit answered; ``requests`` every answer
of the API (``/_local/`` and the storage server aside, and injected faults, which
``Faults.injected`` counts); ``statuses`` them by status; ``refused_user_agent``
and ``refused_multipart`` the requests a profile refuses.
"""

from __future__ import annotations

import threading
from typing import Any

COUNTERS = ("requests", "rate_limited", "refused_user_agent", "refused_multipart")


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters = dict.fromkeys(COUNTERS, 0)
        self._statuses: dict[str, int] = {}

    def answered(self, status: int) -> None:
        with self._lock:
            self._counters["requests"] += 1
            self._statuses[str(status)] = self._statuses.get(str(status), 0) + 1

    def add(self, name: str) -> None:
        with self._lock:
            self._counters[name] = self._counters.get(name, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {**self._counters, "statuses": dict(sorted(self._statuses.items()))}

    def reset(self) -> None:
        with self._lock:
            self._counters = dict.fromkeys(COUNTERS, 0)
            self._statuses = {}
