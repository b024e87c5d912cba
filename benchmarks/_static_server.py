"""A minimal static file server answering GET with sendfile: the ceiling when nginx is absent.

    python benchmarks/_static_server.py DIRECTORY

Prints its base URL once it serves, and stops when stdin closes. Only GET of
whole files; enough for curl to show what the loopback and the disk allow.
"""

from __future__ import annotations

import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = Path()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = (self.root / self.path.lstrip("/")).resolve()
        if self.root not in path.parents or not path.is_file():
            self.send_error(404)
            return
        size = path.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        with open(path, "rb") as stream:
            self.connection.sendfile(stream, 0, size)


def main() -> None:
    handler = type("Handler", (_Handler,), {"root": Path(sys.argv[1]).resolve()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    sys.stdin.read()
    server.shutdown()
    os._exit(0)


if __name__ == "__main__":
    main()
