"""Loading records with InvenioRDM's answers: 401, 403, 404 and 412."""

from __future__ import annotations

from ..storage import RecordRow, User
from .context import Context
from .http import ApiError, Request

PID_MISSING = "The persistent identifier does not exist."
PID_UNREGISTERED = "The persistent identifier is not registered."
PERMISSION_DENIED = "Permission denied."
BUCKET_LOCKED = "Bucket is locked for modifications."


def load_record(ctx: Context, record_id: str) -> RecordRow:
    record = ctx.store.get_record(record_id)
    if record is None:
        raise ApiError(404, PID_MISSING)
    return record


def own_draft(ctx: Context, request: Request, record_id: str) -> tuple[User, RecordRow]:
    """The caller's draft: 401 without a token, 403 for someone else's, 404 without one."""
    user = ctx.authenticate(request)
    assert user is not None
    record = load_record(ctx, record_id)
    if record.owner_id != user.id:
        raise ApiError(403, PERMISSION_DENIED)
    if record.draft is None:
        raise ApiError(404, PID_MISSING)
    return user, record


def own_record(ctx: Context, request: Request, record_id: str) -> tuple[User, RecordRow]:
    """The caller's published record (for edit and new version)."""
    user = ctx.authenticate(request)
    assert user is not None
    record = load_record(ctx, record_id)
    if record.owner_id != user.id:
        raise ApiError(403, PERMISSION_DENIED)
    if record.published is None:
        raise ApiError(404, PID_UNREGISTERED)
    return user, record


def readable_record(
    ctx: Context, request: Request, record_id: str
) -> tuple[User | None, RecordRow]:
    """A published record as the caller may see it; restricted ones only for the owner."""
    user = ctx.authenticate(request, required=False)
    record = load_record(ctx, record_id)
    if record.published is None:
        raise ApiError(404, PID_UNREGISTERED)
    access = record.published.get("access") or {}
    if access.get("record") == "restricted" and (user is None or user.id != record.owner_id):
        raise ApiError(403, PERMISSION_DENIED)
    return user, record


def files_readable(record: RecordRow, user: User | None) -> bool:
    assert record.published is not None
    access = record.published.get("access") or {}
    owner = user is not None and user.id == record.owner_id
    return owner or access.get("files", "public") != "restricted"


def check_if_match(request: Request, revision_id: int) -> None:
    raw = request.header("If-Match")
    if raw is None:
        return
    expected = raw.strip()
    if expected.startswith("W/"):
        expected = expected[2:]
    expected = expected.strip('"')
    if expected == "*":
        return
    if expected != str(revision_id):
        raise ApiError(
            412,
            f"Revision id provided({expected}) doesn't match record's one({revision_id})",
        )
