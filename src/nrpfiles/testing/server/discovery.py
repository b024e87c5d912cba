"""How clients find the repository: the NRP document, its models, the home page."""

from __future__ import annotations

from html import escape
from typing import Any

from ..._version import __version__
from .context import Context, api_base
from .http import Request, Response, json_response

INVENIO_VERSION = "13.0"
MODEL = "rdm-records"


def well_known(ctx: Context, request: Request) -> Response:
    api = api_base(request)
    return json_response(
        200,
        {
            "schema": "local://introspection-v1.0.0",
            "name": "nrpfiles local repository",
            "description": "An InvenioRDM-compatible repository for tests and demos.",
            "version": __version__,
            "invenio_version": INVENIO_VERSION,
            "transfers": list(ctx.config.transfers),
            "features": ["drafts", "files", "multipart_upload", "search"],
            "default_model": MODEL,
            "links": {
                "self": f"{request.base_url}/.well-known/repository",
                "api": api,
                "records": f"{api}/records",
                "drafts": f"{api}/user/records",
                "models": f"{api}/models",
                "requests": f"{api}/requests",
                "communities": f"{api}/communities",
            },
        },
    )


def models(ctx: Context, request: Request) -> Response:
    api = api_base(request)
    model: dict[str, Any] = {
        "type": MODEL,
        "schema": "local://rdm-records-1.0.0.json",
        "name": "RDM records",
        "description": "InvenioRDM records with files.",
        "version": "1.0.0",
        "features": ["drafts", "files", "versions"],
        "metadata": True,
        "links": {
            "records": f"{api}/records",
            "drafts": f"{api}/user/records",
            "deposit": f"{api}/records",
            "html": f"{request.base_url}/records",
        },
        "content_types": [
            {
                "content_type": "application/json",
                "name": "Internal JSON serialization of RDM records",
                "can_export": True,
                "can_deposit": True,
            }
        ],
    }
    return json_response(200, [model])


def home_page(ctx: Context, request: Request) -> Response:
    api = escape(api_base(request))
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="InvenioRDM {INVENIO_VERSION}">
<title>nrpfiles local repository</title>
</head>
<body>
<h1>nrpfiles local repository</h1>
<p>An InvenioRDM-compatible repository. The REST API is at <a href="{api}">{api}</a>.</p>
</body>
</html>
"""
    return Response(200, [("Content-Type", "text/html; charset=utf-8")], page.encode())
