"""How clients find the repository: the home page, and NRP's document where switched on.

A plain InvenioRDM has no ``/.well-known/repository`` (404) and names itself in its
home page's generator tag; NRP repositories add the document and their models.
``RepositoryConfig.well_known`` chooses between the two.
"""

from __future__ import annotations

from html import escape
from typing import Any

from ..._version import __version__
from .context import Context, api_base
from .http import NOT_FOUND, ApiError, Request, Response, json_response

MODEL = "rdm-records"
PAGE_NOT_FOUND = "Page not found"


def well_known(ctx: Context, request: Request) -> Response:
    """The repository document as oarepo-runtime's ``info/views.py`` serves it."""
    if not ctx.config.well_known:
        if request.path.startswith("/api/"):
            raise ApiError(404, NOT_FOUND)
        return not_found_page(request)
    api = api_base(request)
    # the links point within the app asked: the site's or the API's
    document = request.base_url + ("/api" if request.path.startswith("/api/") else "")
    links = {
        "self": f"{document}/.well-known/repository/",
        "api": api,
        "models": f"{document}/.well-known/repository/models",
    }
    features = ["drafts"]
    if ctx.config.publish_through_requests:
        links["requests"] = f"{api}/requests/"
        features += ["workflows", "requests", "communities", "request_types"]
    return json_response(
        200,
        {
            "schema": "local://introspection-v1.0.0",
            "name": "nrpfiles local repository",
            "description": "An InvenioRDM-compatible repository for tests and demos.",
            "version": __version__,
            "invenio_version": ctx.config.invenio_version,
            "transfers": list(ctx.config.transfers),
            "links": links,
            "features": features,
            # oarepo-runtime names the model when there is only one
            "default_model": MODEL,
        },
    )


def models(ctx: Context, request: Request) -> Response:
    """The models document: oarepo-runtime gives each model's name as its type."""
    if not ctx.config.well_known:
        raise ApiError(404, NOT_FOUND)
    api = api_base(request)
    features = ["drafts", "files"]
    if ctx.config.publish_through_requests:
        features.insert(0, "requests")
    model: dict[str, Any] = {
        "schema": "local://rdm-records-1.0.0.json",
        "type": MODEL,
        "name": MODEL,
        "description": "InvenioRDM records with files.",
        "version": "1.0.0",
        "features": features,
        "links": {
            "html": f"{request.base_url}/records",
            "model": f"{request.base_url}/.well-known/repository/models/{MODEL}",
            "records": f"{api}/records",
            "drafts": f"{api}/user/records",
            "deposit": f"{api}/records",
        },
        "content_types": [
            {
                "content_type": "application/json",
                "name": f"Internal json serialization of {MODEL}",
                "description": "This content type is serving this model's native format "
                "as described on model link.",
                "can_export": True,
                "can_deposit": True,
            }
        ],
        "metadata": True,
    }
    return json_response(200, [model])


def home_page(ctx: Context, request: Request) -> Response:
    api = escape(api_base(request))
    version = escape(ctx.config.invenio_version)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="InvenioRDM {version}"/>
<title>nrpfiles local repository</title>
</head>
<body>
<h1>nrpfiles local repository</h1>
<p>An InvenioRDM-compatible repository. The REST API is at <a href="{api}">{api}</a>.</p>
</body>
</html>
"""
    return Response(200, [("Content-Type", "text/html; charset=utf-8")], page.encode())


def not_found_page(request: Request) -> Response:
    """What the site (not its API) answers for a page it does not have."""
    page = f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{PAGE_NOT_FOUND}</title></head>
<body><h1>{PAGE_NOT_FOUND}</h1><p>{escape(request.path)}</p></body>
</html>
"""
    return Response(404, [("Content-Type", "text/html; charset=utf-8")], page.encode())
