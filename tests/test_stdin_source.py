"""sys.stdin.buffer as an upload source, in a process of its own fed through a pipe."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from nrpfiles import Client
from nrpfiles.streams import MemorySink

UPLOAD_STDIN = """
import sys
from nrpfiles import Client
url, token, record, size = sys.argv[1:]
with Client(url, token=token) as client:
    size = int(size) if size != "-" else None
    file = client.files.upload(record, "stdin.bin", {}, sys.stdin.buffer, size=size)
    print(file.checksum)
"""


@pytest.mark.parametrize("size_given", [False, True], ids=["spooled-first", "size-given"])
def test_standard_input_is_uploaded(local_repository, size_given):
    data = os.urandom(3 << 20)
    with Client(local_repository.url, token=local_repository.token) as client:
        draft = client.records.create({"metadata": {"title": "stdin"}})
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                UPLOAD_STDIN,
                local_repository.url,
                local_repository.token,
                draft.id,
                str(len(data)) if size_given else "-",
            ],
            input=data,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()
        assert done.stdout.decode().strip() == "md5:" + hashlib.md5(data).hexdigest()
        assert client.files.download(draft, "stdin.bin", MemorySink()).data == data
