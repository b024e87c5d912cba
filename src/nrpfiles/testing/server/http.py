"""Request/response plumbing over ``http.server`` with HTTP/1.1 keep-alive.

Endpoints receive a :class:`Request` and return a :class:`Response`; the handler
writes it, applying the fault decision drawn for the request (delay, injected error,
cut connection) in one place. Bodies are never buffered whole: uploads are read with
:meth:`Request.read_into`, files are answered with ``sendfile``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..faults import NO_FAULT, FaultDecision, Faults, injected_error

log = logging.getLogger("nrpfiles.testing")

# InvenioRDM's answer to a missing or unknown token as much as to someone else's record
PERMISSION_DENIED = "Permission denied."
# werkzeug's RequestEntityTooLarge, which InvenioRDM's files resource answers as JSON
TOO_LARGE = "The data value transmitted exceeds the capacity limit."
NOT_FOUND = (
    "The requested URL was not found on the server. If you entered the URL manually "
    "please check your spelling and try again."
)
INTERNAL_ERROR = (
    "The server encountered an internal error and was unable to complete your request. "
    "Either the server is overloaded or there is an error in the application."
)
_DRAIN_CHUNK = 1 << 20
JSON = "application/json"
# what the records endpoints accept besides plain JSON
RECORD_JSON = 'application/json, application/ld+json;profile="https://w3id.org/ro/crate/1.1"'


class ApiError(Exception):
    """An error answered with InvenioRDM's JSON error body."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[dict[str, Any]] | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def unsupported_type(accepted: str) -> ApiError:
    return ApiError(415, f"Invalid 'Content-Type' header. Expected one of: {accepted}")


def validation_error(errors: list[dict[str, Any]]) -> ApiError:
    return ApiError(400, "A validation error occurred.", errors=errors)


def field_error(name: str, *messages: str) -> dict[str, Any]:
    return {"field": name, "messages": list(messages)}


class ConnectionCut(Exception):
    """Drop the connection without an answer (an injected fault or a vanished client)."""


class ClientWentAway(ConnectionCut):
    """The body ended before its Content-Length: the client may still read an answer."""


@dataclass
class FileBody:
    path: Path
    offset: int
    length: int


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    file: FileBody | None = None

    @property
    def body_length(self) -> int:
        return self.file.length if self.file is not None else len(self.body)


def json_response(status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
    payload = json.dumps(data).encode()
    response = Response(status, [("Content-Type", "application/json")], payload)
    response.headers.extend((headers or {}).items())
    return response


def error_response(error: ApiError) -> Response:
    return json_response(error.status, error.body(), error.headers)


def empty_response(status: int = 204, headers: dict[str, str] | None = None) -> Response:
    return Response(status, list((headers or {}).items()))


def redirect_response(location: str, status: int = 302, *, echo: bool = False) -> Response:
    """A redirect; ``echo`` also sends the location as the body, as S3-backed sites do."""
    if not echo:
        return Response(status, [("Location", location)])
    headers = [("Location", location), ("Content-Type", "text/plain; charset=utf-8")]
    return Response(status, headers, location.encode())


class Request:
    """One HTTP request as endpoints see it."""

    def __init__(self, handler: RequestHandler, decision: FaultDecision) -> None:
        self._handler = handler
        self.decision = decision
        self.method = handler.command
        parts = urlsplit(handler.path)
        self.path = parts.path
        self.query = parse_qs(parts.query, keep_blank_values=True)
        self.headers: Message = handler.headers
        host = handler.headers.get("Host") or "{}:{}".format(*handler.server.server_address[:2])
        self.host = host
        self.base_url = f"http://{host}"
        # the address the request came from, as a rate limit counts guests
        self.remote_address = str(handler.client_address[0])
        self.params: dict[str, str] = {}
        self._remaining: int | None = None
        self._read = 0
        self.body_started = False

    # headers and query ---------------------------------------------------------------
    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return None if value is None else str(value)

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    @property
    def chunked(self) -> bool:
        return "chunked" in (self.header("Transfer-Encoding") or "").lower()

    @property
    def content_length(self) -> int | None:
        raw = self.header("Content-Length")
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, "Invalid Content-Length header.") from None
        if value < 0:
            raise ApiError(400, "Invalid Content-Length header.")
        return value

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)

    @property
    def content_type(self) -> str:
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    def bearer_token(self) -> str | None:
        authorization = self.header("Authorization") or ""
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return self.arg("access_token") or None

    # body ----------------------------------------------------------------------------
    @property
    def body_consumed(self) -> bool:
        if self.chunked:
            return False
        length = self.content_length or 0
        return self._read >= length

    def read_into(self, view: memoryview) -> int:
        """Read the next bytes of the body; 0 at its end. Honours an injected cut."""
        if self.chunked:
            raise ApiError(411, "A Content-Length header is required.")
        length = self.content_length or 0
        self.body_started = True
        wanted = min(len(view), length - self._read)
        cut = self.decision.cut_after_bytes
        if cut is not None and length > cut:
            if self._read >= cut:
                self._handler.faults.count("cut")
                raise ConnectionCut
            wanted = min(wanted, cut - self._read)
        if wanted <= 0:
            return 0
        got = self._handler.rfile.readinto(view[:wanted])
        if not got:
            raise ClientWentAway("the request body ended before its Content-Length")
        self._read += got
        return got

    def read_body(self, limit: int = 16 << 20) -> bytes:
        length = self.content_length
        if length is None:
            if self.chunked:
                raise ApiError(411, "A Content-Length header is required.")
            return b""
        if length > limit:
            raise ApiError(413, TOO_LARGE)
        buffer = bytearray(length)
        view = memoryview(buffer)
        filled = 0
        while filled < length:
            got = self.read_into(view[filled:])
            if not got:
                break
            filled += got
        return bytes(buffer)

    def json_body(self, *, optional: bool = False, accepted: str = JSON) -> Any:
        """The JSON body (None when empty); 415 unless sent as JSON, 400 when unreadable.

        ``accepted`` is what the 415 says the endpoint takes, as InvenioRDM lists it.
        """
        if optional and not self.has_body:
            return None
        if self.content_type != JSON:
            raise unsupported_type(accepted)
        raw = self.read_body()
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(400, "Unable to decode JSON data in request body.") from None

    def drain(self) -> bool:
        """Read and discard what the endpoint left unread; False when that is impossible."""
        if self.chunked:
            return False
        try:
            length = self.content_length or 0
        except ApiError:
            return False
        buffer = memoryview(bytearray(min(_DRAIN_CHUNK, max(length, 1))))
        while self._read < length:
            got = self._handler.rfile.readinto(buffer[: min(len(buffer), length - self._read)])
            if not got:
                return False
            self._read += got
        return True


Dispatch = Callable[[Request], Response]


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nrpfiles-local"
    # an idle keep-alive connection is dropped after this many seconds
    timeout = 120
    server: AppServer

    @property
    def faults(self) -> Faults:
        return self.server.faults

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _handle(self) -> None:
        with self.server.handling():
            self._answer()

    def _answer(self) -> None:
        path = urlsplit(self.path).path
        exempt = self.server.is_fault_exempt(path)
        decision = NO_FAULT if exempt else self.faults.decide(path)
        request = Request(self, decision)
        try:
            if decision.delay > 0:
                time.sleep(decision.delay)
            if decision.error_status is not None:
                response = _injected_error(decision)
            else:
                response = self.server.dispatch(request)
        except ApiError as error:
            response = error_response(error)
        except ConnectionCut:
            self._abort()
            return
        except (ConnectionError, TimeoutError, OSError) as error:
            log.debug("connection lost: %s", error)
            self._abort()
            return
        except Exception:
            log.exception("internal error on %s %s", self.command, path)
            response = error_response(ApiError(500, INTERNAL_ERROR))
        try:
            keep_alive = request.drain()
        except (ConnectionError, TimeoutError, OSError):
            self._abort()
            return
        try:
            self._write(response, request, keep_alive)
        except ConnectionCut:
            self._abort()
        except (ConnectionError, TimeoutError, OSError) as error:
            log.debug("client went away while answering: %s", error)
            self._abort()

    def _abort(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _write(self, response: Response, request: Request, keep_alive: bool) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        length = response.body_length
        if response.status != 304 and not any(
            name.lower() == "content-length" for name, _ in response.headers
        ):
            self.send_header("Content-Length", str(length))
        if not keep_alive:
            self.send_header("Connection", "close")
            self.close_connection = True
        if self.command == "HEAD" or response.status in (204, 304):
            self.end_headers()
            return
        cut = request.decision.cut_after_bytes
        sent_limit = length
        if cut is not None and length > cut:
            sent_limit = cut
        if response.file is None:
            # headers and a small body in one write: no extra round trip
            self._headers_buffer.append(b"\r\n")  # type: ignore[attr-defined]
            self._headers_buffer.append(response.body[:sent_limit])  # type: ignore[attr-defined]
            self.flush_headers()
        else:
            self.end_headers()
            with open(response.file.path, "rb") as stream:
                if sent_limit:
                    self.connection.sendfile(stream, response.file.offset, sent_limit)
        if sent_limit < length:
            self.faults.count("cut")
            raise ConnectionCut


def _injected_error(decision: FaultDecision) -> Response:
    status, message, headers = injected_error(decision)
    return error_response(ApiError(status, message, headers=headers))


class AppServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its open connections, so stop() is prompt."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        dispatch: Dispatch,
        faults: Faults,
        fault_exempt_prefix: str | None = None,
    ) -> None:
        self.dispatch = dispatch
        self.faults = faults
        self._fault_exempt_prefix = fault_exempt_prefix
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._handling = 0
        self._handled = threading.Condition()
        super().__init__(address, RequestHandler)

    @contextlib.contextmanager
    def handling(self) -> Iterator[None]:
        """Count a request as being handled, from its request line to its answer's end."""
        with self._handled:
            self._handling += 1
        try:
            yield
        finally:
            with self._handled:
                self._handling -= 1
                self._handled.notify_all()

    def wait_until_idle(self, timeout: float) -> bool:
        """Wait until no request is being handled; False if ``timeout`` came first."""
        with self._handled:
            return self._handled.wait_for(lambda: self._handling == 0, timeout)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name, which can stall without DNS
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def is_fault_exempt(self, path: str) -> bool:
        prefix = self._fault_exempt_prefix
        return prefix is not None and path.startswith(prefix)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client dropping an idle keep-alive connection is routine, not a server fault
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            log.debug("connection from %s closed: %s", client_address, error)
            return
        log.exception("error while serving %s", client_address)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    @property
    def port(self) -> int:
        return int(self.server_address[1])
