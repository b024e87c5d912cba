"""One sync client shared by 32 threads, as a threaded WSGI server shares it, faults on.

Each thread creates drafts, uploads files into them, lists them and downloads
what it uploaded, over and over, for 60 seconds times ``NRPFILES_SOAK_SCALE``
(``-m soak`` selects it). Every operation must succeed and every byte come back:
a connection lost to another thread's idle check would fail a POST that is
not safe to repeat.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
import traceback
from collections import Counter
from typing import Any

import pytest

from nrpfiles import Client, RetryPolicy
from nrpfiles.streams import MemorySink

pytestmark = pytest.mark.soak

SCALE = float(os.environ.get("NRPFILES_SOAK_SCALE", "1"))
SECONDS = 60.0 * SCALE
THREADS = 32
FILES_PER_DRAFT = 20
KIB = 1 << 10
# Many requests each meet faults; enough attempts that none runs out by chance.
PATIENT = RetryPolicy(attempts=12, initial_wait=0.01, max_wait=0.05)


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


class Worker:
    def __init__(self, client: Client, number: int, deadline: float) -> None:
        self.client = client
        self.number = number
        self.deadline = deadline
        self.random = random.Random(number)
        self.done: Counter[str] = Counter()
        self.failures: list[str] = []

    def run(self) -> None:
        try:
            while time.monotonic() < self.deadline:
                self._one_draft()
        except BaseException:
            self.failures.append(traceback.format_exc())

    def _one_draft(self) -> None:
        draft = self.client.records.create({"metadata": {"title": f"Shared {self.number}"}})
        self.done["create"] += 1
        expected: dict[str, str] = {}
        for n in range(FILES_PER_DRAFT):
            if time.monotonic() >= self.deadline:
                return
            key = f"thread-{self.number}/file-{n:03d}.bin"
            data = self.random.randbytes(self.random.randint(0, 96 * KIB))
            file = self.client.files.upload(draft, key, {"n": n}, data)
            self.done["upload"] += 1
            assert (file.key, file.checksum, file.status) == (key, md5(data), "completed")
            expected[key] = md5(data)
            listed = {f.key: f.checksum for f in self.client.files.list(draft)}
            self.done["list"] += 1
            assert listed == expected
            assert self.client.files.download(file, MemorySink()).data == data
            self.done["download"] += 1


def test_one_client_shared_by_32_threads_through_faults(local_repository, record_property):
    repository = local_repository
    faults = repository.faults
    with Client(repository.url, token=repository.token, retry=PATIENT) as client:
        client.info()
        faults.configure(
            seed=13, error_rate=0.05, retry_after=0.01, cut_after_bytes=32 * KIB, cut_rate=0.2
        )
        deadline = time.monotonic() + SECONDS
        workers = [Worker(client, number, deadline) for number in range(THREADS)]
        threads = [threading.Thread(target=worker.run) for worker in workers]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            injected = faults.injected
            faults.clear()

    done: Counter[str] = sum((worker.done for worker in workers), Counter())
    failures = [failure for worker in workers for failure in worker.failures]
    summary: dict[str, Any] = {
        "threads": THREADS,
        "seconds": SECONDS,
        **done,
        "failures": len(failures),
        "faults": injected,
    }
    record_property("shared_client_soak", summary)
    print(f"shared client soak: {summary}")
    assert failures == [], failures[0]
    assert all(worker.done["download"] > 0 for worker in workers)
    assert sum(injected.values()) > 0
