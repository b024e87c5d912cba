"""Files of drafts (read-write) and of published records (read-only)."""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..storage import DRAFT, PUBLISHED, FileRow, RecordRow
from .access import (
    BUCKET_LOCKED,
    PERMISSION_DENIED,
    files_readable,
    load_record,
    own_draft,
    readable_record,
)
from .context import TRANSFER_TYPES, Context, api_base, now_iso
from .downloads import StoredContent, content_response
from .hashing import md5_of
from .http import (
    ApiError,
    Request,
    Response,
    empty_response,
    field_error,
    json_response,
    redirect_response,
    validation_error,
)
from .serialize import file_json, files_list_json, guess_mimetype
from .uploads import preallocate, receive_into, receive_to_new_file, require_bytes_body

_INIT_FIELDS = ("key", "metadata", "access", "size", "checksum", "storage_class", "transfer")
_TRANSFER_FIELDS = {
    "L": ("type",),
    "M": ("type", "parts", "part_size"),
    "F": ("type", "url"),
    "R": ("type", "url"),
}
FILES_DISABLED = "Files are not enabled."
TOO_MANY_FILES = "Uploading selected files will result in exceeding the max amount per record."


def _no_such_file(record_id: str, key: str) -> ApiError:
    return ApiError(404, f"Record '{record_id}' has no file '{key}'.")


def _draft_file(ctx: Context, record: RecordRow, key: str) -> FileRow:
    row = ctx.store.get_file(record.id, DRAFT, key)
    if row is None:
        raise _no_such_file(record.id, key)
    return row


def _writable(record: RecordRow) -> dict[str, Any]:
    """The draft state, refusing changes to the files of an edited published record."""
    draft = record.draft
    assert draft is not None
    if not draft.get("files_enabled", True):
        raise ApiError(403, FILES_DISABLED)
    if draft.get("files_locked"):
        raise ApiError(403, BUCKET_LOCKED)
    return draft


def _entry(request: Request, row: FileRow, record: RecordRow, status: int = 200) -> Response:
    state = record.draft if row.bucket == DRAFT else record.published
    bucket_id = None if state is None else state.get("bucket_id")
    return json_response(status, file_json(api_base(request), row, bucket_id))


# listing and reading --------------------------------------------------------------------
def list_draft_files(ctx: Context, request: Request) -> Response:
    _, record = own_draft(ctx, request, request.params["id"])
    assert record.draft is not None
    rows = ctx.store.files(record.id, DRAFT)
    return json_response(
        200, files_list_json(api_base(request), record.id, DRAFT, record.draft, rows)
    )


def read_draft_file(ctx: Context, request: Request) -> Response:
    _, record = own_draft(ctx, request, request.params["id"])
    return _entry(request, _draft_file(ctx, record, request.params["key"]), record)


def list_record_files(ctx: Context, request: Request) -> Response:
    user, record = readable_record(ctx, request, request.params["id"])
    assert record.published is not None
    if not files_readable(record, user):
        raise ApiError(403, PERMISSION_DENIED)
    rows = ctx.store.files(record.id, PUBLISHED)
    return json_response(
        200, files_list_json(api_base(request), record.id, PUBLISHED, record.published, rows)
    )


def read_record_file(ctx: Context, request: Request) -> Response:
    user, record = readable_record(ctx, request, request.params["id"])
    if not files_readable(record, user):
        raise ApiError(403, PERMISSION_DENIED)
    row = ctx.store.get_file(record.id, PUBLISHED, request.params["key"])
    if row is None:
        raise _no_such_file(record.id, request.params["key"])
    return _entry(request, row, record)


# init -----------------------------------------------------------------------------------
def init_files(ctx: Context, request: Request) -> Response:
    _, record = own_draft(ctx, request, request.params["id"])
    entries = _validated_init(ctx, request.json_body())
    for entry in entries:
        if entry["transfer"]["type"] not in ctx.config.transfers:
            raise ApiError(403, PERMISSION_DENIED)
    fetches = []
    with ctx.store.transaction():
        record = load_record(ctx, record.id)
        if record.draft is None:
            raise ApiError(404, "The persistent identifier does not exist.")
        _writable(record)
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
    rows = ctx.store.files(record.id, DRAFT)
    assert record.draft is not None
    return json_response(
        201, files_list_json(api_base(request), record.id, DRAFT, record.draft, rows)
    )


def _validated_init(ctx: Context, body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, list):
        raise validation_error([field_error("_schema", "Invalid input type.")])
    errors: list[dict[str, Any]] = []
    for index, entry in enumerate(body):
        errors.extend(_entry_errors(ctx, index, entry))
    if errors:
        raise validation_error(errors)
    if not body:
        raise validation_error([field_error("_schema", "No files to upload.")])
    for entry in body:
        if entry["transfer"]["type"] == "M":
            _check_multipart_shape(entry)
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
    elif not isinstance(key, str) or not key.strip("/"):
        errors.append(field_error(f"{index}.key", "Not a valid string."))
    for name, kind, label in (
        ("metadata", dict, "Not a valid mapping type."),
        ("access", dict, "Invalid input type."),
        ("checksum", str, "Not a valid string."),
        ("storage_class", str, "Not a valid string."),
    ):
        if name in entry and not isinstance(entry[name], kind):
            errors.append(field_error(f"{index}.{name}", label))
    if "size" in entry and (not isinstance(entry["size"], int) or entry["size"] < 0):
        errors.append(field_error(f"{index}.size", "Not a valid integer."))
    transfer = entry.setdefault("transfer", {})
    if not isinstance(transfer, dict):
        errors.append(field_error(f"{index}.transfer", "Transfer metadata must be a dictionary."))
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
            elif value is not None and (not isinstance(value, int) or value < 1):
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


def _check_multipart_shape(entry: dict[str, Any]) -> None:
    transfer = entry["transfer"]
    size = entry.get("size")
    if not size:
        raise ApiError(400, "Multipart file transfer requires file size.")
    part_size = transfer.get("part_size")
    if not part_size:
        raise ApiError(400, "Multipart file transfer to local storage requires part_size.")
    parts = transfer["parts"]
    if not (parts - 1) * part_size < size <= parts * part_size:
        raise ApiError(
            400,
            f"Multipart file transfer of {size} bytes cannot have {parts} parts "
            f"of {part_size} bytes.",
        )


def _new_file_row(ctx: Context, record_id: str, entry: dict[str, Any]) -> FileRow:
    now = now_iso()
    transfer = entry["transfer"]
    kind = transfer["type"]
    data: dict[str, Any] = {
        "created": now,
        "updated": now,
        "metadata": entry.get("metadata") or {},
        "access": {"hidden": bool((entry.get("access") or {}).get("hidden", False))},
        "status": "pending",
        "transfer": {"type": kind},
        "version_id": str(uuid.uuid4()),
        "declared_size": entry.get("size"),
        "declared_checksum": entry.get("checksum"),
    }
    if kind == "M":
        data["transfer"].update(parts=transfer["parts"], part_size=transfer["part_size"])
        staging = ctx.store.new_temporary("multipart")
        with open(staging, "wb") as stream:
            stream.truncate(int(entry["size"]))
            preallocate(stream.fileno(), int(entry["size"]))
        data["multipart_path"] = str(staging)
        data["parts_received"] = []
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
    _, record = own_draft(ctx, request, request.params["id"])
    body = request.json_body()
    if not isinstance(body, dict):
        raise validation_error([field_error("_schema", "Invalid input type.")])
    unknown = [name for name in body if name not in ("metadata", "access")]
    if unknown:
        raise validation_error([field_error(name, "Unknown field.") for name in unknown])
    with ctx.store.transaction():
        row = _draft_file(ctx, record, request.params["key"])
        if "metadata" in body:
            if not isinstance(body["metadata"], dict):
                raise validation_error([field_error("metadata", "Not a valid mapping type.")])
            row.data["metadata"] = body["metadata"]
        if isinstance(body.get("access"), dict):
            row.data["access"] = {"hidden": bool(body["access"].get("hidden", False))}
        row.data["updated"] = now_iso()
        ctx.store.save_file(row)
    return _entry(request, row, record)


def delete_file(ctx: Context, request: Request) -> Response:
    _, record = own_draft(ctx, request, request.params["id"])
    with ctx.store.transaction():
        row = _draft_file(ctx, record, request.params["key"])
        _writable(record)
        ctx.hashes.discard(row.data.get("staged_file_id"))
        ctx.store.delete_file(row)
    return empty_response(204)


def delete_all_files(ctx: Context, request: Request) -> Response:
    _, record = own_draft(ctx, request, request.params["id"])
    with ctx.store.transaction():
        _writable(record)
        for row in ctx.store.files(record.id, DRAFT):
            ctx.hashes.discard(row.data.get("staged_file_id"))
            ctx.store.delete_file(row)
    return empty_response(204)


# content upload and commit ---------------------------------------------------------------
def put_content(ctx: Context, request: Request) -> Response:
    _, record = own_draft(ctx, request, request.params["id"])
    key = request.params["key"]
    row = _draft_file(ctx, record, key)
    _writable(record)
    kind = row.data["transfer"]["type"]
    if kind == "M":
        raise ApiError(400, "Upload the parts of a multipart transfer to their own URLs.")
    if kind != "L":
        raise ApiError(403, PERMISSION_DENIED)
    if row.data["status"] == "completed":
        raise ApiError(400, f'File with key "{key}" is already committed.')
    require_bytes_body(request)
    temporary = ctx.store.new_temporary()
    try:
        job = receive_to_new_file(request, temporary)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    file_id = ctx.store.adopt(temporary)
    ctx.hashes.register(file_id, job)
    with ctx.store.transaction():
        current = ctx.store.get_file(record.id, DRAFT, key)
        if current is None or current.data.get("version_id") != row.data.get("version_id"):
            # deleted (or deleted and re-created) while the bytes were arriving
            ctx.hashes.discard(file_id)
            ctx.store.release_content(file_id)
            raise _no_such_file(record.id, key)
        previous = current.data.get("staged_file_id")
        current.data.update(
            staged_file_id=file_id, staged_size=request.content_length, updated=now_iso()
        )
        ctx.store.save_file(current)
        if previous:
            ctx.hashes.discard(previous)
            ctx.store.release_content(previous)
    return _entry(request, current, record)


def put_part(ctx: Context, request: Request) -> Response:
    _, record = own_draft(ctx, request, request.params["id"])
    key = request.params["key"]
    row = _draft_file(ctx, record, key)
    _writable(record)
    if request.decision.refuse_multipart_parts:
        ctx.faults.count("refused_part")
        raise ApiError(403, PERMISSION_DENIED)
    transfer = row.data["transfer"]
    if transfer["type"] != "M" or row.data["status"] != "pending":
        raise ApiError(400, "This file does not take multipart parts.")
    number = int(request.params["part"])
    parts, part_size = int(transfer["parts"]), int(transfer["part_size"])
    size = int(row.data["declared_size"])
    if number < 1 or number > parts:
        raise ApiError(
            400, "Part number is higher than total parts sent in multipart initialization."
        )
    length = require_bytes_body(request)
    expected = part_size if number < parts else size - (parts - 1) * part_size
    if length != expected:
        if number < parts:
            raise ApiError(
                400,
                "Size of this part must be equal to part_size sent in multipart initialization.",
            )
        raise ApiError(400, f"The last part must be {expected} bytes long to make up the size.")
    receive_into(request, Path(row.data["multipart_path"]), (number - 1) * part_size)
    with ctx.store.transaction():
        current = ctx.store.get_file(record.id, DRAFT, key)
        if current is None or current.data.get("version_id") != row.data.get("version_id"):
            raise _no_such_file(record.id, key)
        received = set(current.data.get("parts_received") or [])
        received.add(number)
        current.data["parts_received"] = sorted(received)
        current.data["updated"] = now_iso()
        ctx.store.save_file(current)
    return _entry(request, current, record)


def commit(ctx: Context, request: Request) -> Response:
    _, record = own_draft(ctx, request, request.params["id"])
    request.json_body(optional=True)
    key = request.params["key"]
    row = _draft_file(ctx, record, key)
    kind = row.data["transfer"]["type"]
    if row.data["status"] == "completed":
        return _entry(request, row, record)
    _writable(record)
    if kind in ("F", "R"):
        raise ApiError(403, PERMISSION_DENIED)
    if kind == "M":
        return _commit_multipart(ctx, request, record, row)
    file_id = row.data.get("staged_file_id")
    if not file_id:
        # InvenioRDM fails this way when a file was never uploaded
        raise ApiError(500, "Internal server error.")
    md5_hex = ctx.hashes.digest(file_id, ctx.store.content_path(file_id))
    with ctx.store.transaction():
        current = _draft_file(ctx, record, key)
        if current.data.get("staged_file_id") != file_id:
            raise ApiError(409, "The file content changed while committing; commit again.")
        _complete(current, file_id, int(current.data.pop("staged_size")), md5_hex)
        current.data.pop("staged_file_id")
        ctx.store.save_file(current)
    return _entry(request, current, record)


def _commit_multipart(ctx: Context, request: Request, record: RecordRow, row: FileRow) -> Response:
    parts = int(row.data["transfer"]["parts"])
    missing = sorted(set(range(1, parts + 1)) - set(row.data.get("parts_received") or []))
    if missing:
        listed = ", ".join(str(n) for n in missing[:20])
        raise ApiError(400, f"Multipart upload is incomplete: missing parts {listed}.")
    staging = Path(row.data["multipart_path"])
    md5_hex = md5_of(staging)
    with ctx.store.transaction():
        current = _draft_file(ctx, record, row.key)
        if current.data.get("multipart_path") != str(staging):
            raise _no_such_file(record.id, row.key)
        file_id = ctx.store.adopt(staging)
        current.data.pop("multipart_path")
        current.data.pop("parts_received", None)
        _complete(current, file_id, int(current.data["declared_size"]), md5_hex)
        ctx.store.save_file(current)
    return _entry(request, current, record)


def _complete(row: FileRow, file_id: str, size: int, md5_hex: str) -> None:
    row.data.update(
        status="completed",
        transfer={"type": "L"},
        file_id=file_id,
        size=size,
        checksum=f"md5:{md5_hex}",
        mimetype=guess_mimetype(row.key),
        version_id=str(uuid.uuid4()),
        updated=now_iso(),
    )
    row.data.pop("declared_size", None)
    row.data.pop("declared_checksum", None)


# content download ------------------------------------------------------------------------
def get_draft_content(ctx: Context, request: Request) -> Response:
    _, record = own_draft(ctx, request, request.params["id"])
    return _send(ctx, request, record, _draft_file(ctx, record, request.params["key"]))


def get_record_content(ctx: Context, request: Request) -> Response:
    user, record = readable_record(ctx, request, request.params["id"])
    if not files_readable(record, user):
        raise ApiError(403, PERMISSION_DENIED)
    row = ctx.store.get_file(record.id, PUBLISHED, request.params["key"])
    if row is None:
        raise _no_such_file(record.id, request.params["key"])
    return _send(ctx, request, record, row)


def _send(ctx: Context, request: Request, record: RecordRow, row: FileRow) -> Response:
    data = row.data
    if data["status"] != "completed":
        raise _no_such_file(record.id, row.key)
    if data["transfer"]["type"] == "R":
        return redirect_response(data["source_url"])
    content = stored_content(ctx, row)
    if ctx.config.storage_redirect and ctx.storage_port is not None:
        url = ctx.signer.sign(
            ctx.storage_base(request),
            data["file_id"],
            content.filename,
            content.md5_hex,
            data["updated"],
        )
        return redirect_response(url)
    return content_response(request, content, ranges=ctx.config.ranges)


def stored_content(ctx: Context, row: FileRow) -> StoredContent:
    data = row.data
    path = ctx.store.content_path(data["file_id"])
    return StoredContent(
        path=path,
        size=os.stat(path).st_size,
        md5_hex=str(data["checksum"]).removeprefix("md5:"),
        modified=datetime.fromisoformat(data["updated"]),
        filename=row.key.rsplit("/", 1)[-1],
        mimetype=data.get("mimetype") or guess_mimetype(row.key),
    )
