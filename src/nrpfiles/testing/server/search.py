"""Search over published records and over the caller's own records.

A small stand-in for the search engine: ``q`` matches every whitespace-separated term
as a case-insensitive substring of the title or the metadata; ``id:`` and
``parent.id:`` terms match exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from ..storage import DRAFT, PUBLISHED, RecordRow, User
from .access import files_readable, readable_record
from .context import Context, api_base
from .http import ApiError, Request, Response, field_error, json_response, validation_error
from .serialize import HIT, record_json

_SORTS: dict[str, tuple[Callable[[dict[str, Any]], Any], bool]] = {
    "newest": (lambda hit: hit["created"], True),
    "oldest": (lambda hit: hit["created"], False),
    "updated-desc": (lambda hit: hit["updated"], True),
    "updated-asc": (lambda hit: hit["updated"], False),
    "version": (lambda hit: hit["versions"]["index"], True),
    "mostviewed": (lambda hit: hit["created"], True),
    "mostdownloaded": (lambda hit: hit["created"], True),
}
MAX_RESULT_WINDOW = 10_000


def search_records(ctx: Context, request: Request) -> Response:
    user = ctx.authenticate(request, required=False)
    all_versions = (request.arg("allversions") or "").lower() in ("1", "true", "yes")
    hits = []
    for record in ctx.store.records():
        if record.published is None or not _visible(record, user):
            continue
        body = _hit(request, ctx, record, user)
        if all_versions or body["versions"]["is_latest"]:
            hits.append(body)
    return _answer(ctx, request, hits, f"{api_base(request)}/records", "newest")


def search_user_records(ctx: Context, request: Request) -> Response:
    user = ctx.authenticate(request)
    assert user is not None
    hits = []
    records = [r for r in ctx.store.records() if r.owner_id == user.id]
    latest_index: dict[str, int] = {}
    for record in records:
        latest_index[record.parent_id] = max(
            latest_index.get(record.parent_id, 0), record.version_index
        )
    for record in records:
        if record.version_index != latest_index[record.parent_id]:
            continue
        bucket = DRAFT if record.draft is not None else PUBLISHED
        hits.append(
            record_json(api_base(request), request.base_url, ctx.store, record, bucket, HIT)
        )
    return _answer(ctx, request, hits, f"{api_base(request)}/user/records", "updated-desc")


def search_versions(ctx: Context, request: Request) -> Response:
    user, record = readable_record(ctx, request, request.params["id"])
    hits = [
        _hit(request, ctx, sibling, user)
        for sibling in ctx.store.records(record.parent_id)
        if sibling.published is not None and _visible(sibling, user)
    ]
    url = f"{api_base(request)}/records/{record.id}/versions"
    return _answer(ctx, request, hits, url, "version", aggregations=False)


def _hit(request: Request, ctx: Context, record: RecordRow, user: User | None) -> dict[str, Any]:
    hidden = not files_readable(record, user)
    return record_json(
        api_base(request), request.base_url, ctx.store, record, PUBLISHED, HIT, files_hidden=hidden
    )


def _visible(record: RecordRow, user: User | None) -> bool:
    assert record.published is not None
    if (record.published.get("access") or {}).get("record") != "restricted":
        return True
    return user is not None and user.id == record.owner_id


def _int_arg(request: Request, name: str, default: int) -> int:
    raw = request.arg(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise validation_error([field_error(name, "Not a valid integer.")]) from None
    if value < 1:
        raise validation_error([field_error(name, "Must be greater than or equal to 1.")])
    return value


def _answer(
    ctx: Context,
    request: Request,
    hits: list[dict[str, Any]],
    url: str,
    default_sort: str,
    *,
    aggregations: bool = True,
) -> Response:
    query = (request.arg("q") or "").strip()
    page = _int_arg(request, "page", 1)
    size = _int_arg(request, "size", ctx.config.page_size)
    if (page - 1) * size >= MAX_RESULT_WINDOW:
        # the search engine serves no hits this deep
        raise ApiError(400, "Invalid querystring parameters.")
    sort = request.arg("sort") or ("bestmatch" if query else default_sort)
    if sort not in _SORTS and sort != "bestmatch":
        raise validation_error([field_error("_schema", f"Invalid sort option '{sort}'.")])
    matching = [hit for hit in hits if _matches(hit, query)]
    if sort == "bestmatch":
        matching.sort(key=lambda hit: (-_score(hit, query), hit["created"]), reverse=False)
    else:
        key, reverse = _SORTS[sort]
        matching.sort(key=key, reverse=reverse)
    start = (page - 1) * size
    page_hits = matching[start : start + size]

    def link(number: int) -> str:
        params = {"page": number, "size": size, "sort": sort}
        if query:
            params["q"] = query
        return f"{url}?{urlencode(params)}"

    links = {"self": link(page)}
    if page > 1:
        links["prev"] = link(page - 1)
    if start + size < len(matching):
        links["next"] = link(page + 1)
    body: dict[str, Any] = {"hits": {"hits": page_hits, "total": len(matching)}}
    if aggregations:
        body["aggregations"] = {}  # no facets are counted here
    body.update(sortBy=sort, page=page, links=links)
    return json_response(200, body)


def _matches(hit: dict[str, Any], query: str) -> bool:
    if not query:
        return True
    text = json.dumps(hit["metadata"]).lower()
    for term in query.split():
        name, colon, value = term.partition(":")
        if colon and name == "id":
            if hit["id"] != value.strip('"'):
                return False
        elif colon and name == "parent.id":
            if hit["parent"]["id"] != value.strip('"'):
                return False
        elif term.strip('"').lower() not in text:
            return False
    return True


def _score(hit: dict[str, Any], query: str) -> int:
    title = str(hit["metadata"].get("title", "")).lower()
    return sum(1 for term in query.lower().split() if term.strip('"') in title)
