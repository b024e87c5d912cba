from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from nrpfiles.streams import (
    PARTIAL_SUFFIX,
    DataSink,
    DataSource,
    FileSink,
    FileSource,
    MemorySink,
    MemorySource,
    SourceChangedError,
    as_sink,
    as_source,
    is_url,
)

CONTENT = bytes(range(256)) * 41  # 10,496 bytes, not a multiple of the chunk sizes below


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    return path


def partial_files(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.endswith(PARTIAL_SUFFIX)]


# --- sources -----------------------------------------------------------------


def test_file_source_size_name_and_default_content_type(data_file: Path) -> None:
    source = FileSource(data_file)
    assert source.size == len(CONTENT)
    assert source.name == "data.bin"
    assert source.content_type == "application/octet-stream"
    assert FileSource(str(data_file), content_type="text/csv").content_type == "text/csv"


@pytest.mark.parametrize("chunk_size", [1000, 4096, len(CONTENT), 1 << 20])
def test_file_source_chunks_are_bounded_and_complete(data_file: Path, chunk_size: int) -> None:
    chunks = list(FileSource(data_file).iter_chunks(chunk_size=chunk_size))
    assert all(isinstance(c, bytes) and 0 < len(c) <= chunk_size for c in chunks)
    assert b"".join(chunks) == CONTENT


@pytest.mark.parametrize("source_kind", ["file", "memory"])
@pytest.mark.parametrize(
    ("offset", "length"),
    [(0, None), (0, 10), (1000, 3000), (len(CONTENT) - 7, None), (len(CONTENT), None), (5, 0)],
)
def test_sources_read_ranges(
    data_file: Path, source_kind: str, offset: int, length: int | None
) -> None:
    source: DataSource = FileSource(data_file) if source_kind == "file" else MemorySource(CONTENT)
    expected = CONTENT[offset:] if length is None else CONTENT[offset : offset + length]
    chunks = list(source.iter_chunks(offset, length, chunk_size=999))
    assert b"".join(chunks) == expected
    assert all(0 < len(c) <= 999 for c in chunks)


@pytest.mark.parametrize("source_kind", ["file", "memory"])
def test_sources_refuse_ranges_outside_the_data(data_file: Path, source_kind: str) -> None:
    source: DataSource = FileSource(data_file) if source_kind == "file" else MemorySource(CONTENT)
    with pytest.raises(ValueError):
        source.iter_chunks(len(CONTENT) + 1)
    with pytest.raises(ValueError):
        source.iter_chunks(10, len(CONTENT))
    with pytest.raises(ValueError):
        source.iter_chunks(-1)
    with pytest.raises(ValueError):
        source.iter_chunks(chunk_size=0)


def test_file_source_ranges_read_independently(data_file: Path) -> None:
    source = FileSource(data_file)
    first = source.iter_chunks(0, 4000, chunk_size=1000)
    second = source.iter_chunks(6000, 4000, chunk_size=1000)
    interleaved_first, interleaved_second = [], []
    for a, b in zip(first, second, strict=True):
        interleaved_first.append(a)
        interleaved_second.append(b)
    assert b"".join(interleaved_first) == CONTENT[:4000]
    assert b"".join(interleaved_second) == CONTENT[6000:10000]


def test_file_source_ranges_read_from_many_threads(tmp_path: Path) -> None:
    content = os.urandom(1 << 20)
    path = tmp_path / "big.bin"
    path.write_bytes(content)
    source = FileSource(path)
    part = 100_000
    ranges = [(start, min(part, len(content) - start)) for start in range(0, len(content), part)]

    def read(offset_length: tuple[int, int]) -> bytes:
        return b"".join(source.iter_chunks(*offset_length, chunk_size=8192))

    with ThreadPoolExecutor(8) as pool:
        parts = list(pool.map(read, ranges))
    assert b"".join(parts) == content


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_file_source_closes_its_handle(data_file: Path) -> None:
    before = open_descriptors()
    chunks = FileSource(data_file).iter_chunks(chunk_size=100)
    next(chunks)
    assert open_descriptors() == before + 1
    chunks.close()
    assert open_descriptors() == before
    list(FileSource(data_file).iter_chunks(chunk_size=100))
    assert open_descriptors() == before


def test_file_source_missing_file(tmp_path: Path) -> None:
    source = FileSource(tmp_path / "nope.bin")  # constructing touches nothing
    with pytest.raises(FileNotFoundError):
        source.validate()
    with pytest.raises(FileNotFoundError):
        _ = source.size
    with pytest.raises(FileNotFoundError):
        as_source(tmp_path / "nope.bin")
    with pytest.raises(FileNotFoundError):
        as_source(str(tmp_path / "nope.bin"))


def test_file_source_directory(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        FileSource(tmp_path).validate()
    with pytest.raises(IsADirectoryError):
        _ = FileSource(tmp_path).size
    with pytest.raises(IsADirectoryError):
        as_source(tmp_path)


@pytest.mark.parametrize("source_kind", ["file", "memory"])
@pytest.mark.parametrize(("offset", "length"), [(0, None), (1000, 3000), (len(CONTENT), None)])
def test_views_give_the_bytes_chunks_give_one_buffer_at_a_time(
    data_file: Path, source_kind: str, offset: int, length: int | None
) -> None:
    source: DataSource = FileSource(data_file) if source_kind == "file" else MemorySource(CONTENT)
    expected = CONTENT[offset:] if length is None else CONTENT[offset : offset + length]
    seen, buffers = b"", set()
    for view in source.iter_views(offset, length, chunk_size=999):
        assert 0 < len(view) <= 999
        seen += bytes(view)  # taken before the next chunk refills the buffer
        if isinstance(view, memoryview):
            buffers.add(id(view.obj))
    assert seen == expected
    assert len(buffers) <= 1  # a file is read into one buffer, again and again


def test_file_views_that_find_the_file_shrunk_raise(data_file: Path) -> None:
    views = FileSource(data_file).iter_views(chunk_size=1000)
    next(views)
    data_file.write_bytes(CONTENT[:2500])
    with pytest.raises(SourceChangedError, match="shrank"):
        list(views)


def test_file_source_that_shrinks_while_read_raises(data_file: Path) -> None:
    chunks = FileSource(data_file).iter_chunks(chunk_size=1000)
    next(chunks)
    data_file.write_bytes(CONTENT[:2500])
    with pytest.raises(SourceChangedError, match="shrank"):
        list(chunks)
    assert issubclass(SourceChangedError, OSError)


def test_file_source_reads_the_size_it_saw_even_if_the_file_grows(data_file: Path) -> None:
    chunks = FileSource(data_file).iter_chunks(chunk_size=1000)
    first = next(chunks)
    with data_file.open("ab") as handle:
        handle.write(b"more")
    assert first + b"".join(chunks) == CONTENT


def test_memory_source_sizes_and_types() -> None:
    assert MemorySource(b"abc").size == 3
    assert MemorySource(bytearray(b"abcd")).size == 4
    assert MemorySource(memoryview(b"abcde")[1:]).size == 4
    assert MemorySource(b"x").content_type == "application/octet-stream"
    assert MemorySource(b"x", "text/plain").content_type == "text/plain"
    assert MemorySource(b"x").name is None


def test_memory_source_of_wide_items_counts_bytes() -> None:
    import array

    numbers = array.array("i", [1, 2, 3])
    source = MemorySource(memoryview(numbers))
    assert source.size == numbers.itemsize * 3
    assert b"".join(source.iter_chunks(chunk_size=5)) == numbers.tobytes()


def test_memory_source_zero_length() -> None:
    source = MemorySource(b"")
    assert source.size == 0
    assert list(source.iter_chunks()) == []
    source.validate()


def test_memory_source_chunks_are_bytes() -> None:
    chunks = list(MemorySource(bytearray(CONTENT)).iter_chunks(chunk_size=4096))
    assert [len(c) for c in chunks] == [4096, 4096, len(CONTENT) - 8192]
    assert all(type(c) is bytes for c in chunks)


def test_empty_file_source(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.touch()
    assert FileSource(path).size == 0
    assert list(FileSource(path).iter_chunks()) == []


def test_as_source_accepts_paths_bytes_and_sources(data_file: Path) -> None:
    assert isinstance(as_source(str(data_file)), FileSource)
    assert isinstance(as_source(data_file), FileSource)
    assert as_source(b"abc").size == 3
    assert as_source(bytearray(b"ab")).size == 2
    assert as_source(memoryview(b"a")).size == 1
    source = MemorySource(b"x")
    assert as_source(source) is source
    with pytest.raises(TypeError):
        as_source(42)


@pytest.mark.parametrize(
    "url", ["https://example.org/data.csv", "http://127.0.0.1:5000/x", "HTTPS://EXAMPLE.ORG/"]
)
def test_urls_are_not_upload_sources(url: str) -> None:
    import httpx

    assert is_url(url)
    assert is_url(httpx.URL(url))
    with pytest.raises(ValueError, match="url-fetch"):
        as_source(url)
    with pytest.raises(ValueError):
        as_sink(url)


@pytest.mark.parametrize(
    "value", ["/tmp/https://x", "data.csv", "httpdata.csv", b"https://x", Path("https:/x")]
)
def test_paths_and_bytes_are_not_urls(value: object) -> None:
    assert not is_url(value)


# --- sinks -------------------------------------------------------------------


def test_file_sink_str_and_path(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    sink = FileSink(target)
    assert str(sink) == str(target)
    assert sink.path == target
    assert isinstance(as_sink(str(target)), FileSink)
    assert as_sink(target).path == target  # type: ignore[attr-defined]
    assert as_sink(sink) is sink
    with pytest.raises(TypeError):
        as_sink(b"bytes are no target")


def test_file_sink_writes_into_a_temporary_file_then_renames(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    writer = FileSink(target).open(len(CONTENT))
    writer.write_at(0, CONTENT)
    assert not target.exists()
    (temp,) = partial_files(tmp_path)
    assert temp.name.startswith(".out.bin.")
    assert temp.parent == tmp_path
    writer.commit()
    assert target.read_bytes() == CONTENT
    assert partial_files(tmp_path) == []
    writer.abort()  # after commit: nothing to do, the target stays
    assert target.read_bytes() == CONTENT


def test_file_sink_commit_replaces_an_existing_target(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    writer = FileSink(target).open(None)
    writer.write_at(0, b"new content")
    assert target.read_bytes() == b"old"
    writer.commit()
    assert target.read_bytes() == b"new content"


def test_file_sink_abort_keeps_existing_target_and_removes_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    writer = FileSink(target).open(100)
    writer.write_at(0, b"half")
    writer.abort()
    writer.abort()
    assert target.read_bytes() == b"old"
    assert partial_files(tmp_path) == []
    with pytest.raises(ValueError):
        writer.write_at(0, b"x")
    with pytest.raises(ValueError):
        writer.commit()


def test_file_sink_writer_context_aborts_on_error(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError), FileSink(target).open(10) as writer:
        writer.write_at(0, b"abc")
        raise RuntimeError("connection lost")
    assert not target.exists()
    assert partial_files(tmp_path) == []


def test_file_sink_writer_context_keeps_a_committed_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with FileSink(target, fsync=True).open(3) as writer:
        writer.write_at(0, b"abc")
        writer.commit()
    assert target.read_bytes() == b"abc"


def test_file_sink_makes_parent_directories(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c" / "out.bin"
    sink = as_sink(str(target))
    with sink.open(2) as writer:
        writer.write_at(0, b"ok")
        writer.commit()
    assert target.read_bytes() == b"ok"


def test_file_sink_onto_a_directory_fails_before_writing(tmp_path: Path) -> None:
    sink = FileSink(tmp_path)
    with pytest.raises(IsADirectoryError):
        sink.validate()
    with pytest.raises(IsADirectoryError):
        sink.open(10)


def test_file_sink_new_file_follows_umask(tmp_path: Path) -> None:
    if os.name != "posix":
        pytest.skip("permission bits are POSIX")
    target = tmp_path / "out.bin"
    with FileSink(target).open(1) as writer:
        writer.write_at(0, b"x")
        writer.commit()
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_file_sink_long_names_still_fit(tmp_path: Path) -> None:
    target = tmp_path / ("n" * 250)
    with FileSink(target).open(1) as writer:
        writer.write_at(0, b"x")
        writer.commit()
    assert target.read_bytes() == b"x"


@pytest.mark.parametrize("sink_kind", ["file", "memory"])
@pytest.mark.parametrize("size_known", [True, False])
def test_parallel_write_at_from_threads(tmp_path: Path, sink_kind: str, size_known: bool) -> None:
    content = os.urandom(3 << 20)
    part = 65_537
    ranges = list(range(0, len(content), part))
    target = tmp_path / "out.bin"
    sink: DataSink = FileSink(target) if sink_kind == "file" else MemorySink()
    writer = sink.open(len(content) if size_known else None)

    def write_part(start: int) -> None:
        piece = content[start : start + part]
        for offset in range(0, len(piece), 4096):
            writer.write_at(start + offset, piece[offset : offset + 4096])

    start_together = threading.Barrier(8)

    def worker(starts: list[int]) -> None:
        start_together.wait()
        for start in starts:
            write_part(start)

    threads = [threading.Thread(target=worker, args=(ranges[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in writer.read_back(chunk_size=100_000):
        digest.update(chunk)
    assert digest.hexdigest() == hashlib.md5(content, usedforsecurity=False).hexdigest()
    writer.commit()
    written = target.read_bytes() if sink_kind == "file" else sink.data  # type: ignore[attr-defined]
    assert written == content


@pytest.mark.parametrize("sink_kind", ["file", "memory"])
def test_truncate_for_a_restarted_download(tmp_path: Path, sink_kind: str) -> None:
    sink: DataSink = FileSink(tmp_path / "out.bin") if sink_kind == "file" else MemorySink()
    writer = sink.open(None)
    writer.write_at(0, b"first attempt, broken")
    writer.truncate(0)
    writer.write_at(0, b"second")
    assert b"".join(writer.read_back()) == b"second"
    assert b"".join(writer.read_back(2, 3)) == b"con"
    writer.truncate(8)
    assert b"".join(writer.read_back()) == b"second\0\0"
    writer.commit()


def test_memory_sink_data_after_commit() -> None:
    sink = MemorySink()
    with pytest.raises(ValueError):
        _ = sink.data
    writer = sink.open(11)
    writer.write_at(6, b"world")
    writer.write_at(0, b"hello ")
    writer.commit()
    assert sink.data == b"hello world"
    assert type(sink.data) is bytes
    with pytest.raises(ValueError):
        writer.write_at(0, b"late")


def test_memory_sink_grows_without_a_size_and_fills_gaps() -> None:
    sink = MemorySink()
    writer = sink.open(None)
    writer.write_at(0, b"ab")
    writer.write_at(2, memoryview(b"cd"))
    writer.write_at(6, b"gh")
    writer.write_at(4, bytearray(b"ef"))
    writer.commit()
    assert sink.data == b"abcdefgh"


def test_memory_sink_zero_length_and_abort() -> None:
    sink = MemorySink()
    with sink.open(0) as writer:
        writer.commit()
    assert sink.data == b""
    aborted = MemorySink()
    with aborted.open(3) as writer:
        writer.write_at(0, b"abc")
    with pytest.raises(ValueError):
        _ = aborted.data
