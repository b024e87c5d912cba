"""Which partial download may be continued: the identity rules of the sidecar."""

from __future__ import annotations

import pytest

from nrpfiles._partial_download import RemoteFile

URL = "http://127.0.0.1:5000/api/records/abc/files/a.bin/content"
MD5 = "md5:" + "1" * 32
MULTIPART = f"multipart:{'2' * 32}-3-5242880"


def remote(checksum, etag=None, size=100, url=URL):
    return RemoteFile(url, "a.bin", size, checksum, etag)


@pytest.mark.parametrize(
    ("now", "before", "continues"),
    [
        (remote(MD5), remote(MD5), True),
        (remote(MD5), remote("md5:" + "3" * 32, etag='"e"'), False),  # the content changed
        (remote(MD5), remote(MD5, size=99), False),
        # S3's checksum turned from multipart: to md5: over the same bytes: the ETag decides
        (remote(MD5), remote(MULTIPART, etag='"2-3"'), True),
        (remote(MD5), remote(MULTIPART), False),  # nothing to pin the old version with
        (remote(MD5), remote(MULTIPART, etag='"2-3"', url=URL + "x"), False),
        (remote(None), remote(None, etag='"e"'), True),  # checksum not computed yet
        (remote(None), remote(None), False),
    ],
)
def test_a_partial_download_is_continued_only_for_the_same_file(now, before, continues):
    assert now.continues(before) is continues
