"""The async repository client: configuration, the shared connection pool, discovery."""

from __future__ import annotations

import ipaddress
import logging
import ssl
import warnings
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType

import httpx

from nrpfiles._async.discovery import discover_repository
from nrpfiles._async.files import AsyncFilesClient
from nrpfiles._async.http import AsyncHttp
from nrpfiles._async.records import AsyncRecordsClient
from nrpfiles._async.requests import AsyncRequestsClient
from nrpfiles._concurrency import AsyncLock
from nrpfiles._retry import RetryPolicy
from nrpfiles._transport import AsyncHTTPTransport, proxy_routes
from nrpfiles._urls import to_url
from nrpfiles._version import __version__
from nrpfiles.config import RepositoryConfig, resolve_config
from nrpfiles.errors import ConfigurationError
from nrpfiles.models import RepositoryInfo

logger = logging.getLogger("nrpfiles")

# Parts and ranges run in parallel; the pool must hold them all plus API calls.
_POOL_CONNECTIONS = 32


class AsyncClient:
    """A client of one repository. Use it as a context manager, or call ``aclose()``.

    ``url_or_alias`` is a repository URL (its root, or its API base ending in
    ``/api``) or an alias from the configuration file; without it the
    environment and the configuration file's default are used. Every setting
    given here wins over the environment, which wins over the file.

    ``proxy`` is a proxy URL for every request (``""``: none at all); without
    one, ``NRPFILES_PROXY`` or the file's ``proxy`` is used, and otherwise
    ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` as stock
    httpx reads them. The token still goes only to the repository's origin.

    One client may be shared by threads (sync) or by the tasks of one event loop
    (async); a process made by ``fork`` must make its own.
    """

    def __init__(
        self,
        url_or_alias: str | None = None,
        *,
        token: str | None = None,
        verify_tls: bool | None = None,
        ca_bundle: str | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        retry: RetryPolicy | None = None,
        max_file_size: int | None = None,
        proxy: str | None = None,
        config: RepositoryConfig | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config or resolve_config(
            url_or_alias,
            token=token,
            verify_tls=verify_tls,
            ca_bundle=ca_bundle,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_file_size=max_file_size,
            proxy=proxy,
        )
        repository_url = to_url(self.config.url)
        _warn_on_plain_http_token(repository_url, self.config.token)
        policy = retry or RetryPolicy(
            attempts=self.config.retry_attempts, max_wait=self.config.retry_max_wait
        )
        self._http = AsyncHttp(
            repository_url=repository_url,
            token=self.config.token,
            policy=policy,
            client=_http_client(self.config, transport),
        )
        self._info: RepositoryInfo | None = None
        self._info_lock = AsyncLock()
        self.files = AsyncFilesClient(self)
        self.records = AsyncRecordsClient(self)
        self.requests = AsyncRequestsClient(self)

    @property
    def url(self) -> str:
        return self.config.url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.config.url!r}, token={'***' if self._http.has_token else None})"

    async def info(self) -> RepositoryInfo:
        """What the repository says of itself: API base and transfer types (cached)."""
        if self._info is None:
            async with self._info_lock:
                if self._info is None:
                    self._info = await discover_repository(self._http, to_url(self.config.url))
        return self._info

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


async def get_async_client(
    url_or_alias: str | None = None,
    *,
    token: str | None = None,
    **options: object,
) -> AsyncClient:
    """A client for the repository, with its API base already discovered."""
    client = AsyncClient(url_or_alias, token=token, **options)  # type: ignore[arg-type]
    try:
        await client.info()
    except BaseException:
        await client.aclose()
        raise
    return client


def _http_client(
    config: RepositoryConfig, transport: httpx.AsyncBaseTransport | None
) -> httpx.AsyncClient:
    verify: ssl.SSLContext | bool = config.verify_tls
    if config.verify_tls and config.ca_bundle:
        verify = ssl.create_default_context(cafile=config.ca_bundle)
    limits = httpx.Limits(
        max_connections=_POOL_CONNECTIONS, max_keepalive_connections=_POOL_CONNECTIONS
    )
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    if transport is None:
        # Given a transport, httpx reads no proxy variables: route them here instead.
        by_proxy: dict[str, httpx.AsyncBaseTransport] = {}
        for pattern, proxy in proxy_routes(config.proxy).items():
            if proxy is not None and str(proxy.url) not in by_proxy:
                by_proxy[str(proxy.url)] = AsyncHTTPTransport(
                    verify=verify, limits=limits, proxy=proxy
                )
            mounts[pattern] = None if proxy is None else by_proxy[str(proxy.url)]
    elif config.proxy:
        raise ConfigurationError("a proxy and a transport were both given: the transport is the route")
    return httpx.AsyncClient(
        timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
        verify=verify,
        headers={"User-Agent": f"nrpfiles/{__version__}", "Accept": "application/json"},
        follow_redirects=False,
        cookies=_refusing_jar(),
        limits=limits,
        # Large socket reads: stock httpcore's 64 KiB reads cap downloads well below curl.
        transport=transport or AsyncHTTPTransport(verify=verify, limits=limits),
        mounts=mounts,
    )


def _refusing_jar() -> CookieJar:
    """A jar that keeps no cookie: the token authenticates every call.

    InvenioRDM's home page (read for discovery) sets a session cookie; a request
    carrying it is held to CSRF rules and refused with 400 instead of judged by
    its token.
    """
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def _warn_on_plain_http_token(url: httpx.URL, token: str | None) -> None:
    if token is None or url.scheme != "http" or _is_loopback(url.host):
        return
    message = (
        f"the token for {url.host} would travel unencrypted over plain http; "
        "use https unless this network is trusted"
    )
    warnings.warn(message, stacklevel=3)
    logger.warning(message)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
