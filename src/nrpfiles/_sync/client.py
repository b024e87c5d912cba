# Generated from src/nrpfiles/_async/client.py by scripts/gen_sync.py: do not edit.
# body-sha256: f7c659a44444d894dce25136079fd85cd459d8201cce128b65bb6e8c64576143
"""The async repository client: configuration, the shared connection pool, discovery."""

from __future__ import annotations

import ipaddress
import logging
import ssl
import warnings
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType

import httpx

from nrpfiles._sync.discovery import discover_repository
from nrpfiles._sync.files import FilesClient
from nrpfiles._sync.http import Http
from nrpfiles._sync.records import RecordsClient
from nrpfiles._sync.requests import RequestsClient
from nrpfiles._concurrency import Lock
from nrpfiles._retry import RetryPolicy
from nrpfiles._transport import HTTPTransport, proxy_routes
from nrpfiles._urls import to_url
from nrpfiles._version import __version__
from nrpfiles.config import RepositoryConfig, resolve_config
from nrpfiles.errors import ConfigurationError
from nrpfiles.models import RepositoryInfo

logger = logging.getLogger("nrpfiles")

# Parts and ranges run in parallel; the pool must hold them all plus API calls.
_POOL_CONNECTIONS = 32


class Client:
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
        transport: httpx.BaseTransport | None = None,
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
        self._http = Http(
            repository_url=repository_url,
            token=self.config.token,
            policy=policy,
            client=_http_client(self.config, transport),
        )
        self._info: RepositoryInfo | None = None
        self._info_lock = Lock()
        self.files = FilesClient(self)
        self.records = RecordsClient(self)
        self.requests = RequestsClient(self)

    @property
    def url(self) -> str:
        return self.config.url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.config.url!r}, token={'***' if self._http.has_token else None})"

    def info(self) -> RepositoryInfo:
        """What the repository says of itself: API base and transfer types (cached)."""
        if self._info is None:
            with self._info_lock:
                if self._info is None:
                    self._info = discover_repository(self._http, to_url(self.config.url))
        return self._info

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def get_sync_client(
    url_or_alias: str | None = None,
    *,
    token: str | None = None,
    **options: object,
) -> Client:
    """A client for the repository, with its API base already discovered."""
    client = Client(url_or_alias, token=token, **options)  # type: ignore[arg-type]
    try:
        client.info()
    except BaseException:
        client.close()
        raise
    return client


def _http_client(
    config: RepositoryConfig, transport: httpx.BaseTransport | None
) -> httpx.Client:
    verify: ssl.SSLContext | bool = config.verify_tls
    if config.verify_tls and config.ca_bundle:
        verify = ssl.create_default_context(cafile=config.ca_bundle)
    limits = httpx.Limits(
        max_connections=_POOL_CONNECTIONS, max_keepalive_connections=_POOL_CONNECTIONS
    )
    mounts: dict[str, httpx.BaseTransport | None] = {}
    if transport is None:
        # Given a transport, httpx reads no proxy variables: route them here instead.
        by_proxy: dict[str, httpx.BaseTransport] = {}
        for pattern, proxy in proxy_routes(config.proxy).items():
            if proxy is not None and str(proxy.url) not in by_proxy:
                by_proxy[str(proxy.url)] = HTTPTransport(
                    verify=verify, limits=limits, proxy=proxy
                )
            mounts[pattern] = None if proxy is None else by_proxy[str(proxy.url)]
    elif config.proxy:
        raise ConfigurationError("a proxy and a transport were both given: the transport is the route")
    return httpx.Client(
        timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
        verify=verify,
        headers={"User-Agent": f"nrpfiles/{__version__}", "Accept": "application/json"},
        follow_redirects=False,
        cookies=_refusing_jar(),
        limits=limits,
        # Large socket reads: stock httpcore's 64 KiB reads cap downloads well below curl.
        transport=transport or HTTPTransport(verify=verify, limits=limits),
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
