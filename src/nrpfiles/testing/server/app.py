"""Routing: which endpoint answers which method and path."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote

from . import admin, content, csrf, discovery, files, gate, records, requests_api, search
from .context import Context
from .http import (
    INTERNAL_ERROR,
    NOT_FOUND,
    ApiError,
    ConnectionCut,
    Dispatch,
    Request,
    Response,
    error_response,
    log,
)

Endpoint = Callable[[Context, Request], Response]

_ID = r"(?P<id>[^/]+)"
_KEY = r"(?P<key>.+)"
_RECORD = rf"/api/records/{_ID}"
_DRAFT_FILES = rf"{_RECORD}/draft/files"
_REQUEST = r"/api/requests/(?:extended/)?(?P<request_id>[^/]+)"

ROUTES: list[tuple[str, str, Endpoint]] = [
    ("GET", r"/", discovery.home_page),
    # oarepo-runtime registers the document with the site and with its API
    ("GET", r"(?:/api)?/\.well-known/repository/?", discovery.well_known),
    ("GET", r"(?:/api)?/\.well-known/repository/models/?", discovery.models),
    ("GET", r"/api/models/?", discovery.models),
    ("GET", r"/api/requests/?", requests_api.search),
    ("GET", _REQUEST, requests_api.read),
    ("POST", rf"{_REQUEST}/actions/(?P<action>[^/]+)", requests_api.act),
    ("GET", rf"{_RECORD}(?:/draft)?/requests", requests_api.record_requests),
    ("GET", rf"{_RECORD}(?:/draft)?/requests/applicable", requests_api.applicable),
    ("POST", rf"{_RECORD}(?:/draft)?/requests/(?P<type>[^/]+)", requests_api.create),
    # nrp-cmd 1.0.1 joins a topic link that is not https onto the records endpoint
    ("GET", r"/api/records/(?P<joined>https?:/.+)", records.read_joined_record_url),
    ("GET", r"/api/records/?", search.search_records),
    ("POST", r"/api/records/?", records.create_draft),
    ("GET", r"/api/user/records/?", search.search_user_records),
    ("GET", rf"{_RECORD}/draft", records.read_draft),
    ("PUT", rf"{_RECORD}/draft", records.update_draft),
    ("DELETE", rf"{_RECORD}/draft", records.delete_draft),
    ("POST", rf"{_RECORD}/draft", records.edit),
    ("POST", rf"{_RECORD}/draft/actions/publish", records.publish),
    ("POST", rf"{_RECORD}/draft/actions/files-import", records.import_files),
    ("GET", _DRAFT_FILES, files.list_draft_files),
    ("POST", _DRAFT_FILES, files.init_files),
    ("DELETE", _DRAFT_FILES, files.delete_all_files),
    ("POST", rf"{_DRAFT_FILES}/{_KEY}/commit", content.commit),
    ("PUT", rf"{_DRAFT_FILES}/{_KEY}/content/(?P<part>\d+)", content.put_part),
    ("GET", rf"{_DRAFT_FILES}/{_KEY}/content", content.get_draft_content),
    ("PUT", rf"{_DRAFT_FILES}/{_KEY}/content", content.put_content),
    ("GET", rf"{_DRAFT_FILES}/{_KEY}", files.read_draft_file),
    ("PUT", rf"{_DRAFT_FILES}/{_KEY}", files.update_file),
    ("DELETE", rf"{_DRAFT_FILES}/{_KEY}", files.delete_file),
    ("GET", _RECORD, records.read_record),
    ("GET", rf"{_RECORD}/versions", search.search_versions),
    ("POST", rf"{_RECORD}/versions", records.new_version),
    ("GET", rf"{_RECORD}/versions/latest", records.latest_version),
    ("GET", rf"{_RECORD}/files", files.list_record_files),
    ("GET", rf"{_RECORD}/files/{_KEY}/content", content.get_record_content),
    ("GET", rf"{_RECORD}/files/{_KEY}", files.read_record_file),
    ("GET", r"/_local/faults", admin.get_faults),
    ("POST", r"/_local/faults", admin.set_faults),
    ("DELETE", r"/_local/faults", admin.clear_faults),
    ("POST", r"/_local/reset", admin.reset),
    ("POST", r"/_local/users", admin.add_user),
    ("GET", r"/_local/stats", admin.get_stats),
]
_COMPILED = [(method, re.compile(pattern), endpoint) for method, pattern, endpoint in ROUTES]


# what InvenioRDM's application sends with every answer
SITE_HEADERS = (
    ("Permissions-Policy", "interest-cohort=()"),
    ("X-Frame-Options", "sameorigin"),
    ("X-XSS-Protection", "1; mode=block"),
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'self'; object-src 'none'"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
)


def make_dispatch(ctx: Context) -> Dispatch:
    def dispatch(request: Request) -> Response:
        if request.path.startswith("/_local/"):
            return route(ctx, request)
        verdict = gate.rate_limit(ctx, request)
        try:
            if verdict is not None and not verdict.allowed:
                raise gate.too_many_requests(ctx, verdict)
            gate.check_user_agent(ctx, request)
            if ctx.config.csrf:
                csrf.protect(ctx, request)
            response = route(ctx, request)
        except ApiError as error:
            response = error_response(error)
        except (ConnectionCut, OSError):
            raise
        except Exception:
            # answered here rather than by the server so that it carries the site's headers
            log.exception("internal error on %s %s", request.method, request.path)
            response = error_response(ApiError(500, INTERNAL_ERROR))
        if ctx.config.csrf:
            csrf.set_cookies(request, response, session=request.path == "/")
        if verdict is not None:
            response.headers.extend(verdict.headers())
        present = {name.lower() for name, _ in response.headers}
        response.headers.extend(h for h in SITE_HEADERS if h[0].lower() not in present)
        ctx.stats.answered(response.status)
        return response

    return dispatch


def route(ctx: Context, request: Request) -> Response:
    method = "GET" if request.method == "HEAD" else request.method
    path_known = False
    for route_method, pattern, endpoint in _COMPILED:
        match = pattern.fullmatch(request.path)
        if match is None:
            continue
        path_known = True
        if route_method == method:
            request.params = {name: unquote(value) for name, value in match.groupdict().items()}
            response = endpoint(ctx, request)
            break
    else:
        if path_known:
            raise ApiError(405, "The method is not allowed for the requested URL.")
        if not request.path.startswith("/api/"):
            return discovery.not_found_page(request)
        raise ApiError(404, NOT_FOUND)
    return response
