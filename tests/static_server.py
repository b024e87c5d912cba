"""A plain static file server on loopback: a url-fetch source, and a curl ceiling."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _QuietHandler(SimpleHTTPRequestHandler):
    seen_authorization: list[str] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if "Authorization" in self.headers:
            self.seen_authorization.append(self.headers["Authorization"])
        super().do_GET()


@contextmanager
def serve_directory(directory: Path) -> Iterator[tuple[str, list[str]]]:
    """(base URL, Authorization headers it received) while the block runs."""
    seen: list[str] = []
    handler = type("Handler", (_QuietHandler,), {"seen_authorization": seen})
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(directory))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
