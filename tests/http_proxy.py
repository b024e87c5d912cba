"""A real forward proxy on loopback (proxy.py) for proxy tests, and what it forwarded."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_STARTUP_SECONDS = 60.0


@dataclass
class ForwardProxy:
    url: str  # with the credentials it demands, if any
    log_path: Path

    def requests(self) -> list[dict[str, Any]]:
        """Every request the proxy forwarded, oldest first."""
        if not self.log_path.exists():
            return []
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def forget(self) -> None:
        self.log_path.write_text("", encoding="utf-8")


@contextmanager
def forward_proxy(workdir: Path, *, credentials: str | None = None) -> Iterator[ForwardProxy]:
    """proxy.py on 127.0.0.1, logging every request it forwards; stopped on exit."""
    port_file, log_path = workdir / "proxy.port", workdir / "requests.jsonl"
    command = [
        sys.executable, "-m", "proxy",
        "--hostname", "127.0.0.1", "--port", "0", "--port-file", str(port_file),
        "--num-acceptors", "1", "--num-workers", "1",
        "--log-level", "WARNING", "--log-file", str(workdir / "proxy.log"),
        "--plugins", "tests.proxy_request_log.RequestLog",
    ]  # fmt: skip
    if credentials:
        command += ["--basic-auth", credentials]
    env = {**os.environ, "PROXY_REQUEST_LOG": str(log_path), "PYTHONPATH": str(ROOT)}
    for name in [k for k in env if k.lower().endswith("_proxy")]:
        del env[name]
    process = subprocess.Popen(command, cwd=workdir, env=env, stdin=subprocess.DEVNULL)
    try:
        port = _wait_for_port(process, port_file)
        auth = f"{credentials}@" if credentials else ""
        yield ForwardProxy(f"http://{auth}127.0.0.1:{port}", log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_port(process: subprocess.Popen[bytes], port_file: Path) -> int:
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"proxy.py exited with {process.returncode} before listening")
        text = port_file.read_text().strip() if port_file.exists() else ""
        if text:
            port = int(text)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                pass
            else:
                return port
        time.sleep(0.05)
    raise RuntimeError("proxy.py did not start listening")
