"""File content of drafts and records: whole uploads, multipart parts, commit, download.

InvenioRDM answers a failed upload oddly, and clients meet it, so this does too: a
whole-content PUT that fails (a body cut short, a PUT to a committed file, to a
multipart file) answers **200** with ``"errors": "File upload transfer failed."`` and
the entry is deleted; a part PUT that fails (wrong size, number above the count)
answers the same 200 and the entry is kept.

Where the bytes go is ``ctx.objects``' business (a file store or S3); on S3, parts go to
presigned URLs and S3 itself counts them at commit.

Where ``refuse_multipart`` is set (Zenodo), an M init still answers 201 but every part
PUT and the commit of an M file answer 403: only L content may be uploaded.
"""

from __future__ import annotations

import uuid

from ..storage import DRAFT, FileRow, RecordRow
from .access import BUCKET_LOCKED
from .context import Context, now_iso
from .files import (
    draft_file,
    entry_json,
    entry_response,
    has_stored_object,
    is_locked,
    no_such_file,
    own_draft_file,
    readable_record_file,
)
from .http import (
    INTERNAL_ERROR,
    PERMISSION_DENIED,
    ApiError,
    ClientWentAway,
    ConnectionCut,
    Request,
    Response,
    json_response,
    redirect_response,
)
from .objects import PENDING_OBJECT_FIELDS
from .serialize import guess_mimetype
from .uploads import refuse_oversized_body, require_bytes_body

TRANSFER_FAILED = "File upload transfer failed."
QUOTA_EXCEEDED = "Bucket quota exceeded."
FILE_TOO_LARGE = "Maximum file size exceeded."
BAD_REQUEST = "The browser (or proxy) sent a request that this server could not understand."


class FailedTransfer(Exception):
    """An upload InvenioRDM answers with 200 and ``errors`` rather than an error status."""


def _failed_response(ctx: Context, request: Request, row: FileRow, record: RecordRow) -> Response:
    body = entry_json(ctx, request, row, record)
    body["errors"] = TRANSFER_FAILED
    return json_response(200, body)


# whole content (L) ----------------------------------------------------------------------
def put_content(ctx: Context, request: Request) -> Response:
    refuse_oversized_body(request, ctx.config.max_request_size)
    record, row = own_draft_file(ctx, request)
    key = row.key
    kind = row.data["transfer"]["type"]
    if kind not in ("L", "M"):
        raise ApiError(403, PERMISSION_DENIED)
    require_bytes_body(request)
    try:
        if kind == "M":
            raise FailedTransfer("Can not set content for multipart file, use the parts instead.")
        if row.data["status"] == "completed":
            raise FailedTransfer(f'File with key "{key}" is already committed.')
        _check_limits(ctx, record, row, request.content_length or 0)
        if is_locked(record):
            raise ApiError(403, BUCKET_LOCKED)
        return _receive_content(ctx, request, record, row)
    except FailedTransfer:
        if is_locked(record) and has_stored_object(row):
            raise ApiError(403, BUCKET_LOCKED) from None  # the cleanup itself is refused
        _delete_entry(ctx, row)
        return _failed_response(ctx, request, row, record)


def _receive_content(ctx: Context, request: Request, record: RecordRow, row: FileRow) -> Response:
    try:
        file_id = ctx.objects.receive_whole(request)
    except ConnectionCut as cut:
        # the body ended early: InvenioRDM deletes the entry, and answers if it still can
        if not ctx.config.cut_upload_deletes_entry:
            raise
        if isinstance(cut, ClientWentAway):
            raise FailedTransfer(str(cut)) from None
        _delete_entry(ctx, row)
        raise
    with ctx.store.transaction():
        current = ctx.store.get_file(record.id, DRAFT, row.key)
        if current is None or current.data.get("version_id") != row.data.get("version_id"):
            # deleted (or deleted and re-created) while the bytes were arriving
            ctx.hashes.discard(file_id)
            ctx.store.release_content(file_id)
            raise no_such_file(record.id, row.key)
        previous = current.data.get("staged_file_id")
        current.data.update(
            staged_file_id=file_id, staged_size=request.content_length, updated=now_iso()
        )
        ctx.store.save_file(current)
        if previous:
            ctx.hashes.discard(previous)
            ctx.store.release_content(previous)
    return entry_response(ctx, request, current, record)


def _check_limits(ctx: Context, record: RecordRow, row: FileRow, length: int) -> None:
    """Quota and file size, checked against Content-Length before a byte is read."""
    limits: list[tuple[int, str]] = []
    if ctx.config.bucket_quota is not None:
        used = sum(
            int(other.data.get("size") or other.data.get("staged_size") or 0)
            for other in ctx.store.files(record.id, DRAFT)
            if other.key != row.key and other.data["transfer"]["type"] != "M"
        )
        limits.append((max(ctx.config.bucket_quota - used, 0), QUOTA_EXCEEDED))
    if ctx.config.max_file_size is not None:
        limits.append((ctx.config.max_file_size, FILE_TOO_LARGE))
    if limits and length:
        limit, reason = min(limits, key=lambda pair: pair[0])
        if length > limit:
            raise ApiError(400, reason)


def _delete_entry(ctx: Context, row: FileRow) -> None:
    with ctx.store.transaction():
        current = ctx.store.get_file(row.record_id, DRAFT, row.key)
        if current is None or current.data.get("version_id") != row.data.get("version_id"):
            return
        ctx.hashes.discard(current.data.get("staged_file_id"))
        ctx.checksums.discard(current.data.get("file_id"))
        ctx.store.delete_file(current)


# multipart parts (M) --------------------------------------------------------------------
def put_part(ctx: Context, request: Request) -> Response:
    refuse_oversized_body(request, ctx.config.max_request_size)
    record, row = own_draft_file(ctx, request)
    key = row.key
    if request.decision.refuse_multipart_parts:
        ctx.faults.count("refused_part")
        raise ApiError(403, PERMISSION_DENIED)
    if ctx.config.refuse_multipart:
        ctx.stats.add("refused_multipart")
        raise ApiError(403, PERMISSION_DENIED)
    transfer = row.data["transfer"]
    if transfer["type"] not in ("L", "M"):
        raise ApiError(403, PERMISSION_DENIED)
    if transfer["type"] != "M":
        raise ApiError(
            400, f'Transfer type "{transfer["type"]}" does not support multipart uploads.'
        )
    require_bytes_body(request)
    try:
        received = ctx.objects.receive_part(request, row.data, int(request.params["part"]))
    except ClientWentAway:
        raise ApiError(400, BAD_REQUEST) from None  # werkzeug's answer; the entry stays
    if not received:
        return _failed_response(ctx, request, row, record)
    with ctx.store.transaction():
        current = ctx.store.get_file(record.id, DRAFT, key)
        if current is None or current.data.get("version_id") != row.data.get("version_id"):
            raise no_such_file(record.id, key)
        current.data["updated"] = now_iso()
        ctx.store.save_file(current)
    return entry_response(ctx, request, current, record)


# commit ---------------------------------------------------------------------------------
def commit(ctx: Context, request: Request) -> Response:
    record, row = own_draft_file(ctx, request)
    request.json_body(optional=True)
    key = row.key
    kind = row.data["transfer"]["type"]
    if row.data["status"] == "completed":
        return entry_response(ctx, request, row, record)
    if kind in ("F", "R"):
        raise ApiError(403, PERMISSION_DENIED)
    if kind == "M":
        if ctx.config.refuse_multipart:
            ctx.stats.add("refused_multipart")
            raise ApiError(403, PERMISSION_DENIED)
        return entry_response(ctx, request, _commit_multipart(ctx, record, row), record)
    file_id = row.data.get("staged_file_id")
    if not file_id:
        # InvenioRDM fails this way when a file was never uploaded
        raise ApiError(500, INTERNAL_ERROR)
    md5_hex = ctx.objects.digest(file_id)
    with ctx.store.transaction():
        current = draft_file(ctx, record, key)
        if current.data.get("staged_file_id") != file_id:
            raise ApiError(409, "The file content changed while committing; commit again.")
        _complete(current, file_id, int(current.data.pop("staged_size")), f"md5:{md5_hex}")
        current.data.pop("staged_file_id")
        ctx.store.save_file(current)
    return entry_response(ctx, request, current, record)


def _commit_multipart(ctx: Context, record: RecordRow, row: FileRow) -> FileRow:
    committed = ctx.objects.complete_multipart(row.data)
    file_id = row.data["file_id"]
    with ctx.store.transaction():
        current = ctx.store.get_file(record.id, DRAFT, row.key)
        if current is None or current.data.get("version_id") != row.data.get("version_id"):
            ctx.store.release_content(file_id)  # deleted while its parts were joined
            raise no_such_file(record.id, row.key)
        for name in PENDING_OBJECT_FIELDS:
            current.data.pop(name, None)
        # the md5 is left to a background task, as InvenioRDM's worker does it
        _complete(current, file_id, committed.size, committed.checksum)
        ctx.store.save_file(current)
    ctx.checksums.schedule(file_id)
    return ctx.store.get_file(record.id, DRAFT, row.key) or current  # without a delay: in


def _complete(row: FileRow, file_id: str, size: int, checksum: str | None) -> None:
    row.data.update(
        status="completed",
        transfer={"type": "L"},
        file_id=file_id,
        size=size,
        checksum=checksum,
        mimetype=guess_mimetype(row.key),
        version_id=str(uuid.uuid4()),
        updated=now_iso(),
    )
    row.data.pop("declared_size", None)
    row.data.pop("declared_checksum", None)


# download -------------------------------------------------------------------------------
def get_draft_content(ctx: Context, request: Request) -> Response:
    _, row = own_draft_file(ctx, request)
    return _send(ctx, request, row)


def get_record_content(ctx: Context, request: Request) -> Response:
    _, row = readable_record_file(ctx, request)
    return _send(ctx, request, row)


def _send(ctx: Context, request: Request, row: FileRow) -> Response:
    data = row.data
    if data["status"] != "completed":
        if data["transfer"]["type"] == "L":
            # InvenioRDM fails on a local file with no object yet: a bare 500
            raise ApiError(500, INTERNAL_ERROR)
        # and lets other content be read only once the transfer made it a local file
        raise ApiError(403, PERMISSION_DENIED)
    if data["transfer"]["type"] == "R":
        return redirect_response(data["source_url"])
    return ctx.objects.download(ctx, request, data, row.key)
