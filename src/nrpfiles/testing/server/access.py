"""Loading records with InvenioRDM's answers: 400, 403, 404 and 412."""

from __future__ import annotations

from ..storage import RecordRow, User
from .context import Context
from .http import PERMISSION_DENIED, ApiError, Request, field_error, validation_error

PID_MISSING = "The persistent identifier does not exist."
PID_UNREGISTERED = "The persistent identifier is not registered."
NOT_FOUND = "Not found."
BUCKET_LOCKED = "Bucket is locked for modifications."


def load_record(ctx: Context, record_id: str) -> RecordRow:
    record = ctx.store.get_record(record_id)
    if record is None:
        raise ApiError(404, PID_MISSING)
    return record


def require_owner(user: User | None, record: RecordRow) -> User:
    if user is None or record.owner_id != user.id:
        raise ApiError(403, PERMISSION_DENIED)
    return user


def own_draft(
    ctx: Context, request: Request, record_id: str, no_draft: str = NOT_FOUND
) -> tuple[User, RecordRow]:
    """The caller's draft: 404 without one, then 403 without a token or for someone else's.

    As in InvenioRDM the identifier is resolved before permissions are checked. A
    published record with no draft is "Not found." for most of the draft's endpoints
    (``no_draft`` says otherwise where InvenioRDM does).
    """
    user = ctx.authenticate(request, required=False)
    record = load_record(ctx, record_id)
    if record.draft is None:
        raise ApiError(404, no_draft)
    return require_owner(user, record), record


def own_record(ctx: Context, request: Request, record_id: str) -> tuple[User, RecordRow]:
    """The caller's published record (for edit and new version)."""
    user = ctx.authenticate(request, required=False)
    record = load_record(ctx, record_id)
    if record.published is None:
        raise ApiError(404, PID_UNREGISTERED)
    return require_owner(user, record), record


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


def if_match_revision(request: Request) -> int | None:
    """The revision an ``If-Match`` header asks for, read as InvenioRDM reads it.

    InvenioRDM parses the header as a bare integer (a marshmallow ``Int`` field), so
    the ETag it sends, ``"4"``, quoted as HTTP has it, is refused: 400 on ``if_match``.
    """
    raw = request.header("If-Match")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise validation_error([field_error("if_match", "Not a valid integer.")]) from None


def check_revision(expected: int | None, revision_id: int) -> None:
    if expected is not None and expected != revision_id:
        raise ApiError(
            412,
            f"Revision id provided({expected}) doesn't match record's one({revision_id})",
        )
