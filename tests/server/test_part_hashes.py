"""A multipart file's MD5, hashed while its parts arrive: always the MD5 of the file as committed."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from nrpfiles.testing.server.part_hashes import PartHashes

PART = 1 << 20
CONTENT = random.Random(3).randbytes(5 * PART + 12345)


@pytest.fixture
def hashes() -> Iterator[PartHashes]:
    keeper = PartHashes()
    yield keeper
    keeper.close()


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _staged(tmp_path: Path, hashes: PartHashes) -> Path:
    path = tmp_path / "staging"
    path.write_bytes(bytes(len(CONTENT)))  # laid out at once, as start_multipart does
    hashes.start("f", path)
    return path


def _write_part(hashes: PartHashes, path: Path, number: int, data: bytes = CONTENT) -> None:
    start = number * PART
    piece = data[start : start + PART]
    with open(path, "r+b") as stream:
        stream.seek(start)
        stream.write(piece)
    hashes.part_written("f", start, start + len(piece))


PART_COUNT = -(-len(CONTENT) // PART)


def _all_parts_written(tmp_path: Path, hashes: PartHashes, data: bytes = CONTENT) -> Path:
    """Every part of ``data`` written in order, and the hashing caught up with them."""
    path = _staged(tmp_path, hashes)
    for number in range(PART_COUNT):
        _write_part(hashes, path, number, data)
    hashes.settle("f")
    return path


@pytest.mark.parametrize(
    "order",
    [list(range(PART_COUNT)), list(reversed(range(PART_COUNT))), [1, 0, 3, 2, 5, 4]],
    ids=["in order", "reversed", "pairs swapped"],
)
def test_parts_in_any_order_give_the_md5_of_the_file(tmp_path, hashes, order):
    path = _staged(tmp_path, hashes)
    for number in order:
        _write_part(hashes, path, number)
    hashes.settle("f")
    assert hashes.md5("f", path) == _md5(CONTENT)


def test_the_prefix_is_hashed_as_parts_arrive_not_at_the_end(tmp_path, hashes):
    path = _staged(tmp_path, hashes)
    for number in range(PART_COUNT - 1):
        _write_part(hashes, path, number)
    hashes.settle("f")
    # Bytes already hashed are not read again: changed behind the keeper's back,
    # they do not show. (No client can do this: a part sent again is noticed.)
    with open(path, "r+b") as stream:
        stream.write(b"\0" * PART)
    _write_part(hashes, path, PART_COUNT - 1)
    assert hashes.md5("f", path) == _md5(CONTENT)


def test_a_part_sent_again_with_other_bytes_gives_the_md5_of_what_is_stored(tmp_path, hashes):
    path = _all_parts_written(tmp_path, hashes)
    changed = bytearray(CONTENT)
    changed[PART : PART + 10] = b"0123456789"
    _write_part(hashes, path, 1, bytes(changed))
    assert hashes.md5("f", path) == _md5(bytes(changed))


def test_parts_that_never_came_are_zeros_in_the_md5(tmp_path, hashes):
    path = _staged(tmp_path, hashes)
    for number in (0, 1, 3):
        _write_part(hashes, path, number)
    expected = bytearray(CONTENT)
    expected[2 * PART : 3 * PART] = bytes(PART)
    expected[4 * PART :] = bytes(len(CONTENT) - 4 * PART)
    assert hashes.md5("f", path) == _md5(bytes(expected))


def test_a_last_part_longer_than_declared_is_cut_off_at_commit(tmp_path, hashes):
    path = _all_parts_written(tmp_path, hashes, CONTENT + b"beyond the declared size")
    with open(path, "r+b") as stream:
        stream.truncate(len(CONTENT))
    assert hashes.md5("f", path) == _md5(CONTENT)


def test_a_moved_file_is_read_where_it_now_is(tmp_path, hashes):
    path = _all_parts_written(tmp_path, hashes)
    committed = path.rename(tmp_path / "committed")
    assert hashes.md5("f", committed) == _md5(CONTENT)


def test_a_discarded_or_unknown_file_is_read_whole(tmp_path, hashes):
    path = _staged(tmp_path, hashes)
    _write_part(hashes, path, 0)
    hashes.discard("f")
    expected = CONTENT[:PART] + bytes(len(CONTENT) - PART)
    assert hashes.md5("f", path) == _md5(expected)
    assert hashes.md5("never started", path) == _md5(expected)
