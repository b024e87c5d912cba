"""Binary file objects as upload sources: every kind users pass, read without disturbing each other."""

from __future__ import annotations

import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from nrpfiles.file_objects import FileObjectSource, SpoolingSource, file_object_source
from nrpfiles.streams import SourceChangedError, as_source

CONTENT = bytes(range(256)) * 41 + b"tail"  # 10,500 bytes, no chunk size below divides it


def joined(source, offset=0, length=None, chunk_size=1000) -> bytes:
    return b"".join(source.iter_chunks(offset, length, chunk_size=chunk_size))


@pytest.fixture
def django_settings():
    from django.conf import settings

    if not settings.configured:
        settings.configure()
    return settings


def test_bytesio_is_read_from_its_position_and_left_open():
    buffer = io.BytesIO(b"header" + CONTENT)
    buffer.seek(6)
    source = as_source(buffer)
    assert isinstance(source, FileObjectSource)
    assert source.size == len(CONTENT)
    assert joined(source) == CONTENT
    assert joined(source, 100, 50) == CONTENT[100:150]
    assert not buffer.closed


def test_an_open_file_is_a_source_and_stays_open(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    with open(path, "rb") as handle:
        source = as_source(handle)
        assert source.name == "data.bin"
        assert joined(source) == CONTENT
        assert not handle.closed
    with open(path, "rb", buffering=0) as raw:  # raw reads may return less than asked
        assert joined(as_source(raw), chunk_size=4096) == CONTENT


def test_a_pipe_is_spooled_with_its_bytes_intact():
    read_end, write_end = os.pipe()

    def feed() -> None:
        with os.fdopen(write_end, "wb") as out:
            out.write(CONTENT)

    writer = threading.Thread(target=feed)
    writer.start()
    with os.fdopen(read_end, "rb") as pipe:
        source = as_source(pipe)
        writer.join()
        assert source.size == len(CONTENT)
        assert joined(source, 7) == CONTENT[7:]
        assert not pipe.closed


class OnlyRead:
    """A stream with nothing but ``read``: no seek, no tell, no closed."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, 333) if size > 0 else size)


def test_an_object_with_only_read_is_spooled():
    source = as_source(OnlyRead(CONTENT))
    assert source.size == len(CONTENT) and joined(source) == CONTENT


def test_size_is_checked_against_what_the_object_holds():
    with pytest.raises(ValueError, match="size=5"):
        as_source(io.BytesIO(CONTENT), size=5)
    with pytest.raises(SourceChangedError, match="more than the size=5"):
        joined(as_source(OnlyRead(CONTENT), size=5))
    with pytest.raises(SourceChangedError, match="ended after"):
        joined(as_source(OnlyRead(CONTENT), size=len(CONTENT) + 1))


def test_with_a_size_a_stream_is_read_as_its_ranges_are_asked_for():
    stream = OnlyRead(CONTENT)
    source = as_source(stream, size=len(CONTENT))
    assert isinstance(source, SpoolingSource)
    assert stream._data.tell() == 0  # nothing read before the upload asks
    assert joined(source, 0, 10) == CONTENT[:10]
    assert stream._data.tell() < len(CONTENT)  # only as far as asked for
    assert joined(source, 5000, 100) == CONTENT[5000:5100]
    assert joined(source) == CONTENT  # read again from the copy, as a retry would

    racing = as_source(OnlyRead(CONTENT * 30), size=len(CONTENT) * 30)
    spans = [(offset, 9000) for offset in range(0, len(CONTENT) * 29, 8000)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda span: joined(racing, *span, chunk_size=777), spans))
    assert results == [(CONTENT * 30)[o : o + n] for o, n in spans]


def test_text_and_closed_objects_are_refused_before_reading(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("text")
    with open(path) as text, pytest.raises(TypeError, match="binary mode"):
        as_source(text)
    closed = io.BytesIO(b"x")
    closed.close()
    with pytest.raises(ValueError, match="closed"):
        as_source(closed)

    class GivesText:
        def read(self, size: int = -1) -> str:
            return "text"

    with pytest.raises(TypeError, match="binary mode"):
        as_source(GivesText())


def test_parallel_readers_never_share_a_position():
    buffer = io.BytesIO(b"xx" + CONTENT * 20)
    buffer.seek(2)
    source = as_source(buffer)
    whole = CONTENT * 20
    ranges = [(offset, 3000) for offset in range(0, len(whole) - 3000, 2500)]

    def read(span: tuple[int, int]) -> bytes:
        return joined(source, span[0], span[1], chunk_size=7)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(read, ranges * 4))
    assert results == [whole[o : o + n] for o, n in ranges * 4]


def test_a_second_source_of_the_same_object_shares_its_lock():
    buffer = io.BytesIO(CONTENT)
    first, second = as_source(buffer), as_source(buffer)
    assert first._lock is second._lock  # two uploads of one object do not interleave seeks


def test_an_object_that_shrinks_is_reported():
    buffer = io.BytesIO(CONTENT)
    source = as_source(buffer)
    buffer.truncate(100)
    with pytest.raises(SourceChangedError):
        joined(source)


def test_django_uploads_in_memory_and_on_disk(django_settings):
    from django.core.files.uploadedfile import InMemoryUploadedFile, TemporaryUploadedFile

    in_memory = InMemoryUploadedFile(
        io.BytesIO(CONTENT), "file", "small.bin", "application/x-test", len(CONTENT), None
    )
    source = as_source(in_memory)
    assert source.name == "small.bin" and source.content_type == "application/x-test"
    assert joined(source) == CONTENT
    on_disk = TemporaryUploadedFile("large.bin", "application/octet-stream", len(CONTENT), None)
    try:
        on_disk.write(CONTENT)
        on_disk.seek(0)
        source = as_source(on_disk)
        assert source.name == "large.bin" and joined(source) == CONTENT
        assert not on_disk.closed
    finally:
        on_disk.close()


def test_werkzeug_file_storage_and_its_stream():
    from werkzeug.datastructures import FileStorage

    storage = FileStorage(io.BytesIO(CONTENT), filename="form.bin", content_type="text/csv")
    source = as_source(storage)
    assert source.name == "form.bin" and source.content_type == "text/csv"
    assert joined(source) == CONTENT
    storage.stream.seek(0)  # read from its position, like shutil.copyfileobj: rewind to read again
    assert joined(as_source(storage.stream)) == CONTENT
    assert not storage.stream.closed


def test_an_async_upload_object_is_read_through_its_file():
    from starlette.datastructures import UploadFile

    upload = UploadFile(io.BytesIO(CONTENT), filename="browser.bin")
    source = as_source(upload)
    assert source.name == "browser.bin" and joined(source) == CONTENT

    class AsyncOnly:
        async def read(self, size: int = -1) -> bytes:
            return b""

    with pytest.raises(TypeError, match="coroutine"):
        file_object_source(AsyncOnly())


class SeekReturnsNothing(io.BytesIO):
    def seek(self, offset: int, whence: int = 0) -> None:  # type: ignore[override]
        super().seek(offset, whence)


def test_a_seek_that_returns_nothing_is_measured_with_tell():
    buffer = SeekReturnsNothing(b"ab" + CONTENT)
    buffer.seek(2)
    source = as_source(buffer)
    assert isinstance(source, FileObjectSource) and joined(source) == CONTENT
