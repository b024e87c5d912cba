"""URL helpers shared by both flavours: origins, redaction and file-key quoting."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx

# The repository's token, and the signatures of presigned storage URLs (short-lived
# credentials, but credentials): none of them belongs in a message.
_SECRET_QUERY_PARAMS = frozenset(
    {
        "access_token",
        "token",
        "x-amz-signature",
        "x-amz-security-token",
        "x-amz-credential",
        "signature",
        "sig",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NOT_IN_HOSTS = frozenset('%<>"{}|\\^`')


def to_url(value: Any) -> httpx.URL:
    """Accept a str, an ``httpx.URL`` or anything whose ``str()`` is an absolute URL."""
    try:
        url = value if isinstance(value, httpx.URL) else httpx.URL(str(value))
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in ("http", "https") or not _valid_host(url.host):
        raise ValueError(f"not an absolute http(s) URL: {redact_url(str(value))!r}")
    return url


def _valid_host(host: str) -> bool:
    # httpx accepts hosts no resolver will ever find, like "exa mple.org".
    return bool(host) and not any(char.isspace() or char in _NOT_IN_HOSTS for char in host)


def origin(url: httpx.URL) -> tuple[str, str, int]:
    """Scheme, host and effective port: what decides whether a URL is the repository's."""
    port = url.port if url.port is not None else _DEFAULT_PORTS.get(url.scheme, 0)
    return (url.scheme, url.host.lower(), port)


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return origin(a) == origin(b)


def redact_url(url: str | httpx.URL) -> str:
    """The URL with secret query parameters and any password masked, safe for messages."""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{hostport}" if ":" in userinfo else f"***@{hostport}"
    query = "&".join(
        f"{name}=***" if unquote(name).lower() in _SECRET_QUERY_PARAMS else pair
        for pair in parts.query.split("&")
        if pair
        for name in [pair.split("=", 1)[0]]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def quote_key(key: str) -> str:
    """Quote a file key for a URL path; ``/`` stays, as InvenioRDM routes keys as paths."""
    return quote(key, safe="/")


def join(base: str | httpx.URL, *segments: str) -> str:
    """Append already-quoted path segments to a base URL."""
    text = str(base).rstrip("/")
    return "/".join([text, *(segment.strip("/") for segment in segments)])


# Pages of InvenioRDM's web interface that name a record, relative to the site root:
# a published record, a file of it, the latest version, and a draft's upload page
# (Zenodo's older deposit pages use the same ids).
_WEB_PAGE = re.compile(
    r"^/(?P<kind>records|uploads|deposit)/(?P<id>[^/]+)"
    r"(?:/(?P<latest>latest)|/files/(?P<key>.+?))?/?$"
)


def api_url_of_web_page(url: str | httpx.URL, api_url: str | httpx.URL) -> str | None:
    """The API URL of a record's (or its file's) web page, or None if ``url`` is not one.

    ``{site}/records/ID`` is the published record, ``{site}/records/ID/files/KEY``
    one of its files (``?download=1`` and other query parameters dropped),
    ``{site}/records/ID/latest`` its latest version and ``{site}/uploads/ID``
    (or ``{site}/deposit/ID``) the draft. The site is where the API base
    ``api_url`` lives, without its last segment (``https://x.org/api`` is
    served by ``https://x.org``). URLs of another origin, and URLs already under
    the API base, are not web pages of this repository.
    """
    page, api = to_url(url), to_url(api_url)
    # raw paths keep a key's quoting as the API URL needs it
    page_path = _raw_path(page)
    api_path = _raw_path(api).rstrip("/")
    if not same_origin(page, api) or (page_path + "/").startswith(api_path + "/"):
        return None
    site_path = api_path.rsplit("/", 1)[0]
    if not page_path.startswith(site_path + "/"):
        return None
    match = _WEB_PAGE.match(page_path[len(site_path) :])
    if match is None:
        return None
    record = join(str(api).rstrip("/"), "records", match["id"])
    if match["kind"] != "records":
        return join(record, "draft")
    if match["latest"]:
        return join(record, "versions", "latest")
    if match["key"]:
        return join(record, "files", match["key"])
    return record


def _raw_path(url: httpx.URL) -> str:
    return url.raw_path.decode("ascii").split("?", 1)[0]
