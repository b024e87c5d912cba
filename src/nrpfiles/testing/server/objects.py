"""Where file content lives: one interface, a file store and S3 behind it.

Endpoints handle entries, limits and InvenioRDM's answers; they hand the bytes to
``ctx.objects`` and ask it for part links, a commit of the parts and a download
answer. ``FileObjects`` keeps content as files under the data dir, as InvenioRDM's
file store does; ``nrpfiles.testing.server.s3objects.S3Objects`` keeps it in an S3
bucket, as invenio-s3 does. An object's key is the entry's ``file_id`` in both, and
entries of drafts, records and versions share it (``Store.release_content`` removes
it once none refers to it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..storage import ContentFiles, Store
from .downloads import StoredContent, content_response
from .hashing import HashJobs
from .http import Request, Response, redirect_response
from .part_hashes import PartHashes
from .serialize import guess_mimetype
from .uploads import preallocate, receive_into, receive_to_new_file

if TYPE_CHECKING:
    from .context import Context

# where a file store's parts wait for the commit
MULTIPART_PATH = "multipart_path"
# an S3 multipart upload's id
MULTIPART_UPLOAD = "multipart_upload"
# fields whose presence means an object (or its parts) exists for a pending entry
PENDING_OBJECT_FIELDS = (MULTIPART_PATH, MULTIPART_UPLOAD)
# how long a file store's part links say they last (InvenioRDM's file store: 14 days)
FILE_PART_LINK_DAYS = 14


@dataclass(frozen=True)
class Committed:
    """A multipart upload made whole: its size and its checksum (None: not known yet)."""

    size: int
    checksum: str | None


class ContentObjects(Protocol):
    """What the endpoints need of a storage."""

    # whether a multipart init must say its part size (a file store lays parts out by it)
    needs_part_size: bool

    def receive_whole(self, request: Request) -> str:
        """Store the body as a new object; its id. Leaves nothing behind when cut."""

    def digest(self, file_id: str) -> str:
        """The md5 hex of an object stored whole, as its commit needs it."""

    def start_multipart(self, file_id: str, size: int) -> dict[str, Any]:
        """Prepare for parts; the fields to keep on the entry until the commit."""

    def part_links(self, self_url: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        """The ``links.parts`` of a pending multipart entry, fresh on every read."""

    def receive_part(self, request: Request, data: dict[str, Any], number: int) -> bool:
        """Store one part sent to the API; False for a part that does not fit."""

    def complete_multipart(self, data: dict[str, Any]) -> Committed:
        """Make the parts one object under ``data["file_id"]``; ApiError where refused."""

    def abort(self, data: dict[str, Any]) -> None:
        """Drop the parts of a pending multipart entry."""

    def remove(self, file_id: str) -> None:
        """Delete an object no entry refers to any more."""

    def md5(self, file_id: str) -> str:
        """Read the object and give its md5 hex (the background checksum)."""

    def adopt(self, temporary: Path) -> str:
        """Take a complete local file in as a new object; its id."""

    def download(self, ctx: Context, request: Request, row_data: dict[str, Any], key: str) -> Response:
        """The answer to ``GET .../content`` of a completed entry."""

    def clear(self) -> None:
        """Remove every object and pending upload."""

    def close(self) -> None:
        """Release connections."""


def part_expiration(delta: timedelta, *, zulu: bool) -> str:
    moment = datetime.now(timezone.utc) + delta
    if zulu:  # as botocore-era S3 code writes it
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat()


class FileObjects(ContentFiles):
    """Content as files under the data dir, as InvenioRDM's file store keeps it."""

    needs_part_size = True

    def __init__(self, store: Store, hashes: HashJobs) -> None:
        super().__init__(store)
        self._hashes = hashes
        self._part_hashes = PartHashes()

    def receive_whole(self, request: Request) -> str:
        temporary = self._store.new_temporary()
        try:
            job = receive_to_new_file(request, temporary)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        file_id = self._store.adopt(temporary)
        self._hashes.register(file_id, job)
        return file_id

    def digest(self, file_id: str) -> str:
        return self._hashes.digest(file_id, self._store.content_path(file_id))

    def start_multipart(self, file_id: str, size: int) -> dict[str, Any]:
        # the whole file is laid out at once: parts land in place, what never came is zeros
        staging = self._store.new_temporary("multipart")
        with open(staging, "wb") as stream:
            stream.truncate(size)
            preallocate(stream.fileno(), size)
        self._part_hashes.start(file_id, staging)
        return {MULTIPART_PATH: str(staging)}

    def part_links(self, self_url: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        expiration = part_expiration(timedelta(days=FILE_PART_LINK_DAYS), zulu=False)
        return [
            {"part": number, "url": f"{self_url}/content/{number}", "expiration": expiration}
            for number in range(1, int(data["transfer"].get("parts", 0)) + 1)
        ]

    def receive_part(self, request: Request, data: dict[str, Any], number: int) -> bool:
        transfer = data["transfer"]
        parts, part_size = int(transfer["parts"]), int(transfer["part_size"])
        length = request.content_length or 0
        # only these are checked: a last part of any length is written where it starts
        if number < 1 or number > parts or (number < parts and length != part_size):
            return False
        start = (number - 1) * part_size
        receive_into(request, Path(data[MULTIPART_PATH]), start)
        self._part_hashes.part_written(data["file_id"], start, start + length)
        return True

    def complete_multipart(self, data: dict[str, Any]) -> Committed:
        """Nothing counts the parts: what never arrived stays zeros, as on a file store."""
        staging = Path(data[MULTIPART_PATH])
        size = int(data["declared_size"])
        with open(staging, "r+b") as stream:
            stream.truncate(size)  # a longer last part does not make the file longer
        self._part_hashes.settle(data["file_id"])
        self._store.adopt(staging, data["file_id"])
        # the checksum is left to a background task, as InvenioRDM's worker does it
        return Committed(size, None)

    def md5(self, file_id: str) -> str:
        return self._part_hashes.md5(file_id, self._store.content_path(file_id))

    def remove(self, file_id: str) -> None:
        self._part_hashes.discard(file_id)
        super().remove(file_id)

    def abort(self, data: dict[str, Any]) -> None:
        self._part_hashes.discard(data.get("file_id"))
        super().abort(data)

    def clear(self) -> None:
        self._part_hashes.discard_all()
        super().clear()

    def adopt(self, temporary: Path) -> str:
        return self._store.adopt(temporary)

    def download(
        self, ctx: Context, request: Request, row_data: dict[str, Any], key: str
    ) -> Response:
        content = self.stored_content(row_data, key)
        if ctx.config.storage_redirect and ctx.storage_port is not None:
            url = ctx.signer.sign(
                ctx.storage_base(request),
                row_data["file_id"],
                content.filename,
                content.md5_hex or "",
                row_data["updated"],
            )
            return redirect_response(url, echo=True)
        return content_response(request, content, ranges=ctx.config.ranges)

    def stored_content(self, data: dict[str, Any], key: str) -> StoredContent:
        path = self._store.content_path(data["file_id"])
        checksum = data.get("checksum")
        return StoredContent(
            path=path,
            size=os.stat(path).st_size,
            md5_hex=checksum.removeprefix("md5:") if isinstance(checksum, str) else None,
            modified=datetime.fromisoformat(data["updated"]),
            filename=key.rsplit("/", 1)[-1],
            mimetype=data.get("mimetype") or guess_mimetype(key),
        )

    def close(self) -> None:
        self._part_hashes.close()
