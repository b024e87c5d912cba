"""Transfers run in a child process that stops itself at about half way, for resume tests.

``python -m tests.killed_child CLIENT ACTION STOP_AT SIGNAL URL TOKEN ...`` runs one
download or upload with the named client class (``AsyncClient`` or ``Client``) and
sends itself ``SIGNAL`` (``KILL``, or ``STOP`` to hold its locks while paused) from
the progress callback once ``STOP_AT`` bytes have moved: judged by bytes, never by
time. The parent side, :func:`run_child`, waits for that and ends the child
whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Generous: a loaded machine may be slow, and nothing here is judged by time.
_PATIENCE_SECONDS = 900


def _stopper(stop_at: int, signal_name: str) -> Any:
    def progress(done: int, total: int | None) -> None:
        if done >= stop_at:
            os.kill(os.getpid(), getattr(signal, f"SIG{signal_name}"))

    return progress


def _transfer(client: Any, action: str, progress: Any, args: list[str]) -> Any:
    if action == "download":
        file_url, target = args
        return client.files.download(file_url, target, progress=progress)
    record_url, key, source, part_size = args
    options = {"part_size": int(part_size)} if int(part_size) else {}
    return client.files.upload(record_url, key, {}, source, "multipart", options, progress=progress)


def main(argv: list[str]) -> None:
    client_name, action, stop_at, signal_name, url, token, *rest = argv
    import nrpfiles

    client_class = getattr(nrpfiles, client_name)
    progress = _stopper(int(stop_at), signal_name)
    if client_name.startswith("Async"):

        async def run() -> None:
            async with client_class(url, token=token) as client:
                await _transfer(client, action, progress, rest)

        asyncio.run(run())
    else:
        with client_class(url, token=token) as client:
            _transfer(client, action, progress, rest)


@contextlib.contextmanager
def child(*args: object) -> Iterator[subprocess.Popen[bytes]]:
    """A running child transfer; killed and reaped on the way out, also on failure."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.killed_child", *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def run_child(*args: object) -> None:
    """Run a child transfer that must end killed by its own SIGKILL."""
    with child(*args) as process:
        _, err = process.communicate(timeout=_PATIENCE_SECONDS)
        assert process.returncode == -signal.SIGKILL, (
            f"the child ended with {process.returncode}, not killed: {err.decode()[-2000:]}"
        )


def wait_until_stopped(process: subprocess.Popen[bytes]) -> None:
    """Wait until the child paused itself (SIGSTOP) holding whatever it holds."""
    _, status = os.waitpid(process.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), f"the child ended ({status}) instead of pausing"


if __name__ == "__main__":
    main(sys.argv[1:])
