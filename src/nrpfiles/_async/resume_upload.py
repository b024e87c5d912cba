"""Multipart uploads that another process resumes: the journal read back and checked on the draft."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import attrs

from nrpfiles._upload_journal import SourceIdentity, UploadJournal
from nrpfiles.models import File
from nrpfiles.streams import DataSource

if TYPE_CHECKING:
    from nrpfiles._async.upload import AsyncUploader

logger = logging.getLogger("nrpfiles")


@attrs.frozen
class ResumedUpload:
    """The pending entry an interrupted upload left, and what of it the repository has."""

    entry: File
    confirmed: frozenset[int]
    confirmed_bytes: int


@contextlib.contextmanager
def upload_journal(
    uploader: AsyncUploader,
    files_url: str,
    key: str,
    source: DataSource,
    plan: tuple[int, int] | None,
) -> Iterator[UploadJournal | None]:
    """The locked journal of a multipart upload of a file on disk; None for anything else."""
    identity = None if plan is None else SourceIdentity.of(source)
    if plan is None or identity is None:
        yield None
        return
    count, part_size = plan
    journal = UploadJournal(
        repository=str(uploader.repository_url),
        files_url=files_url,
        key=key,
        source=identity,
        parts=count,
        part_size=part_size,
    )
    with journal:
        yield journal


async def async_resume_point(
    uploader: AsyncUploader,
    journal: UploadJournal,
    files_url: str,
    size: int,
    plan: tuple[int, int],
    *,
    resume: bool,
) -> ResumedUpload | None:
    """What an interrupted upload of the same source left on the draft, still usable.

    None means starting over: no journal, ``resume=False``, a changed source,
    or an entry on the draft that is gone, completed or not the one the
    journal names. The journal is then forgotten; a pending entry left under
    the key is replaced by the new upload's creation, as any unfinished one is.
    """
    pending = journal.pending() if resume else None
    if pending is None:
        journal.forget()
        return None
    key = journal.key
    count, part_size = plan
    entry = await uploader.read_entry(files_url, key)
    numbers = [] if entry is None else sorted(link.part for link in entry.links.parts)
    usable = (
        entry is not None
        and entry.status == "pending"
        and entry.size in (None, size)
        and pending.names(entry)
        and numbers == list(range(1, count + 1))
    )
    if entry is None or not usable:
        logger.info(
            "the interrupted upload of %r is no longer pending on the draft as it was; "
            "starting over",
            key,
        )
        journal.forget()
        return None
    confirmed_bytes = sum(min(part_size, size - (n - 1) * part_size) for n in pending.confirmed)
    logger.info(
        "resuming the upload of %r: %d of %d parts (%d bytes) are already in the repository",
        key,
        len(pending.confirmed),
        count,
        confirmed_bytes,
    )
    journal.begin(entry, pending.confirmed)
    return ResumedUpload(entry, pending.confirmed, confirmed_bytes)
