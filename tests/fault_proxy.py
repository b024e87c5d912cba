"""A reverse proxy on loopback that injects faults, as a production site sits behind nginx.

    with FaultProxy() as proxy:                      # listening on 127.0.0.1, port known
        site = start_the_app(public_url=proxy.url)   # the app links to the proxy
        proxy.forward_to(site.app_url)               # from now on requests are forwarded
        proxy.faults.configure(seed=1, error_rate=0.2, cut_after_bytes=4 << 20)

Every request through the proxy draws a fault decision from
:class:`nrpfiles.testing.faults.Faults`, the local repository's own, so the
options, the seeding and the ``injected`` counters are the same on every
server: ``delay`` seconds before anything; an error status (503, or 429
with Retry-After) answered by the proxy instead of forwarding, the request
body read and discarded first; a cut after ``cut_after_bytes`` bytes of a
request or response body longer than that (the app receives the first
bytes and then a closed connection; the client as much and then a reset).
``refuse_multipart_parts`` is the local repository's alone and ignored here.

Bodies stream through in both directions with flat memory, framed by their
Content-Length (or chunks); connections are kept alive on both sides as
far as each peer allows. The Host header is passed on as the client sent
it, so the app must know the proxy's URL as its own (SITE_UI_URL). Only
requests sent to the proxy meet faults: the presigned storage URLs of an
S3-backed site point at storage itself, past the proxy.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import select
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from nrpfiles.testing.faults import FaultDecision, Faults, injected_error

log = logging.getLogger("nrpfiles.testing.proxy")

HOST = "127.0.0.1"
_CHUNK = 1 << 20
_UPSTREAM_TIMEOUT = 300.0
# Per connection, not per message: a header the Connection header names is one too.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",  # answered here (100 Continue) by the request handler
    }
)


class _Cut(Exception):
    """The connections of this exchange are to be dropped: an injected cut or a lost peer."""


class _Body:
    """The framing of one message body: a length, chunks, or (responses only) until close."""

    def __init__(self, headers: Message) -> None:
        encoding = (headers.get("Transfer-Encoding") or "").lower()
        self.chunked = "chunked" in encoding
        length = headers.get("Content-Length")
        self.length: int | None = None
        if not self.chunked and length is not None:
            self.length = int(length)
            if self.length < 0:
                raise ValueError("negative Content-Length")

    @property
    def present(self) -> bool:
        return self.chunked or bool(self.length)


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nrpfiles-fault-proxy"
    # an idle keep-alive connection from a client is dropped after this many seconds
    timeout = 120
    server: ProxyServer

    # -- connection life ---------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._upstream: http.client.HTTPConnection | None = None
        self._upstream_socket: socket.socket | None = None
        self._buffer = memoryview(bytearray(_CHUNK))

    def finish(self) -> None:
        self._close_upstream()
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - " + format, self.address_string(), *args)

    def _upstream_connection(self) -> http.client.HTTPConnection:
        connection = self._upstream
        if connection is not None and connection.sock is not None:
            # An idle upstream connection with something to read was closed by the app
            # (or holds garbage): never send a request into it.
            readable, _, _ = select.select([connection.sock], [], [], 0)
            if readable:
                self._close_upstream()
                connection = None
        if connection is None or connection.sock is None:
            host, port = self.server.upstream
            connection = http.client.HTTPConnection(host, port, timeout=_UPSTREAM_TIMEOUT)
            connection.connect()
            sock = connection.sock
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.server.track(sock, True)
            self._upstream, self._upstream_socket = connection, sock
        return connection

    def _close_upstream(self) -> None:
        connection, self._upstream = self._upstream, None
        sock, self._upstream_socket = self._upstream_socket, None
        if sock is not None:
            # The socket itself: a response being read holds it after the connection let go.
            self.server.track(sock, False)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if connection is not None:
            connection.close()

    def _abort(self) -> None:
        """Drop the client's connection without an answer: the app's side goes first."""
        self._close_upstream()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # -- one exchange ------------------------------------------------------------------

    def do_GET(self) -> None:
        try:
            self._exchange()
        except _Cut:
            self._abort()
        except (ConnectionError, TimeoutError, OSError) as error:
            log.debug("connection lost on %s %s: %s", self.command, self.path, error)
            self._abort()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _exchange(self) -> None:
        faults = self.server.faults
        decision = faults.decide(urlsplit(self.path).path)
        try:
            body = _Body(self.headers)
        except ValueError:
            self.close_connection = True
            self._answer(400, {"status": 400, "message": "Invalid Content-Length header."})
            return
        if decision.delay > 0:
            time.sleep(decision.delay)
        if decision.error_status is not None:
            self._discard_request_body(body)
            self._answer(*_injected_error(decision))
            return
        try:
            upstream = self._upstream_connection()
        except OSError as error:
            self._discard_request_body(body)
            self._answer(502, {"status": 502, "message": f"the app is unreachable: {error}"})
            return
        # A cut of the request body raises _Cut from here: the app gets the bytes before
        # it and a closed connection, the client a reset.
        self._forward_request(upstream, body, decision.cut_after_bytes)
        try:
            response = upstream.getresponse()
        except (http.client.HTTPException, OSError) as error:
            # The request body was read in full, so the client may still have an answer.
            self._close_upstream()
            self._answer(502, {"status": 502, "message": f"the app did not answer: {error}"})
            return
        try:
            self._relay_response(response, decision.cut_after_bytes)
        finally:
            if response.will_close or not response.isclosed():
                self._close_upstream()

    def _forward_request(
        self, upstream: http.client.HTTPConnection, body: _Body, cut: int | None
    ) -> None:
        """Send the request on, its body as it arrives.

        An app that answers early (a 413 before reading the body) and closes gets
        no more: the rest of the body is read and discarded, and its answer relayed.
        """
        upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        connection_named = _named_by_connection(self.headers)
        for name, value in self.headers.items():
            lowered = name.lower()
            if lowered in _HOP_BY_HOP or lowered in connection_named:
                continue
            upstream.putheader(name, value)
        if body.chunked:
            upstream.putheader("Transfer-Encoding", "chunked")
        upstream.putheader("X-Forwarded-For", self.client_address[0])
        upstream.putheader("X-Forwarded-Proto", "http")
        sink = _UpstreamSink(upstream)
        try:
            upstream.endheaders()
        except OSError:
            sink.alive = False
        if not body.present:
            return
        if cut is not None and body.length is not None and body.length <= cut:
            cut = None  # a cut applies to bodies longer than it
        if body.chunked:
            self._relay_chunked_request(sink, cut)
        else:
            assert body.length is not None
            self._relay_exactly(body.length, sink, cut)

    def _relay_exactly(self, length: int, sink: _UpstreamSink, cut: int | None) -> None:
        done = 0
        while done < length:
            wanted = min(len(self._buffer), length - done)
            if cut is not None:
                if done >= cut:
                    self._cut()
                wanted = min(wanted, cut - done)
            got = self.rfile.readinto(self._buffer[:wanted])
            if not got:
                raise _Cut  # the client went away mid-body: so does the app's request
            sink.write(self._buffer[:got])
            done += got

    def _relay_chunked_request(self, sink: _UpstreamSink, cut: int | None) -> None:
        allowance = cut  # body bytes that may still pass before a cut
        while True:
            line = self.rfile.readline(65537)
            if not line.endswith(b"\n"):
                raise _Cut
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _Cut from None
            sink.write(line)
            if size == 0:
                while True:  # trailers, then the empty line
                    trailer = self.rfile.readline(65537)
                    if not trailer.endswith(b"\n"):
                        raise _Cut
                    sink.write(trailer)
                    if trailer in (b"\r\n", b"\n"):
                        return
            if allowance is not None and size > allowance:
                self._relay_exactly(size, sink, allowance)  # cuts after the allowance
            self._relay_exactly(size, sink, None)
            if allowance is not None:
                allowance -= size
            end = self.rfile.readline(3)
            if end not in (b"\r\n", b"\n"):
                raise _Cut
            sink.write(end)

    def _discard_request_body(self, body: _Body) -> None:
        if body.chunked:
            self._relay_chunked_request(_UpstreamSink(None), None)
        elif body.length:
            self._relay_exactly(body.length, _UpstreamSink(None), None)

    def _relay_response(self, response: http.client.HTTPResponse, cut: int | None) -> None:
        no_body = self.command == "HEAD" or response.status in (204, 304) or response.status < 200
        length = response.length  # None when chunked or until close
        chunked_out = False
        self.send_response_only(response.status, response.reason)
        connection_named = _named_by_connection(response.msg)
        for name, value in response.msg.items():
            lowered = name.lower()
            if lowered in _HOP_BY_HOP or lowered in connection_named:
                continue
            self.send_header(name, value)
        if not no_body and length is None:
            if self.request_version >= "HTTP/1.1":
                chunked_out = True
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.close_connection = True
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if no_body:
            return
        if cut is not None and length is not None and length <= cut:
            cut = None
        sent = 0
        while True:
            got = response.readinto(self._buffer)
            if not got:
                break
            chunk = self._buffer[:got]
            if cut is not None and sent + got > cut:
                self._send_out(chunk[: cut - sent], chunked_out)
                self._cut()
            self._send_out(chunk, chunked_out)
            sent += got
        if length is not None and sent < length:
            raise _Cut  # the app broke off: so does the client's answer
        if chunked_out:
            self.wfile.write(b"0\r\n\r\n")

    def _send_out(self, data: memoryview, chunked: bool) -> None:
        if not data:
            return
        if chunked:
            self.wfile.write(b"%x\r\n" % len(data))
            self.wfile.write(data)
            self.wfile.write(b"\r\n")
        else:
            self.wfile.write(data)

    def _cut(self) -> None:
        self.server.faults.count("cut")
        raise _Cut

    def _answer(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)


class _UpstreamSink:
    """Where a request body goes; after the app stops reading, it goes nowhere."""

    def __init__(self, upstream: http.client.HTTPConnection | None) -> None:
        self._upstream = upstream
        self.alive = upstream is not None

    def write(self, data: bytes | memoryview) -> None:
        if not self.alive:
            return
        assert self._upstream is not None and self._upstream.sock is not None
        try:
            self._upstream.sock.sendall(data)
        except OSError:
            self.alive = False


def _named_by_connection(headers: Message) -> set[str]:
    named: set[str] = set()
    for value in headers.get_all("Connection") or []:
        named.update(token.strip().lower() for token in value.split(",") if token.strip())
    return named


def _injected_error(decision: FaultDecision) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The answer of an injected error: the local repository's, word for word."""
    status, message, headers = injected_error(decision)
    return status, {"status": status, "message": message}, headers


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.upstream: tuple[str, int] = ("127.0.0.1", 0)
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._handlers: list[threading.Thread] = []
        super().__init__((HOST, 0), ProxyHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name, which can stall without DNS
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._sockets.add(request)
            self._handlers = [thread for thread in self._handlers if thread.is_alive()]
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"fault-proxy {client_address[1]}",
            daemon=True,
        )
        with self._lock:
            self._handlers.append(thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        self.track(request, False)
        super().shutdown_request(request)

    def track(self, sock: socket.socket, open_: bool) -> None:
        """Keep account of a connection either way, so that stop() can close it."""
        with self._lock:
            if open_:
                self._sockets.add(sock)
            else:
                self._sockets.discard(sock)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            log.debug("connection from %s closed: %s", client_address, error)
            return
        log.exception("error while proxying for %s", client_address)

    def drop_connections(self, timeout: float) -> None:
        """Close every connection both ways and wait for their threads."""
        with self._lock:
            sockets = list(self._sockets)
            threads = list(self._handlers)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class FaultProxy:
    """A fault-injecting reverse proxy on 127.0.0.1, listening from construction on.

    ``url`` is known at once, so the app can be told its public URL before it
    starts; requests are accepted once :meth:`forward_to` names the app's
    address and held in the listen queue until then. Use it as a context
    manager, or call :meth:`stop` (safe more than once).
    """

    def __init__(self, faults: Faults | None = None) -> None:
        self.faults = faults if faults is not None else Faults()
        self._server = ProxyServer(self.faults)
        self.port = int(self._server.server_address[1])
        self.url = f"http://{HOST}:{self.port}"
        self._thread: threading.Thread | None = None
        self._stopped = False

    def forward_to(self, upstream: str) -> FaultProxy:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"the app must be at http://host:port, not {upstream!r}")
        if self._stopped:
            raise RuntimeError("the proxy was stopped")
        self._server.upstream = (parts.hostname, parts.port)
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"fault-proxy :{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout)
        self._server.server_close()
        self._server.drop_connections(timeout)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def proxying(upstream: str, faults: Faults | None = None) -> Iterator[FaultProxy]:
    """A proxy forwarding to ``upstream`` for as long as the block lasts."""
    with FaultProxy(faults) as proxy:
        yield proxy.forward_to(upstream)
