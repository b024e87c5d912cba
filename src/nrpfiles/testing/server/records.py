"""Drafts and published records: create, read, update, delete, publish, edit, versions."""

from __future__ import annotations

import copy
import re
import uuid
from datetime import datetime, timezone
from typing import Any

from ..storage import DRAFT, PUBLISHED, FileRow, RecordRow, User
from . import request_json, revisions
from .access import (
    NOT_FOUND,
    PID_MISSING,
    check_revision,
    files_readable,
    if_match_revision,
    load_record,
    own_draft,
    own_record,
    readable_record,
    require_owner,
)
from .context import Context, api_base, new_pid, now_iso
from .files import files_list_response
from .http import (
    PERMISSION_DENIED,
    RECORD_JSON,
    ApiError,
    Request,
    Response,
    empty_response,
    field_error,
    json_response,
    validation_error,
)
from .schema import MISSING, load_draft_input, publish_errors
from .serialize import READ, RESULT, record_json

MISSING_FILES = (
    "Missing uploaded files. To disable files for this record please mark it as metadata-only."
)
NOT_COMPLETED = "One or more files have not completed their transfer, please wait."
# InvenioRDM's default OAISERVER_ID_PREFIX, with the colon its identifiers add
OAI_PREFIX = "oai:invenio-app-rdm.org:"
FILES_PRESENT = "You must first delete all files to set the record to be metadata-only."
# a new version starts from the last one's metadata, dated today, without its version
_NEW_VERSION_SKIP = ("version",)


def record_response(
    ctx: Context,
    request: Request,
    record: RecordRow,
    bucket: str,
    status: int = 200,
    errors: list[dict[str, Any]] | None = None,
    *,
    created: bool = False,
    shown_as: str = RESULT,
    files_hidden: bool = False,
) -> Response:
    body = record_json(
        api_base(request),
        request.base_url,
        ctx.store,
        record,
        bucket,
        shown_as,
        files_hidden=files_hidden,
    )
    if created and body["access"]["status"] != "restricted":
        # InvenioRDM works the access status out before the new draft has its files
        body["access"]["status"] = "metadata-only"
    if errors:
        body["errors"] = errors
    request_json.add_to_record(ctx, request, record, bucket, body)
    return json_response(status, body, {"ETag": f'"{body["revision_id"]}"'})


def _apply_input(
    ctx: Context, record: RecordRow, data: Any, *, creating: bool
) -> list[dict[str, Any]]:
    """Store the valid part of what the client sent; return the problems found (lenient)."""
    assert record.draft is not None
    draft = record.draft
    loaded = load_draft_input(data)
    errors = loaded.errors
    # a PUT replaces: what is not sent is gone, or back to its default
    draft["metadata"] = {} if loaded.metadata is MISSING else loaded.metadata
    draft["custom_fields"] = {}
    if loaded.access is not MISSING:
        draft["access"] = loaded.access
    if isinstance(data, dict) and isinstance(data.get("pids"), dict):
        draft["pids"] = data["pids"]
    if loaded.default_preview is not MISSING:
        draft["default_preview"] = loaded.default_preview
    enabled = True if loaded.files_enabled is MISSING else bool(loaded.files_enabled)
    rows = ctx.store.files(record.id, DRAFT)
    if not enabled and rows:
        errors.append(field_error("files.enabled", FILES_PRESENT))
    else:
        draft["files_enabled"] = enabled
    # a new draft has had no chance of files yet: only updates remind of them
    if not creating and draft["files_enabled"] and not rows:
        errors.append(field_error("files.enabled", MISSING_FILES))
    return errors


def _new_draft_state(kind: str) -> dict[str, Any]:
    now = now_iso()
    return {
        "kind": kind,
        "metadata": {},
        "access": {"record": "public", "files": "public"},
        "files_enabled": True,
        "files_locked": False,
        "revision_id": revisions.CREATED,
        "created": now,
        "updated": now,
        "bucket_id": str(uuid.uuid4()),
    }


def create_draft(ctx: Context, request: Request) -> Response:
    user = ctx.authenticate(request)
    assert user is not None
    data = request.json_body(optional=True, accepted=RECORD_JSON)
    record = RecordRow(
        id=new_pid(),
        parent_id=new_pid(),
        owner_id=user.id,
        version_index=1,
        seq=ctx.store.next_seq(),
        draft=_new_draft_state("new"),
    )
    errors = _apply_input(ctx, record, data, creating=True)
    assert record.draft is not None
    record.draft["revision_id"] = revisions.created(record.draft["metadata"])
    ctx.store.save_record(record)
    return record_response(ctx, request, record, DRAFT, 201, errors, created=True)


def read_draft(ctx: Context, request: Request) -> Response:
    _, record = own_draft(ctx, request, request.params["id"], PID_MISSING)
    return record_response(ctx, request, record, DRAFT)


def update_draft(ctx: Context, request: Request) -> Response:
    # InvenioRDM's order: header and body parsed, then the identifier, revision, permission
    expected = if_match_revision(request)
    data = request.json_body(optional=True, accepted=RECORD_JSON)
    user = ctx.authenticate(request, required=False)
    with ctx.store.transaction():
        record = _draft_to_change(ctx, request, expected, user)
        errors = _apply_input(ctx, record, data, creating=False)
        draft = record.draft
        assert draft is not None
        draft["revision_id"] = revisions.updated(draft["revision_id"], draft["metadata"])
        draft["updated"] = now_iso()
        draft["changed"] = True
        ctx.store.save_record(record)
    return record_response(ctx, request, record, DRAFT, 200, errors)


def delete_draft(ctx: Context, request: Request) -> Response:
    expected = if_match_revision(request)
    user = ctx.authenticate(request, required=False)
    with ctx.store.transaction():
        record = _draft_to_change(ctx, request, expected, user)
        ctx.store.delete_bucket(record.id, DRAFT)
        if record.published is None:
            ctx.store.delete_record(record.id)
        else:
            assert record.draft is not None
            record.published["draft_revision"] = record.draft["revision_id"]
            record.published["revision_id"] = revisions.discarded(record.published["revision_id"])
            record.draft = None
            ctx.store.save_record(record)
    return empty_response(204)


def _draft_to_change(
    ctx: Context, request: Request, expected: int | None, user: User | None
) -> RecordRow:
    record = load_record(ctx, request.params["id"])
    if record.draft is None:
        raise ApiError(404, NOT_FOUND)
    check_revision(expected, record.draft["revision_id"])
    require_owner(user, record)
    return record


def publish(ctx: Context, request: Request) -> Response:
    _, record = own_draft(ctx, request, request.params["id"])
    refuse_direct_action(ctx)
    request.json_body(optional=True)
    record = publish_draft(ctx, record.id)
    return record_response(ctx, request, record, PUBLISHED, 202)


def refuse_direct_action(ctx: Context) -> None:
    """Where requests publish, edit and version, the plain actions are not the caller's."""
    if ctx.config.publish_through_requests:
        raise ApiError(403, PERMISSION_DENIED)


def publish_draft(ctx: Context, record_id: str) -> RecordRow:
    """Publish the record's draft: 400 with the fields that stop it, else the record."""
    with ctx.store.transaction():
        record = load_record(ctx, record_id)
        draft = record.draft
        if draft is None:
            raise ApiError(404, NOT_FOUND)
        # the metadata is checked first; the files only once it passes
        errors = publish_errors(draft.get("metadata"))
        if errors:
            raise validation_error(errors)
        rows = ctx.store.files(record.id, DRAFT)
        if draft.get("files_enabled", True):
            if not rows:
                raise validation_error([field_error("files.enabled", MISSING_FILES)])
            if any(row.data["status"] != "completed" for row in rows):
                raise validation_error([field_error("files", NOT_COMPLETED)])
        now = now_iso()
        previous = record.published
        published = {
            key: copy.deepcopy(value)
            for key, value in draft.items()
            if key not in ("kind", "files_locked", "changed")
        }
        published["updated"] = now
        published["draft_revision"] = draft["revision_id"]
        # harvesting identifies each public record, as a plain InvenioRDM names it
        published["pids"] = dict(draft.get("pids") or {})
        if (draft.get("access") or {}).get("record", "public") == "public":
            published["pids"]["oai"] = _oai_pid(record.id)
        published["revision_id"] = revisions.published(
            None if previous is None else previous["revision_id"],
            has_files=bool(rows),
            changed=bool(draft.get("changed")),
        )
        if previous is None:
            published["created"] = now
        else:
            published["created"] = previous["created"]
            published["bucket_id"] = previous["bucket_id"]
            published["edited"] = True
            # the draft's entries share content with the published ones, so this keeps it
            ctx.store.delete_bucket(record.id, PUBLISHED)
        ctx.store.move_bucket(record.id, DRAFT, PUBLISHED)
        record.published = published
        record.draft = None
        ctx.store.save_record(record)
    return record


def _oai_pid(record_id: str) -> dict[str, str]:
    return {"identifier": f"oai:{OAI_PREFIX}:{record_id}", "provider": "oai"}


def read_record(ctx: Context, request: Request) -> Response:
    user, record = readable_record(ctx, request, request.params["id"])
    hidden = not files_readable(record, user)
    return record_response(ctx, request, record, PUBLISHED, shown_as=READ, files_hidden=hidden)


# an http(s) record link joined onto the records endpoint, perhaps with /draft after it
_JOINED_RECORD_URL = re.compile(
    r"https?:/+[^/]+/api/records/(?P<id>[^/]+)(?P<draft>(?:/draft){1,2})?/?"
)


def read_joined_record_url(ctx: Context, request: Request) -> Response:
    """The record or draft named by a record URL joined onto ``/api/records/``.

    nrp-cmd 1.0.1 takes a record reference for a URL only when it starts with
    ``https://``; any other it joins onto the records endpoint, and puts
    ``/draft`` after it when it reads drafts: after a draft's own URL, and
    after an accepted request's topic, the published record. Served over plain
    http, where requests publish, such a path answers as the URL in it would
    over https: with ``/draft`` the draft, or the published record when there
    is no draft (any more). Elsewhere it is an identifier that does not exist.
    """
    match = _JOINED_RECORD_URL.fullmatch(request.params["joined"])
    if not ctx.config.publish_through_requests or match is None:
        raise ApiError(404, PID_MISSING)
    request.params["id"] = match["id"]
    if match["draft"]:
        try:
            return read_draft(ctx, request)
        except ApiError as error:
            if error.status != 404:
                raise
    return read_record(ctx, request)


def edit(ctx: Context, request: Request) -> Response:
    user = ctx.authenticate(request, required=False)
    record = load_record(ctx, request.params["id"])
    if record.published is None and record.draft is not None:
        # a draft never published is its own edit: InvenioRDM hands it back
        require_owner(user, record)
        return record_response(ctx, request, record, DRAFT, 201)
    _, record = own_record(ctx, request, request.params["id"])
    refuse_direct_action(ctx)
    return record_response(ctx, request, edit_record(ctx, record.id), DRAFT, 201)


def edit_record(ctx: Context, record_id: str) -> RecordRow:
    """The published record's draft, made from it unless one is open."""
    with ctx.store.transaction():
        record = load_record(ctx, record_id)
        if record.draft is None:
            assert record.published is not None
            published = record.published
            draft = {
                key: copy.deepcopy(value)
                for key, value in published.items()
                if key not in ("draft_revision", "edited")
            }
            draft.update(
                kind="edit",
                files_locked=True,
                revision_id=revisions.edited(
                    published.get("draft_revision", published["revision_id"]),
                    bool(published.get("edited")),
                ),
                bucket_id=str(uuid.uuid4()),
                updated=now_iso(),
            )
            published["edited"] = True
            record.draft = draft
            for row in ctx.store.files(record.id, PUBLISHED):
                ctx.store.save_file(FileRow(record.id, DRAFT, row.key, copy.deepcopy(row.data)))
            ctx.store.save_record(record)
    return record


def new_version(ctx: Context, request: Request) -> Response:
    _, record = own_record(ctx, request, request.params["id"])
    refuse_direct_action(ctx)
    return record_response(ctx, request, new_version_draft(ctx, record), DRAFT, 201)


def new_version_draft(ctx: Context, record: RecordRow) -> RecordRow:
    """The draft of the record's next version, made from the latest one unless one is open."""
    with ctx.store.transaction():
        siblings = ctx.store.records(record.parent_id)
        for sibling in siblings:
            if sibling.published is None and sibling.draft is not None:
                return sibling
        latest = max(
            (s for s in siblings if s.published is not None), key=lambda s: s.version_index
        )
        assert latest.published is not None
        draft = _new_draft_state("new_version")
        metadata = copy.deepcopy(latest.published.get("metadata") or {})
        for name in _NEW_VERSION_SKIP:
            metadata.pop(name, None)
        if "publication_date" in metadata:
            metadata["publication_date"] = datetime.now(timezone.utc).date().isoformat()
        draft.update(
            metadata=metadata,
            access=copy.deepcopy(latest.published.get("access") or {}),
            custom_fields=copy.deepcopy(latest.published.get("custom_fields") or {}),
            files_enabled=latest.published.get("files_enabled", True),
            revision_id=revisions.created(metadata),
        )
        new_record = RecordRow(
            id=new_pid(),
            parent_id=record.parent_id,
            owner_id=record.owner_id,
            version_index=max(s.version_index for s in siblings) + 1,
            seq=ctx.store.next_seq(),
            draft=draft,
        )
        ctx.store.save_record(new_record)
    return new_record


def import_files(ctx: Context, request: Request) -> Response:
    """Copy the files of the previous published version into a new-version draft."""
    user = ctx.authenticate(request, required=False)
    record = load_record(ctx, request.params["id"])
    if record.draft is None:
        raise ApiError(404, NOT_FOUND)
    require_owner(user, record)
    request.json_body(optional=True)
    with ctx.store.transaction():
        draft = record.draft
        if not draft.get("files_enabled", True):
            raise validation_error([field_error("files.enabled", "Files support must be enabled.")])
        if ctx.store.files(record.id, DRAFT):
            raise validation_error([field_error("files.enabled", "Please remove all files first.")])
        previous = [
            s
            for s in ctx.store.records(record.parent_id)
            if s.published is not None and s.id != record.id
        ]
        if not previous:
            raise ApiError(404, "Not found.")
        source = max(previous, key=lambda s: s.version_index)
        for row in ctx.store.files(source.id, PUBLISHED):
            ctx.store.save_file(FileRow(record.id, DRAFT, row.key, copy.deepcopy(row.data)))
        draft["revision_id"] = revisions.files_changed(draft["revision_id"])
        ctx.store.save_record(record)
    return files_list_response(ctx, request, 201, record, DRAFT)


def latest_version(ctx: Context, request: Request) -> Response:
    _, record = readable_record(ctx, request, request.params["id"])
    published = [s for s in ctx.store.records(record.parent_id) if s.published is not None]
    latest = max(published, key=lambda s: s.version_index)
    location = f"{api_base(request)}/records/{latest.id}"
    body = {"status": 301, "message": "Redirecting...", "location": location}
    return json_response(301, body, {"Location": location})
