"""httpcore 1.0.9's pool closing a connection another thread has just started using.

Each case forces one interleaving of two threads sharing a pool, step by step,
with events rather than timing. Thread A is handed an idle keep-alive
connection and is held just before it starts its request on it; thread B's
request then makes the pool look at that connection; A runs while B looks.
The cases run against our pool and, as a control, against stock httpcore's,
which loses A's answer each time: so the interleaving really is the race.
"""

from __future__ import annotations

import select
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpcore
import httpx
import pytest
from httpcore._sync.connection_pool import ConnectionPool as StockPool
from httpcore._sync.connection_pool import PoolRequest

from nrpfiles._transport import HTTPTransport, LargeReadBackend, _LargeReadStream

STEP_SECONDS = 10.0  # how long a step may take before the case fails instead of hanging
FIRST, REST = b"hello", b"world"


def wait(event: threading.Event, what: str) -> None:
    if not event.wait(STEP_SECONDS):
        raise AssertionError(f"timed out waiting until {what}")


class Answers(BaseHTTPRequestHandler):
    """Short answers, except POST /slow: half its body, then the rest when told."""

    protocol_version = "HTTP/1.1"
    send_rest: threading.Event

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._answer(b"ok")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/slow":
            self._answer(b"ok")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(FIRST + REST)))
        self.end_headers()
        self.wfile.write(FIRST)
        self.wfile.flush()
        wait(self.send_rest, "the test lets the rest of the answer go")
        self.wfile.write(REST)
        self.wfile.flush()

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def server() -> Iterator[tuple[str, threading.Event]]:
    send_rest = threading.Event()
    handler = type("Handler", (Answers,), {"send_rest": send_rest})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", send_rest
    finally:
        send_rest.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(STEP_SECONDS)


def transport(kind: str, max_connections: int) -> HTTPTransport:
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    ours = HTTPTransport(verify=False, limits=limits)
    if kind == "stock httpcore":
        ours._pool = StockPool(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            network_backend=LargeReadBackend(),
        )
    return ours


class Race:
    """Thread A's streamed POST /slow against thread B's request, on one shared client."""

    def __init__(self, client: httpx.Client, send_rest: threading.Event) -> None:
        self.client = client
        self.send_rest = send_rest
        self.a_assigned = threading.Event()  # the pool handed A a connection
        self.a_may_start = threading.Event()
        self.a_has_headers = threading.Event()  # A's request runs on the connection
        self.b_done = threading.Event()
        self.a_body: bytes | None = None
        self.a_error: BaseException | None = None
        self.b_error: BaseException | None = None
        self.thread_a: threading.Thread | None = None

    def hold_a_once_assigned(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = PoolRequest.wait_for_connection

        def wait_for_connection(request: PoolRequest, timeout: float | None = None) -> Any:
            connection = original(request, timeout)
            if threading.current_thread() is self.thread_a and not self.a_assigned.is_set():
                self.a_assigned.set()
                wait(self.a_may_start, "thread B lets thread A start")
            return connection

        monkeypatch.setattr(PoolRequest, "wait_for_connection", wait_for_connection)

    def let_a_run(self) -> None:
        """From thread B: let A start its request and wait until its answer is arriving."""
        self.a_may_start.set()
        wait(self.a_has_headers, "thread A has its answer's headers")
        self.send_rest.set()

    def run(self, b_request: Callable[[], object]) -> None:
        def thread_a() -> None:
            try:
                request = self.client.build_request("POST", "/slow", content=b"not safe to repeat")
                response = self.client.send(request, stream=True)
                self.a_has_headers.set()
                wait(self.b_done, "thread B's request is over")
                self.a_body = response.read()
                response.close()
            except BaseException as error:
                self.a_error = error

        def thread_b() -> None:
            try:
                wait(self.a_assigned, "thread A holds a connection")
                b_request()
            except BaseException as error:
                self.b_error = error
            finally:
                self.b_done.set()

        self.thread_a = threading.Thread(target=thread_a)
        b = threading.Thread(target=thread_b)
        self.thread_a.start()
        b.start()
        self.thread_a.join(3 * STEP_SECONDS)
        b.join(3 * STEP_SECONDS)
        assert not self.thread_a.is_alive() and not b.is_alive()


@pytest.mark.parametrize("kind", ["nrpfiles", "stock httpcore"])
def test_an_idle_check_never_closes_a_connection_whose_request_has_started(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpcore issue 1110: "idle" read before A starts, "readable" once A's answer arrives.

    B's request makes the pool check the connection A was handed: the check reads
    its state (idle: A has not started), then asks whether its socket is
    readable. Right then A starts, sends its POST and gets the headers of its
    answer, and the rest of the answer reaches the socket: readable. Stock
    httpcore takes that for the server hanging up and closes the socket A reads.
    """
    with server() as (url, send_rest), httpx.Client(
        base_url=url, transport=transport(kind, max_connections=4)
    ) as client:
        assert client.get("/warm").content == b"ok"  # one idle keep-alive connection
        race = Race(client, send_rest)
        race.hold_a_once_assigned(monkeypatch)
        original = _LargeReadStream.get_extra_info
        checks: list[bool] = []

        def get_extra_info(stream: _LargeReadStream, info: str) -> Any:
            if info != "is_readable" or threading.current_thread() is race.thread_a or checks:
                return original(stream, info)
            race.let_a_run()
            sock = original(stream, "socket")
            select.select([sock], [], [], STEP_SECONDS)  # the rest of A's answer is there
            checks.append(original(stream, info))
            return checks[-1]

        monkeypatch.setattr(_LargeReadStream, "get_extra_info", get_extra_info)
        race.run(lambda: client.get("/other"))

    assert checks == [True]  # the check did see A's answer on the socket
    assert race.b_error is None
    if kind == "stock httpcore":
        assert isinstance(race.a_error, httpx.TransportError)
    else:
        assert race.a_error is None and race.a_body == FIRST + REST


@pytest.mark.parametrize("kind", ["nrpfiles", "stock httpcore"])
def test_closing_an_idle_connection_for_room_spares_one_whose_request_has_started(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The full pool's other path: B, for another origin, closes the idle connection.

    The pool picks A's connection as idle (A has not started), takes it out of
    the pool under its lock and closes it after releasing the lock; A starts in
    between, and stock httpcore closes the socket under A's request.
    """
    with server() as (url, send_rest), server() as (other_url, _), httpx.Client(
        base_url=url, transport=transport(kind, max_connections=1)
    ) as client:
        assert client.get("/warm").content == b"ok"
        race = Race(client, send_rest)
        race.hold_a_once_assigned(monkeypatch)
        pool = client._transport._pool  # type: ignore[attr-defined]
        original = type(pool)._close_connections
        closed: list[int] = []

        def close_connections(self: Any, closing: list[httpcore.ConnectionInterface]) -> None:
            if closing and threading.current_thread() is not race.thread_a and not closed:
                race.let_a_run()
                closed.append(len(closing))
            original(self, closing)

        monkeypatch.setattr(type(pool), "_close_connections", close_connections)
        race.run(lambda: client.post(f"{other_url}/elsewhere", content=b"x"))

    assert closed == [1]  # the pool did give up A's connection to make room
    assert race.b_error is None
    if kind == "stock httpcore":
        assert isinstance(race.a_error, httpx.TransportError)
    else:
        assert race.a_error is None and race.a_body == FIRST + REST
