"""httpx transports whose sockets are read in large slices, for our own clients only.

httpcore reads a response body 64 KiB per call. On a fast link each read costs a
trip through httpcore, h11 and httpx in Python, and those trips, not the network,
bound the transfer: stock sync downloads reach about half of curl's speed on
loopback, async ones less. httpcore lets a connection pool take its own network
backend, so the backends here widen the large reads of the connections they make
and leave every other httpx client in the process alone. Short reads (TLS and
proxy handshakes ask for a few KiB) are passed through unchanged.

httpx does not expose the pool's backend, so the transports build their pool
themselves (one of ``nrpfiles._pool``'s, which also keeps idle checks off busy
connections); that relies on httpx keeping its pool in ``_pool``, which is why
httpx and httpcore are pinned to minor versions in ``pyproject.toml``. A client
given its own transport no longer reads the proxy variables, so proxies are
mounted here too: one transport per proxy, each with large reads, on the URL
patterns stock httpx would use.
"""

from __future__ import annotations

import importlib.util
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx
import sniffio
from httpcore._utils import is_socket_readable

# The reader stock httpx clients use for the proxy variables; private, hence the pin.
from httpx._utils import get_environment_proxies

from nrpfiles import _asyncio_stream as asyncio_stream
from nrpfiles._pool import (
    AsyncConnectionPool,
    AsyncHTTPProxyPool,
    AsyncSOCKSProxyPool,
    ConnectionPool,
    HTTPProxyPool,
    SOCKSProxyPool,
)
from nrpfiles._urls import redact_url
from nrpfiles.errors import ConfigurationError

# Enough to take a whole socket buffer of a fast link in one call (the async
# flavour reads asyncio's transport its own way: nrpfiles._asyncio_stream).
READ_SIZE = 1 << 20
# httpcore asks for this much when it reads response bodies; smaller requests are
# protocol handshakes, which must not read past what they asked for.
_BODY_READ = 64 << 10

SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


def _wanted(max_bytes: int) -> int:
    return max(max_bytes, READ_SIZE) if max_bytes >= _BODY_READ else max_bytes


class _LargeReadStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(_wanted(max_bytes), timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, timeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _LargeReadStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _AsyncLargeReadStream(httpcore.AsyncNetworkStream):
    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        # The pool asks every idle connection whether it is readable (closed by the
        # server) for every request; anyio answers by building its attribute table.
        own = isinstance(stream, asyncio_stream.AsyncioStream)  # answers for itself
        self._socket = None if own else stream.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(_wanted(max_bytes), timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._stream.start_tls(ssl_context, server_hostname, timeout)
        return _AsyncLargeReadStream(stream)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self._socket is not None:
            return is_socket_readable(self._socket)
        return self._stream.get_extra_info(info)


class LargeReadBackend(httpcore.NetworkBackend):
    """httpcore's blocking socket backend, with large body reads."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return _LargeReadStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        return _LargeReadStream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class AsyncLargeReadBackend(httpcore.AsyncNetworkBackend):
    """Large body reads: on asyncio's own transport, or httpcore's anyio backend under trio."""

    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream: httpcore.AsyncNetworkStream
        if sniffio.current_async_library() == "asyncio":
            stream = await asyncio_stream.connect_tcp(
                host, port, timeout, local_address, socket_options
            )
        else:
            stream = await self._backend.connect_tcp(
                host, port, timeout, local_address, socket_options
            )
        return _AsyncLargeReadStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_unix_socket(path, timeout, socket_options)
        return _AsyncLargeReadStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def proxy_routes(proxy: str | None) -> dict[str, httpx.Proxy | None]:
    """httpx's mount patterns and the proxy each goes through (``None``: straight there).

    A proxy URL sends everything through it; ``""`` sends everything straight;
    ``None`` reads ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY``
    exactly as stock httpx does (its own reader, so every ``NO_PROXY`` form it
    knows is honoured the same way).
    """
    if proxy == "":
        return {}
    if proxy is not None:
        return {"all://": httpx.Proxy(proxy)}
    return {
        pattern: None if url is None else httpx.Proxy(url)
        for pattern, url in get_environment_proxies().items()
    }


def _proxy_url(proxy: httpx.Proxy) -> httpcore.URL:
    return httpcore.URL(
        scheme=proxy.url.raw_scheme,
        host=proxy.url.raw_host,
        port=proxy.url.port,
        target=proxy.url.raw_path,
    )


def _require_socks_support(proxy: httpx.Proxy) -> None:
    if importlib.util.find_spec("socksio") is None:
        raise ConfigurationError(
            f"the proxy {redact_url(proxy.url)} is a SOCKS proxy, which needs the socksio "
            "package: pip install 'httpx[socks]'"
        )


def _check_scheme(proxy: httpx.Proxy) -> None:
    if proxy.url.scheme not in ("http", "https", "socks5", "socks5h"):
        raise ConfigurationError(
            f"the proxy {redact_url(proxy.url)} must be an http, https, socks5 or socks5h URL"
        )


class HTTPTransport(httpx.HTTPTransport):
    """httpx's transport over a pool of large-read connections, straight or through a proxy."""

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool,
        limits: httpx.Limits,
        proxy: httpx.Proxy | None = None,
    ) -> None:
        # Deliberately not calling super().__init__(): it would build a pool to discard.
        ssl_context = httpx.create_ssl_context(verify=verify)
        sizes: dict[str, Any] = {
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
            "network_backend": LargeReadBackend(),
        }
        self._pool: httpcore.ConnectionPool
        if proxy is None:
            self._pool = ConnectionPool(ssl_context=ssl_context, **sizes)
            return
        _check_scheme(proxy)
        if proxy.url.scheme.startswith("socks"):
            _require_socks_support(proxy)
            self._pool = SOCKSProxyPool(
                proxy_url=_proxy_url(proxy),
                proxy_auth=proxy.raw_auth,
                ssl_context=ssl_context,
                **sizes,
            )
        else:
            self._pool = HTTPProxyPool(
                proxy_url=_proxy_url(proxy),
                proxy_auth=proxy.raw_auth,
                proxy_headers=proxy.headers.raw,
                ssl_context=ssl_context,
                proxy_ssl_context=proxy.ssl_context,
                **sizes,
            )


class AsyncHTTPTransport(httpx.AsyncHTTPTransport):
    """httpx's async transport over a pool of large-read connections, straight or proxied."""

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool,
        limits: httpx.Limits,
        proxy: httpx.Proxy | None = None,
    ) -> None:
        # Deliberately not calling super().__init__(): it would build a pool to discard.
        ssl_context = httpx.create_ssl_context(verify=verify)
        sizes: dict[str, Any] = {
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
            "network_backend": AsyncLargeReadBackend(),
        }
        self._pool: httpcore.AsyncConnectionPool
        if proxy is None:
            self._pool = AsyncConnectionPool(ssl_context=ssl_context, **sizes)
            return
        _check_scheme(proxy)
        if proxy.url.scheme.startswith("socks"):
            _require_socks_support(proxy)
            self._pool = AsyncSOCKSProxyPool(
                proxy_url=_proxy_url(proxy),
                proxy_auth=proxy.raw_auth,
                ssl_context=ssl_context,
                **sizes,
            )
        else:
            self._pool = AsyncHTTPProxyPool(
                proxy_url=_proxy_url(proxy),
                proxy_auth=proxy.raw_auth,
                proxy_headers=proxy.headers.raw,
                ssl_context=ssl_context,
                proxy_ssl_context=proxy.ssl_context,
                **sizes,
            )
