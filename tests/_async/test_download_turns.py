"""The ranges of a verified download begin in turn while the hash may be the limit.

See ``nrpfiles._trailing_hasher``: until the hash has waited for bytes, a range
begins only as the bytes before it near; one that had to wait for a hash that
fell behind takes the untouched ranges after it into its request.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time

import httpx
import pytest

from nrpfiles._concurrency import async_gather, async_sleep
from nrpfiles.errors import RepositoryServerError
from nrpfiles.streams import MemorySink
from tests._async.test_files_mocked import (  # noqa: F401 (fixtures)
    client,
    content_route,
    file_entry,
)
from tests.parallel import async_within

MIB = 1 << 20


class _SlowMd5:
    """MD5 slower than the mocked network: a download whose hash is the limit."""

    def __init__(self) -> None:
        self._md5 = hashlib.md5()

    def update(self, data: bytes | memoryview, /) -> None:
        time.sleep(0.03)
        self._md5.update(data)

    def hexdigest(self) -> str:
        return self._md5.hexdigest()


def _asked(route) -> list[tuple[int, int]]:
    """The byte ranges (start, end exclusive) the download asked for, in order of start."""
    spans = []
    for call in route.calls:
        match = re.fullmatch(r"bytes=(\d+)-(\d+)", call.request.headers["Range"])
        assert match is not None
        spans.append((int(match[1]), int(match[2]) + 1))
    return sorted(spans)


async def test_where_the_hash_is_the_limit_ranges_not_begun_go_several_in_a_request(
    client, respx_mock, monkeypatch
):
    monkeypatch.setattr("nrpfiles._checksums.md5_digest", _SlowMd5)
    monkeypatch.setattr("nrpfiles._trailing_hasher._MAX_HELD", 2 * MIB)
    data = bytes(range(256)) * (16 << 12)  # 16 ranges of 1 MiB
    route = content_route(respx_mock, data, ranges=True)
    sink = MemorySink()
    await client.files.download(file_entry(data), sink, part_size=MIB)
    assert sink.data == data
    spans = _asked(route)
    position = 0
    for start, end in spans:  # every byte asked for once, in whole ranges
        assert start == position and (end - start) % MIB == 0
        position = end
    assert position == len(data)
    lengths = [end - start for start, end in spans]
    assert max(lengths) > MIB  # taken in together
    assert max(lengths) <= 4 * MIB  # no more than would have run at once


async def test_where_the_network_is_the_limit_ranges_run_four_at_once(client, respx_mock):
    data = bytes(range(256)) * (12 << 12)  # 12 ranges of 1 MiB
    route = content_route(respx_mock, data, ranges=True)
    serve = route.side_effect
    in_flight, most, lock = [0], [0], threading.Lock()

    async def slowly(request: httpx.Request) -> httpx.Response:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        await async_sleep(0.5)  # a slow link: the hash waits for every range
        with lock:
            in_flight[0] -= 1
        return serve(request)

    route.side_effect = slowly
    sink = MemorySink()
    await client.files.download(file_entry(data), sink, part_size=MIB)
    assert sink.data == data
    assert most[0] == 4
    assert all(end - start == MIB for start, end in _asked(route))


class _StuckMd5(_SlowMd5):
    """MD5 stuck in its first update until ``gate`` opens: a hash that never waits for bytes."""

    gate = threading.Event()

    def update(self, data: bytes | memoryview, /) -> None:
        self.gate.wait(timeout=60)
        super().update(data)


# "late": the job of the fourth range takes its place after the job of the fifth
# (threads start when the system runs them); the fifth waits for it, then its turn.
@pytest.mark.parametrize("late", [False, True], ids=["in-order", "late"])
async def test_a_range_that_fails_while_others_wait_for_their_turn_ends_the_download(
    client, respx_mock, monkeypatch, late
):
    from nrpfiles._async.ranged_download import AsyncRangedDownload

    begin = AsyncRangedDownload._begin

    async def begin_late(self, part):
        if late and part.start == 3 * MIB:
            await async_sleep(0.1)
        return await begin(self, part)

    monkeypatch.setattr(AsyncRangedDownload, "_begin", begin_late)
    monkeypatch.setattr("nrpfiles._checksums.md5_digest", _StuckMd5)
    monkeypatch.setattr(_StuckMd5, "gate", threading.Event())
    data = bytes(range(256)) * (12 << 12)
    route = content_route(respx_mock, data, ranges=True)
    serve = route.side_effect

    def failing_second(request: httpx.Request) -> httpx.Response:
        if request.headers["Range"].startswith(f"bytes={MIB}-"):
            return httpx.Response(500)
        return serve(request)

    route.side_effect = failing_second
    sink = MemorySink()
    try:
        with pytest.raises(RepositoryServerError):
            await client.files.download(file_entry(data), sink, part_size=MIB)
    finally:
        _StuckMd5.gate.set()
    assert all(start < 4 * MIB for start, _ in _asked(route))  # the rest never began


async def test_a_failure_ends_the_wait_of_ranges_for_their_turn_at_once(
    client, respx_mock, monkeypatch
):
    from nrpfiles import _trailing_hasher
    from nrpfiles._async import ranged_download

    # Waits that ended only on their own would outlast the bound below; the hash,
    # stuck, never counts as keeping up, so ranges ahead of it wait for their turn.
    monkeypatch.setattr(ranged_download, "_TURN_WAIT", 300.0)
    monkeypatch.setattr(_trailing_hasher, "_KEPT_UP_IDLE", 300.0)
    monkeypatch.setattr("nrpfiles._checksums.md5_digest", _StuckMd5)
    monkeypatch.setattr(_StuckMd5, "gate", threading.Event())
    waiting = threading.Event()
    wait_for_turn = _trailing_hasher.TrailingHasher.wait_for_turn

    def noted(hasher, *arguments):
        waiting.set()
        wait_for_turn(hasher, *arguments)

    monkeypatch.setattr(_trailing_hasher.TrailingHasher, "wait_for_turn", noted)
    data = bytes(range(256)) * (12 << 12)
    route = content_route(respx_mock, data, ranges=True)
    serve = route.side_effect

    async def failing_second_once_a_range_waits(request: httpx.Request) -> httpx.Response:
        if not request.headers["Range"].startswith(f"bytes={MIB}-"):
            return serve(request)
        for _ in range(3000):
            if waiting.is_set():
                break
            await async_sleep(0.01)
        return httpx.Response(500)

    route.side_effect = failing_second_once_a_range_waits
    sink = MemorySink()

    async def download() -> None:
        await client.files.download(file_entry(data), sink, part_size=MIB)

    began = time.monotonic()
    try:
        with pytest.raises(RepositoryServerError):
            await async_within(120, download)
    finally:
        _StuckMd5.gate.set()
    assert time.monotonic() - began < 60  # far from a wait of 300 s that ended on its own
    assert waiting.is_set()  # the failure came while a range waited for its turn
    assert all(start < 4 * MIB for start, _ in _asked(route))  # it never began


# Twelve ranges four at a time; auto's first wave of ranges (3 MiB, beyond a turn) one at a time.
@pytest.mark.parametrize(
    ("options", "auto_range"), [({"part_size": MIB}, MIB), ({}, 3 * MIB)], ids=["asked", "auto"]
)
async def test_jobs_that_take_their_places_out_of_order_never_wait_for_a_range_not_begun(
    client, respx_mock, monkeypatch, options, auto_range
):
    """trio starts tasks in an order of its own: here the jobs of the ranges start last first."""
    import nrpfiles._transfer_plan as plan
    from nrpfiles._async import ranged_download, waves

    async def last_first(jobs, *, limit):
        return await async_gather(list(reversed(jobs)), limit=limit)

    monkeypatch.setattr(ranged_download, "async_gather", last_first)
    monkeypatch.setattr(waves, "async_gather", last_first)
    monkeypatch.setattr(plan, "RANGED_DOWNLOAD_THRESHOLD", MIB)
    monkeypatch.setattr(plan, "DEFAULT_DOWNLOAD_PART_SIZE", auto_range)
    data = bytes(range(256)) * (12 << 12)
    content_route(respx_mock, data, ranges=True)
    sink = MemorySink()
    await async_within(30, lambda: client.files.download(file_entry(data), sink, **options))
    assert sink.data == data
