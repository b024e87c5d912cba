"""Child processes of a conformance site: started so that none outlives the launcher.

Each child runs in its own session (a Ctrl-C in the terminal reaches the
launcher only, which then stops the children in order) and asks the kernel
to signal it when the launcher dies (PR_SET_PDEATHSIG, set by a one-line
Python wrapper that then execs the real program: preexec_fn is unsafe in a
threaded parent such as a test run). A watchdog process outlives the
launcher by design: it learns each child's process group and the paths to
remove (the work folder, sockets a child keeps elsewhere) through a pipe,
and if the pipe closes without a final "done" (the launcher was killed
outright), it kills those groups, grandchildren included, and removes the
paths.

Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

# Becomes the given user (while still root, so this interpreter was readable),
# then sets the parent-death signal (a change of user would clear it), exits if
# the parent is already gone, and execs the program.
_DIE_WITH_PARENT = (
    "import ctypes, os, pwd, sys\n"
    "signal_number, parent, user, *argv = sys.argv[1:]\n"
    "if user:\n"
    "    entry = pwd.getpwnam(user)\n"
    "    os.setgroups([]); os.setgid(entry.pw_gid); os.setuid(entry.pw_uid)\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, int(signal_number))\n"
    "if os.getppid() != int(parent): sys.exit(1)\n"
    "os.execvp(argv[0], argv)\n"
)

_WATCHDOG = r"""
import os, shutil, signal, sys, time
groups, paths, done = set(), [], False
for line in sys.stdin:
    word, _, value = line.strip().partition(" ")
    if word == "group": groups.add(int(value))
    elif word == "forget": groups.discard(int(value))
    elif word == "path": paths.append(value)
    elif word == "done": done = True
if done: sys.exit(0)
for sig in (signal.SIGTERM, signal.SIGKILL):
    for group in groups:
        try: os.killpg(group, sig)
        except OSError: pass
    deadline = time.monotonic() + 10
    while sig == signal.SIGTERM and time.monotonic() < deadline:
        alive = []
        for group in groups:
            try: os.killpg(group, 0); alive.append(group)
            except OSError: pass
        if not alive: break
        time.sleep(0.2)
for path in paths:
    if os.path.isdir(path) and not os.path.islink(path): shutil.rmtree(path, ignore_errors=True)
    else:
        try: os.remove(path)
        except OSError: pass
"""


class Watchdog:
    """Cleans up after a launcher that dies without cleaning up itself."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _WATCHDOG],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            text=True,
            bufsize=1,
        )

    def tell(self, line: str) -> None:
        if self.process.stdin and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.write(line + "\n")
                self.process.stdin.flush()

    def finish(self) -> None:
        """Everything was cleaned up normally: let the watchdog go."""
        self.tell("done")
        if self.process.stdin:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


class Child:
    """A running program with its log; stopped by process group."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log: Path,
        *,
        watchdog: Watchdog,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        death_signal: int = signal.SIGTERM,
        stdout: int | None = None,
    ) -> None:
        self.name, self.log, self.watchdog = name, log, watchdog
        wrapped = [
            sys.executable,
            "-I",
            "-S",
            "-c",
            _DIE_WITH_PARENT,
            str(int(death_signal)),
            str(os.getpid()),
            user or "",
            *argv,
        ]
        with open(log, "ab") as log_file:
            self.process = subprocess.Popen(
                wrapped,
                stdin=subprocess.DEVNULL,
                stdout=stdout if stdout is not None else log_file,
                stderr=log_file,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        watchdog.tell(f"group {self.process.pid}")

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, first_signal: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        """Signal the whole group, wait, then kill what is left."""
        group = self.process.pid
        for sig, wait in ((first_signal, timeout), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, sig)
            if _wait_group_gone(self.process, group, wait):
                break
        self.watchdog.tell(f"forget {group}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _wait_group_gone(process: subprocess.Popen[bytes], group: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.05)
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # a member under another user: still there
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def free_ports(count: int, grpc_offset: bool = False) -> list[int]:
    """Ports free on 127.0.0.1, below the kernel's ephemeral range so that no
    outgoing connection takes one before its server binds it. With grpc_offset,
    port + 10000 is free too (SeaweedFS derives some gRPC ports that way)."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randrange(15000, 22500)  # noqa: S311 (not for security)
        wanted = [port, port + 10000] if grpc_offset else [port]
        taken = {p for c in chosen for p in (c, c + 10000)}
        if not taken.intersection(wanted) and all(_bindable(p) for p in wanted):
            chosen.append(port)
    return chosen


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def http_status(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> int:
    """The status a GET gets, 0 when nothing answers (no redirects followed)."""
    request = urllib.request.Request(url, headers=headers or {})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (OSError, urllib.error.URLError):
        return 0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def wait_until(ready: Callable[[], bool], child: Child, timeout: float, what: str) -> None:
    """Poll until ready; fail early, with the log's end, if the child exits."""
    deadline = time.monotonic() + timeout
    while not ready():
        if not child.running:
            raise RuntimeError(
                f"{child.name} exited ({child.process.returncode}) before {what}:\n"
                f"{child.log_tail()}"
            )
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{child.name}: no {what} after {timeout:.0f} s:\n{child.log_tail()}"
            )
        time.sleep(0.1)
