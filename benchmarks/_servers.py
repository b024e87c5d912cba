"""What the benchmarks run against: the local repository (plain, with latency, on S3), a static
file server, the real InvenioRDM 14; each in processes of its own, stopped at the end."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"


def python() -> str:
    return sys.executable


@dataclass
class Repository:
    """A repository the rows run against: its address, token, and a plain HTTP client."""

    url: str
    api_url: str
    token: str
    # Frees the disk of deleted files' bytes (the local repository on S3); None elsewhere.
    reclaim: Callable[[], None] | None = None
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(headers={"Authorization": f"Bearer {self.token}"}, timeout=600)

    def new_draft(self, title: str) -> str:
        body = {"metadata": {"title": title}, "files": {"enabled": True}}
        response = self.http.post(f"{self.api_url}/records", json=body)
        response.raise_for_status()
        return str(response.json()["links"]["self"])

    def delete_file(self, draft: str, key: str) -> None:
        self.http.delete(f"{draft}/files/{key}")

    def delete_draft(self, draft: str) -> None:
        self.http.delete(draft)

    def reclaim_storage(self) -> None:
        """Between rows: the bytes of deleted files leave the disk before the next ones."""
        if self.reclaim is not None:
            self.reclaim()

    def storage_url(self, content_url: str) -> str:
        """Where the repository sends a download: its 302's Location, or the URL itself."""
        response = self.http.get(content_url, follow_redirects=False)
        location = response.headers.get("Location")
        response.close()
        return (
            str(response.url.join(location))
            if response.status_code in (302, 303, 307) and location
            else content_url
        )


@dataclass
class Served:
    """A server process started by :func:`serving`: its ready line, and a way to ask it more."""

    ready: str
    process: subprocess.Popen[str]

    def ask(self, command: str) -> str:
        """Send one line on its stdin; its one-line answer."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()


@contextlib.contextmanager
def serving(command: list[str]) -> Iterator[Served]:
    """Run a server that prints one ready line and stops when its stdin closes."""
    log = open(WORK / f"{Path(command[1]).stem}.log", "a")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=HERE.parent,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"{command[:3]} did not start (see {log.name})")
        yield Served(line.strip(), process)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@contextlib.contextmanager
def local_repository(data_dir: Path, **options: Any) -> Iterator[Repository | str]:
    """The local repository in a process of its own; the reason as a string when it cannot start.

    ``options``: ``profile`` (e.g. "nrp"), ``delay`` (seconds added to every request).
    """
    shutil.rmtree(data_dir, ignore_errors=True)
    command = [python(), str(HERE / "_repository.py"), str(data_dir)]
    for name, value in options.items():
        command += [f"--{name}", str(value)]
    try:
        with serving(command) as served:
            info = json.loads(served.ready)
            if "error" in info:
                yield str(info["error"])
            else:
                reclaim = partial(served.ask, "reclaim")
                yield Repository(info["url"], info["api_url"], info["token"], reclaim)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def real_invenio(storage: str) -> Iterator[Repository | str]:
    """The conformance stage's real InvenioRDM 14 (heavy: a minute to start); or why not."""
    sys.path.insert(0, str(HERE.parent))
    try:
        from conformance.real_invenio import RealInvenio
    except Exception as error:
        yield f"the conformance stage cannot be imported: {error}"
        return
    site = RealInvenio(storage=storage)
    try:
        site.start()
    except Exception as error:
        site.stop()
        yield f"the real InvenioRDM did not start: {error}"
        return
    try:
        yield Repository(site.url, site.api_url, site.token)
    finally:
        site.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def static_server(directory: Path) -> Iterator[tuple[str, str]]:
    """(base URL, description) of nginx serving ``directory``, or of the sendfile fallback."""
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if not nginx:
        with serving([python(), str(HERE / "_static_server.py"), str(directory)]) as served:
            yield served.ready, "sendfile server (benchmarks/_static_server.py; nginx not installed)"
        return
    prefix = WORK / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = " ".join(
        f"{name}_temp_path {prefix}/{name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "nginx.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/error.log;\nevents {{ worker_connections 64; }}\n"
        f"http {{ access_log off; sendfile on; tcp_nopush on; {temp}\n"
        f"  default_type application/octet-stream;\n"
        f"  server {{ listen 127.0.0.1:{port}; root {directory}; }} }}\n"
    )
    process = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf")], stderr=subprocess.PIPE
    )
    try:
        for _ in range(50):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode() if process.stderr else "")
            time.sleep(0.1)
        version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr
        yield f"http://127.0.0.1:{port}", version.strip().replace("nginx version: ", "")
    finally:
        process.terminate()
        process.wait(timeout=10)
