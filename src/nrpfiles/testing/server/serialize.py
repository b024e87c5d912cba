"""JSON shapes of records, file entries and file lists, with absolute links."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from ..storage import DRAFT, PUBLISHED, FileRow, RecordRow, Store

PUBLIC_TRANSFER_FIELDS = ("type", "parts", "part_size", "error")
# the file metadata a record's entries carry (invenio-rdm-records' MetadataSchema)
RECORD_FILE_METADATA = frozenset(
    ("page", "type", "language", "encoding", "charset", "previewer", "width", "height")
)
# how a record is shown: as the answer to a change (or a draft read), read, or found
RESULT, READ, HIT = "result", "read", "hit"
# the links.parts of a pending multipart entry, from its self link and stored data
PartLinks = Callable[[str, dict[str, Any]], list[dict[str, Any]]]
PARENT_SETTINGS: dict[str, Any] = {
    "allow_user_requests": False,
    "allow_guest_requests": False,
    "accept_conditions_text": None,
    "secret_link_expiration": 0,
}
NO_STATS: dict[str, Any] = {
    "views": 0,
    "unique_views": 0,
    "downloads": 0,
    "unique_downloads": 0,
    "data_volume": 0.0,
}
DEFAULT_ACCESS: dict[str, Any] = {
    "record": "public",
    "files": "public",
    "embargo": {"active": False, "reason": None},
}


def quote_key(key: str) -> str:
    return quote(key, safe="/")


def files_base(api: str, record_id: str, bucket: str) -> str:
    if bucket == DRAFT:
        return f"{api}/records/{record_id}/draft/files"
    return f"{api}/records/{record_id}/files"


def guess_mimetype(key: str) -> str:
    return mimetypes.guess_type(key, strict=False)[0] or "application/octet-stream"


def file_json(
    api: str, row: FileRow, bucket_id: str | None, part_links: PartLinks
) -> dict[str, Any]:
    """An entry as the files endpoints show it, with status, transfer and links."""
    data = row.data
    transfer = data.get("transfer") or {"type": "L"}
    entry: dict[str, Any] = {
        "key": row.key,
        "created": data["created"],
        "updated": data["updated"],
        "metadata": data.get("metadata"),
        "access": data.get("access") or {"hidden": False},
        "status": data["status"],
        "transfer": {k: transfer[k] for k in PUBLIC_TRANSFER_FIELDS if k in transfer},
    }
    pending_multipart = transfer.get("type") == "M" and data["status"] == "pending"
    if data["status"] == "completed" or pending_multipart:
        # a stored object exists: its checksum shows, null until it is known
        entry["mimetype"] = data.get("mimetype") or guess_mimetype(row.key)
        entry["checksum"] = data.get("checksum", data.get("declared_checksum"))
        entry["size"] = data.get("size", data.get("declared_size"))
        for name in ("file_id", "version_id"):
            if data.get(name) is not None:
                entry[name] = data[name]
        entry["bucket_id"] = bucket_id
        entry["storage_class"] = "L"
    else:
        if data.get("declared_size") is not None:
            entry["size"] = data["declared_size"]
        if data.get("declared_checksum") is not None:
            entry["checksum"] = data["declared_checksum"]
    self_url = f"{files_base(api, row.record_id, row.bucket)}/{quote_key(row.key)}"
    links: dict[str, Any] = {"self": self_url}
    if pending_multipart:
        links["parts"] = part_links(self_url, data)
    else:
        links["content"] = f"{self_url}/content"
    if row.bucket == DRAFT:
        links["commit"] = f"{self_url}/commit"
    entry["links"] = links
    return entry


def record_file_json(row: FileRow, links: dict[str, str] | None = None) -> dict[str, Any]:
    """An entry as a record's ``files.entries`` shows it (invenio-rdm-records' FileSchema).

    Only what the stored object says, and only once there is one; no status, transfer
    or links (the files endpoints give those). Of the metadata only the fields that
    schema knows appear.
    """
    data = row.data
    entry: dict[str, Any] = {}
    has_object = data["status"] == "completed" or data["transfer"].get("type") == "M"
    if has_object:
        mimetype = data.get("mimetype") or guess_mimetype(row.key)
        entry.update(
            id=data.get("file_id"),
            checksum=data.get("checksum", data.get("declared_checksum")),
            ext=file_extension(row.key, mimetype),
            size=data.get("size", data.get("declared_size")),
            mimetype=mimetype,
            storage_class="L",
        )
    metadata = data.get("metadata")
    entry.update(
        key=row.key,
        metadata=None
        if metadata is None
        else {k: v for k, v in metadata.items() if k in RECORD_FILE_METADATA},
        access=data.get("access") or {"hidden": False},
    )
    if links is not None:
        entry["links"] = links
    return entry


def file_extension(key: str, mimetype: str) -> str | None:
    """The extension InvenioRDM reports: the type's own, else the key's if short."""
    guessed = mimetypes.guess_extension(mimetype)
    if guessed is not None and mimetype != "application/octet-stream":
        return guessed[1:]
    extension = os.path.splitext(key)[1]
    if extension and len(extension) <= 5:
        return extension[1:].lower()
    return guessed[1:] if guessed else None


def files_list_json(
    api: str,
    record_id: str,
    bucket: str,
    state: dict[str, Any],
    rows: list[FileRow],
    part_links: PartLinks,
) -> dict[str, Any]:
    base = files_base(api, record_id, bucket)
    links = {"self": base, "archive": base + "-archive"}
    if not state.get("files_enabled", True):
        return {"enabled": False, "links": links}
    return {
        "enabled": True,
        "default_preview": state.get("default_preview"),
        "order": [],
        "entries": [file_json(api, row, state.get("bucket_id"), part_links) for row in rows],
        "links": links,
    }


def record_json(
    api: str,
    root: str,
    store: Store,
    record: RecordRow,
    bucket: str,
    shown_as: str = RESULT,
    *,
    files_hidden: bool = False,
) -> dict[str, Any]:
    """A draft or record; ``shown_as`` READ or HIT for a published one read or searched.

    InvenioRDM shows a published record it is asked for, or finds, with less of its
    parent and versions than it answers a change with; read, its file entries link to
    themselves.
    """
    state = record.draft if bucket == DRAFT else record.published
    assert state is not None
    rows = store.files(record.id, bucket)
    listed = bucket == PUBLISHED and shown_as in (READ, HIT)
    base = files_base(api, record.id, bucket)

    def links(row: FileRow) -> dict[str, str] | None:
        if not (listed and shown_as == READ):
            return None
        return {
            "self": f"{base}/{quote_key(row.key)}",
            "content": f"{base}/{quote_key(row.key)}/content",
        }

    entries = {row.key: record_file_json(row, links(row)) for row in rows}
    if listed and shown_as == HIT:
        for entry in entries.values():
            entry.pop("storage_class", None)  # the search index does not keep it
    completed = [row.data for row in rows if row.data["status"] == "completed"]
    files: dict[str, Any] = {
        "enabled": bool(state.get("files_enabled", True)),
        "order": [],
        "count": len(rows),
        "total_bytes": sum(int(data.get("size") or 0) for data in completed),
        "entries": entries,
    }
    if state.get("default_preview") is not None:
        files["default_preview"] = state["default_preview"]
    siblings = store.records(record.parent_id)
    published_indexes = [r.version_index for r in siblings if r.published is not None]
    is_draft = bucket == DRAFT
    body: dict[str, Any] = {
        "id": record.id,
        "created": state["created"],
        "updated": state["updated"],
        "links": record_links(api, root, record, is_draft),
        "revision_id": state["revision_id"],
        "parent": {
            "id": record.parent_id,
            "access": {
                "grants": [],
                "owned_by": {"user": str(record.owner_id)},
                "links": [],
                "settings": dict(PARENT_SETTINGS),
            },
            "communities": {},
            "pids": {},
        },
        "versions": {
            "is_latest": bool(published_indexes)
            and record.published is not None
            and record.version_index == max(published_indexes),
            "is_latest_draft": record.version_index == max(r.version_index for r in siblings),
            "index": record.version_index,
        },
        "is_published": record.published is not None,
        "is_draft": is_draft,
    }
    if is_draft:
        # when an untouched draft would be cleaned up; InvenioRDM writes it with a space
        body["expires_at"] = datetime.fromisoformat(state["created"]).isoformat(" ")
    body.update(
        pids=state.get("pids") or {},
        metadata=state.get("metadata") or {},
        custom_fields=state.get("custom_fields") or {},
        access={**DEFAULT_ACCESS, **(state.get("access") or {})},
        files=files,
        media_files={"enabled": False, "order": [], "count": 0, "total_bytes": 0, "entries": {}},
        status=_status(record, bucket),
    )
    if files_hidden:  # restricted files: whether there are any, nothing more
        body["files"] = {"enabled": files["enabled"]}
        body["media_files"] = {"enabled": False}
    if listed:
        del body["parent"]["access"]["grants"], body["parent"]["access"]["links"]
        del body["versions"]["is_latest_draft"]
    if not is_draft:
        body["deletion_status"] = {"is_deleted": False, "status": "P"}
        body["stats"] = {"this_version": dict(NO_STATS), "all_versions": dict(NO_STATS)}
    body["access"]["status"] = _access_status(body["access"], files["enabled"])
    return body


def _status(record: RecordRow, bucket: str) -> str:
    if bucket == PUBLISHED:
        return "published"
    assert record.draft is not None
    return {"new": "draft", "new_version": "new_version_draft"}.get(
        record.draft.get("kind", "new"), "published"
    )


def _access_status(access: dict[str, Any], files_enabled: bool) -> str:
    if access.get("record") == "restricted":
        return "restricted"
    if not files_enabled:
        return "metadata-only"
    return "open" if access.get("files") == "public" else "restricted"


def record_links(api: str, root: str, record: RecordRow, is_draft: bool) -> dict[str, str]:
    """The links InvenioRDM gives, of those whose endpoints (or pages) exist here."""
    record_api = f"{api}/records/{record.id}"
    if is_draft:
        return {
            "self": f"{record_api}/draft",
            "self_html": f"{root}/uploads/{record.id}",
            "preview_html": f"{root}/records/{record.id}?preview=1",
            "files": f"{record_api}/draft/files",
            "archive": f"{record_api}/draft/files-archive",
            "versions": f"{record_api}/versions",
            "record": record_api,
            "record_html": f"{root}/records/{record.id}",
            "publish": f"{record_api}/draft/actions/publish",
        }
    return {
        "self": record_api,
        "self_html": f"{root}/records/{record.id}",
        "preview_html": f"{root}/records/{record.id}?preview=1",
        "files": f"{record_api}/files",
        "archive": f"{record_api}/files-archive",
        "latest": f"{record_api}/versions/latest",
        "latest_html": f"{root}/records/{record.id}/latest",
        "versions": f"{record_api}/versions",
        "draft": f"{record_api}/draft",
    }
