"""The sync reader is an io.RawIOBase: the standard library's file tools take it as it is."""

from __future__ import annotations

import io
import shutil

from nrpfiles import Client


def test_the_sync_reader_works_with_the_standard_io_tools(local_repository):
    data = bytes(range(256)) * 5000
    with Client(local_repository.url, token=local_repository.token) as client:
        draft = client.records.create({"metadata": {"title": "io"}})
        file = client.files.upload(draft, "io.bin", {}, data)
        with client.files.open(file) as stream:
            assert isinstance(stream, io.RawIOBase) and stream.readable()
            assert not stream.seekable()
            copy = io.BytesIO()
            shutil.copyfileobj(stream, copy, 10_000)
        assert copy.getvalue() == data and stream.closed
        with io.BufferedReader(client.files.open(file), 4096) as buffered:
            assert buffered.read(3) == data[:3]
            assert buffered.read() == data[3:]
