"""Many files to one draft: their entries made together, their bytes sent side by side.

InvenioRDM answers the creation of a file entry more slowly the more files the
draft holds, and takes a list of entries in one request: a hundred entries made
at once cost about what one does, where made one by one they cost most of the
time of a hundred small uploads. So the files sent in one request each have
their entries made in as few requests as the repository allows; the large ones,
which go in parts, take the path of a single upload (journaled and resumable).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import attrs

from nrpfiles._async.upload import AsyncUploader
from nrpfiles._async.upload_steps import Sending, entry_of
from nrpfiles._concurrency import AsyncJob, async_gather
from nrpfiles._limits_answers import limit_refusal
from nrpfiles._transfer_plan import DEFAULT_PARALLEL_PARTS, LOCAL, choose_upload_transfer
from nrpfiles.errors import ConflictError, RepositoryClientError, RepositoryError, TransferError
from nrpfiles.limits import current_limiter
from nrpfiles.models import File
from nrpfiles.progress import Progress, ProgressShare
from nrpfiles.streams import DataSource

logger = logging.getLogger("nrpfiles")

# InvenioRDM holds 100 files on a record unless configured otherwise.
ENTRIES_PER_REQUEST = 100


@attrs.frozen
class Outgoing:
    """One file to send: its key, metadata, the source and the wire type chosen for it."""

    key: str
    metadata: dict[str, Any]
    source: DataSource
    wire_type: str


async def async_upload_many(
    uploader: AsyncUploader,
    files_url: str,
    outgoing: Sequence[Outgoing],
    *,
    offered: tuple[str, ...],
    overwrite: bool,
    whole: Progress,
) -> list[File]:
    """Upload every file of ``outgoing``; their completed entries, in the same order.

    When one fails for good the others stop; the files completed before stay,
    the unfinished entries are removed, and the error says how many got through.
    """
    existing = await uploader.entries(files_url)
    taken = [o.key for o in outgoing if o.key in existing and existing[o.key].status == "completed"]
    if taken and not overwrite:
        raise ConflictError(
            f"{len(taken)} of these files already exist on this record ({_names(taken)}); "
            "delete them first or pass overwrite=True; nothing was sent",
        )
    batch = [
        o
        for o in outgoing
        if choose_upload_transfer(o.wire_type, o.source.size, offered) == LOCAL
    ]
    for item in batch:
        if item.key in existing:
            await uploader.remove(existing[item.key])  # the upload replaces it, as one would
    in_batch = {item.key for item in batch}
    uploads = _Uploads(uploader, files_url, overwrite=overwrite)
    jobs: list[AsyncJob[File]] = []
    try:
        created = await uploads.create(batch)
        for item in outgoing:
            share = ProgressShare(whole)
            if item.key in in_batch:
                jobs.append(uploads.sender(item, share, created.get(item.key)))
            else:
                jobs.append(uploads.in_parts(item, share, offered))
        return await async_gather(jobs, limit=_width())
    except BaseException as error:
        await uploads.clean_up(error, total=len(outgoing))
        raise


class _Uploads:
    """The entries made for this call and the files completed, so a failure can clean up."""

    def __init__(self, uploader: AsyncUploader, files_url: str, *, overwrite: bool) -> None:
        self._uploader = uploader
        self._files_url = files_url
        self._overwrite = overwrite
        self._created: dict[str, File] = {}
        self._completed: set[str] = set()

    async def create(self, batch: Sequence[Outgoing]) -> dict[str, File]:
        for start in range(0, len(batch), ENTRIES_PER_REQUEST):
            await self._create_some(batch[start : start + ENTRIES_PER_REQUEST])
        return dict(self._created)

    async def _create_some(self, some: Sequence[Outgoing]) -> None:
        entries = [{"key": item.key, "metadata": item.metadata} for item in some]
        try:
            body, _ = await self._uploader.create_entries(self._files_url, entries)
        except RepositoryClientError as error:
            limit = limit_refusal(error, some[0].key, None)
            if limit is not None:
                raise limit from None
            if error.status != 400 or "already exists" not in (error.server_message or ""):
                raise
            # Another writer, or a lost answer retried: each file makes its own entry.
            logger.info("the entries of %d files are made one by one: %s", len(some), error)
            return
        for item in some:
            entry = entry_of(body, item.key)
            if entry is None:
                raise TransferError(
                    f"the repository did not list {item.key!r} after creating it", key=item.key
                )
            self._created[item.key] = entry

    def sender(self, item: Outgoing, bar: ProgressShare, created: File | None) -> AsyncJob[File]:
        async def send() -> File:
            sending = Sending.start(item.source, item.source.size, None).hashing_whole()
            file = await self._uploader.send_local(
                self._files_url, item.key, item.metadata, sending, bar,
                overwrite=self._overwrite, created=created,
            )  # fmt: skip
            self._completed.add(item.key)
            return file

        return send

    def in_parts(
        self, item: Outgoing, bar: ProgressShare, offered: tuple[str, ...]
    ) -> AsyncJob[File]:
        async def send() -> File:
            file = await self._uploader.upload(
                self._files_url, item.key,
                metadata=item.metadata, source=item.source, source_url=None,
                wire_type=item.wire_type, offered=offered, transfer_metadata={},
                progress=bar.report, overwrite=self._overwrite,
            )  # fmt: skip
            self._completed.add(item.key)
            return file

        return send

    async def clean_up(self, error: BaseException, *, total: int) -> None:
        """Remove the entries made here that did not complete, and say so in the error."""
        unfinished = [e for key, e in self._created.items() if key not in self._completed]
        kept = 0
        for entry in unfinished:
            kept += 0 if await self._uploader.remove(entry) else 1
        if isinstance(error, RepositoryError):
            error.message += (
                f"; {len(self._completed)} of {total} files were uploaded and stay on the "
                f"draft, {len(unfinished) - kept} unfinished entries were removed"
            )
            if kept:
                error.message += f" and {kept} could not be"


def _width() -> int:
    limiter = current_limiter()
    return limiter.limit if limiter is not None else DEFAULT_PARALLEL_PARTS


def _names(keys: Sequence[str], shown: int = 5) -> str:
    named = ", ".join(repr(key) for key in keys[:shown])
    return named + (f" and {len(keys) - shown} more" if len(keys) > shown else "")
