"""NRP's requests as oarepo-requests shows them, and what they add to a record's JSON.

A request is stored as the JSON it is shown as, less its links (worked out for
each caller: the actions offered are those the caller may take now) and one
private key, ``_bucket``: whether the topic is the record's draft or its
published state.
"""

from __future__ import annotations

from typing import Any

from ..storage import DRAFT, PUBLISHED, RecordRow, User
from .context import Context, api_base
from .http import Request
from .serialize import record_links

PUBLISH_DRAFT = "publish_draft"
EDIT_PUBLISHED_RECORD = "edit_published_record"
NEW_VERSION = "new_version"
OPEN = ("created", "submitted")
# where a review is required, the receiver of a publish request
REVIEWERS = {"group": "reviewers"}
CREATOR, RECEIVER = "creator", "receiver"
# action: the statuses it applies to, who may take it, and the status it leads to
# (invenio-requests' RequestActions: a created request is submitted or deleted, not cancelled)
ACTIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "submit": (("created",), CREATOR, "submitted"),
    "cancel": (("submitted",), CREATOR, "cancelled"),
    "accept": (("submitted",), RECEIVER, "accepted"),
    "decline": (("submitted",), RECEIVER, "declined"),
}
_PRIVATE = ("_bucket",)


def user_ref(user: User) -> dict[str, str]:
    return {"user": str(user.id)}


def is_creator(data: dict[str, Any], user: User | None) -> bool:
    return user is not None and data["created_by"] == user_ref(user)


def is_receiver(data: dict[str, Any], user: User | None) -> bool:
    if user is None:
        return False
    receiver = data["receiver"]
    if "user" in receiver:
        return bool(receiver["user"] == str(user.id))
    # the reviewers: anyone but the one asking
    return not is_creator(data, user)


def visible(data: dict[str, Any], user: User | None) -> bool:
    return is_creator(data, user) or is_receiver(data, user)


def may(action: str, data: dict[str, Any], user: User | None) -> bool:
    statuses, who, _ = ACTIONS[action]
    if data["status"] not in statuses:
        return False
    return is_creator(data, user) if who == CREATOR else is_receiver(data, user)


def request_json(
    api: str, root: str, ctx: Context, data: dict[str, Any], user: User | None
) -> dict[str, Any]:
    """A request as invenio-requests' schema shows it, with oarepo-requests' links."""
    body = {key: value for key, value in data.items() if key not in _PRIVATE}
    is_open = data["status"] in OPEN
    body.update(is_open=is_open, is_closed=not is_open, is_expired=False)
    request_id = data["id"]
    topic = ctx.store.get_record(data["topic"]["record"])
    topic_links: dict[str, Any] = {}
    if topic is not None:
        bucket = data["_bucket"]
        if bucket == DRAFT and topic.draft is None:
            bucket = PUBLISHED
        if (topic.draft if bucket == DRAFT else topic.published) is not None:
            topic_links = record_links(api, root, topic, bucket == DRAFT)
    extended = f"{api}/requests/extended/{request_id}"
    body["links"] = {
        "self": extended,
        "self_html": f"{root}/requests/{request_id}",
        "comments": f"{extended}/comments",
        "timeline": f"{extended}/timeline",
        "actions": {
            name: f"{api}/requests/{request_id}/actions/{name}"
            for name in ACTIONS
            if may(name, data, user)
        },
        "topic": topic_links,
        "created_by": {},
        "receiver": {},
    }
    return body


def open_request(ctx: Context, record_id: str, types: tuple[str, ...]) -> dict[str, Any] | None:
    return next(
        (
            data
            for data in ctx.store.requests(record_id)
            if data["type"] in types and data["status"] in OPEN
        ),
        None,
    )


def applicable_types(ctx: Context, record: RecordRow, bucket: str, user: User | None) -> list[str]:
    """The request types the caller may create on the record's draft or published state now."""
    if user is None or user.id != record.owner_id:
        return []
    if bucket == DRAFT:
        candidates = [PUBLISH_DRAFT] if record.draft is not None else []
    else:
        candidates = []
        if record.published is not None and record.draft is None:
            candidates.append(EDIT_PUBLISHED_RECORD)
        siblings = ctx.store.records(record.parent_id)
        if record.published is not None and not any(
            s.published is None and s.draft is not None for s in siblings
        ):
            candidates.append(NEW_VERSION)
    return [name for name in candidates if open_request(ctx, record.id, (name,)) is None]


def requests_base(api: str, record_id: str, bucket: str) -> str:
    record_api = f"{api}/records/{record_id}"
    return f"{record_api}/draft/requests" if bucket == DRAFT else f"{record_api}/requests"


def request_types_json(api: str, record_id: str, bucket: str, types: list[str]) -> dict[str, Any]:
    """A list of request types as oarepo-requests' applicable endpoint answers it."""
    base = requests_base(api, record_id, bucket)
    hits = [{"type_id": name, "links": {"actions": {"create": f"{base}/{name}"}}} for name in types]
    return {"hits": {"hits": hits, "total": len(hits)}, "links": {"self": f"{base}/applicable"}}


def hits_json(self_url: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "hits": {"hits": items, "total": len(items)},
        "aggregations": {},
        "sortBy": "newest",
        "links": {"self": self_url},
    }


def expand_requested(request: Request) -> bool:
    return (request.arg("expand") or "").lower() in ("1", "true", "yes")


def add_to_record(
    ctx: Context, request: Request, record: RecordRow, bucket: str, body: dict[str, Any]
) -> None:
    """NRP's links on a record, and with ``?expand=true`` its requests and request types."""
    if not ctx.config.publish_through_requests:
        return
    api = api_base(request)
    base = requests_base(api, record.id, bucket)
    body["links"]["requests"] = base
    body["links"]["applicable_requests"] = f"{base}/applicable"
    if not expand_requested(request):
        return
    user = ctx.authenticate(request, required=False)
    shown = [
        request_json(api, request.base_url, ctx, data, user)
        for data in ctx.store.requests(record.id)
        if visible(data, user)
    ]
    types = applicable_types(ctx, record, bucket, user)
    body["expanded"] = {
        "requests": shown,
        "request_types": request_types_json(api, record.id, bucket, types)["hits"]["hits"],
    }
