# Generated from src/nrpfiles/_async/discovery.py by scripts/gen_sync.py: do not edit.
# body-sha256: 2f4437141f6ddc97c29cb1064420b56b19196414b1e5d78636b2a1301466dc94
"""Finding a repository's API base and the transfers it offers."""

from __future__ import annotations

import re

import httpx

from nrpfiles._sync.http import Http
from nrpfiles.errors import (
    RepositoryClientError,
    RepositoryServerError,
    UnexpectedResponseError,
)
from nrpfiles.models import RepositoryInfo

_GENERATOR = re.compile(
    r"""<meta\s+name=["']generator["']\s+content=["']InvenioRDM\s*([0-9][0-9.]*)?""",
    re.IGNORECASE,
)
# InvenioRDM 13 brought multipart uploads for ordinary users; before it, only local.
_MULTIPART_SINCE = 13
# Answers meaning "no such page here"; a network failure still propagates.
_NOT_A_DOCUMENT = (RepositoryClientError, RepositoryServerError, UnexpectedResponseError)


def split_root_and_api(url: httpx.URL) -> tuple[httpx.URL, httpx.URL | None]:
    """The site root, and the API base when the URL names it directly (``.../api``)."""
    path = url.path.rstrip("/")
    if path.endswith("/api"):
        return url.copy_with(path=path[: -len("/api")] or "/", query=None), url.copy_with(path=path)
    return url.copy_with(path=path or "/", query=None), None


def discover_repository(http: Http, url: httpx.URL) -> RepositoryInfo:
    """NRP sites describe themselves at ``/.well-known/repository``; plain InvenioRDM does not."""
    root, api = split_root_and_api(url)
    root_text = str(root).rstrip("/")
    try:
        document, _ = http.request_json(
            "GET", f"{root_text}/.well-known/repository", headers={"Accept": "application/json"}
        )
    except _NOT_A_DOCUMENT:
        document = None
    if isinstance(document, dict) and isinstance(document.get("links"), dict):
        links = {str(k): str(v) for k, v in document["links"].items() if isinstance(v, str)}
        transfers = document.get("transfers") or ["L"]
        return RepositoryInfo(
            root_url=root_text,
            api_url=str(api or links.get("api") or f"{root_text}/api").rstrip("/"),
            kind="nrp",
            name=document.get("name"),
            version=document.get("version"),
            invenio_version=document.get("invenio_version"),
            transfers=tuple(str(t) for t in transfers),
            links=links,
        )
    version = _invenio_version(http, root_text)
    major = int(version.split(".")[0]) if version else 0
    return RepositoryInfo(
        root_url=root_text,
        api_url=str(api or f"{root_text}/api").rstrip("/"),
        kind="invenio-rdm",
        name=None,
        version=None,
        invenio_version=version,
        transfers=("L", "M") if major >= _MULTIPART_SINCE else ("L",),
        links={},
    )


def _invenio_version(http: Http, root: str) -> str | None:
    """The version in the home page's generator meta tag, if the page says it."""
    try:
        response = http.request("GET", f"{root}/", headers={"Accept": "text/html"})
    except _NOT_A_DOCUMENT:
        return None
    match = _GENERATOR.search(response.text[:200_000])
    return match.group(1) if match and match.group(1) else None
