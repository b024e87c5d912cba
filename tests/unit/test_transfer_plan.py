"""How uploads are cut into parts before any byte moves."""

from __future__ import annotations

import pytest

from nrpfiles._transfer_plan import (
    DEFAULT_UPLOAD_PART_SIZE,
    MAX_REQUEST_SIZE,
    RESUMABLE_MIN_PART_SIZE,
    S3_MAX_PARTS,
    S3_MIN_PART_SIZE,
    upload_parts,
)

MIB = 1 << 20
GIB = 1 << 30


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (64 * MIB, (4, 16 * MIB)),
        (256 * MIB, (16, 16 * MIB)),  # not 52 parts of 5 MiB, a request each
        (1 * GIB, (64, 16 * MIB)),
        (16 * GIB, (256, 64 * MIB)),  # a large file: a few percent lost per kill
        (64 * GIB, (656, 100 * MIB)),  # but no part above what InvenioRDM takes
        (64 * MIB + 1, (5, 16 * MIB)),
    ],
)
def test_a_resumable_upload_gets_parts_of_16_to_100_mib_and_256_parts_where_large(size, expected):
    assert upload_parts(size, None, resumable=True) == expected


def test_in_flight_parts_of_a_resumable_upload_stay_a_few_percent_of_a_large_file():
    for size in (1 * GIB, 25 * GIB, 100 * GIB):
        part_size = upload_parts(size, None, resumable=True)[1]
        assert 4 * part_size <= 0.07 * size


@pytest.mark.parametrize("resumable", [True, False])
def test_parts_chosen_stay_within_one_request_of_invenio_until_s3_allows_no_more_parts(
    resumable,
):
    for size in (25 * GIB, 200 * GIB, 900 * GIB):
        assert upload_parts(size, None, resumable=resumable)[1] <= MAX_REQUEST_SIZE
    # beyond 10,000 parts of 100 MiB only larger parts can carry the file
    parts, part_size = upload_parts(2 * 1024 * GIB, None, resumable=resumable)
    assert parts == S3_MAX_PARTS and part_size > MAX_REQUEST_SIZE


def test_an_upload_that_cannot_resume_keeps_the_default_part_size():
    assert upload_parts(256 * MIB, None) == (8, DEFAULT_UPLOAD_PART_SIZE)


def test_a_part_size_asked_for_wins_over_the_resumable_default():
    assert upload_parts(256 * MIB, {"part_size": S3_MIN_PART_SIZE}, resumable=True) == (
        52,
        S3_MIN_PART_SIZE,
    )
    assert upload_parts(256 * MIB, {"parts": 4}, resumable=True) == (4, 64 * MIB)


def test_the_resumable_floor_is_above_what_s3_requires():
    assert RESUMABLE_MIN_PART_SIZE >= S3_MIN_PART_SIZE
