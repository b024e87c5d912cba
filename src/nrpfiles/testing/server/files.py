"""File entries of drafts (read-write) and of records (read-only); their bytes: content.py."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from ..storage import DRAFT, PUBLISHED, FileRow, RecordRow
from . import revisions
from .access import (
    BUCKET_LOCKED,
    NOT_FOUND,
    files_readable,
    load_record,
    own_draft,
    readable_record,
    require_owner,
)
from .context import TRANSFER_TYPES, Context, api_base, now_iso
from .http import (
    INTERNAL_ERROR,
    PERMISSION_DENIED,
    ApiError,
    Request,
    Response,
    empty_response,
    field_error,
    json_response,
    validation_error,
)
from .objects import PENDING_OBJECT_FIELDS
from .serialize import file_json, files_list_json, guess_mimetype

_INIT_FIELDS = ("key", "metadata", "access", "size", "checksum", "storage_class", "transfer")
_TRANSFER_FIELDS = {
    "L": ("type",),
    "M": ("type", "parts", "part_size"),
    "F": ("type", "url"),
    "R": ("type", "url"),
}
FILES_DISABLED = "Files are not enabled."
TOO_MANY_FILES = "Uploading selected files will result in exceeding the max amount per record."


def no_such_file(record_id: str, key: str) -> ApiError:
    return ApiError(404, f"Record '{record_id}' has no file '{key}'.")


def draft_file(ctx: Context, record: RecordRow, key: str) -> FileRow:
    row = ctx.store.get_file(record.id, DRAFT, key)
    if row is None:
        raise no_such_file(record.id, key)
    return row


def own_draft_file(ctx: Context, request: Request) -> tuple[RecordRow, FileRow]:
    """A file of the caller's draft, looked up as InvenioRDM does before asking who calls.

    The draft must exist and have files enabled (403 "Files are not enabled."), the
    key must name a file (404); only then is someone else's draft a 403.
    """
    user = ctx.authenticate(request, required=False)
    record = load_record(ctx, request.params["id"])
    if record.draft is None:
        raise ApiError(404, NOT_FOUND)
    require_files_enabled(record)
    row = draft_file(ctx, record, request.params["key"])
    require_owner(user, record)
    return record, row


def require_files_enabled(record: RecordRow) -> None:
    assert record.draft is not None
    if not record.draft.get("files_enabled", True):
        raise ApiError(403, FILES_DISABLED)


def is_locked(record: RecordRow) -> bool:
    """Editing a published record locks its bucket: nothing stored may come or go."""
    return bool(record.draft is not None and record.draft.get("files_locked"))


def has_stored_object(row: FileRow) -> bool:
    """Whether the entry holds an object in the bucket (content, staged bytes or parts)."""
    data = row.data
    return any(data.get(name) for name in ("file_id", "staged_file_id", *PENDING_OBJECT_FIELDS))


def entry_json(ctx: Context, request: Request, row: FileRow, record: RecordRow) -> dict[str, Any]:
    state = record.draft if row.bucket == DRAFT else record.published
    bucket_id = None if state is None else state.get("bucket_id")
    return file_json(api_base(request), row, bucket_id, ctx.objects.part_links)


def entry_response(ctx: Context, request: Request, row: FileRow, record: RecordRow) -> Response:
    return json_response(200, entry_json(ctx, request, row, record))


def files_list_response(
    ctx: Context, request: Request, status: int, record: RecordRow, bucket: str
) -> Response:
    state = record.draft if bucket == DRAFT else record.published
    assert state is not None
    rows = ctx.store.files(record.id, bucket)
    body = files_list_json(api_base(request), record.id, bucket, state, rows, ctx.objects.part_links)
    return json_response(status, body)


# listing and reading --------------------------------------------------------------------
def list_draft_files(ctx: Context, request: Request) -> Response:
    _, record = own_draft(ctx, request, request.params["id"])
    return files_list_response(ctx, request, 200, record, DRAFT)


def read_draft_file(ctx: Context, request: Request) -> Response:
    record, row = own_draft_file(ctx, request)
    return entry_response(ctx, request, row, record)


def list_record_files(ctx: Context, request: Request) -> Response:
    user, record = readable_record(ctx, request, request.params["id"])
    assert record.published is not None
    if not files_readable(record, user):
        raise ApiError(403, PERMISSION_DENIED)
    return files_list_response(ctx, request, 200, record, PUBLISHED)


def readable_record_file(ctx: Context, request: Request) -> tuple[RecordRow, FileRow]:
    """A published file, looked up (files enabled, key known) before the files' access."""
    user, record = readable_record(ctx, request, request.params["id"])
    assert record.published is not None
    if not record.published.get("files_enabled", True):
        raise ApiError(403, FILES_DISABLED)
    row = ctx.store.get_file(record.id, PUBLISHED, request.params["key"])
    if row is None:
        raise no_such_file(record.id, request.params["key"])
    if not files_readable(record, user):
        raise ApiError(403, PERMISSION_DENIED)
    return record, row


def read_record_file(ctx: Context, request: Request) -> Response:
    record, row = readable_record_file(ctx, request)
    return entry_response(ctx, request, row, record)


# init -----------------------------------------------------------------------------------
def init_files(ctx: Context, request: Request) -> Response:
    # as in InvenioRDM, the entries are read before the draft is looked up
    entries = _validated_init(ctx, request.json_body(optional=True))
    _, record = own_draft(ctx, request, request.params["id"])
    for entry in entries:
        if entry["transfer"]["type"] not in ctx.config.transfers:
            raise ApiError(403, PERMISSION_DENIED)
    fetches = []
    with ctx.store.transaction():
        record = load_record(ctx, record.id)
        if record.draft is None:
            raise ApiError(404, "The persistent identifier does not exist.")
        require_files_enabled(record)
        ctx.draft_saves.refuse_while_deleting(record)
        if is_locked(record) and any(e["transfer"]["type"] != "L" for e in entries):
            # the other types create their object at once; L only when content comes
            raise ApiError(403, BUCKET_LOCKED)
        existing = ctx.store.files(record.id, DRAFT)
        if len(existing) + len(entries) > ctx.config.max_files:
            raise ApiError(400, TOO_MANY_FILES)
        keys = {row.key for row in existing}
        for entry in entries:
            if entry["key"] in keys:
                raise ApiError(400, f"File with key {entry['key']} already exists.")
            keys.add(entry["key"])
            row = _new_file_row(ctx, record.id, entry)
            ctx.store.save_file(row)
            if entry["transfer"]["type"] == "F":
                fetches.append(row.key)
    if ctx.fetcher is not None:
        for key in fetches:
            ctx.fetcher.submit(record.id, key)
    return files_list_response(ctx, request, 201, record, DRAFT)


def _validated_init(ctx: Context, body: Any) -> list[dict[str, Any]]:
    if body is None or body == {}:
        raise validation_error([field_error("_schema", "No files to upload.")])
    if isinstance(body, (dict, str)):
        # read as a list of entries, each key (or character) one that is no object
        raise validation_error(
            [field_error(f"{index}._schema", "Invalid input type.") for index in range(len(body))]
        )
    if not isinstance(body, list):
        raise ApiError(500, INTERNAL_ERROR)
    errors: list[dict[str, Any]] = []
    for index, entry in enumerate(body):
        errors.extend(_entry_errors(ctx, index, entry))
    if errors:
        raise validation_error(errors)
    if not body:
        raise validation_error([field_error("_schema", "No files to upload.")])
    for entry in body:
        if entry["transfer"]["type"] == "M":
            _check_multipart_shape(entry, needs_part_size=ctx.objects.needs_part_size)
    return body


def _entry_errors(ctx: Context, index: int, entry: Any) -> list[dict[str, Any]]:
    if not isinstance(entry, dict):
        return [field_error(f"{index}._schema", "Invalid input type.")]
    errors = [
        field_error(f"{index}.{name}", "Unknown field.")
        for name in entry
        if name not in _INIT_FIELDS
    ]
    key = entry.get("key")
    if key is None:
        errors.append(field_error(f"{index}.key", "Missing data for required field."))
    elif not isinstance(key, str):
        errors.append(field_error(f"{index}.key", "Not a valid string."))
    for name, kind, label in (
        ("metadata", dict, "Not a valid mapping type."),
        ("checksum", str, "Not a valid string."),
        ("storage_class", str, "Not a valid string."),
    ):
        if name in entry and not isinstance(entry[name], kind):
            errors.append(field_error(f"{index}.{name}", label))
    access = entry.get("access")
    if "access" in entry and not isinstance(access, dict):
        errors.append(field_error(f"{index}.access._schema", "Invalid input type."))
    elif isinstance(access, dict) and not isinstance(access.get("hidden", False), bool):
        errors.append(field_error(f"{index}.access.hidden", "Not a valid boolean."))
    if "size" in entry and (isinstance(entry["size"], bool) or not isinstance(entry["size"], int)):
        errors.append(field_error(f"{index}.size", "Not a valid integer."))
    transfer = entry.setdefault("transfer", {})
    if not isinstance(transfer, dict):
        errors.append(field_error("transfer", "Transfer metadata must be a dictionary."))
        return errors
    kind_of_transfer = transfer.setdefault("type", "L")
    if kind_of_transfer not in TRANSFER_TYPES:
        errors.append(
            field_error(f"{index}.transfer.type", f"Unsupported value: {kind_of_transfer}")
        )
        return errors
    allowed = _TRANSFER_FIELDS[kind_of_transfer]
    errors += [
        field_error(f"{index}.transfer.{name}", "Unknown field.")
        for name in transfer
        if name not in allowed
    ]
    if kind_of_transfer == "M":
        for name in ("parts", "part_size"):
            value = transfer.get(name)
            if value is None and name == "parts":
                errors.append(
                    field_error(f"{index}.transfer.parts", "Missing data for required field.")
                )
            elif value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                errors.append(field_error(f"{index}.transfer.{name}", "Not a valid integer."))
    if kind_of_transfer in ("F", "R"):
        errors.extend(_url_errors(ctx, index, transfer.get("url")))
    return errors


def _url_errors(ctx: Context, index: int, url: Any) -> list[dict[str, Any]]:
    name = f"{index}.transfer.url"
    if url is None:
        return [field_error(name, "Missing data for required field.")]
    if not isinstance(url, str):
        return [field_error(name, "Not a valid URL.")]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [field_error(name, "Not a valid URL.")]
    if not domain_allowed(ctx, url):
        return [field_error(name, "Domain not allowed")]
    return []


def domain_allowed(ctx: Context, url: str) -> bool:
    parts = urlsplit(url)
    allowed = ctx.config.fetch_allowed_domains
    return parts.netloc in allowed or (parts.hostname or "") in allowed


def _check_multipart_shape(entry: dict[str, Any], *, needs_part_size: bool) -> None:
    """What the storage needs; as in InvenioRDM, size, parts and part size need not agree.

    S3 takes an upload without ``part_size`` (its checksum then ends in ``-None``).
    """
    if not entry.get("size") or entry["size"] < 0:
        raise ApiError(400, "Multipart file transfer requires file size.")
    if entry["transfer"]["parts"] < 1:
        raise ApiError(400, "Multipart file transfer requires parts.")
    part_size = entry["transfer"].get("part_size")
    if (needs_part_size and not part_size) or (part_size is not None and part_size < 1):
        raise ApiError(400, "Multipart file transfer to local storage requires part_size.")


def _new_file_row(ctx: Context, record_id: str, entry: dict[str, Any]) -> FileRow:
    now = now_iso()
    transfer = entry["transfer"]
    kind = transfer["type"]
    data: dict[str, Any] = {
        "created": now,
        "updated": now,
        "metadata": entry.get("metadata"),  # null until some is given
        "access": {"hidden": bool((entry.get("access") or {}).get("hidden", False))},
        "status": "pending",
        "transfer": {"type": kind},
        "version_id": str(uuid.uuid4()),
        "declared_size": entry.get("size"),
        "declared_checksum": entry.get("checksum"),
    }
    if kind == "M":
        data["transfer"].update(
            {name: transfer[name] for name in ("parts", "part_size") if name in transfer}
        )
        data["file_id"] = str(uuid.uuid4())  # reserved: the content takes it at commit
        data.update(ctx.objects.start_multipart(data["file_id"], int(entry["size"])))
    elif kind == "F":
        data["source_url"] = transfer["url"]
    elif kind == "R":
        data.update(
            status="completed",
            source_url=transfer["url"],
            size=entry.get("size"),
            checksum=entry.get("checksum"),
            mimetype=guess_mimetype(entry["key"]),
        )
    return FileRow(record_id, DRAFT, entry["key"], data)


# metadata, delete ------------------------------------------------------------------------
def update_file(ctx: Context, request: Request) -> Response:
    record, _ = own_draft_file(ctx, request)
    body = request.json_body()
    if not isinstance(body, dict):
        raise validation_error([field_error("_schema", "Invalid input type.")])
    unknown = [name for name in body if name not in ("metadata", "access")]
    if unknown:
        raise validation_error([field_error(name, "Unknown field.") for name in unknown])
    with ctx.store.transaction():
        row = draft_file(ctx, record, request.params["key"])
        if "metadata" in body:
            if not isinstance(body["metadata"], dict):
                raise validation_error([field_error("metadata", "Not a valid mapping type.")])
            row.data["metadata"] = body["metadata"]
        if isinstance(body.get("access"), dict):
            row.data["access"] = {"hidden": bool(body["access"].get("hidden", False))}
        row.data["updated"] = now_iso()
        ctx.store.save_file(row)
    return entry_response(ctx, request, row, record)


def delete_file(ctx: Context, request: Request) -> Response:
    record, _ = own_draft_file(ctx, request)
    with ctx.draft_saves.deleting(record, ctx.config.delete_save_seconds), ctx.store.transaction():
        row = draft_file(ctx, record, request.params["key"])
        if is_locked(record) and has_stored_object(row):
            raise ApiError(403, BUCKET_LOCKED)
        ctx.hashes.discard(row.data.get("staged_file_id"))
        ctx.store.delete_file(row)
        _files_changed(ctx, record.id)
    return empty_response(204)


def delete_all_files(ctx: Context, request: Request) -> Response:
    _, record = own_draft(ctx, request, request.params["id"])
    with ctx.draft_saves.deleting(record, ctx.config.delete_save_seconds), ctx.store.transaction():
        rows = ctx.store.files(record.id, DRAFT)
        if is_locked(record) and any(has_stored_object(row) for row in rows):
            raise ApiError(403, BUCKET_LOCKED)
        for row in rows:
            ctx.hashes.discard(row.data.get("staged_file_id"))
            ctx.store.delete_file(row)
        _files_changed(ctx, record.id)
    return empty_response(204)


def _files_changed(ctx: Context, record_id: str) -> None:
    """Removing files is a change of the draft: its revision moves on."""
    record = load_record(ctx, record_id)
    if record.draft is not None:
        record.draft["revision_id"] = revisions.files_changed(record.draft["revision_id"])
        ctx.store.save_record(record)
