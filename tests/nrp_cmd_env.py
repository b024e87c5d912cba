"""nrp-cmd 1.0.1, unmodified, in its own Python 3.12 virtual environment, and a served repository.

The environment is made once per machine under ``${XDG_CACHE_HOME:-~/.cache}/nrpfiles/``
(from PyPI, so a fresh machine installs it on first use) and reused after; a
half-made one (no ``.installed`` marker) is made again. ``served`` runs
``nrpfiles serve`` as a user would, in its own process, and stops it.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

NRP_CMD = "nrp-cmd==1.0.1"
PYTHON_SERIES = "3.12"
_MARKER = ".installed"
# a command that does not finish in this long is stuck, not slow
COMMAND_TIMEOUT = 600


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nrpfiles" / f"nrp-cmd-1.0.1-py{PYTHON_SERIES}"


def find_python() -> Path | None:
    """A Python 3.12: pyenv's first, then ``python3.12`` on PATH."""
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates = sorted(glob.glob(os.path.join(pyenv_root, "versions", "3.12.*", "bin", "python")))
    on_path = shutil.which(f"python{PYTHON_SERIES}")
    for candidate in [*reversed(candidates), *([on_path] if on_path else [])]:
        try:
            done = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError):
            continue  # a pyenv shim for a version that is not installed
        if done.returncode == 0 and done.stdout.strip() == PYTHON_SERIES:
            return Path(candidate)
    return None


def ensure_nrp_cmd() -> Path:
    """The ``nrp-cmd`` executable, installing it first where it is not yet."""
    venv = cache_dir()
    executable = venv / "bin" / "nrp-cmd"
    if (venv / _MARKER).exists() and executable.exists():
        return executable
    base = find_python()
    if base is None:
        raise RuntimeError(f"nrp-cmd needs Python {PYTHON_SERIES}: install it (pyenv) first")
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / _MARKER).exists():  # another process may have made it meanwhile
            shutil.rmtree(venv, ignore_errors=True)
            # made in place: console scripts name their interpreter by absolute path
            _run([str(base), "-m", "venv", str(venv)])
            _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", NRP_CMD])
            (venv / _MARKER).write_text(NRP_CMD + "\n")
    return executable


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")


@dataclass
class Served:
    url: str
    token: str
    data_dir: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def served(data_dir: Path, token: str, *options: str) -> Iterator[Served]:
    """``nrpfiles serve --data-dir D --token T --port P`` and the options, until the block ends."""
    command = [
        sys.executable, "-m", "nrpfiles", "serve", *options,
        "--data-dir", str(data_dir), "--token", token, "--port", str(_free_port()),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert process.stdout is not None
        url = None
        printed = []
        for line in process.stdout:
            printed.append(line)
            if line.startswith("Repository:"):
                url = line.split(":", 1)[1].strip()
            if line.startswith("Press Ctrl-C"):
                break
        if url is None:
            raise RuntimeError("nrpfiles serve did not start:\n" + "".join(printed))
        # what it logs later is read as it comes, so a full pipe never blocks it
        threading.Thread(target=printed.extend, args=(process.stdout,), daemon=True).start()
        yield Served(url=url, token=token, data_dir=data_dir)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
