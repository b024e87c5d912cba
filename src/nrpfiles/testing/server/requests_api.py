"""NRP's requests API (oarepo-requests): applicable types, create, read, list, actions.

Where ``RepositoryConfig.publish_through_requests`` is off (plain InvenioRDM) none
of these endpoints exists: they answer 404 as an unknown path would.
"""

from __future__ import annotations

import uuid
from typing import Any

from ..storage import DRAFT, PUBLISHED, RecordRow, User
from . import records
from .access import PID_MISSING, load_record, readable_record
from .context import Context, api_base, now_iso
from .http import NOT_FOUND, PERMISSION_DENIED, ApiError, Request, Response, json_response
from .request_json import (
    ACTIONS,
    EDIT_PUBLISHED_RECORD,
    NEW_VERSION,
    PUBLISH_DRAFT,
    REVIEWERS,
    applicable_types,
    hits_json,
    may,
    open_request,
    request_json,
    request_types_json,
    requests_base,
    user_ref,
    visible,
)

PUBLISH_TYPES = (PUBLISH_DRAFT,)


def _enabled(ctx: Context) -> None:
    if not ctx.config.publish_through_requests:
        raise ApiError(404, NOT_FOUND)


def _bucket(request: Request) -> str:
    return DRAFT if "/draft/requests" in request.path else PUBLISHED


def _topic(ctx: Context, request: Request, bucket: str) -> tuple[User, RecordRow]:
    """The record a record-side endpoint names, as the caller may read it."""
    user = ctx.authenticate(request)
    assert user is not None
    if bucket == PUBLISHED:
        _, record = readable_record(ctx, request, request.params["id"])
        return user, record
    record = load_record(ctx, request.params["id"])
    if record.draft is None:
        raise ApiError(404, PID_MISSING)
    if record.owner_id != user.id:
        raise ApiError(403, PERMISSION_DENIED)
    return user, record


def _show(ctx: Context, request: Request, data: dict[str, Any], user: User | None) -> Any:
    return request_json(api_base(request), request.base_url, ctx, data, user)


def applicable(ctx: Context, request: Request) -> Response:
    _enabled(ctx)
    bucket = _bucket(request)
    user, record = _topic(ctx, request, bucket)
    types = applicable_types(ctx, record, bucket, user)
    return json_response(200, request_types_json(api_base(request), record.id, bucket, types))


def record_requests(ctx: Context, request: Request) -> Response:
    _enabled(ctx)
    bucket = _bucket(request)
    user, record = _topic(ctx, request, bucket)
    items = [
        _show(ctx, request, data, user)
        for data in ctx.store.requests(record.id)
        if visible(data, user)
    ]
    return json_response(200, hits_json(requests_base(api_base(request), record.id, bucket), items))


def create(ctx: Context, request: Request) -> Response:
    _enabled(ctx)
    bucket = _bucket(request)
    body = request.json_body(optional=True)
    user, record = _topic(ctx, request, bucket)
    type_id = request.params["type"]
    if open_request(ctx, record.id, (type_id,)) is not None:
        raise ApiError(400, f"There is already an open request of {type_id} on {record.id}.")
    if type_id not in applicable_types(ctx, record, bucket, user):
        raise ApiError(403, PERMISSION_DENIED)
    payload = body.get("payload") if isinstance(body, dict) else None
    now = now_iso()
    review = type_id == PUBLISH_DRAFT and ctx.config.publish_review
    data: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "created": now,
        "updated": now,
        "revision_id": 1,
        "type": type_id,
        "title": "",
        "number": str(ctx.store.next_seq()),
        "status": "created",
        "created_by": user_ref(user),
        "receiver": dict(REVIEWERS) if review else user_ref(user),
        "topic": {"record": record.id},
        "payload": {str(k): str(v) for k, v in payload.items()}
        if isinstance(payload, dict)
        else {},
        "expires_at": None,
        "_bucket": bucket,
    }
    ctx.store.save_request(data["id"], record.id, data)
    return json_response(201, _show(ctx, request, data, user))


def _load(ctx: Context, request: Request) -> tuple[User, dict[str, Any]]:
    _enabled(ctx)
    user = ctx.authenticate(request)
    assert user is not None
    data = ctx.store.get_request(request.params["request_id"])
    if data is None:
        raise ApiError(404, NOT_FOUND)
    if not visible(data, user):
        raise ApiError(403, PERMISSION_DENIED)
    return user, data


def read(ctx: Context, request: Request) -> Response:
    user, data = _load(ctx, request)
    return json_response(200, _show(ctx, request, data, user))


def search(ctx: Context, request: Request) -> Response:
    _enabled(ctx)
    user = ctx.authenticate(request)
    status = request.arg("status")
    items = [
        _show(ctx, request, data, user)
        for data in reversed(ctx.store.requests())
        if visible(data, user) and (not status or data["status"] == status)
    ]
    return json_response(200, hits_json(f"{api_base(request)}/requests/", items))


def act(ctx: Context, request: Request) -> Response:
    user, data = _load(ctx, request)
    request.json_body(optional=True)
    action = request.params["action"]
    if action not in ACTIONS:
        raise ApiError(400, f"Unknown action '{action}'.")
    if not may(action, data, user):
        if data["status"] not in ACTIONS[action][0]:
            raise ApiError(400, f"Action {action} is not possible on a {data['status']} request.")
        raise ApiError(403, PERMISSION_DENIED)
    if action == "accept":
        _carry_out(ctx, request, data)
    data["status"] = ACTIONS[action][2]
    data["updated"] = now_iso()
    data["revision_id"] += 1
    ctx.store.save_request(data["id"], data["topic"]["record"], data)
    return json_response(200, _show(ctx, request, data, user))


def _carry_out(ctx: Context, request: Request, data: dict[str, Any]) -> None:
    """What accepting does to the topic; a refusal (400) leaves the request submitted."""
    api, root = api_base(request), request.base_url
    record_id = data["topic"]["record"]
    payload = data["payload"]
    if data["type"] in PUBLISH_TYPES:
        records.publish_draft(ctx, record_id)
        data["_bucket"] = PUBLISHED
        payload["published_record:links:self"] = f"{api}/records/{record_id}"
        payload["published_record:links:self_html"] = f"{root}/records/{record_id}"
        return
    if data["type"] == EDIT_PUBLISHED_RECORD:
        draft = records.edit_record(ctx, record_id)
    elif data["type"] == NEW_VERSION:
        draft = records.new_version_draft(ctx, load_record(ctx, record_id))
    else:  # pragma: no cover - only known types are created
        raise ApiError(400, f"Unknown request type {data['type']}.")
    payload["draft_record:id"] = draft.id
    payload["draft_record:links:self"] = f"{api}/records/{draft.id}/draft"
    payload["draft_record:links:self_html"] = f"{root}/uploads/{draft.id}"
