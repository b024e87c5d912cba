"""Which partial download may be continued (the identity rules of the sidecar), and when a
sidecar is written."""

from __future__ import annotations

import pytest

from nrpfiles._partial_download import RemoteFile, ResumableFileWriter, sidecar_path

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


MIB = 1 << 20


def _writer(tmp_path, size):
    writer = ResumableFileWriter(tmp_path / "a.bin", remote(MD5, size=size))
    writer.follow(lambda: ([(0, size, 0)], None))
    return writer


def test_a_small_download_writes_no_sidecar_unless_interrupted(tmp_path):
    done = _writer(tmp_path, 1000)
    assert not sidecar_path(tmp_path / "a.bin").exists()  # a kill would start it over
    done.write_at(0, b"x" * 1000)
    done.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]

    interrupted = _writer(tmp_path / "again", 1000)
    interrupted.write_at(0, b"x" * 500)
    interrupted.abort()  # Ctrl-C, an error: what arrived is kept, with where it ends
    assert sidecar_path(tmp_path / "again" / "a.bin").exists()


def test_a_large_download_writes_its_sidecar_at_once(tmp_path):
    writer = _writer(tmp_path, 64 * MIB)
    assert sidecar_path(tmp_path / "a.bin").exists()  # a kill from now on resumes
    writer.discard()
    assert list(tmp_path.iterdir()) == []


def test_the_sidecar_grows_by_a_line_a_save_and_a_torn_last_line_is_passed_over(tmp_path):
    size = 64 * MIB
    written = [0]
    writer = ResumableFileWriter(tmp_path / "a.bin", remote(MD5, size=size))
    writer.follow(lambda: ([(0, size, written[0])], '"e"'))
    sidecar = sidecar_path(tmp_path / "a.bin")
    for _ in range(3):
        writer.write_at(written[0], b"x" * (4 * MIB))
        written[0] += 4 * MIB
        writer.wrote(4 * MIB)
    assert len(sidecar.read_text().splitlines()) == 4  # the first save and three more
    writer.abort()  # one more line: where the bytes end
    # A kill while the next line was being appended: only a piece of it is there.
    with sidecar.open("a") as stream:
        stream.write('{"format": "nrpfiles-partial-download/1", "ranges": [[0, 671')

    again = ResumableFileWriter(tmp_path / "a.bin", remote(MD5, size=size, etag='"e"'))
    assert again.resume_point is not None
    assert again.resume_point.bytes_on_disk == 12 * MIB
    again.discard()
    assert list(tmp_path.iterdir()) == []


def test_a_long_sidecar_is_replaced_by_its_last_line(tmp_path, monkeypatch):
    import nrpfiles._partial_download as partial

    monkeypatch.setattr(partial, "_LINES_PER_SIDECAR", 3)
    size = 64 * MIB
    written = [0]
    writer = ResumableFileWriter(tmp_path / "a.bin", remote(MD5, size=size))
    writer.follow(lambda: ([(0, size, written[0])], '"e"'))
    sidecar = sidecar_path(tmp_path / "a.bin")
    lines = []
    for _ in range(5):
        writer.write_at(written[0], b"x" * (4 * MIB))
        written[0] += 4 * MIB
        writer.wrote(4 * MIB)
        lines.append(len(sidecar.read_text().splitlines()))
    assert lines == [2, 3, 1, 2, 3]
    writer.write_at(written[0], b"x" * (size - written[0]))
    written[0] = size
    writer.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


@pytest.mark.parametrize(
    "ranges",
    [
        [[0, 32 * MIB, 4 * MIB]],  # the last range is missing
        [[0, 32 * MIB, 4 * MIB], [40 * MIB, 64 * MIB, 0]],  # a gap
        [[8 * MIB, 64 * MIB, 4 * MIB]],  # the first bytes are missing
    ],
)
def test_a_sidecar_whose_ranges_leave_bytes_out_starts_over(tmp_path, ranges):
    size = 64 * MIB
    writer = ResumableFileWriter(tmp_path / "a.bin", remote(MD5, size=size))
    writer.follow(lambda: (ranges, '"e"'))
    writer.write_at(0, b"x" * (4 * MIB))
    writer.abort()
    assert sidecar_path(tmp_path / "a.bin").exists()

    again = ResumableFileWriter(tmp_path / "a.bin", remote(MD5, size=size, etag='"e"'))
    assert again.resume_point is None  # resumed, those bytes would never be fetched
    again.discard()
